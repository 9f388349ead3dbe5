// Distinct key counting with bounded memory: exact up to a limit, then a HyperLogLog estimate.
// Keys are bytes: they are counted straight from the capture's buffers (no string per key).

const EXACT_LIMIT = 100_000;
const P = 14; // 16384 registers: ~0.8 % standard error
const M = 1 << P;

/** murmur3's 32-bit mix over bytes b[s, e), one byte per step (the HyperLogLog hash; kept as it was for strings). */
function hash32(b: Uint8Array, s: number, e: number): number {
  let h = 0x9747b28c;
  for (let i = s; i < e; i++) {
    let k = b[i]!;
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  h ^= e - s;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

// Two independent 32-bit hashes of a key, four bytes per step, computed together (fingerprint()
// leaves the second in FP_LOW): together a 64-bit fingerprint. Distinct keys are told apart by it,
// not by their bytes: with at most EXACT_LIMIT keys two of them share a fingerprint with a
// probability below 1e-9, and comparing bytes (a cache miss and a loop on every repeated key) was
// half the cost of counting.
let FP_LOW = 0;

/** First half of b[s, e)'s fingerprint (never 0: 0 marks an empty slot); the second is left in FP_LOW. */
function fingerprint(b: Uint8Array, s: number, e: number): number {
  let h = 0x811c9dc5;
  let g = 0x2545f491 ^ (e - s);
  let i = s;
  for (; i + 4 <= e; i += 4) {
    const w = b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24);
    // murmur3's step, and an xxhash-like one beside it (independent constants and rotations)
    let k = Math.imul(w, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
    g = Math.imul(g + Math.imul(w, 0x85ebca77), 0x9e3779b1);
    g = (g << 17) | (g >>> 15);
  }
  for (; i < e; i++) {
    h = Math.imul(h ^ b[i]!, 0x01000193);
    g = Math.imul((g + b[i]!) | 0, 0x27d4eb2f);
  }
  h ^= e - s;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  g ^= g >>> 15;
  g = Math.imul(g, 0xc2b2ae3d);
  g ^= g >>> 16;
  FP_LOW = g;
  return h === 0 ? 1 : h;
}

const INITIAL_SLOTS = 1024;
/** Int32s per slot: the fingerprint's two halves. */
const STRIDE = 2;

/** Counts distinct keys: exact while few, HyperLogLog once the set would grow past EXACT_LIMIT. */
export class DistinctCounter {
  // Exact phase: an open-addressing table of 64-bit key fingerprints (8-byte slots: one cache miss
  // per add, in a table half the size it would be with more beside them), and each key's
  // HyperLogLog hash in a table of its own, read only at the hand-over. A Set<string> cost a
  // string per request and ~4 cache misses per add.
  private slots: Int32Array | null = new Int32Array(INITIAL_SLOTS * STRIDE);
  private hll = new Int32Array(INITIAL_SLOTS);
  private size = 0;
  private readonly registers = new Uint8Array(M);
  private scratch: Buffer = Buffer.allocUnsafe(256);

  /** Adds a key given as a latin1 string (each char one byte). */
  add(key: string): void {
    if (key.length > this.scratch.length) this.scratch = Buffer.allocUnsafe(key.length * 2);
    const n = this.scratch.write(key, 0, 'latin1');
    this.addBytes(this.scratch, 0, n);
  }

  /** Adds the key made of bytes b[s, e) (read during the call only). */
  addBytes(b: Uint8Array, s: number, e: number): void {
    const slots = this.slots;
    if (slots === null) {
      this.register(hash32(b, s, e));
      return;
    }
    const h = fingerprint(b, s, e);
    const g = FP_LOW;
    const mask = (slots.length / STRIDE - 1) | 0;
    let i = h & mask;
    for (;;) {
      const v = slots[i * STRIDE]!;
      if (v === 0) break;
      if (v === h && slots[i * STRIDE + 1] === g) return;
      i = (i + 1) & mask;
    }
    slots[i * STRIDE] = h;
    slots[i * STRIDE + 1] = g;
    this.hll[i] = hash32(b, s, e);
    if (++this.size > EXACT_LIMIT) {
      // exact while small: the registers are filled once the table is given up
      for (let j = 0; j < this.hll.length; j++) if (slots[j * STRIDE] !== 0) this.register(this.hll[j]! >>> 0);
      this.slots = null;
      this.hll = new Int32Array(0);
    } else if (this.size * 2 > slots.length / STRIDE) this.grow();
  }

  private grow(): void {
    const old = this.slots!;
    const oldHll = this.hll;
    const slots = new Int32Array(old.length * 2);
    const hll = new Int32Array(oldHll.length * 2);
    const mask = slots.length / STRIDE - 1;
    for (let j = 0; j < old.length; j += STRIDE) {
      const h = old[j]!;
      if (h === 0) continue;
      let i = h & mask;
      while (slots[i * STRIDE] !== 0) i = (i + 1) & mask;
      slots[i * STRIDE] = h;
      slots[i * STRIDE + 1] = old[j + 1]!;
      hll[i] = oldHll[j / STRIDE]!;
    }
    this.slots = slots;
    this.hll = hll;
  }

  private register(h: number): void {
    const idx = h >>> (32 - P);
    const w = (h << P) >>> 0;
    const rank = w === 0 ? 32 - P + 1 : Math.clz32(w) + 1;
    if (rank > this.registers[idx]!) this.registers[idx] = rank;
  }

  /** True while the count is exact rather than estimated. */
  get isExact(): boolean {
    return this.slots !== null;
  }

  count(): number {
    if (this.slots !== null) return this.size;
    let sum = 0;
    let zeros = 0;
    for (let i = 0; i < M; i++) {
      sum += 2 ** -this.registers[i]!;
      if (this.registers[i] === 0) zeros++;
    }
    const alpha = 0.7213 / (1 + 1.079 / M);
    let e = (alpha * M * M) / sum;
    if (e <= 2.5 * M && zeros > 0) e = M * Math.log(M / zeros);
    else if (e > 2 ** 32 / 30) e = -(2 ** 32) * Math.log(1 - e / 2 ** 32);
    return Math.round(e);
  }
}
