// Windowed checks over a long run whose older intervals were rolled up (src/metrics/rollup.ts): a
// window counted in intervals would span far more time there than written. Such a run is judged
// over tumbling windows instead: blocks of the window's length, aligned to multiples of it, each
// the exact sum of the intervals it covers (an interval wider than the window is a block alone).
import { mergeIntervals } from '../metrics/rollup.js';
import type { Interval } from '../metrics/results-types.js';

/** True when some interval holds more than one of the run's own (a rolled-up run). */
export function hasRolledIntervals(ivs: readonly Interval[]): boolean {
  return ivs.some((iv) => (iv.rolledFrom ?? 1) > 1);
}

/** The intervals merged into window-long aligned blocks (warm-up and ramp steps never mixed). */
export function windowBlocks(ivs: readonly Interval[], windowNs: number): Interval[] {
  const out: Interval[] = [];
  let group: Interval[] = [];
  const flush = (): void => {
    if (group.length > 0) out.push(group.length === 1 ? group[0]! : mergeIntervals(group));
    group = [];
  };
  for (const iv of ivs) {
    const head = group[0];
    if (head && (Math.floor(iv.startNs / windowNs) !== Math.floor(head.startNs / windowNs) || iv.warmup !== head.warmup || iv.step !== head.step)) flush();
    group.push(iv);
  }
  flush();
  return out;
}
