import { beforeAll, describe, expect, it } from 'vitest';
import * as hdr from 'hdr-histogram-js';
import {
  HIST_MAX_NS,
  addEncoded,
  createHistogram,
  encodeRaw,
  decodeHistogram,
  encodeHistogram,
  initMetrics,
  mergeEncoded,
  percentiles,
  percentilesOfEncoded,
  recordNs,
} from '../../src/metrics/histogram.js';
import { rng } from '../helpers/rng.js';
import { hdrDecode, hdrHistogram, hdrPercentiles } from '../helpers/hdr-truth.js';

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

  it('encodes byte for byte as hdr-histogram-js does, raw and compressed, recorded or summed', () => {
    const r = rng(5);
    for (let round = 0; round < 12; round++) {
      const ours = createHistogram(true);
      const theirs = hdrHistogram(true);
      const n = 1 + Math.floor(r() * 3000);
      let total = 0;
      for (let i = 0; i < n; i++) {
        const v = Math.floor(Math.exp(r() * Math.log(HIST_MAX_NS)));
        // counts past 2^32 in one bucket now and then (a long run's sum)
        const c = round === 3 && i < 5 ? 5e9 + i : 1 + Math.floor(r() * 10);
        ours.recordValueWithCount(v, c);
        theirs.recordValueWithCount(v, c);
        total += v * c;
      }
      expect(Buffer.from(encodeRaw(ours)).toString('hex'), `round ${round}`).toBe(Buffer.from(theirs.encode()).toString('hex'));
      expect(encodeHistogram(ours), `round ${round}`).toBe(hdr.encodeIntoCompressedBase64(theirs));
      // a sum of decoded parts, as the main thread builds every interval and total
      const sum = createHistogram(true);
      addEncoded(sum, encodeHistogram(ours));
      addEncoded(sum, encodeRaw(ours));
      const theirSum = hdrHistogram(true);
      theirSum.add(theirs);
      theirSum.add(theirs);
      expect(encodeHistogram(sum), `sum, round ${round}`).toBe(hdr.encodeIntoCompressedBase64(theirSum));
      // the mean within a bucket's width of the exact one: hdr-histogram-js' WebAssembly mean sums
      // value × count in a 64-bit integer, which wraps with 5e9 counts of values over 4e9 ns
      // (round 3: it says 175 ms where the values average 29 s)
      const exactMean = total / (ours.totalCount);
      expect(Math.abs(percentiles(sum).mean - exactMean) / exactMean, `mean, round ${round}`).toBeLessThan(0.001);
      if (round !== 3) expect(percentiles(sum), `sum, round ${round}`).toEqual(hdrPercentiles(theirSum));
      else expect({ ...percentiles(sum), mean: 0 }, 'sum, round 3').toEqual({ ...hdrPercentiles(theirSum), mean: 0 });
      theirs.destroy();
      theirSum.destroy();
    }
    // empty
    expect(encodeHistogram(createHistogram())).toBe(hdr.encodeIntoCompressedBase64(hdrHistogram()));
  });

  it('decodes what hdr-histogram-js wrote: same count, percentiles, mean and max value', () => {
    const r = rng(9);
    for (let round = 0; round < 12; round++) {
      const theirs = hdrHistogram(round % 2 === 0);
      for (let i = 0; i < 2000; i++) theirs.recordValue(Math.floor(Math.exp(r() * Math.log(1e10))));
      const enc = hdr.encodeIntoCompressedBase64(theirs);
      const ours = decodeHistogram(enc);
      const decoded = hdrDecode(enc);
      expect(percentiles(ours), `round ${round}`).toEqual(hdrPercentiles(decoded));
      expect(ours.maxValue, `round ${round}`).toBe(decoded.maxValue);
      for (const p of [0, 0.1, 1, 25, 33.3, 50, 66.6, 95, 99.5, 99.999, 100]) expect(ours.getValueAtPercentile(p), `p${p}`).toBe(decoded.getValueAtPercentile(p));
      theirs.destroy();
      decoded.destroy();
    }
  });

  it('subtracting a part that was added gives the histogram before it (sliding windows)', () => {
    const a = createHistogram();
    const b = createHistogram();
    for (const x of samples(5000, 3)) recordNs(a, x);
    // b reaches above and below a's range: the bounds must shrink back exactly
    for (const x of [...samples(3000, 4), 1, 3e12]) recordNs(b, x);
    const before = { enc: encodeHistogram(a), p: percentiles(a), max: a.maxValue };
    a.add(b);
    expect(a.maxValue).toBeGreaterThan(before.max);
    a.subtract(b);
    expect(encodeHistogram(a)).toBe(before.enc);
    expect(percentiles(a)).toEqual(before.p);
    expect(a.maxValue).toBe(before.max);
    a.subtract(a);
    expect(percentiles(a).count).toBe(0);
    expect(a.maxValue).toBe(0);
  });

  it('a destroyed histogram comes back empty, and only once however often it was destroyed', () => {
    const a = createHistogram();
    for (const x of [...samples(2000, 6), 1, 3e12]) recordNs(a, x);
    a.destroy();
    a.destroy();
    const b = createHistogram();
    const c = createHistogram();
    expect(b).not.toBe(c);
    for (const h of [b, c]) {
      expect(h.totalCount).toBe(0);
      expect(h.maxValue).toBe(0);
      expect(encodeHistogram(h)).toBe(hdr.encodeIntoCompressedBase64(hdrHistogram()));
      recordNs(h, 2000); // below 2048 every ns is its own bucket
      expect(percentiles(h)).toMatchObject({ count: 1, min: 2000, max: 2000 });
    }
    b.destroy();
    c.destroy();
  });

  it('refuses an encoding of another layout, saying so', () => {
    const other = hdr.build({ numberOfSignificantValueDigits: 2, lowestDiscernibleValue: 1000, highestTrackableValue: 1e9 });
    other.recordValue(5000);
    expect(() => decodeHistogram(hdr.encodeIntoCompressedBase64(other))).toThrow(/2 digits from 1000 ns, not mcreplay's \(3 digits from 1 ns\)/);
    expect(() => decodeHistogram('bm90IGEgaGlzdG9ncmFt')).toThrow(/not an encoded HdrHistogram/);
  });
});
