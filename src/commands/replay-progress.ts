// The planned length of a replay (the total and ETA of its progress line), which needs the
// capture's time span: read before the load when the file is small enough to read twice cheaply,
// and always for a ramp (to say which steps the capture can feed).
import { stat } from 'node:fs/promises';
import { readCapture } from '../capture/index.js';
import type { RateSpec } from '../replay/parse.js';
import { rampFit } from './replay-preflight.js';

/** Largest capture read twice (once here, once by the replay) just to know its length. */
const SPAN_SCAN_MAX_BYTES = 64 * 1024 * 1024;

const noop = (): void => undefined;

/** The capture's time span, ns (first to last frame), or null for stdin or a file too large to read twice (unless `force`). */
export async function captureSpanNs(path: string, serverPorts: number[], anyPort: boolean, force: boolean): Promise<number | null> {
  if (path === '-') return null;
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
