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

/** Counts distinct strings: exact while few, HyperLogLog once the set would grow past EXACT_LIMIT. */
export class DistinctCounter {
  private exact: Set<string> | null = new Set();
  private readonly registers = new Uint8Array(M);

  add(key: string): void {
    if (this.exact !== null) {
      // exact while small: hashing into registers waits until the set is given up
      this.exact.add(key);
      if (this.exact.size > EXACT_LIMIT) {
        for (const k of this.exact) this.register(k);
        this.exact = null;
      }
      return;
    }
    this.register(key);
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
    return this.exact !== null;
  }

  count(): number {
    if (this.exact !== null) return this.exact.size;
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
