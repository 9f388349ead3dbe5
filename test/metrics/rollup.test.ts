// The roll-up of a long run's intervals: exact (every bucket of the rolled histogram is the sum of the
// originals' buckets, counters summed), and bounded (a long stream of intervals keeps a number of
// intervals that does not grow with the run's length beyond the coarsest tier).
import { beforeAll, describe, expect, it } from 'vitest';
import * as hdr from 'hdr-histogram-js';
import { initMetrics } from '../../src/metrics/histogram.js';
import { IntervalRecorder } from '../../src/metrics/recorder.js';
import { Aggregator } from '../../src/metrics/aggregate.js';
import { mergeIntervals, parseRollup, rollingStore, rollupFromEnv, DEFAULT_ROLLUP } from '../../src/metrics/rollup.js';
import type { Interval } from '../../src/metrics/results-types.js';
import { rng } from '../helpers/rng.js';

beforeAll(async () => {
  await initMetrics();
});

/** Per-bucket counts of an encoded histogram, decoded by plain-JS hdr-histogram-js (independent of the code under test). */
function recorded(encoded: string): [number, number][] {
  // the plain-JS histogram has the bucket walk methods its typings leave out
  const js = hdr.decodeFromCompressedBase64(encoded, 64, false) as hdr.Histogram & {
    nextNonEquivalentValue(v: number): number;
    getCountAtValue(v: number): number;
    lowestEquivalentValue(v: number): number;
  };
  try {
    const out: [number, number][] = [];
    // walk the equivalence ranges (buckets) from the lowest to the highest recorded value
    for (let v = js.minNonZeroValue; js.totalCount > 0 && v <= js.maxValue; v = js.nextNonEquivalentValue(v)) {
      const c = js.getCountAtValue(v);
      if (c > 0) out.push([js.lowestEquivalentValue(v), c]);
    }
    return out;
  } finally {
    js.destroy();
  }
}

/** A stream of real intervals from a recorder and an Aggregator (as a run makes them). */
function intervals(n: number, seed: number, store = rollingStore([])): { ivs: Interval[]; agg: Aggregator } {
  const r = rng(seed);
  const rec = new IntervalRecorder({ eventLoop: false });
  const seen: Interval[] = [];
  const agg = new Aggregator({ workers: 1, rate: { mode: 'factor', factor: 1 }, store, onInterval: (iv) => seen.push(structuredClone(iv)) });
  for (let i = 0; i < n; i++) {
    const k = 5 + Math.floor(r() * 40);
    for (let j = 0; j < k; j++) {
      const cmd = r() < 0.7 ? 'get' : r() < 0.8 ? 'set' : 'delete';
      const svc = Math.round(20_000 + r() * r() * 3_000_000);
      rec.record(cmd, svc + Math.round(r() * 40_000), svc);
      rec.count(cmd, 'sent');
      rec.count(cmd, 'completed');
      if (cmd === 'get') rec.count(cmd, r() < 0.6 ? 'hits' : 'misses');
      rec.recordLag(Math.round(r() * 200_000));
    }
    agg.add(rec.snapshot(i));
  }
  rec.destroy();
  return { ivs: seen, agg };
}

