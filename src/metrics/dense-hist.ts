// The main thread's HdrHistogram: plain JS over a Float64Array of counts with exactly
// hdr-histogram-js' bucket layout for hist-config's configuration, and its semantics (percentiles,
// mean, the V2 encodings byte for byte; test/metrics/histogram.test.ts holds it against
// hdr-histogram-js). Loading hdr-histogram-js and inflating its WebAssembly cost every replay
// ~100 ms of main-thread CPU before the first request (a 30-request replay: 1.28 → 1.22 s of CPU
// without it), for what here takes under two hundred lines.
import { deflateSync, inflateSync } from 'node:zlib';
import { BLOCK_SHIFT, BLOCKS_LENGTH, COUNTS_LENGTH, countsIndex, encodeV2, indexLowest, indexSize } from './counts-hist.js';
import { countAtPercentile, forEachV2Count, HIST_DIGITS, HIST_LOWEST, HIST_MAX_NS, V2_COMPRESSED_COOKIE_BASE, V2_COOKIE_BASE, V2_HEADER_BYTES } from './hist-config.js';

/** What hdr-histogram-js writes: the base with the word-size nibble 0x10 (LEB128 words). */
const V2_COMPRESSED_COOKIE = V2_COMPRESSED_COOKIE_BASE | 0x10;
const TWO_POW_32 = 4294967296;

/** An HdrHistogram of integer ns, 1 ns .. 1 h, 3 digits, with 64-bit (exact to 2^53) counts. */
export class DenseHistogram {
  readonly counts = new Float64Array(COUNTS_LENGTH);
  /** 1 where a block of counts may hold a non-zero count: the encoder skips the others. */
  readonly blocks = new Uint8Array(BLOCKS_LENGTH);
  totalCount = 0;
  /** Lowest and highest index with a count (COUNTS_LENGTH and -1 when empty). */
  private lo = COUNTS_LENGTH;
  private hi = -1;
  /** In the pool of destroyed histograms (see destroy). */
  private pooled = false;

  /** Records integer value `v` (0 .. HIST_MAX_NS; callers clamp). */
  recordValue(v: number): void {
    this.addAt(countsIndex(v), 1);
  }

  /** Records integer value `v` `n` times (hdr-histogram-js' name). */
  recordValueWithCount(v: number, n: number): void {
    this.addAt(countsIndex(v), n);
  }

  private addAt(i: number, n: number): void {
    this.counts[i] += n;
    this.blocks[i >>> BLOCK_SHIFT] = 1;
    if (i < this.lo) this.lo = i;
    if (i > this.hi) this.hi = i;
    this.totalCount += n;
  }

  /** Adds every count of `o` (exact). */
  add(o: DenseHistogram): void {
    const c = o.counts;
    for (let i = o.lo; i <= o.hi; i++) if (c[i] !== 0) this.addAt(i, c[i]!);
  }

  /** Takes every count of `o` away again (`o` must have been added: a sliding window's oldest part). */
  subtract(o: DenseHistogram): void {
    const c = this.counts;
    const oc = o.counts;
    for (let i = o.lo; i <= o.hi; i++) {
      const n = oc[i]!;
      if (n === 0) continue;
      c[i] -= n;
      this.totalCount -= n;
    }
    // the bounds must stay exact: maxValue and the percentile scans read them
    while (this.hi >= 0 && c[this.hi] === 0) this.hi--;
    if (this.hi < 0) this.lo = COUNTS_LENGTH;
    else while (c[this.lo] === 0) this.lo++;
  }

  /** Adds an uncompressed V2 encoding; it must have mcreplay's layout (the caller names the encoding when this throws). */
  addRaw(buf: Uint8Array): void {
    const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    if (buf.length < V2_HEADER_BYTES || (dv.getInt32(0) & ~0xf0) !== V2_COOKIE_BASE) throw new Error('not a V2 HdrHistogram encoding');
    const digits = dv.getInt32(12);
    const lowest = dv.getUint32(16) * TWO_POW_32 + dv.getUint32(20);
    if (digits !== HIST_DIGITS || lowest !== HIST_LOWEST) {
      throw new Error(`an HdrHistogram of ${digits} digits from ${lowest} ns, not mcreplay's (${HIST_DIGITS} digits from ${HIST_LOWEST} ns)`);
    }
    const end = Math.min(buf.length, V2_HEADER_BYTES + dv.getInt32(4));
    forEachV2Count(buf, V2_HEADER_BYTES, end, (index, count) => {
      if (index >= COUNTS_LENGTH) throw new Error(`an HdrHistogram with values over ${HIST_MAX_NS} ns`);
      this.addAt(index, count);
    });
  }

