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

/**
 * murmur3's mix over bytes b[s, e), four bytes per step: only a table index and a filter (equal keys
 * are confirmed byte by byte), so it need not match hash32, and a quarter of the steps is what
 * made 64-byte keys cheap to count.
 */
function hashWords(b: Uint8Array, s: number, e: number): number {
  let h = 0x811c9dc5;
  let i = s;
  for (; i + 4 <= e; i += 4) {
    let k = b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  for (; i < e; i++) h = Math.imul(h ^ b[i]!, 0x01000193);
  h ^= e - s;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h === 0 ? 1 : h; // 0 marks an empty slot
}

const INITIAL_SLOTS = 1024;
const INITIAL_ARENA = 64 * 1024;

/** Counts distinct keys: exact while few, HyperLogLog once the set would grow past EXACT_LIMIT. */
export class DistinctCounter {
  // Exact phase: an open-addressing table of key hashes, each slot with the key's place in a byte
  // arena. A probe reads one hash; the bytes are compared only when the hash matches. A Set<string>
  // cost a string per request and ~4 cache misses per add.
  private hashes: Int32Array | null = new Int32Array(INITIAL_SLOTS);
  private offsets = new Int32Array(INITIAL_SLOTS);
  private lengths = new Int32Array(INITIAL_SLOTS);
  private arena: Buffer = Buffer.allocUnsafe(INITIAL_ARENA);
  private arenaUsed = 0;
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
    const hashes = this.hashes;
    if (hashes === null) {
      this.register(hash32(b, s, e));
      return;
    }
    const h = hashWords(b, s, e);
    const len = e - s;
    const mask = hashes.length - 1;
    let i = h & mask;
    for (;;) {
      const v = hashes[i]!;
      if (v === 0) break;
      if (v === h && this.lengths[i] === len && this.sameBytes(this.offsets[i]!, b, s, len)) return;
      i = (i + 1) & mask;
    }
    hashes[i] = h;
    this.lengths[i] = len;
    this.offsets[i] = this.store(b, s, len);
    if (++this.size > EXACT_LIMIT) {
      // exact while small: hashing into registers waits until the table is given up
      for (let j = 0; j < hashes.length; j++) {
        if (hashes[j] !== 0) this.register(hash32(this.arena, this.offsets[j]!, this.offsets[j]! + this.lengths[j]!));
      }
      this.hashes = null;
      this.offsets = new Int32Array(0);
      this.lengths = new Int32Array(0);
      this.arena = Buffer.alloc(0);
    } else if (this.size * 2 > hashes.length) this.grow();
  }

  private sameBytes(at: number, b: Uint8Array, s: number, len: number): boolean {
    const a = this.arena;
    for (let j = 0; j < len; j++) if (a[at + j] !== b[s + j]) return false;
    return true;
  }

  private store(b: Uint8Array, s: number, len: number): number {
    if (this.arenaUsed + len > this.arena.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.arena.length * 2, this.arenaUsed + len));
      this.arena.copy(bigger, 0, 0, this.arenaUsed);
      this.arena = bigger;
    }
    const at = this.arenaUsed;
    this.arena.set(len > 0 ? b.subarray(s, s + len) : [], at);
    this.arenaUsed += len;
    return at;
  }

  private grow(): void {
    const oldHashes = this.hashes!;
    const oldOff = this.offsets;
    const oldLen = this.lengths;
    const hashes = new Int32Array(oldHashes.length * 2);
    const offsets = new Int32Array(hashes.length);
    const lengths = new Int32Array(hashes.length);
    const mask = hashes.length - 1;
    for (let j = 0; j < oldHashes.length; j++) {
      const h = oldHashes[j]!;
      if (h === 0) continue;
      let i = h & mask;
      while (hashes[i] !== 0) i = (i + 1) & mask;
      hashes[i] = h;
      offsets[i] = oldOff[j]!;
      lengths[i] = oldLen[j]!;
    }
    this.hashes = hashes;
    this.offsets = offsets;
    this.lengths = lengths;
  }

  private register(h: number): void {
    const idx = h >>> (32 - P);
    const w = (h << P) >>> 0;
    const rank = w === 0 ? 32 - P + 1 : Math.clz32(w) + 1;
    if (rank > this.registers[idx]!) this.registers[idx] = rank;
  }

  /** True while the count is exact rather than estimated. */
  get isExact(): boolean {
    return this.hashes !== null;
  }

  count(): number {
    if (this.hashes !== null) return this.size;
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
