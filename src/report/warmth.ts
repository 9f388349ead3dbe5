// Warmth of a mirrored target: per interval and command, the hit ratio the target answered beside
// the hit ratio the source answered in the capture for the same requests; `--until-warm '<check>
// over <window>'` holds when the check (threshold grammar, src/report/check-grammar.ts) passes over
// the last window of settled intervals, with the capture's hit ratio of that same window as
// `captured`. Both sides come from each interval's `paired` (src/metrics/warm-pairs.ts: answers
// counted by the requests' intended send time), so a target that answers seconds late is judged on
// the same requests as the capture; an interval is judged only once it is settled (every request
// intended in it answered or timed out: `settleNs` after its end), as a later answer still changes it.
import type { CapturedCommand, CommandInterval, Interval } from '../metrics/results-types.js';
import { emptyCounters } from '../metrics/counters.js';
import { evaluateChecks } from './check-eval.js';
import { parseCheck } from './check-grammar.js';
import type { Check } from './check-types.js';
import { McError } from '../errors.js';
import { createSettleQueue } from './settle.js';

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

type Cap = Map<string, { hits: number; misses: number }>;

/** A settled interval as the check sees it: the target's paired answers as its hit counters, and the capture's paired answers. */
interface Entry {
  iv: Interval;
  cap: Cap;
  cmds: string[];
}

/** Follows the intervals of a mirror and tells when the rule has held over its window. */
export interface WarmthTracker {
  add(iv: Interval): void;
  /** Run-clock ns at the end of the first window (of intended send time) over which the rule held; null until then. */
  readonly heldAtNs: number | null;
  /** Run-clock ns at which that window was judged (its last interval settled); null until then. */
  readonly decidedAtNs: number | null;
  /** How long after its end an interval is judged (the mirror's delay + the timeout). */
  readonly settleNs: number;
  /** The last evaluation's message (observed vs limit), for progress and the summary. */
  readonly last: string | null;
}

const commandInterval = (hits: number, misses: number): CommandInterval => ({ counters: { ...emptyCounters(), hits, misses }, response: '', service: '' });

/** Interval `iv` as the check reads it: per command, the target's answers to the requests intended in it (`paired`), and the capture's. */
function pairedEntry(iv: Interval): Entry {
  const perCommand: Record<string, CommandInterval> = {};
  const cap: Cap = new Map();
  let th = 0;
  let tm = 0;
  for (const [cmd, p] of Object.entries(iv.paired ?? {})) {
    perCommand[cmd] = commandInterval(p.replayedHits, p.replayedMisses);
    cap.set(cmd, { hits: p.capturedHits, misses: p.capturedMisses });
    th += p.replayedHits;
    tm += p.replayedMisses;
  }
  const view: Interval = { ...iv, perCommand, total: commandInterval(th, tm) };
  return { iv: view, cap, cmds: [...new Set([...Object.keys(iv.perCommand), ...Object.keys(perCommand)])] };
}

/**
 * A tracker for `rule` over intervals `intervalNs` wide, each judged `settleNs` after its end;
 * `onHeld` is called once, when the rule first holds.
 */
export function createWarmthTracker(rule: WarmRule, intervalNs: number, settleNs: number, onHeld: (atNs: number) => void): WarmthTracker {
  const n = Math.max(1, Math.round(rule.windowNs / intervalNs));
  const waiting = createSettleQueue<Interval>(settleNs);
  const ring: Entry[] = [];
  let heldAtNs: number | null = null;
  let decidedAtNs: number | null = null;
  let last: string | null = null;

  const judge = (nowNs: number): void => {
    const sum: Record<string, CapturedCommand> = {};
    for (const e of ring) {
      for (const [cmd, c] of e.cap) {
        const s = (sum[cmd] ??= { count: 0, hits: 0, misses: 0, hitRatio: null, latency: null, latencyHist: null });
        s.count += c.hits + c.misses;
        s.hits += c.hits;
        s.misses += c.misses;
      }
    }
    for (const s of Object.values(sum)) s.hitRatio = s.hits + s.misses > 0 ? s.hits / (s.hits + s.misses) : null;
    const commands = [...new Set(ring.flatMap((e) => e.cmds))].sort();
    const [r] = evaluateChecks({ intervals: ring.map((e) => e.iv), intervalNs, commands, captured: sum }, [rule.check]);
    last = r?.message ?? null;
    if (r?.pass) {
      heldAtNs = ring[ring.length - 1]!.iv.endNs;
      decidedAtNs = nowNs;
      onHeld(heldAtNs);
    }
  };

  return {
    settleNs,
    get heldAtNs() {
      return heldAtNs;
    },
    get decidedAtNs() {
      return decidedAtNs;
    },
    get last() {
      return last;
    },
    add(iv) {
      if (heldAtNs !== null) return;
      // the paired object of an interval still takes late answers: judge it once it is settled
      for (const s of waiting.add(iv, iv.endNs)) {
        ring.push(pairedEntry(s));
        if (ring.length > n) ring.shift();
        if (ring.length === n) judge(iv.endNs);
        if (heldAtNs !== null) break;
      }
    },
  };
}