  /** Highest value equivalent to the highest recorded one (as hdr-histogram-js reports a decoded histogram's); 0 when empty. */
  get maxValue(): number {
    return this.hi < 0 ? 0 : indexLowest(this.hi) + indexSize(this.hi) - 1;
  }

  /** Mean of the recorded values, each taken as the middle of its bucket (as hdr-histogram-js computes it). */
  get mean(): number {
    if (this.totalCount === 0) return 0;
    const c = this.counts;
    let sum = 0;
    for (let i = this.lo; i <= this.hi; i++) if (c[i] !== 0) sum += (indexLowest(i) + Math.floor(indexSize(i) / 2)) * c[i]!;
    return sum / this.totalCount;
  }

  /** hdr-histogram-js' getValueAtPercentile: the highest value of the bucket reached (the lowest for percentile 0); 0 when empty. */
  getValueAtPercentile(p: number): number {
    return this.valuesAt([p])[0]!;
  }

  /** getValueAtPercentile for several percentiles (ascending) in one pass. */
  valuesAt(ascending: readonly number[]): number[] {
    const out = ascending.map(() => 0);
    if (this.totalCount === 0) return out;
    const c = this.counts;
    let j = 0;
    let need = countAtPercentile(ascending[0]!, this.totalCount);
    let cum = 0;
    for (let i = this.lo; i <= this.hi && j < ascending.length; i++) {
      if (c[i] === 0) continue;
      cum += c[i]!;
      while (j < ascending.length && (cum >= need || i === this.hi)) {
        out[j] = ascending[j] === 0 ? indexLowest(i) : indexLowest(i) + indexSize(i) - 1;
        j++;
        if (j < ascending.length) need = countAtPercentile(ascending[j]!, this.totalCount);
      }
    }
    return out;
  }

  /** The uncompressed V2 encoding, byte for byte what hdr-histogram-js' WasmHistogram.encode() gives. */
  encode(): Uint8Array {
    return encodeV2(this.counts, this.blocks, this.hi < 0 ? 0 : this.hi);
  }

  /** Compressed base64 ("HISTFAAA..."), the string hdr-histogram-js' encodeIntoCompressedBase64 gives. */
  encodeCompressed(): string {
    const z = deflateSync(this.encode());
    const out = Buffer.allocUnsafe(8 + z.length);
    out.writeInt32BE(V2_COMPRESSED_COOKIE, 0);
    out.writeInt32BE(z.length, 4);
    z.copy(out, 8);
    return out.toString('base64');
  }

  /**
   * Done with it: it is emptied and kept for the next `DenseHistogram.take()` (up to POOL_MAX),
   * so that a long run's interval histograms (270 KB of counts each) are not allocated anew every
   * interval in the large-object space, which only a full collection frees. Using it afterwards is
   * a bug, as it was for the WebAssembly histograms (they threw); a second destroy() does nothing.
   */
  destroy(): void {
    if (this.pooled) return;
    if (this.hi >= 0) {
      this.counts.fill(0, this.lo, this.hi + 1);
      this.blocks.fill(0, this.lo >>> BLOCK_SHIFT, (this.hi >>> BLOCK_SHIFT) + 1);
    }
    this.totalCount = 0;
    this.lo = COUNTS_LENGTH;
    this.hi = -1;
    if (pool.length < POOL_MAX) {
      this.pooled = true;
      pool.push(this);
    }
  }

  /** An empty histogram: a destroyed one if there is one, else a new one. */
  static take(): DenseHistogram {
    const h = pool.pop();
    if (h === undefined) return new DenseHistogram();
    h.pooled = false;
    return h;
  }
}

const POOL_MAX = 64;
const pool: DenseHistogram[] = [];

/** The uncompressed V2 bytes inside compressed base64 `encoded` (the results.json/.hlog form; here, not in hist-config.ts, so that worker threads do not load zlib). */
export function inflateV2(encoded: string): Uint8Array {
  const raw = Buffer.from(encoded, 'base64');
  if (raw.length < 8 || (raw.readInt32BE(0) & ~0xf0) !== V2_COMPRESSED_COOKIE_BASE) throw new Error('not a compressed HdrHistogram (bad cookie)');
  // small output chunks: the default 16 KiB chunk allocation dominates for ~400-byte payloads
  return inflateSync(raw.subarray(8, 8 + raw.readInt32BE(4)), { chunkSize: 1024 });
}
