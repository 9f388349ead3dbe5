// The progress lines of a running replay (elapsed/total, percent, ETA, as k6 prints it) and mirror,
// on stderr while the run goes.
import type { Interval } from '../metrics/results-types.js';
import type { Progress } from '../metrics/aggregate.js';
import { fmtClock, fmtInt, fmtNs } from './format.js';

const clock = (ns: number): string => fmtClock(ns / 1e9);

/** One progress line: elapsed/total, percent and ETA when the total is known, then rates, p99, errors, lag. */
export function progressLine(iv: Interval, p: Progress, maxMode: boolean, totalNs: number | null): string {
  const elapsed = iv.endNs;
  const time = totalNs !== null && totalNs > 0
    ? `${clock(elapsed)}/${clock(totalNs)} ${Math.min(100, Math.floor((100 * elapsed) / totalNs))}% ETA ${clock(Math.max(0, totalNs - elapsed))}`
    : `${clock(elapsed)}`;
  const c = iv.total.counters;
  const secs = (iv.endNs - iv.startNs) / 1e9 || 1;
  const parts = [
    time,
    `sent ${fmtInt(p.total.sent)}`,
    `${fmtInt(c.completed / secs)}/s${maxMode ? '' : ` (intended ${fmtInt(c.intended / secs)}/s)`}`,
    `p99 ${p.responseP99Ns > 0 ? fmtNs(p.responseP99Ns) : '-'}`,
    `errors ${fmtInt(p.errors)}`,
  ];
  if (!maxMode) parts.push(`lag p99 ${fmtNs(p.lagP99Ns)}`);
  if (iv.warmup) parts.push('(warm-up)');
  if (iv.step !== null) parts.push(`step ${iv.step} @ ${iv.rateFactor}x`);
  return parts.join('  ');
}

/** The mirror's progress line: seconds running, sent, answered per second, p99, errors, lag. */
export function mirrorProgressLine(iv: Interval, p: Progress): string {
  const c = iv.total.counters;
  const secs = (iv.endNs - iv.startNs) / 1e9 || 1;
  return `${(iv.endNs / 1e9).toFixed(0)}s  sent ${fmtInt(p.total.sent)}  ${fmtInt(c.completed / secs)}/s  p99 ${p.responseP99Ns > 0 ? fmtNs(p.responseP99Ns) : '-'}  errors ${fmtInt(p.errors)}  lag p99 ${fmtNs(p.lagP99Ns)}`;
}
