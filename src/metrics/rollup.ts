// The intervals of a long (or open-ended) run with bounded memory: the most recent ones kept at the
// run's own resolution, older ones rolled up exactly (counters summed, HdrHistograms added) into
// wider intervals, tier by tier (default: the last hour at 1 s, then 1-minute intervals for a day,
// then 10-minute ones). A week of mirror keeps about 3,600 + 1,440 + 1,008 intervals, not 604,800.
import { addPaired, type Paired } from './warm-pairs.js';
import { addCounters, emptyCounters } from './counters.js';
import { mergeEncoded } from './histogram.js';
import type { CommandInterval, Interval } from './results-types.js';
import { McError } from '../errors.js';

/** Where the Aggregator keeps its closed intervals. */
export interface IntervalStore {
  push(iv: Interval): void;
  /** Every retained interval, in time order (rolled-up ones first). Live objects: do not keep them. */
  all(): Interval[];
  /** Retained intervals (what memory holds). */
  readonly size: number;
}

/** One roll-up step: intervals older than `afterNs` (behind the newest end) are merged into `widthNs`-wide ones. */
export interface RollupTier {
  afterNs: number;
  widthNs: number;
}

/** The default tiers: 1 s kept for an hour, then 1-minute intervals kept for a day, then 10-minute ones. */
export const DEFAULT_ROLLUP: readonly RollupTier[] = [
  { afterNs: 3600e9, widthNs: 60e9 },
  { afterNs: 86_400e9, widthNs: 600e9 },
];

/** The environment variable that overrides the tiers (tests prove the roll-up in seconds). */
export const ROLLUP_ENV = 'MCREPLAY_ROLLUP';

const UNIT_NS: Record<string, number> = { ms: 1e6, s: 1e9, m: 60e9, h: 3600e9, d: 86_400e9 };

function durNs(text: string, spec: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(text.trim());
  if (!m) throw new McError(`${ROLLUP_ENV}=${spec}: '${text}' is not a duration such as 90s, 1h`, 'MCR_ERR_BAD_CONFIG', `the form is AFTER:WIDTH[,AFTER:WIDTH], e.g. ${ROLLUP_ENV}=1h:1m,24h:10m`);
  return Math.round(Number(m[1]) * UNIT_NS[m[2]!]!);
}

/**
 * Parses "1h:1m,24h:10m" (after the first hour, 1-minute intervals; after 24 h, 10-minute ones).
 * Each width must be a multiple of the one before (and of `baseNs`), each `after` at least the one before.
 */
export function parseRollup(spec: string, baseNs: number): RollupTier[] {
  const tiers = spec.split(',').filter((s) => s.trim() !== '').map((part) => {
    const [a, w, extra] = part.split(':');
    if (a === undefined || w === undefined || extra !== undefined) throw new McError(`${ROLLUP_ENV}=${spec}: '${part}' is not AFTER:WIDTH`, 'MCR_ERR_BAD_CONFIG', `e.g. ${ROLLUP_ENV}=1h:1m,24h:10m`);
    return { afterNs: durNs(a, spec), widthNs: durNs(w, spec) };
  });
  let prevW = baseNs;
  let prevA = 0;
  for (const t of tiers) {
    if (t.widthNs <= prevW || t.widthNs % prevW !== 0) throw new McError(`${ROLLUP_ENV}=${spec}: each width must be a multiple of the one before (${prevW / 1e9} s)`, 'MCR_ERR_BAD_CONFIG');
    if (t.afterNs < prevA) throw new McError(`${ROLLUP_ENV}=${spec}: the ages must not decrease`, 'MCR_ERR_BAD_CONFIG');
    prevW = t.widthNs;
    prevA = t.afterNs;
  }
  return tiers;
}

/** The tiers in force: $MCREPLAY_ROLLUP when set, else the default. */
export function rollupFromEnv(baseNs: number, env: NodeJS.ProcessEnv = process.env): RollupTier[] {
  const s = env[ROLLUP_ENV];
  return s === undefined || s.trim() === '' ? [...DEFAULT_ROLLUP] : parseRollup(s, baseNs);
}

