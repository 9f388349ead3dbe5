// Distinct key counting with bounded memory: exact up to a limit, then a HyperLogLog estimate.

const EXACT_LIMIT = 100_000;
const P = 14; // 16384 registers: ~0.8 % standard error
const M = 1 << P;

/** murmur3's 32-bit mix over a latin1 string (keys are bytes; latin1 keeps each byte a char). */
function hash32(s: string): number {
  let h = 0x9747b28c;
  for (let i = 0; i < s.length; i++) {
    let k = s.charCodeAt(i);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  h ^= s.length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** FNV-1a over a latin1 string with a final avalanche: cheap, and only a table index and filter. */
function hashFnv(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h === 0 ? 1 : h; // 0 marks an empty slot
}

/** Counts distinct strings: exact while few, HyperLogLog once the set would grow past EXACT_LIMIT. */
export class DistinctCounter {
  // Exact phase: an open-addressing table of key hashes with the keys beside them. A Set<string>
  // costs ~4 cache misses an add (bucket, entry, string header, string bytes); here the hash array
  // answers most probes, and the key is only compared when its hash matches.
  private hashes: Int32Array | null = new Int32Array(1024);
  private keys: (string | undefined)[] = new Array<string | undefined>(1024);
  private size = 0;
  private readonly registers = new Uint8Array(M);

  add(key: string): void {
    const hashes = this.hashes;
    if (hashes === null) {
      this.register(key);
      return;
    }
    const h = hashFnv(key);
    const mask = hashes.length - 1;
    let i = h & mask;
    for (;;) {
      const v = hashes[i]!;
      if (v === 0) break;
      if (v === h && this.keys[i] === key) return;
      i = (i + 1) & mask;
    }
    hashes[i] = h;
    this.keys[i] = key;
    if (++this.size > EXACT_LIMIT) {
      // exact while small: hashing into registers waits until the table is given up
      for (const k of this.keys) if (k !== undefined) this.register(k);
      this.hashes = null;
      this.keys = [];
    } else if (this.size * 2 > hashes.length) this.grow();
  }

  private grow(): void {
    const oldHashes = this.hashes!;
    const oldKeys = this.keys;
    const hashes = new Int32Array(oldHashes.length * 2);
    const keys = new Array<string | undefined>(hashes.length);
    const mask = hashes.length - 1;
    for (let j = 0; j < oldHashes.length; j++) {
      const h = oldHashes[j]!;
      if (h === 0) continue;
      let i = h & mask;
      while (hashes[i] !== 0) i = (i + 1) & mask;
      hashes[i] = h;
      keys[i] = oldKeys[j];
    }
    this.hashes = hashes;
    this.keys = keys;
  }

  private register(key: string): void {
    const h = hash32(key);
    const idx = h >>> (32 - P);
    const w = (h << P) >>> 0;
    const rank = w === 0 ? 32 - P + 1 : Math.clz32(w) + 1;
    if (rank > this.registers[idx]) this.registers[idx] = rank;
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
      sum += 2 ** -this.registers[i];
      if (this.registers[i] === 0) zeros++;
    }
    const alpha = 0.7213 / (1 + 1.079 / M);
    let e = (alpha * M * M) / sum;
    if (e <= 2.5 * M && zeros > 0) e = M * Math.log(M / zeros);
    else if (e > 2 ** 32 / 30) e = -(2 ** 32) * Math.log(1 - e / 2 ** 32);
    return Math.round(e);
  }
}
