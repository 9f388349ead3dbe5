// The replay's progress line (elapsed/total, percent, ETA, as k6 prints it) and the planned length of
// a run, which needs the capture's time span: read before the load when the file is small enough to
// read twice cheaply, and always for a ramp (to say which steps the capture can feed).
import { stat } from 'node:fs/promises';
import { readCapture } from '../capture/index.js';
import { VERSION } from '../version.js';
import type { ExtractResult } from '../workload/extract.js';
import { isPreparedFile, openPrepared, readTrailer } from '../workload/prepared-read.js';
import type { Interval } from '../metrics/results-types.js';
import type { Progress } from '../metrics/aggregate.js';
import type { RateSpec } from '../replay/parse.js';
import { fmtClock } from '../report/format.js';
import { fmtInt, fmtNs } from './text.js';
import { rampFit } from './replay-preflight.js';

const clock = (ns: number): string => fmtClock(ns / 1e9);

/** Largest capture read twice (once here, once by the replay) just to know its length. */
const SPAN_SCAN_MAX_BYTES = 64 * 1024 * 1024;

const noop = (): void => undefined;

/** The capture's time span, ns (first to last frame), or null for stdin or a file too large to read twice (unless `force`). */
export async function captureSpanNs(path: string, serverPorts: number[], anyPort: boolean, force: boolean): Promise<number | null> {
  if (path === '-') return null;
  if (isPreparedFile(path)) {
    // a prepared workload knows its capture's span from its trailer
    const c = ((await readTrailer(openPrepared(path, VERSION))).result as ExtractResult).capture;
    return c.packets > 0 ? Math.max(0, c.lastNs - c.firstNs) : null;
  }
  const st = await stat(path).catch(() => null);
  if (st === null || (!force && st.size > SPAN_SCAN_MAX_BYTES)) return null;
  try {
    const s = await readCapture(path, { serverPorts, followSynDirection: anyPort }, { open: noop, data: noop, gap: noop, close: noop, datagram: noop });
    return s.packets > 0 ? Math.max(0, s.lastNs - s.firstNs) : null;
  } catch {
    return null; // the replay reports a bad file with its context
  }
}

/** What the run will last on the run clock, ns, or null when it cannot be known (max rate, a loop without --duration, unknown span). */
export function plannedTotalNs(o: { rate: RateSpec; spanNs: number | null; fromNs: number | null; toNs: number | null; loop: boolean; durationNs: number | null }): number | null {
  let natural: number | null = null;
  const span = o.spanNs === null ? null : Math.max(0, Math.min(o.toNs ?? Infinity, o.spanNs) - (o.fromNs ?? 0));
  const r = o.rate;
  if (r.mode === 'factor') natural = o.loop || span === null ? null : span / r.factor;
  else if (r.mode === 'ramp') {
    // a step the capture cannot feed to its end lasts only as long as the capture it has left
    const fit = rampFit(r, o.loop || span === null ? Infinity : span);
    natural = span === null && !o.loop ? null : fit.reduce((t, st) => t + st.covered * r.stepDurationNs, 0);
  }
  if (o.durationNs !== null) return natural === null ? o.durationNs : Math.min(natural, o.durationNs);
  return natural;
}

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
