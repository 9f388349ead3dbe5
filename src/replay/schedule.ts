// Maps capture time to the run clock: intended send time = t0 + (ts_i − ts_0) / rate, with the rate
// piecewise constant over ramp steps. Open loop: it depends only on the capture clock, never on what
// happened during the run.
import type { RateSpec } from './parse.js';

/** Capture offset (ns since ts_0) → run-clock ns, and what rate is in force when. */
export interface Schedule {
  /** Run-clock ns at which an event `captureOffNs` after ts_0 is due; null beyond the end of a ramp. */
  at(captureOffNs: number): number | null;
  /** Rate factor in force at run-clock `runNs` (null in max mode). */
  rateAt(runNs: number): number | null;
  /** Run-clock end of a ramp (after its last step), null otherwise. */
  readonly endNs: number | null;
  /** Factors of the ramp steps (one entry outside a ramp). */
  readonly steps: number[];
}

/** Builds the schedule of a rate spec. In max mode `at` returns 0: the worker sends as responses allow. */
export function makeSchedule(rate: RateSpec): Schedule {
  if (rate.mode === 'max') return { at: () => 0, rateAt: () => null, endNs: null, steps: [] };
  if (rate.mode === 'factor') {
    const f = rate.factor;
    return { at: (c) => c / f, rateAt: () => f, endNs: null, steps: [f] };
  }
  const n = rate.step > 0 ? Math.floor((rate.to - rate.from) / rate.step + 1e-9) + 1 : 1;
  const steps: number[] = [];
  for (let k = 0; k < n; k++) steps.push(rate.from + k * rate.step);
  const d = rate.stepDurationNs;
  // capture ns covered by the start of each step
  const cum: number[] = [0];
  for (let k = 0; k < n; k++) cum.push(cum[k]! + d * steps[k]!);
  const endNs = n * d;
  return {
    at(c) {
      if (c >= cum[n]!) return null;
      let k = 0;
      while (c >= cum[k + 1]!) k++;
      return k * d + (c - cum[k]!) / steps[k]!;
    },
    rateAt(runNs) {
      const k = Math.max(0, Math.min(n - 1, Math.floor(runNs / d)));
      return steps[k]!;
    },
    endNs,
    steps,
  };
}
