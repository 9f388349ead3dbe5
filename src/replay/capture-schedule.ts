// The schedule stage of a replay from a file: a captured moment's run-clock due time is its offset
// from the pass's first event (after --max-gap squeezing and --from), compressed by the rate
// (schedule.ts), plus the offset of the pass (--loop).
import { GapSqueezer, type ShapeOptions } from '../workload/shape.js';
import type { Schedule } from './schedule.js';
import type { FeedClock } from './feed.js';

/** The capture clock of one pass over the capture. */
export interface CaptureClock extends FeedClock {
  /** Capture ns this pass covered (its span plus 1 ms), the next pass's offset step. */
  span(): number;
  /** Capture ns squeezed out by --max-gap so far. */
  squeezedNs(): number;
}

/** The capture clock of a pass starting `passOffset` capture ns into the run. */
export function captureClock(
  schedule: Schedule,
  shape: ShapeOptions,
  passOffset: number,
  opts: { ttlScale: number | null; durationNs: number | null },
): CaptureClock {
  const squeeze = new GapSqueezer(shape.maxGapNs);
  let ts0: number | null = null;
  let maxTs = 0;
  const from = shape.fromNs;

  /** Run-clock due time of capture time `ts` (null: past the end of a ramp). */
  const dueAt = (ts: number): number | null => {
    let t = squeeze.map(ts);
    if (ts0 === null) ts0 = Math.max(t, from ?? t);
    if (t > maxTs) maxTs = t;
    t = Math.max(0, t - ts0);
    const a = schedule.at(t + passOffset);
    return a;
  };
  const ttlScaleAt = (at: number): number => opts.ttlScale ?? schedule.rateAt(at) ?? 1;
  const past = (at: number | null): boolean => at === null || (opts.durationNs !== null && at >= opts.durationNs);
  return {
    dueAt,
    ttlScaleAt,
    past,
    span: () => Math.max(0, maxTs - (ts0 ?? 0)) + 1e6,
    squeezedNs: () => squeeze.squeezedNs,
  };
}
