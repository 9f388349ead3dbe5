// How early a worker asks its waker thread (waker.ts) to wake it before a due time. A timed futex
// wait ends 50–110 µs late on these machines and the waker's postMessage takes 40–80 µs more; a
// fixed early wake either left the worker ~80 µs late on every isolated request (60 µs) or spun
// away up to 35 % more CPU where wake-ups were quick (200 µs; README, "The machine's own floor").
// So the worker keeps a running estimate of how late its wake-ups arrive and asks that much
// earlier, plus a margin, within bounds.

/** Asked this much earlier than the estimate: the spin turns cover the rest. */
export const WAKE_MARGIN_NS = 20e3;
/** Never earlier than this: a wake-up later than that is a starved machine, better slept through than spun. */
export const WAKE_EARLY_MAX_NS = 400e3;
/** A sample above this is a stall, not the waker's latency: not counted. */
const WAKE_LATE_CAP_NS = 10e6;

/**
 * The lateness estimate after one more wake-up that came `lateNs` after it was asked for: up 20 %
 * of the way, down 5 %, so it settles near the samples' 80th percentile (4 steps down per step up).
 */
export function nextWakeLate(estNs: number, lateNs: number): number {
  if (!(lateNs >= 0) || lateNs >= WAKE_LATE_CAP_NS) return estNs;
  return estNs + (lateNs - estNs) * (lateNs > estNs ? 0.2 : 0.05);
}

/** How long before a due time to ask for the wake-up: the estimate plus the margin, within [floorNs, WAKE_EARLY_MAX_NS]. */
export function wakeEarlyNs(estNs: number, floorNs: number): number {
  const e = estNs + WAKE_MARGIN_NS;
  return e < floorNs ? floorNs : e > WAKE_EARLY_MAX_NS ? WAKE_EARLY_MAX_NS : e;
}