/** Keeps every interval (a short run). */
export function arrayStore(): IntervalStore {
  const list: Interval[] = [];
  return {
    push: (iv) => void list.push(iv),
    all: () => list,
    get size() {
      return list.length;
    },
  };
}

function mergeCommand(parts: CommandInterval[]): CommandInterval {
  const counters = emptyCounters();
  for (const p of parts) addCounters(counters, p.counters);
  return { counters, response: mergeEncoded(parts.map((p) => p.response)), service: mergeEncoded(parts.map((p) => p.service)) };
}

/** One interval holding exactly what `group` (consecutive, same warm-up and step) held. */
export function mergeIntervals(group: readonly Interval[]): Interval {
  const first = group[0]!;
  const last = group[group.length - 1]!;
  const cmds = [...new Set(group.flatMap((iv) => Object.keys(iv.perCommand)))].sort();
  const perCommand: Record<string, CommandInterval> = {};
  for (const c of cmds) perCommand[c] = mergeCommand(group.flatMap((iv) => (iv.perCommand[c] ? [iv.perCommand[c]!] : [])));
  const out: Interval = {
    index: first.index,
    startNs: first.startNs,
    endNs: last.endNs,
    warmup: first.warmup,
    step: first.step,
    rateFactor: first.rateFactor,
    perCommand,
    total: mergeCommand(group.map((iv) => iv.total)),
    lag: mergeEncoded(group.map((iv) => iv.lag)),
    eventLoopMaxNs: Math.max(...group.map((iv) => iv.eventLoopMaxNs)),
  };
  if (group.some((iv) => iv.captured)) {
    const cap: NonNullable<Interval['captured']> = {};
    for (const iv of group) {
      for (const [c, v] of Object.entries(iv.captured ?? {})) {
        const s = (cap[c] ??= { count: 0, hits: 0, misses: 0 });
        s.count += v.count;
        s.hits += v.hits;
        s.misses += v.misses;
      }
    }
    out.captured = cap;
  }
  if (group.some((iv) => iv.paired)) {
    const pr: Paired = {};
    for (const iv of group) if (iv.paired) addPaired(pr, iv.paired);
    out.paired = pr;
  }
  if (group.some((iv) => iv.rolledFrom !== undefined) || group.length > 1) out.rolledFrom = group.reduce((n, iv) => n + (iv.rolledFrom ?? 1), 0);
  return out;
}

/**
 * A store that rolls intervals up as they age. Tier i holds intervals `tiers[i-1].widthNs` wide
 * (tier 0: as pushed); a group of tier i moves to tier i+1 once its whole `tiers[i].widthNs`
 * bucket lies more than `tiers[i].afterNs` behind the newest end. Groups never mix warm-up and
 * measured intervals, or two ramp steps.
 */
export function rollingStore(tiers: readonly RollupTier[] = DEFAULT_ROLLUP, onRoll?: (merged: Interval, from: number) => void): IntervalStore {
  const levels: Interval[][] = [[], ...tiers.map(() => [])];
  let newestEnd = 0;
  let size = 0;

  function roll(i: number): void {
    const src = levels[i]!;
    const { afterNs, widthNs } = tiers[i]!;
    const cutoff = newestEnd - afterNs;
    while (src.length > 0) {
      const head = src[0]!;
      const bucket = Math.floor(head.startNs / widthNs);
      if ((bucket + 1) * widthNs > cutoff) return;
      let n = 1;
      while (n < src.length) {
        const iv = src[n]!;
        if (Math.floor(iv.startNs / widthNs) !== bucket || iv.warmup !== head.warmup || iv.step !== head.step) break;
        n++;
      }
      const group = src.splice(0, n);
      const merged = n === 1 ? group[0]! : mergeIntervals(group);
      levels[i + 1]!.push(merged);
      size -= n - 1;
      onRoll?.(merged, n);
    }
  }

  return {
    push(iv) {
      levels[0]!.push(iv);
      size++;
      if (iv.endNs > newestEnd) newestEnd = iv.endNs;
      for (let i = 0; i < tiers.length; i++) roll(i);
    },
    all() {
      const out: Interval[] = [];
      for (let i = levels.length - 1; i >= 0; i--) out.push(...levels[i]!);
      return out;
    },
    get size() {
      return size;
    },
  };
}
