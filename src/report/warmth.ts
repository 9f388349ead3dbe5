// Warmth of a mirrored target: per interval and command, the hit ratio the target answered beside
// the hit ratio the source answered in the capture for the same requests; `--until-warm '<check>
// over <window>'` holds when the check (threshold grammar, src/report/check-grammar.ts) passes over
// the last window of intervals, with the capture's hit ratio of that same window as `captured`.
import type { CapturedCommand, Interval } from '../metrics/results-types.js';
import { evaluateChecks } from './check-eval.js';
import { parseCheck } from './check-grammar.js';
import type { Check } from './check-types.js';
import { ExitCode, McError } from '../errors.js';
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
    if (e instanceof McError) throw new McError(`--until-warm: ${e.message}`, ExitCode.usage, e.hint);
    throw e;
  }
  if (check.windowNs === null) throw new McError(`--until-warm ${text}: give the window the check must hold over, e.g. 'hit_ratio >= captured - 2% over 10m'`, ExitCode.usage);
  if (check.metric !== 'hit_ratio') throw new McError(`--until-warm ${text}: the check is on hit_ratio (how warm the target is), e.g. 'hit_ratio{cmd=get} >= captured - 2% over 10m'`, ExitCode.usage);
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

/** The warmth curves of a report: per time point, hit ratio in the capture vs on the target, and the gap. */
export interface WarmthSeries {
  /** 'total' (all lookups), then each command that had lookups. */
  cmds: string[];
  /** Per command: captured and replayed hit ratio (0..1) and the gap captured − replayed, null without lookups. */
  byCmd: Record<string, { captured: (number | null)[]; replayed: (number | null)[]; gap: (number | null)[] }>;
  /** The rule the summary applies to the total: gap at most `thresholdPct` points over `windowS`. */
  thresholdPct: number;
  windowS: number;
  /** Run time (s) at which the gap had stayed under the threshold for a whole window; null if never. */
  warmAtS: number | null;
  /** The sentence the report prints under the chart. */
  summary: string;
}

/** The default warm rule of a report: the target's hit ratio within 2 points of the capture's for 10 minutes. */
export const DEFAULT_WARM = { thresholdPct: 2, windowS: 600 };

/** Threshold and window of an --until-warm rule text ("hit_ratio >= captured - 2% over 10m"), or the defaults, a window no longer than a sixth of the run. */
export function warmRuleOf(ruleText: string | null, windowNs: number | null, runS: number): { thresholdPct: number; windowS: number } {
  const m = ruleText === null ? null : /captured\s*-\s*(\d+(?:\.\d+)?)\s*%/.exec(ruleText);
  const thresholdPct = m ? Number(m[1]) : ruleText !== null && /captured(?!\s*-)/.test(ruleText) ? 0 : DEFAULT_WARM.thresholdPct;
  const windowS = windowNs !== null ? windowNs / 1e9 : Math.max(1, Math.min(DEFAULT_WARM.windowS, runS / 6));
  return { thresholdPct, windowS };
}

/**
 * When the gap (captured − replayed hit ratio) first stayed at most `thresholdPct` points over a
 * whole `windowS`: points are [start, end) spans; points without lookups neither break nor count.
 */
export function warmSince(t: number[], ends: number[], gap: (number | null)[], thresholdPct: number, windowS: number): number | null {
  let since: number | null = null;
  for (let i = 0; i < t.length; i++) {
    const g = gap[i];
    if (g === null || g === undefined) continue;
    if (g * 100 > thresholdPct + 1e-9) {
      since = null;
      continue;
    }
    since ??= t[i]!;
    if (ends[i]! - since >= windowS - 1e-9) return since + windowS;
  }
  return null;
}

/** Per time point (a group of intervals), the warmth curves and their summary. */
export function warmthSeries(groups: Interval[][], rule: { thresholdPct: number; windowS: number }, fmtS: (s: number) => string): WarmthSeries | null {
  if (!groups.some((g) => g.some((iv) => iv.captured !== undefined))) return null;
  const ratio = (h: number, m: number): number | null => (h + m > 0 ? Math.round((h / (h + m)) * 1e4) / 1e4 : null);
  const cmdSet = new Set<string>();
  for (const g of groups) for (const iv of g) for (const [c, v] of Object.entries(iv.captured ?? {})) if (v.hits + v.misses > 0) cmdSet.add(c);
  const cmds = ['total', ...[...cmdSet].sort()];
  const byCmd: WarmthSeries['byCmd'] = {};
  for (const c of cmds) {
    const s = { captured: [] as (number | null)[], replayed: [] as (number | null)[], gap: [] as (number | null)[] };
    for (const g of groups) {
      let ch = 0;
      let cm = 0;
      let rh = 0;
      let rm = 0;
      for (const iv of g) {
        for (const [cmd, v] of Object.entries(iv.captured ?? {})) {
          if (c !== 'total' && cmd !== c) continue;
          ch += v.hits;
          cm += v.misses;
        }
        const rc = c === 'total' ? iv.total.counters : iv.perCommand[c]?.counters;
        rh += rc?.hits ?? 0;
        rm += rc?.misses ?? 0;
      }
      const cr = ratio(ch, cm);
      const rr = ratio(rh, rm);
      s.captured.push(cr);
      s.replayed.push(rr);
      s.gap.push(cr !== null && rr !== null ? Math.round((cr - rr) * 1e4) / 1e4 : null);
    }
    byCmd[c] = s;
  }
  const t = groups.map((g) => g[0]!.startNs / 1e9);
  const ends = groups.map((g) => g[g.length - 1]!.endNs / 1e9);
  const warmAtS = warmSince(t, ends, byCmd.total!.gap, rule.thresholdPct, rule.windowS);
  const lastGap = [...byCmd.total!.gap].reverse().find((g) => g !== null) ?? null;
  const rule$ = `the target's hit ratio within ${rule.thresholdPct}% of the capture's for ${fmtS(rule.windowS)}`;
  const summary =
    warmAtS !== null
      ? `Warm at ${fmtS(warmAtS)}: ${rule$} from ${fmtS(warmAtS - rule.windowS)} on.`
      : `Never warm: ${rule$} never held${lastGap !== null ? ` (last gap ${(lastGap * 100).toFixed(1)}%)` : ''}.`;
  return { cmds, byCmd, thresholdPct: rule.thresholdPct, windowS: rule.windowS, warmAtS, summary };
}
