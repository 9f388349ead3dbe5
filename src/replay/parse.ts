// Parsers for the replay options that carry units: durations, rates, ramps, warm-up.
import { McError } from '../errors.js';

const UNIT_NS: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** Parses "250ms", "10s", "1m30s", "2.5s", "1h" (a bare number is seconds) into ns; throws McError naming the option. */
export function parseDurationNs(text: string, option: string): number {
  const t = text.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Math.round(Number(t) * 1e9);
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let pos = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(t)) !== null) {
    total += Number(m[1]) * UNIT_NS[m[2]!]!;
    pos = re.lastIndex;
  }
  if (pos !== t.length || t.length === 0) {
    throw new McError(`${option} ${text}: not a duration`, 'MCR_ERR_BAD_OPTION', 'write it like 500ms, 10s, 1m30s or 2h');
  }
  return Math.round(total);
}

/** Parses a rate factor "2x", "0.5x" or "2" into a positive number. */
export function parseFactor(text: string, option: string): number {
  const m = /^(\d+(?:\.\d+)?|\.\d+)x?$/i.exec(text.trim());
  const v = m ? Number(m[1]) : NaN;
  if (!Number.isFinite(v) || v <= 0) throw new McError(`${option} ${text}: not a rate factor`, 'MCR_ERR_BAD_OPTION', 'write it like 1x, 2x or 0.5x (or max, or a ramp 1x..8x)');
  return v;
}

/** How fast the capture is replayed. */
export type RateSpec =
  | { mode: 'factor'; factor: number }
  | { mode: 'max' }
  | { mode: 'ramp'; from: number; to: number; step: number; stepDurationNs: number };

/** Parses --rate (with --step and --step-duration for a ramp "1x..8x"). */
export function parseRate(rate: string | undefined, step: string | undefined, stepDuration: string | undefined): RateSpec {
  const r = (rate ?? '1x').trim();
  if (r.toLowerCase() === 'max') {
    if (step !== undefined || stepDuration !== undefined) throw new McError('--step/--step-duration only go with a ramp (--rate 1x..8x)', 'MCR_ERR_BAD_OPTION');
    return { mode: 'max' };
  }
  const ramp = /^(.+?)\.\.(.+)$/.exec(r);
  if (ramp) {
    const from = parseFactor(ramp[1]!, '--rate');
    const to = parseFactor(ramp[2]!, '--rate');
    if (to < from) throw new McError(`--rate ${rate}: a ramp goes up (from..to with from <= to)`, 'MCR_ERR_BAD_OPTION');
    const st = step === undefined ? (to > from ? Math.min(1, to - from) : 1) : parseFactor(step, '--step');
    const sd = stepDuration === undefined ? 30e9 : parseDurationNs(stepDuration, '--step-duration');
    if (sd <= 0) throw new McError('--step-duration must be above 0', 'MCR_ERR_BAD_OPTION');
    return { mode: 'ramp', from, to, step: st, stepDurationNs: sd };
  }
  if (step !== undefined || stepDuration !== undefined) throw new McError('--step/--step-duration only go with a ramp (--rate 1x..8x)', 'MCR_ERR_BAD_OPTION');
  return { mode: 'factor', factor: parseFactor(r, '--rate') };
}

/** Warm-up: a time ("10s") or a request count ("5000"). */
export function parseWarmup(text: string | undefined): { ns: number | null; requests: number | null } {
  if (text === undefined) return { ns: null, requests: null };
  const t = text.trim();
  if (/^\d+$/.test(t)) return { ns: null, requests: Number(t) };
  const m = /^(\d+)\s*(req|reqs|requests)$/i.exec(t);
  if (m) return { ns: null, requests: Number(m[1]) };
  return { ns: parseDurationNs(t, '--warmup'), requests: null };
}

/** Splits repeated/comma-separated list options into trimmed, non-empty items. */
export function listOption(v: string[] | string | undefined): string[] {
  const a = Array.isArray(v) ? v : v === undefined ? [] : [v];
  return a.flatMap((x) => x.split(',')).map((x) => x.trim()).filter((x) => x.length > 0);
}
