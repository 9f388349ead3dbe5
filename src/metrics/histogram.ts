// HdrHistogram helpers: one configuration for every latency histogram in mcreplay (integer ns,
// 1 ns .. 1 hour, 3 significant digits) and the compressed base64 encoding that results.json and
// .hlog files carry. The histograms are dense-hist.ts' plain-JS ones, with hdr-histogram-js'
// semantics and encodings.
import type { Percentiles } from './results-types.js';
import { DenseHistogram, inflateV2 } from './dense-hist.js';
import { HIST_MAX_NS, type EncodedHist } from './hist-config.js';

/** An HdrHistogram with 64-bit counts; `destroy()` it when done (it is reused). */
export type Histogram = DenseHistogram;

export { HIST_DIGITS, HIST_LOWEST, HIST_MAX_NS } from './hist-config.js';

const ready = Promise.resolve();

/** Nothing to load any more (the histograms are plain JS); kept so callers need not change. */
export function initMetrics(): Promise<void> {
  return ready;
}

/** A new empty histogram (`wide`, 64-bit counts, is what every histogram here has now). */
export function createHistogram(_wide = false): Histogram {
  return DenseHistogram.take();
}

/** Records one value in ns, clamped to [0, HIST_MAX_NS] and rounded to an integer (NaN counts as 0). */
export function recordNs(h: Histogram, ns: number): void {
  h.recordValue(!(ns > 0) ? 0 : ns >= HIST_MAX_NS ? HIST_MAX_NS : Math.round(ns));
}

/** Compressed base64 ("HISTFAAA..."), the encoding of .hlog lines and results.json. */
export function encodeHistogram(h: Histogram): string {
  return h.encodeCompressed();
}

export type { EncodedHist } from './hist-config.js';

/** The uncompressed V2 encoding (the form workers post, made there by counts-hist.ts). */
export function encodeRaw(h: Histogram): Uint8Array {
  return h.encode();
}

/** Decodes an encoded histogram into a new histogram; '' gives an empty one. */
export function decodeHistogram(encoded: EncodedHist): Histogram {
  const h = DenseHistogram.take();
  try {
    addEncoded(h, encoded);
  } catch (err) {
    h.destroy();
    throw err;
  }
  return h;
}

/** Adds `src` into `into` (exact: bucket counts are summed). */
export function addHistogram(into: Histogram, src: Histogram): void {
  into.add(src);
}

/** Decodes `encoded` and adds it into `into`; '' is a no-op. */
export function addEncoded(into: Histogram, encoded: EncodedHist): void {
  if (encoded.length === 0) return;
  try {
    into.addRaw(typeof encoded === 'string' ? inflateV2(encoded) : encoded);
  } catch (err) {
    const head = typeof encoded === 'string' ? encoded.slice(0, 40) : Buffer.from(encoded.subarray(0, 20)).toString('hex');
    throw new Error(`not an encoded HdrHistogram (${err instanceof Error ? err.message : String(err)}): ${head}...`);
  }
}

/** Merges encoded histograms into one encoded histogram. */
export function mergeEncoded(encoded: readonly string[]): string {
  const sum = createHistogram(true);
  try {
    for (const e of encoded) addEncoded(sum, e);
    return encodeHistogram(sum);
  } finally {
    sum.destroy();
  }
}

/** Done with a histogram (it is reused); safe on null/undefined. */
export function freeHistogram(h: Histogram | null | undefined): void {
  h?.destroy();
}

/** Percentiles of a histogram (ns); all zero when empty. */
export function percentiles(h: Histogram): Percentiles {
  const count = h.totalCount;
  if (count === 0) return emptyPercentiles();
  // min/max as bucket bounds (percentile 0/100) rather than the exact extremes a live histogram
  // tracks, so a histogram and its decoded copy report the same figures
  const [min, p50, p90, p99, p999, p9999, max] = h.valuesAt([0, 50, 90, 99, 99.9, 99.99, 100]) as [number, number, number, number, number, number, number];
  return { count, min, mean: h.mean, p50, p90, p99, p999, p9999, max };
}

/** Percentiles of an encoded histogram. */
export function percentilesOfEncoded(encoded: string): Percentiles {
  const h = decodeHistogram(encoded);
  try {
    return percentiles(h);
  } finally {
    h.destroy();
  }
}

/** All-zero percentiles (count 0). */
export function emptyPercentiles(): Percentiles {
  return { count: 0, min: 0, mean: 0, p50: 0, p90: 0, p99: 0, p999: 0, p9999: 0, max: 0 };
}
