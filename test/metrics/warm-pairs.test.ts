// Warmth pairs through the real recorder and Aggregator: a target's answer is counted in the interval
// of its request's intended send time, however many intervals later it comes back; the captured
// answers go to the same interval; a roll-up sums the pairs exactly; a run with no captured answers
// (a replay) carries no pairs; and the book lets go of intervals beyond its horizon.
import { beforeAll, describe, expect, it } from 'vitest';
import { initMetrics } from '../../src/metrics/histogram.js';
import { IntervalRecorder } from '../../src/metrics/recorder.js';
import { Aggregator } from '../../src/metrics/aggregate.js';
import { mergeIntervals } from '../../src/metrics/rollup.js';
import { PAIR_HORIZON, createPairBook } from '../../src/metrics/warm-pairs.js';
import type { Interval } from '../../src/metrics/results-types.js';

beforeAll(async () => {
  await initMetrics();
});

const S = 1e9;

function run(withCaptured: boolean): Interval[] {
  const rec = new IntervalRecorder({ eventLoop: false, intervalNs: S });
  const seen: Interval[] = [];
  const agg = new Aggregator({ workers: 1, rate: { mode: 'factor', factor: 1 }, onInterval: (iv) => seen.push(iv) });
  const get = rec.slot('get');
  // interval 0: 3 requests intended, the capture answered 2 hits and a miss; the target answers one
  // hit now, the rest only in interval 2 (it lags two seconds)
  if (withCaptured) {
    agg.pairs.captured(0.1 * S, 'get', 1, 0);
    agg.pairs.captured(0.5 * S, 'get', 1, 0);
    agg.pairs.captured(0.9 * S, 'get', 0, 1);
  }
  rec.count('get', 'hits');
  rec.warm(get, 0.1 * S, 1, 0);
  agg.add(rec.snapshot(0));
  // interval 1: one request intended and answered at once (a miss on both sides)
  if (withCaptured) agg.pairs.captured(1.2 * S, 'get', 0, 1);
  rec.count('get', 'misses');
  rec.warm(get, 1.2 * S, 0, 1);
  agg.add(rec.snapshot(1));
  // interval 2: the late answers of interval 0 come back
  rec.count('get', 'hits');
  rec.count('get', 'misses');
  rec.warm(get, 0.5 * S, 1, 0);
  rec.warm(get, 0.9 * S, 0, 1);
  agg.add(rec.snapshot(2));
  agg.finish(3 * S);
  rec.destroy();
  return seen;
}

describe('warmth pairs', () => {
  it('count a late answer in the interval of its intended send time, beside the capture’s answers', () => {
    const ivs = run(true);
    expect(ivs.map((iv) => iv.paired?.get)).toEqual([
      { capturedHits: 2, capturedMisses: 1, replayedHits: 2, replayedMisses: 1 },
      { capturedHits: 0, capturedMisses: 1, replayedHits: 0, replayedMisses: 1 },
      undefined,
    ]);
    // the interval's own counters stay by completion time (2 answers came back in interval 2)
    expect(ivs[2]!.total.counters.hits + ivs[2]!.total.counters.misses).toBe(2);
    // a roll-up sums the pairs exactly
    expect(mergeIntervals(ivs).paired!.get).toEqual({ capturedHits: 2, capturedMisses: 2, replayedHits: 2, replayedMisses: 2 });
  });

  it('a run without captured answers (a replay) carries no pairs', () => {
    expect(run(false).every((iv) => iv.paired === undefined)).toBe(true);
  });

  it('lets go of an interval beyond the horizon: answers for it are no longer counted, memory stays flat', () => {
    const book = createPairBook(S);
    book.captured(0, 'get', 1, 0);
    const first = book.closed(0)!;
    for (let i = 1; i <= PAIR_HORIZON; i++) book.closed(i);
    book.replayed(0, 'get', 1, 0);
    expect(first.get).toEqual({ capturedHits: 1, capturedMisses: 0, replayedHits: 0, replayedMisses: 0 });
    // within the horizon a late answer still lands
    const recent = book.closed(PAIR_HORIZON + 1)!;
    book.replayed(PAIR_HORIZON + 1, 'get', 1, 0);
    expect(recent.get).toEqual({ capturedHits: 0, capturedMisses: 0, replayedHits: 1, replayedMisses: 0 });
  });
});
