// Windowed checks over a rolled-up run: the windows keep their written length in time (tumbling,
// aligned blocks), so a bad spell is judged as it happened, not diluted into windows ten times
// longer; the truth is the latencies recorded into the run.
import { beforeAll, describe, expect, it } from 'vitest';
import { initMetrics } from '../../src/metrics/histogram.js';
import { IntervalRecorder } from '../../src/metrics/recorder.js';
import { Aggregator } from '../../src/metrics/aggregate.js';
import { parseRollup, rollingStore } from '../../src/metrics/rollup.js';
import { evaluateChecks } from '../../src/report/check-eval.js';
import { parseCheck } from '../../src/report/check-grammar.js';
import type { AggregateResult } from '../../src/metrics/aggregate.js';

beforeAll(async () => {
  await initMetrics();
});

/** 100 s of 100 requests a second at 100 µs; with `spike`, seconds 40–49 answer half their requests in 50 ms. */
function run(spike: boolean, rolled: boolean): AggregateResult {
  const rec = new IntervalRecorder({ eventLoop: false });
  const agg = new Aggregator({ workers: 1, rate: { mode: 'factor', factor: 1 }, ...(rolled ? { store: rollingStore(parseRollup('30s:10s', 1e9)) } : {}) });
  for (let i = 0; i < 100; i++) {
    for (let j = 0; j < 100; j++) {
      const slow = spike && i >= 40 && i < 50 && j % 2 === 0;
      rec.record('get', slow ? 50e6 : 100e3, slow ? 50e6 : 90e3);
      rec.count('get', 'sent');
      rec.count('get', 'completed');
    }
    agg.add(rec.snapshot(i));
  }
  rec.destroy();
  return agg.finish();
}

describe('windowed checks over rolled-up intervals', () => {
  const check = parseCheck('latency.p99 < 10ms over every 10s');

  it('a spell of slow answers breaks the 10 s window it happened in, rolled up or not', () => {
    const plain = run(true, false);
    const rolled = run(true, true);
    expect(rolled.intervals.length).toBeLessThan(plain.intervals.length);
    expect(rolled.intervals.some((iv) => iv.endNs - iv.startNs === 10e9)).toBe(true);
    const [p] = evaluateChecks({ ...plain, commands: plain.commands }, [check]);
    const [r] = evaluateChecks({ ...rolled, commands: rolled.commands }, [check]);
    expect(p!.pass).toBe(false);
    expect(r!.pass).toBe(false);
    // half the requests of [40 s, 50 s) took 50 ms: that window's p99 is 50 ms (HdrHistogram precision)
    expect(r!.observed).toBeGreaterThan(49);
    expect(r!.observed).toBeLessThan(51);
    expect(r!.observed).toBeCloseTo(p!.observed as number, 0);
    expect(r!.message).toContain('40');
  });

  it('without the spell, both pass', () => {
    for (const rolled of [false, true]) {
      const res = run(false, rolled);
      const [c] = evaluateChecks({ ...res, commands: res.commands }, [check]);
      expect(c!.pass).toBe(true);
    }
  });
});
