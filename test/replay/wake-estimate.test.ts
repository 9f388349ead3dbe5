// The worker's estimate of how late its waker's wake-ups arrive, and how early it asks for them.
import { describe, expect, it } from 'vitest';
import { nextWakeLate, wakeEarlyNs, WAKE_EARLY_MAX_NS, WAKE_MARGIN_NS } from '../../src/replay/wake-estimate.js';
import { rng } from '../helpers/rng.js';

/** The estimate after feeding `samples` from 0. */
function settle(samples: number[]): number {
  let est = 0;
  for (const x of samples) est = nextWakeLate(est, x);
  return est;
}

/** The q-quantile of `xs`. */
function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(q * (s.length - 1))]!;
}

describe('wake-up lateness estimate', () => {
  it('settles between the p60 and the p95 of the lateness it sees, near the p80', () => {
    const rnd = rng(7);
    // wake-ups as measured here: 100–140 µs late most of the time, a tail to 600 µs
    const samples = Array.from({ length: 20_000 }, () => (rnd() < 0.9 ? 100e3 + rnd() * 40e3 : 140e3 + rnd() * 460e3));
    const est = settle(samples);
    expect(est).toBeGreaterThan(quantile(samples, 0.6));
    expect(est).toBeLessThan(quantile(samples, 0.95));
    expect(Math.abs(est - quantile(samples, 0.8))).toBeLessThan(30e3);
  });

  it('follows a machine that gets quicker, and ignores stalls and impossible samples', () => {
    const est = settle(Array.from({ length: 500 }, () => 300e3));
    expect(est).toBeGreaterThan(290e3);
    const quick = Array.from({ length: 500 }, () => 50e3).reduce((e, x) => nextWakeLate(e, x), 300e3);
    expect(quick).toBeLessThan(60e3);
    // a 50 ms stall, a negative or NaN sample: not the waker's latency
    expect(nextWakeLate(120e3, 50e6)).toBe(120e3);
    expect(nextWakeLate(120e3, -5e3)).toBe(120e3);
    expect(nextWakeLate(120e3, Number.NaN)).toBe(120e3);
  });

  it('asks the estimate plus the margin early, never less than the floor nor more than the cap', () => {
    expect(wakeEarlyNs(0, 60e3)).toBe(60e3);
    expect(wakeEarlyNs(130e3, 60e3)).toBe(130e3 + WAKE_MARGIN_NS);
    expect(wakeEarlyNs(10e6, 60e3)).toBe(WAKE_EARLY_MAX_NS);
    expect(wakeEarlyNs(100e3, 300e3)).toBe(300e3);
  });
});
