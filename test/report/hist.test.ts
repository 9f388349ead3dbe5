// The report's sparse histogram reader against hdr-histogram-js itself (the independent truth):
// same percentiles, same max, same count, and exact sums.
import { describe, expect, it } from 'vitest';
import * as hdr from 'hdr-histogram-js';
import { hdrHistogram, hdrPercentiles } from '../helpers/hdr-truth.js';
import { decodeSparse, mergeSparse, sparsePercentiles, valuesAt, valuesAtSum } from '../../src/report/hist.js';
import { rng } from '../helpers/rng.js';

/** Exact mean of what randomHist recorded (seed → mean). */
const exactMean = new Map<number, number>();

/** A histogram of log-uniform values from 1 ns to `maxNs`, with counts up to `maxCount`. */
function randomHist(seed: number, n: number, maxNs: number, maxCount: number): hdr.WasmHistogram {
  const r = rng(seed);
  const h = hdrHistogram(true);
  let sum = 0;
  let count = 0;
  for (let i = 0; i < n; i++) {
    const v = Math.floor(Math.exp(r() * Math.log(maxNs)));
    const c = 1 + Math.floor(r() * maxCount);
    h.recordValueWithCount(v, c);
    sum += v * c;
    count += c;
  }
  exactMean.set(seed, sum / count);
  return h;
}

describe('decodeSparse', () => {
  it('gives hdr-histogram-js percentiles, min, max and count for many shapes', () => {
    const shapes: [number, number, number][] = [
      [1, 1, 1],
      [10, 50, 1e6],
      [500, 1e5, 10],
      [3000, 1e9, 1000],
      [2000, 3.6e12, 5], // up to the 1 h ceiling
      [200, 1e12, 3e9], // counts beyond 32 bits
    ];
    shapes.forEach(([n, max, cnt], i) => {
      const h = randomHist(i + 1, n, max, cnt);
      const enc = hdr.encodeIntoCompressedBase64(h);
      const want = hdrPercentiles(h);
      const s = decodeSparse(enc);
      const got = sparsePercentiles(s);
      expect(got.count).toBe(want.count);
      for (const k of ['min', 'p50', 'p90', 'p99', 'p999', 'p9999', 'max'] as const) expect(got[k], `${k} of shape ${i}`).toBe(want[k]);
      // bucket midpoints are within 0.1 % (3 significant digits) of the recorded values
      expect(Math.abs(got.mean - exactMean.get(i + 1)!) / exactMean.get(i + 1)!, `mean of shape ${i}`).toBeLessThan(0.001);
      // arbitrary percentiles, as the spectrum asks for them
      const ps = [0, 1, 12.5, 50, 75, 99.5, 99.95, 99.999, 100];
      expect(valuesAt(s, ps)).toEqual(ps.map((p) => h.getValueAtPercentile(p)));
      h.destroy();
    });
  });

  it('reads histograms written by plain-JS hdr-histogram-js too, and empty ones', () => {
    const h = hdr.build({ numberOfSignificantValueDigits: 2, lowestDiscernibleValue: 1000, highestTrackableValue: 1e9 });
    for (let v = 1000; v < 5e7; v *= 1.07) h.recordValue(Math.round(v));
    const s = decodeSparse(hdr.encodeIntoCompressedBase64(h));
    expect(valuesAt(s, [50, 99, 100])).toEqual([50, 99, 100].map((p) => h.getValueAtPercentile(p)));
    expect(decodeSparse('').total).toBe(0);
    expect(sparsePercentiles(decodeSparse(null)).count).toBe(0);
    expect(() => decodeSparse('bm90IGEgaGlzdG9ncmFt')).toThrow(/HdrHistogram/);
  });

  it('sums exactly, as hdr-histogram-js add() does', () => {
    const parts = [randomHist(11, 300, 1e7, 100), randomHist(12, 300, 1e8, 1000), randomHist(13, 50, 1e5, 3)];
    const sum = hdrHistogram(true);
    for (const p of parts) sum.add(p);
    const encs = parts.map((p) => hdr.encodeIntoCompressedBase64(p));
    const ps = [0, 50, 90, 99, 99.9, 99.99, 100];
    const want = ps.map((p) => sum.getValueAtPercentile(p));
    expect(valuesAtSum(encs.map(decodeSparse), ps)).toEqual(want);
    const merged = mergeSparse(encs.map(decodeSparse));
    expect(merged.total).toBe(sum.totalCount);
    expect(valuesAt(merged, ps)).toEqual(want);
    for (const p of [...parts, sum]) p.destroy();
  });
});
