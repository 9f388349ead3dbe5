// The warmth curves of a mirror's report: per time point (a group of intervals), the hit ratio the
// source answered in the capture against the hit ratio the target answered for the same requests,
// the gap, and when (if ever) the gap stayed under a threshold for a whole window. Both sides come
// from each interval's `paired` (by the requests' intended send time: the same requests on both
// sides, however late the target answers); results.json files written before pairing have only
// `captured` (answers as read) against the interval's counters (answers as they came back). Kept apart from warmth.ts (the live --until-warm tracker) so the report's data
// does not import the live metrics.
import type { Interval } from '../metrics/results-types.js';
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
  if (!groups.some((g) => g.some((iv) => iv.captured !== undefined || iv.paired !== undefined))) return null;
  const paired = groups.some((g) => g.some((iv) => iv.paired !== undefined));
  const ratio = (h: number, m: number): number | null => (h + m > 0 ? Math.round((h / (h + m)) * 1e4) / 1e4 : null);
  const cmdSet = new Set<string>();
  for (const g of groups) {
    for (const iv of g) {
      if (paired) for (const [c, v] of Object.entries(iv.paired ?? {})) if (v.capturedHits + v.capturedMisses > 0) cmdSet.add(c);
      if (!paired) for (const [c, v] of Object.entries(iv.captured ?? {})) if (v.hits + v.misses > 0) cmdSet.add(c);
    }
  }
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
        if (paired) {
          for (const [cmd, v] of Object.entries(iv.paired ?? {})) {
            if (c !== 'total' && cmd !== c) continue;
            ch += v.capturedHits;
            cm += v.capturedMisses;
            rh += v.replayedHits;
            rm += v.replayedMisses;
          }
          continue;
        }
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
