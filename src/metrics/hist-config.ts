// The one histogram configuration of mcreplay (integer ns, 1 ns .. 1 hour, 3 significant digits),
// the encoded form histograms travel in, and what every reader of that form shares (the percentile
// rank, the walk over a V2 payload); apart from the histograms, so that worker threads and the
// report can use it without loading them (see counts-hist.ts).
/** Highest value tracked, ns (1 hour). Larger values are clamped to it. */
export const HIST_MAX_NS = 3_600_000_000_000;
/** Significant decimal digits kept. */
export const HIST_DIGITS = 3;
/** Lowest discernible value, ns. */
export const HIST_LOWEST = 1;

/**
 * A histogram in transit: compressed base64 (files), or HdrHistogram's uncompressed V2 encoding (a
 * worker's interval snapshot: deflate in JS cost ~1 ms a histogram, a stall in a sending thread);
 * '' is an empty one.
 */
export type EncodedHist = string | Uint8Array;

/**
 * How many recorded values lie at or below percentile `p` (0..100) of `total`, as hdr-histogram-js
 * counts them (its getValueAtPercentile): at least 1, and a product one ulp over an integer rounds down.
 */
export function countAtPercentile(p: number, total: number): number {
  const fp = (Math.min(p, 100) / 100) * total;
  const ulp = fp === 0 ? 0 : Math.pow(2, Math.floor(Math.log2(fp)) - 52);
  return Math.max(Math.ceil(fp - ulp), 1);
}

/**
 * Walks the counts of an uncompressed V2 HdrHistogram payload, `buf[start, end)`: `bucket(index,
 * count)` for every non-zero count, in counts-index order (ZigZag LEB128-64b9B words; a negative
 * word is a run of zero counts).
 */
export function forEachV2Count(buf: Uint8Array, start: number, end: number, bucket: (index: number, count: number) => void): void {
  let index = 0;
  let p = start;
  while (p < end) {
    // the common case (under 2^28) stays in integer arithmetic
    let b = buf[p++]!;
    let v = b & 0x7f;
    if (b & 0x80) {
      let shift = 7;
      let mul = 128;
      for (let bytes = 2; bytes <= 9 && p < end; bytes++) {
        b = buf[p++]!;
        if (shift < 28) v |= (b & 0x7f) << shift;
        // the 9th byte carries a full 8 bits
        else v += (bytes === 9 ? b : b & 0x7f) * mul;
        shift += 7;
        mul *= 128;
        if (!(b & 0x80)) break;
      }
    }
    const count = v < 0x40000000 ? (v >>> 1) ^ -(v & 1) : v % 2 === 0 ? v / 2 : -(v + 1) / 2;
    if (count < 0) {
      index -= count;
      continue;
    }
    if (count > 0) bucket(index, count);
    index++;
  }
}

/** HdrHistogram's V2 encoding: the cookie bases (the low nibble's 0x10 says LEB128 words) and the header size. */
export const V2_COOKIE_BASE = 0x1c849303;
export const V2_COMPRESSED_COOKIE_BASE = 0x1c849304;
export const V2_HEADER_BYTES = 40;
