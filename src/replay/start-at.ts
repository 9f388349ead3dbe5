// --start-at: the run's t0 is a wall-clock moment shared by every shard, so their schedules line
// up. The wall clock is read once beside the monotonic clock and t0 is put on the monotonic clock;
// this assumes NTP-synchronised machines (the skew between them is the error of the alignment).
import { McError } from '../errors.js';
import { monoNs } from './clock.js';

/** Parses `--start-at` (ISO 8601 with a time zone, or Unix seconds) into epoch ms. */
export function parseStartAt(s: string): number {
  const t = s.trim();
  let ms = NaN;
  if (/^\d+(\.\d+)?$/.test(t)) ms = Number(t) * 1000;
  else if (/^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)$/i.test(t)) ms = Date.parse(t);
  if (!Number.isFinite(ms)) {
    throw new McError(`--start-at ${s}: expected an ISO 8601 time with a zone (2026-12-07T10:00:00Z) or Unix seconds (1796637600)`, 'MCR_ERR_BAD_OPTION', 'give every shard the same value, a little in the future (e.g. $(date -u -d "+2 min" +%FT%TZ))');
  }
  return ms;
}

/** Wall clock now, ms since the epoch with µs resolution. */
export function wallMs(): number {
  return performance.timeOrigin + performance.now();
}

/** Where t0 landed. */
export interface T0Fix {
  /** t0 on the monotonic clock (a monoNs(baseSec) reading). */
  t0: number;
  /** t0 on the wall clock, epoch ms. */
  wallMs: number;
  /** How late this process fixed t0 after --start-at, ns (0 when in time or without --start-at). */
  lateNs: number;
}

/**
 * Sleeps until `startAtMs` is `marginNs` away (timers are coarse); the clocks are read after it, by
 * fixT0. Resolves false, or true when `signal` cut the wait short (Ctrl-C: the run starts, and
 * stops, at once).
 */
export async function waitForStartAt(startAtMs: number, marginNs: number, signal?: AbortSignal): Promise<boolean> {
  for (;;) {
    if (signal?.aborted === true) return true;
    const left = startAtMs - wallMs() - marginNs / 1e6;
    if (left <= 5) return false;
    const stopped = await new Promise<boolean>((r) => {
      const t = setTimeout(() => done(false), Math.min(left - 2, 60_000));
      const onAbort = (): void => done(true);
      function done(aborted: boolean): void {
        clearTimeout(t);
        signal?.removeEventListener('abort', onAbort);
        r(aborted);
      }
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    if (stopped) return true;
  }
}

/**
 * Fixes t0 from the clocks as they read now: `marginNs` from now, or at `startAtMs`. A process that
 * gets there after `startAtMs` keeps the common t0 (its first requests are late: the lag says by
 * how much). Call it right before posting 'start': whatever runs between the reading and the post
 * (a microtask, a garbage collection, the thread losing its core) is taken from the margin.
 */
export function fixT0(startAtMs: number | null, baseSec: number, marginNs: number): T0Fix {
  // the wall clock first: Node loads perf_hooks on the first use of `performance` (5–20 ms on a
  // cold start), which between the monotonic reading and the post made the workers late
  const wall = wallMs();
  const m = monoNs(baseSec);
  if (startAtMs === null) return { t0: m + marginNs, wallMs: wall + marginNs / 1e6, lateNs: 0 };
  const aheadNs = Math.round((startAtMs - wall) * 1e6);
  return { t0: m + aheadNs, wallMs: startAtMs, lateNs: aheadNs < 0 ? -aheadNs : 0 };
}

/** epoch ms as integer ns in a string (exact beyond 2^53). */
export function epochNsString(ms: number): string {
  const whole = Math.floor(ms);
  const frac = Math.round((ms - whole) * 1e6);
  return (BigInt(whole) * 1_000_000n + BigInt(frac)).toString();
}
