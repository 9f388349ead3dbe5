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
