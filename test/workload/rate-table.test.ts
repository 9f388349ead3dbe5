// The per-second rate table of inspect: exact peak against a dense count, bounded by the number of
// seconds it holds, never by the span of time.
import { describe, expect, test } from 'vitest';
import { RateTable } from '../../src/workload/summary.js';
import { rng } from '../helpers/rng.js';

/** The peak by brute force over a dense array (only for small spans). */
function densePeak(ts: number[]): { peakPerSec: number; peakSecond: number | null } {
  const per: number[] = [];
  for (const t of ts) {
    const s = Math.max(0, Math.floor(t / 1e9));
    per[s] = (per[s] ?? 0) + 1;
  }
  let peak = 0;
  let at: number | null = null;
  per.forEach((n, i) => {
    if (n > peak) {
      peak = n;
      at = i;
    }
  });
  return { peakPerSec: peak, peakSecond: at };
}

describe('RateTable', () => {
  test('peak and its second equal a dense count, in capture order with small reorderings', () => {
    const r = rng(12);
    for (let round = 0; round < 50; round++) {
      const ts: number[] = [];
      let t = 0;
      const n = 1 + Math.floor(r() * 3000);
      for (let i = 0; i < n; i++) {
        t += Math.floor(r() * r() * 3e9);
        // a request now and then stamped a little before the one before it (causal reordering)
        ts.push(r() < 0.05 ? Math.max(0, t - Math.floor(r() * 2e9)) : t);
      }
      const table = new RateTable(64);
      for (const x of ts) table.add(x);
      expect(table.peakOf()).toEqual(densePeak(ts));
      expect(table.size).toBeLessThanOrEqual(65);
    }
  });

  test('a span of years holds a handful of seconds, not one slot per second', () => {
    const table = new RateTable();
    for (let i = 0; i < 10; i++) table.add(i * 1e8);
    table.add(365 * 86400 * 1e9); // one year later
    table.add(2 ** 29 * 1e9 * 1000); // far beyond
    expect(table.size).toBe(3);
    expect(table.peakOf()).toEqual({ peakPerSec: 10, peakSecond: 0 });
  });

  test('with more distinct seconds than the cap, memory stays at the cap', () => {
    const table = new RateTable(1000);
    for (let s = 0; s < 100_000; s++) {
      table.add(s * 1e9 + 1);
      // late by less than cap/2 seconds: still counted in its own second
      if (s === 77_777) table.add(77_500e9);
    }
    expect(table.size).toBeLessThanOrEqual(1001);
    expect(table.peakOf()).toEqual({ peakPerSec: 2, peakSecond: 77_500 });
    expect(new RateTable().peakOf()).toEqual({ peakPerSec: 0, peakSecond: null });
  });
});
