// HdrHistogram helpers: one configuration for every latency histogram in mcreplay (integer ns,
// 1 ns .. 1 hour, 3 significant digits), WebAssembly-backed for ~25 ns records, and the compressed
// base64 encoding that results.json and .hlog files carry.
import * as hdr from 'hdr-histogram-js';
import type { Percentiles } from './results-types.js';
import { HIST_DIGITS, HIST_LOWEST, HIST_MAX_NS, type EncodedHist } from './hist-config.js';

/** A WebAssembly-backed HdrHistogram. Call `destroy()` (or `freeHistogram`) when done: WASM memory is not garbage collected. */
export type Histogram = hdr.Histogram;

export { HIST_DIGITS, HIST_LOWEST, HIST_MAX_NS } from './hist-config.js';

let ready: Promise<void> | null = null;
let isReady = false;

/** Loads the histogram WebAssembly module; await once per thread before creating histograms. */
export function initMetrics(): Promise<void> {
  if (!ready) {
    // compiled synchronously: the asynchronous loader asks whether its input is a fetch Response,
    // and naming `Response` makes Node load its whole fetch implementation (undici): ~90 ms of CPU
    // at the start of every replay, a fifth of a short --rate max run's fixed cost
    ready = Promise.resolve().then(() => {
      hdr.initWebAssemblySync();
      isReady = true;
    });
  }
  return ready;
}

function assertReady(): void {
  if (!isReady) throw new Error('metrics: await initMetrics() in this thread before creating histograms');
}

/**
 * A new empty histogram. `wide` uses 64-bit counts for long-lived sums (a run total can pass 2^32
 * in one bucket); per-interval histograms use 32-bit counts.
 */
export function createHistogram(wide = false): Histogram {
  assertReady();
  return hdr.build({
    useWebAssembly: true,
    lowestDiscernibleValue: HIST_LOWEST,
    highestTrackableValue: HIST_MAX_NS,
    numberOfSignificantValueDigits: HIST_DIGITS,
    bitBucketSize: wide ? 64 : 32,
    autoResize: false,
  });
}

/** Records one value in ns, clamped to [0, HIST_MAX_NS] and rounded to an integer. */
export function recordNs(h: Histogram, ns: number): void {
  h.recordValue(ns <= 0 ? 0 : ns >= HIST_MAX_NS ? HIST_MAX_NS : Math.round(ns));
}

/** Compressed base64 ("HISTFAAA..."), the encoding of .hlog lines and results.json. */
export function encodeHistogram(h: Histogram): string {
  return hdr.encodeIntoCompressedBase64(h);
}

export type { EncodedHist } from './hist-config.js';

/** The uncompressed V2 encoding (the form workers post, made there by counts-hist.ts; about 5x cheaper than `encodeHistogram`). */
export function encodeRaw(h: Histogram): Uint8Array {
  return (h as hdr.WasmHistogram).encode();
}

/** Decodes an encoded histogram into a new WASM histogram (64-bit counts); '' gives an empty one. */
export function decodeHistogram(encoded: EncodedHist): Histogram {
  assertReady();
  if (encoded.length === 0) return createHistogram(true);
  try {
    if (typeof encoded !== 'string') return hdr.WasmHistogram.decode(encoded, 64, HIST_MAX_NS);
    return hdr.decodeFromCompressedBase64(encoded, 64, true, HIST_MAX_NS);
  } catch (err) {
    const head = typeof encoded === 'string' ? encoded.slice(0, 40) : Buffer.from(encoded.subarray(0, 20)).toString('hex');
    throw new Error(`not an encoded HdrHistogram (${err instanceof Error ? err.message : String(err)}): ${head}...`);
  }
}

/** Adds `src` into `into` (exact: bucket counts are summed). */
export function addHistogram(into: Histogram, src: Histogram): void {
  // hdr-histogram-js' WasmHistogram.add is typed against WasmHistogram; both sides are always WASM here
  (into as hdr.WasmHistogram).add(src as hdr.WasmHistogram);
}

/** Decodes `encoded` and adds it into `into`; '' is a no-op. */
export function addEncoded(into: Histogram, encoded: EncodedHist): void {
  if (encoded.length === 0) return;
  const h = decodeHistogram(encoded);
  try {
    addHistogram(into, h);
  } finally {
    h.destroy();
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

/** Frees a histogram's WASM memory; safe on null/undefined. */
export function freeHistogram(h: Histogram | null | undefined): void {
  h?.destroy();
}

/** Percentiles of a histogram (ns); all zero when empty. */
export function percentiles(h: Histogram): Percentiles {
  const count = h.totalCount;
  if (count === 0) return emptyPercentiles();
  return {
    count,
    // min/max as bucket bounds (percentile 0/100) rather than the exact extremes a live histogram
    // tracks, so a histogram and its decoded copy report the same figures
    min: h.getValueAtPercentile(0),
    mean: h.mean,
    p50: h.getValueAtPercentile(50),
    p90: h.getValueAtPercentile(90),
    p99: h.getValueAtPercentile(99),
    p999: h.getValueAtPercentile(99.9),
    p9999: h.getValueAtPercentile(99.99),
    max: h.getValueAtPercentile(100),
  };
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
