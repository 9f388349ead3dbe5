// Warmth of a mirrored target: per interval and command, the hit ratio the target answered beside
// the hit ratio the source answered in the capture for the same requests; `--until-warm '<check>
// over <window>'` holds when the check (threshold grammar, src/report/check-grammar.ts) passes over
// the last window of intervals, with the capture's hit ratio of that same window as `captured`.
import type { CapturedCommand, Interval } from '../metrics/results-types.js';
import { evaluateChecks } from './check-eval.js';
import { parseCheck } from './check-grammar.js';
import type { Check } from './check-types.js';
import { McError } from '../errors.js';
import type { CapturedView } from './prometheus.js';

/** A parsed --until-warm: the windowed check and its window. */
export interface WarmRule {
  text: string;
  check: Check;
  windowNs: number;
}

/** Parses `<check> over <window>` (also `over every <window>`); the check must name hit_ratio. */
export function parseUntilWarm(text: string): WarmRule {
  const t = text.trim().replace(/\s+over\s+(?!every\b)(\S+)$/, ' over every $1');
  let check: Check;
  try {
    check = parseCheck(t);
  } catch (e) {
    if (e instanceof McError) throw new McError(`--until-warm: ${e.message}`, e.code, e.hint);
    throw e;
  }
  if (check.windowNs === null) throw new McError(`--until-warm ${text}: give the window the check must hold over, e.g. 'hit_ratio >= captured - 2% over 10m'`, 'MCR_ERR_BAD_OPTION');
  if (check.metric !== 'hit_ratio') throw new McError(`--until-warm ${text}: the check is on hit_ratio (how warm the target is), e.g. 'hit_ratio{cmd=get} >= captured - 2% over 10m'`, 'MCR_ERR_BAD_OPTION');
  return { text, check, windowNs: check.windowNs };
}

interface Entry {
  iv: Interval;
  cap: Map<string, { count: number; hits: number; misses: number }>;
}

/** Follows the intervals of a mirror and tells when the rule has held over its window. */
export interface WarmthTracker {
  add(iv: Interval, captured: CapturedView | null): void;
  /** Run-clock ns at the end of the first window over which the rule held; null until then. */
  readonly heldAtNs: number | null;
  /** The last evaluation's message (observed vs limit), for progress and the summary. */
  readonly last: string | null;
}

/** A tracker for `rule`; `onHeld` is called once, when the rule first holds. */
export function createWarmthTracker(rule: WarmRule, intervalNs: number, onHeld: (atNs: number) => void): WarmthTracker {
  const n = Math.max(1, Math.round(rule.windowNs / intervalNs));
  const ring: Entry[] = [];
  const prev = new Map<string, { count: number; hits: number; misses: number }>();
  let heldAtNs: number | null = null;
  let last: string | null = null;
  return {
    get heldAtNs() {
      return heldAtNs;
    },
    get last() {
      return last;
    },
    add(iv, captured) {
      // what the capture answered since the previous interval, per command; the check runs over
      // exactly one window (the ring), with the capture's hit ratio of that window as `captured`
      const cap = new Map<string, { count: number; hits: number; misses: number }>();
      if (captured !== null) {
        for (const [cmd, c] of captured) {
          const p = prev.get(cmd) ?? { count: 0, hits: 0, misses: 0 };
          cap.set(cmd, { count: c.count - p.count, hits: c.hits - p.hits, misses: c.misses - p.misses });
          prev.set(cmd, { count: c.count, hits: c.hits, misses: c.misses });
        }
      }
      ring.push({ iv, cap });
      if (ring.length > n) ring.shift();
      if (ring.length < n || heldAtNs !== null) return;
      const sum: Record<string, CapturedCommand> = {};
      for (const e of ring) {
        for (const [cmd, c] of e.cap) {
          const s = (sum[cmd] ??= { count: 0, hits: 0, misses: 0, hitRatio: null, latency: null, latencyHist: null });
          s.count += c.count;
          s.hits += c.hits;
          s.misses += c.misses;
        }
      }
      for (const s of Object.values(sum)) s.hitRatio = s.hits + s.misses > 0 ? s.hits / (s.hits + s.misses) : null;
      const commands = [...new Set(ring.flatMap((e) => Object.keys(e.iv.perCommand)))].sort();
      const [r] = evaluateChecks({ intervals: ring.map((e) => e.iv), intervalNs, commands, captured: sum }, [rule.check]);
      last = r?.message ?? null;
      if (r?.pass) {
        heldAtNs = iv.endNs;
        onHeld(iv.endNs);
      }
    },
  };
}

