// The one histogram configuration of mcreplay (integer ns, 1 ns .. 1 hour, 3 significant digits)
// and the encoded form histograms travel in, apart from histogram.ts so that worker threads can use
// them without loading hdr-histogram-js (see counts-hist.ts).

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