describe('roll-up', () => {
  it('merges intervals exactly: every bucket of the rolled histogram is the sum of the originals, counters summed', () => {
    const { ivs, agg } = intervals(60, 7);
    agg.destroy();
    const rolled = mergeIntervals(ivs);
    expect(rolled.startNs).toBe(ivs[0]!.startNs);
    expect(rolled.endNs).toBe(ivs[ivs.length - 1]!.endNs);
    expect(rolled.rolledFrom).toBe(60);
    const sumBuckets = (encs: string[]): Map<number, number> => {
      const m = new Map<number, number>();
      for (const e of encs) for (const [v, c] of recorded(e)) m.set(v, (m.get(v) ?? 0) + c);
      return m;
    };
    for (const cmd of ['get', 'set', 'delete']) {
      const parts = ivs.flatMap((iv) => (iv.perCommand[cmd] ? [iv.perCommand[cmd]!] : []));
      expect(parts.length).toBeGreaterThan(10);
      const got = new Map(recorded(rolled.perCommand[cmd]!.response));
      expect(got).toEqual(sumBuckets(parts.map((p) => p.response)));
      expect(new Map(recorded(rolled.perCommand[cmd]!.service))).toEqual(sumBuckets(parts.map((p) => p.service)));
      const c = rolled.perCommand[cmd]!.counters;
      expect(c.completed).toBe(parts.reduce((n, p) => n + p.counters.completed, 0));
      expect(c.hits).toBe(parts.reduce((n, p) => n + p.counters.hits, 0));
      expect(c.misses).toBe(parts.reduce((n, p) => n + p.counters.misses, 0));
      expect(c.sent).toBe(parts.reduce((n, p) => n + p.counters.sent, 0));
    }
    expect(new Map(recorded(rolled.lag))).toEqual(sumBuckets(ivs.map((iv) => iv.lag)));
    expect(new Map(recorded(rolled.total.response))).toEqual(sumBuckets(ivs.map((iv) => iv.total.response)));
    expect(rolled.total.counters.completed).toBe(ivs.reduce((n, iv) => n + iv.total.counters.completed, 0));
  });

  it('keeps a bounded number of intervals over a long stream, and the summary equals an unrolled run', () => {
    // seconds instead of hours: 1 s intervals kept 20 s, then 5 s ones kept 60 s, then 30 s ones
    const tiers = parseRollup('20s:5s,60s:30s', 1e9);
    let maxSize = 0;
    const store = rollingStore(tiers);
    const n = 800;
    const { ivs, agg } = intervals(n, 11, {
      push: (iv) => {
        store.push(iv);
        maxSize = Math.max(maxSize, store.size);
      },
      all: () => store.all(),
      get size() {
        return store.size;
      },
    });
    const rolledResult = agg.finish();
    // 20 s at 1 s + up to 60 s at 5 s (12, +1 filling) + the 30 s tier (2000/30 ≈ 67) and the buckets on their way
    expect(maxSize).toBeLessThan(20 + 1 + 13 + 5 + Math.ceil(n / 30) + 2);
    expect(maxSize).toBeLessThan(n / 10);
    const kept = rolledResult.intervals;
    // contiguous, in order, covering the whole run
    expect(kept[0]!.startNs).toBe(0);
    for (let i = 1; i < kept.length; i++) expect(kept[i]!.startNs).toBe(kept[i - 1]!.endNs);
    expect(kept[kept.length - 1]!.endNs).toBe(n * 1e9);
    // the newest 20 s are still 1 s wide; the oldest are 30 s wide
    expect(kept.slice(-20).every((iv) => iv.endNs - iv.startNs === 1e9)).toBe(true);
    expect(kept[0]!.endNs - kept[0]!.startNs).toBe(30e9);
    expect(kept.reduce((s, iv) => s + (iv.rolledFrom ?? 1), 0)).toBe(n);
    // the per-interval stream and the rolled intervals hold the same requests
    const streamTotal = ivs.reduce((s, iv) => s + iv.total.counters.completed, 0);
    expect(kept.reduce((s, iv) => s + iv.total.counters.completed, 0)).toBe(streamTotal);
    expect(rolledResult.summary.total.counters.completed).toBe(streamTotal);
    expect(new Map(recorded(mergeIntervals(kept).total.response))).toEqual(new Map(recorded(mergeIntervals(ivs).total.response)));
  });

  it('reads the tiers from MCREPLAY_ROLLUP and refuses nonsense with the form to use', () => {
    expect(rollupFromEnv(1e9, {})).toEqual([...DEFAULT_ROLLUP]);
    expect(rollupFromEnv(1e9, { MCREPLAY_ROLLUP: '1h:1m,24h:10m' })).toEqual([...DEFAULT_ROLLUP]);
    expect(() => parseRollup('10s:7s', 2e9)).toThrow(/multiple/);
    expect(() => parseRollup('10s', 1e9)).toThrow(/AFTER:WIDTH/);
    expect(() => parseRollup('1x:1m', 1e9)).toThrow(/not a duration/);
    expect(() => parseRollup('1h:1m,10m:10m', 1e9)).toThrow();
  });
});
