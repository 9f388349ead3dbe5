// hdr-histogram-js itself, as the independent truth for mcreplay's own histograms (src/metrics/
// dense-hist.ts, counts-hist.ts, src/report/hist.ts): a WebAssembly histogram with mcreplay's
// configuration, and the results.json percentile set computed the library's way.
import * as hdr from 'hdr-histogram-js';
import { HIST_DIGITS, HIST_LOWEST, HIST_MAX_NS } from '../../src/metrics/hist-config.js';
import type { Percentiles } from '../../src/metrics/results-types.js';

/** A new hdr-histogram-js WebAssembly histogram of mcreplay's layout (64-bit counts when `wide`). */
export function hdrHistogram(wide = false): hdr.WasmHistogram {
  hdr.initWebAssemblySync();
  return hdr.build({
    useWebAssembly: true,
    lowestDiscernibleValue: HIST_LOWEST,
    highestTrackableValue: HIST_MAX_NS,
    numberOfSignificantValueDigits: HIST_DIGITS,
    bitBucketSize: wide ? 64 : 32,
    autoResize: false,
  }) as hdr.WasmHistogram;
}

/** Decodes compressed base64 with hdr-histogram-js (64-bit counts). */
export function hdrDecode(encoded: string): hdr.WasmHistogram {
  hdr.initWebAssemblySync();
  return hdr.decodeFromCompressedBase64(encoded, 64, true, HIST_MAX_NS) as hdr.WasmHistogram;
}

/** results.json's percentile set as hdr-histogram-js gives it (min/max as percentile 0/100). */
export function hdrPercentiles(h: hdr.Histogram): Percentiles {
  if (h.totalCount === 0) return { count: 0, min: 0, mean: 0, p50: 0, p90: 0, p99: 0, p999: 0, p9999: 0, max: 0 };
  const at = (p: number): number => h.getValueAtPercentile(p);
  return { count: h.totalCount, min: at(0), mean: h.mean, p50: at(50), p90: at(90), p99: at(99), p999: at(99.9), p9999: at(99.99), max: at(100) };
}
