// The schedule stage of a live mirror: a request is due a fixed delay after the moment it was
// captured, on this host's clock (intended send = capture timestamp + delay). The capture
// timestamps come from the kernel's wall clock, the run clock is monotonic: the two are tied once
// (wall time at the run clock's zero) and checked on every event. A capture timestamp more than
// JUMP_NS off the expected wall time (a host clock step, NTP slew gone wrong, a capture from
// another host's clock, a recorded file piped in) re-anchors the mapping there and is counted and
// reported, instead of becoming hours of lag or a request held for hours.
import type { FeedClock } from './feed.js';

/** A capture time further than this ahead of the reader's clock is a clock jump. */
export const JUMP_NS = 1e9;
/**
 * Behind the reader's clock the bound is wider: a reader that falls behind (a paused process, a
 * full pipe) is real lag to be measured, not a jump; only a step this large is re-anchored.
 */
export const JUMP_BACK_NS = 10e9;

/** What the live clock saw of the capture host's clock. */
export interface LiveClockStats {
  /** Re-anchorings: capture timestamps that jumped more than JUMP_NS from this host's clock. */
  jumps: number;
  /** The largest such offset seen, ns (signed: capture minus expected). */
  worstOffsetNs: number;
  /** Offset (capture − this host's clock) at the first event, ns; null before any event. */
  firstOffsetNs: number | null;
}

/** The live clock: capture time → run-clock due time. */
export interface LiveClock extends FeedClock {
  readonly stats: LiveClockStats;
}

/**
 * A live clock. `captureBaseSec()` gives the epoch second that capture times (ns) count from;
 * `runNow()` the run clock (ns since t0); `wallNowMs()` this host's wall clock (ms, fractional).
 */
export function liveClock(opts: {
  delayNs: number;
  durationNs: number | null;
  captureBaseSec(): number;
  runNow(): number;
  wallNowMs?(): number;
}): LiveClock {
  const wallNowMs = opts.wallNowMs ?? ((): number => performance.timeOrigin + performance.now());
  const stats: LiveClockStats = { jumps: 0, worstOffsetNs: 0, firstOffsetNs: null };
  // capture ns (relative to the capture's base second) that maps to run-clock 0; NaN until the
  // first event (the base second is known only once a frame is read)
  let zero = Number.NaN;

  /** Capture ns (relative to base) of this host's clock now. */
  const captureNow = (): number => {
    const ms = wallNowMs();
    const sec = Math.floor(ms / 1000);
    return (sec - opts.captureBaseSec()) * 1e9 + (ms - sec * 1000) * 1e6;
  };

  const dueAt = (ts: number): number => {
    const now = opts.runNow();
    if (zero !== zero) {
      const expect = captureNow();
      zero = expect - now;
      stats.firstOffsetNs = ts - expect;
      if (ts - expect > JUMP_NS || ts - expect < -JUMP_BACK_NS) {
        // the capture's clock is not this host's: follow the capture's own pace from here
        stats.jumps++;
        stats.worstOffsetNs = ts - expect;
        zero = ts - now;
      }
    }
    const off = ts - (zero + now);
    if (off > JUMP_NS || off < -JUMP_BACK_NS) {
      stats.jumps++;
      if (Math.abs(off) > Math.abs(stats.worstOffsetNs)) stats.worstOffsetNs = off;
      zero = ts - now;
    }
    return ts - zero + opts.delayNs;
  };
  return {
    dueAt,
    ttlScaleAt: () => 1,
    past: (at) => at === null || (opts.durationNs !== null && at >= opts.durationNs),
    stats,
  };
}
