import { beforeAll, describe, expect, it } from 'vitest';
import * as hdr from 'hdr-histogram-js';
import {
  HIST_MAX_NS,
  createHistogram,
  decodeHistogram,
  encodeHistogram,
  initMetrics,
  mergeEncoded,
  percentiles,
  percentilesOfEncoded,
  recordNs,
} from '../../src/metrics/histogram.js';
import { rng } from '../helpers/rng.js';

/** Latency-like samples: log-normal around ~50 µs with a long tail, integer ns. */
function samples(n: number, seed: number): number[] {
  const r = rng(seed);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const u = Math.max(r(), 1e-12);
    const v = r();
    const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    out.push(Math.max(1, Math.round(Math.exp(Math.log(50_000) + 1.2 * z))));
  }
  return out;
}

/**
 * The value at percentile p of a sorted array is the r-th smallest with r = p/100 * n; the
 * floating-point product can land either side of an integer, so ranks r-1 .. r+1 are all correct.
 */
function nearPercentile(actual: number, sorted: number[], p: number): void {
  const r = Math.round((p / 100) * sorted.length);
  const lo = sorted[Math.max(0, r - 2)]!;
  const hi = sorted[Math.min(sorted.length - 1, r)]!;
  // 3 significant digits: a sample is reported as the top of its bucket, < 0.1 % above it
  expect(actual).toBeGreaterThanOrEqual(lo * 0.999 - 1);
  expect(actual).toBeLessThanOrEqual(hi * 1.001 + 1);
}

function near(actual: number, expected: number): void {
  // 3 significant digits: a value is reported as the top of its bucket, < 0.1 % above the sample
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(expected * 0.001 + 1);
}

beforeAll(async () => {
  await initMetrics();
});

describe('histogram', () => {
  it('encode/decode round trip keeps percentiles, checked against a sorted array', () => {
    const xs = samples(100_000, 1);
    const h = createHistogram();
    for (const x of xs) recordNs(h, x);
    const enc = encodeHistogram(h);
    expect(enc.startsWith('HISTF')).toBe(true);
    const d = decodeHistogram(enc);
    const sorted = [...xs].sort((a, b) => a - b);
    const p = percentiles(d);
    expect(p.count).toBe(xs.length);
    near(p.min, sorted[0]!);
    near(p.max, sorted[sorted.length - 1]!);
    nearPercentile(p.p50, sorted, 50);
    nearPercentile(p.p90, sorted, 90);
    nearPercentile(p.p99, sorted, 99);
    nearPercentile(p.p999, sorted, 99.9);
    nearPercentile(p.p9999, sorted, 99.99);
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(Math.abs(p.mean - mean) / mean).toBeLessThan(0.001);
    // same as the original
    expect(percentiles(h)).toEqual(p);
    h.destroy();
    d.destroy();
  });

  it('is readable by the plain-JS decoder of hdr-histogram-js (the .hlog encoding)', () => {
    const h = createHistogram();
    for (const x of [1, 1000, 123_456, 9_999_999]) recordNs(h, x);
    const js = hdr.decodeFromCompressedBase64(encodeHistogram(h), 32, false);
    expect(js.totalCount).toBe(4);
    expect(js.getValueAtPercentile(100)).toBe(h.getValueAtPercentile(100));
    h.destroy();
  });

  it('clamps values outside 0 .. 1 h instead of throwing', () => {
    const h = createHistogram();
    recordNs(h, -5);
    recordNs(h, HIST_MAX_NS * 10);
    recordNs(h, 12.6);
    expect(h.totalCount).toBe(3);
    expect(h.maxValue).toBeGreaterThanOrEqual(HIST_MAX_NS * 0.999);
    expect(percentiles(h).min).toBe(0);
    h.destroy();
  });

  it('merging encoded parts equals one histogram of all samples', () => {
    const xs = samples(30_000, 2);
    const parts = [0, 1, 2].map(() => createHistogram());
    const all = createHistogram();
    xs.forEach((x, i) => {
      recordNs(parts[i % 3]!, x);
      recordNs(all, x);
    });
    const merged = mergeEncoded(parts.map(encodeHistogram));
    expect(percentilesOfEncoded(merged)).toEqual(percentiles(all));
    for (const h of [...parts, all]) h.destroy();
  });

  it('empty histograms give zero percentiles and survive a round trip', () => {
    const h = createHistogram();
    expect(percentilesOfEncoded(encodeHistogram(h)).count).toBe(0);
    expect(percentilesOfEncoded('').count).toBe(0);
    h.destroy();
  });

  it('destroy frees WASM memory: many create/destroy cycles do not grow the heap', () => {
    // warm the allocator, then measure: a leak of one histogram per cycle would be ~200 MB (WASM memory shows in `external`)
    for (let i = 0; i < 50; i++) createHistogram(true).destroy();
    const before = process.memoryUsage().external;
    for (let i = 0; i < 500; i++) {
      const h = createHistogram(true);
      recordNs(h, i + 1);
      h.destroy();
    }
    const after = process.memoryUsage().external;
    expect(after - before).toBeLessThan(16 * 1024 * 1024);
  });
});
