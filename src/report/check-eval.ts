// Threshold checks: evaluation of parsed checks (check-grammar.ts) against a results file or a run
// in progress, over the whole run and over sliding windows.
import type { CheckResult, Counters, Interval, ResultsFile } from '../metrics/results-types.js';
import { addEncoded, createHistogram, decodeHistogram, freeHistogram, type Histogram } from '../metrics/histogram.js';
import { errorCount, heldBackTotal, subtractCounters, sumCounters, emptyCounters } from '../metrics/counters.js';
import { LATENCY_METRICS, TIME_UNITS, type Check, type Op } from './check-types.js';
import { selectorText } from './check-grammar.js';
import { hasRolledIntervals, windowBlocks } from './check-windows.js';

// ---------------------------------------------------------------------------------------------
// Evaluation

/** The slice of a results file that checks read; a run in progress can provide this much. */
export type ResultsView = Pick<ResultsFile, 'intervals' | 'intervalNs' | 'commands'> &
  Partial<Pick<ResultsFile, 'summary' | 'captured' | 'config'>>;

type Absent = { absent: string };
type Observed = { value: number } | Absent;

function isAbsent(o: Observed): o is Absent {
  return 'absent' in o;
}

function heldBackCount(c: Counters, reason: string | undefined): number {
  return reason ? (c.heldBack[reason] ?? 0) : heldBackTotal(c.heldBack);
}

/** Observed value of a counter-based aggregate from counters over `durationNs`. */
function fromCounters(check: Check, c: Counters, durationNs: number, aggregate = check.aggregate): Observed {
  const t = check.tags;
  switch (check.metric) {
    case 'errors':
      if (aggregate === 'count') return { value: errorCount(c, t.class) };
      if (c.sent === 0) return { absent: 'no requests were sent' };
      return { value: (100 * errorCount(c, t.class)) / c.sent };
    case 'throughput': {
      if (!(durationNs > 0)) return { absent: 'no summarised time (the run has no non-warm-up interval)' };
      const n = aggregate === 'intended' ? c.intended : c.completed;
      return { value: n / (durationNs / 1e9) };
    }
    case 'hit_ratio':
      if (c.hits + c.misses === 0) return { absent: 'no hits or misses were seen (no retrieval commands answered)' };
      return { value: (100 * c.hits) / (c.hits + c.misses) };
    case 'heldback':
      return { value: heldBackCount(c, t.reason) };
    case 'unsent':
      return { value: c.unsent };
    case 'requests':
      switch (aggregate) {
        case 'intended':
          return { value: c.intended };
        case 'completed':
          return { value: c.completed };
        case 'answered':
          // an error line is an answer: what is missing is what timed out, was reset or refused, or garbled
          return { value: c.completed + c.errors.server_error + c.errors.client_error + c.errors.error };
        default:
          return { value: c.sent };
      }
    default:
      throw new Error(`fromCounters: ${check.metric} is not a counter metric`);
  }
}

function fromHistogram(check: Check, h: Histogram): Observed {
  if (h.totalCount === 0) return { absent: 'no samples were recorded' };
  switch (check.aggregate) {
    case 'min':
      return { value: h.getValueAtPercentile(0) };
    case 'max':
      return { value: h.maxValue };
    case 'mean':
      return { value: h.mean };
    default:
      return { value: h.getValueAtPercentile(check.percentile ?? 100) };
  }
}

/** Why the check's scope (command, target) does not exist in this run, or null when it does. */
function scopeProblem(check: Check, view: ResultsView): string | null {
  const cmd = check.tags.cmd;
  if (cmd !== undefined) {
    const known = new Set<string>([...view.commands, ...Object.keys(view.summary?.perCommand ?? {})]);
    if (!known.has(cmd)) {
      return `no '${cmd}' requests in this run (commands: ${[...known].sort().join(', ') || 'none'})`;
    }
  }
  const target = check.tags.target;
  if (target !== undefined) {
    const targets = view.config?.targets.map((t) => t.target) ?? [];
    if (!targets.includes(target)) return `target ${target} is not a target of this run (targets: ${targets.join(', ') || 'unknown'})`;
    if (targets.length > 1) return `results.json has no per-target breakdown; a target tag only works on single-target runs (targets: ${targets.join(', ')})`;
  }
  return null;
}

function compare(observed: number, op: Op, limit: number): boolean {
  switch (op) {
    case '<':
      return observed < limit;
    case '<=':
      return observed <= limit;
    case '>':
      return observed > limit;
    case '>=':
      return observed >= limit;
    case '==':
      return observed === limit;
    case '!=':
      return observed !== limit;
  }
}

/** Converts a canonical value to the check's display unit. */
function toDisplay(check: Check, v: number): number {
  if (check.quantity === 'time') return v / (TIME_UNITS[check.displayUnit] ?? 1);
  return v;
}

/** Human form of a value in the check's display unit. */
export function formatValue(v: number | null, unit: string): string {
  if (v === null || !Number.isFinite(v)) return v === null ? 'n/a' : String(v);
  const r = Math.abs(v) >= 1000 ? Math.round(v * 10) / 10 : Number(v.toPrecision(4));
  if (unit === '') return String(r);
  if (unit === '%') return `${r}%`;
  if (unit === 'ops/s') return `${r} ops/s`;
  return `${r}${unit}`;
}

function capturedHitRatio(check: Check, view: ResultsView): Observed {
  const captured = view.captured ?? {};
  let hits = 0;
  let misses = 0;
  if (check.tags.cmd !== undefined) {
    const c = captured[check.tags.cmd];
    if (!c) return { absent: `the capture has no '${check.tags.cmd}' requests to take a hit ratio from` };
    if (c.hitRatio !== null) return { value: 100 * c.hitRatio };
    hits = c.hits;
    misses = c.misses;
  } else {
    for (const c of Object.values(captured)) {
      hits += c.hits;
      misses += c.misses;
    }
  }
  if (hits + misses === 0) return { absent: 'the capture has no answered retrieval commands to take a hit ratio from' };
  return { value: (100 * hits) / (hits + misses) };
}

/** The limit a check compares against, given the observed data of the same scope. */
function limitOf(check: Check, view: ResultsView, counters: Counters | null, durationNs: number): Observed {
  const r = check.right;
  if (r.kind === 'value') return r;
  if (r.kind === 'captured') {
    const cap = capturedHitRatio(check, view);
    return isAbsent(cap) ? cap : { value: Math.min(100, Math.max(0, cap.value + r.offset)) };
  }
  if (!counters) return { absent: 'no counters' };
  const base = fromCounters(check, counters, durationNs, r.of);
  if (isAbsent(base)) return base;
  return { value: base.value * r.share };
}

interface Scope {
  counters: Counters | null;
  durationNs: number;
  /** Observed value of a histogram metric; the callback owns the histogram only for the call. */
  observeHist: () => Observed;
}

function observeScope(check: Check, view: ResultsView, scope: Scope): { observed: Observed; limit: Observed } {
  let observed: Observed;
  if (LATENCY_METRICS.has(check.metric)) observed = scope.observeHist();
  else if (!scope.counters) observed = { absent: 'no counters' };
  else observed = fromCounters(check, scope.counters, scope.durationNs);
  const limit = limitOf(check, view, scope.counters, scope.durationNs);
  return { observed, limit };
}

/** The right side as text with its resolved value, e.g. `1.96k ops/s (98% of intended)`. */
function rightText(check: Check, limitDisp: number | null): string {
  const v = formatValue(limitDisp, check.displayUnit);
  const r = check.right;
  if (r.kind === 'share') return `${v} (${Number((r.share * 100).toPrecision(6))}% of ${r.of})`;
  if (r.kind === 'captured') return `${v} (captured${r.offset ? ` ${r.offset < 0 ? '-' : '+'} ${Math.abs(r.offset)}%` : ''})`;
  return v;
}

function resultOf(check: Check, observed: Observed, limit: Observed, extra: Partial<CheckResult> = {}): CheckResult {
  const metric = selectorText(check.metric, check.tags, check.aggregate);
  const unit = check.displayUnit;
  const limitDisp = isAbsent(limit) ? null : toDisplay(check, limit.value);
  const base = { check: check.text, metric, unit, failedInterval: extra.failedInterval ?? null };
  if (isAbsent(limit)) {
    return { ...base, observed: isAbsent(observed) ? null : toDisplay(check, observed.value), limit: NaN, pass: false, message: `cannot evaluate: ${limit.absent}` };
  }
  if (isAbsent(observed)) {
    return { ...base, observed: null, limit: limitDisp!, pass: false, message: `no data: ${observed.absent}` };
  }
  const obsDisp = toDisplay(check, observed.value);
  const pass = compare(observed.value, check.op, limit.value);
  const message = `${metric} = ${formatValue(obsDisp, unit)}, ${pass ? 'holds' : 'breaks'} ${check.op} ${rightText(check, limitDisp)}`;
  return { ...base, observed: obsDisp, limit: limitDisp!, pass, message: extra.message ?? message };
}

function summaryScope(check: Check, view: ResultsView): Scope | Absent {
  const s = view.summary;
  if (!s) return { absent: 'the results have no summary' };
  const cs = check.tags.cmd !== undefined ? s.perCommand[check.tags.cmd] : s.total;
  if (!cs && check.metric !== 'lag') return { absent: `no summary for '${check.tags.cmd}'` };
  return {
    counters: cs?.counters ?? null,
    durationNs: s.durationNs,
    observeHist: () => {
      const enc = check.metric === 'lag' ? s.lagHist : check.metric === 'service' ? cs!.serviceHist : cs!.responseHist;
      const h = decodeHistogram(enc);
      try {
        return fromHistogram(check, h);
      } finally {
        freeHistogram(h);
      }
    },
  };
}

/** Throughput over the whole run: the summary's own rates (what the report shows). */
function summaryThroughput(check: Check, view: ResultsView, aggregate: string): number | null {
  const s = view.summary;
  if (!s) return null;
  const cs = check.tags.cmd !== undefined ? s.perCommand[check.tags.cmd] : s.total;
  if (!cs) return null;
  return aggregate === 'intended' ? cs.intendedRate : cs.achievedRate;
}

function evaluateWhole(check: Check, view: ResultsView): CheckResult {
  const problem = scopeProblem(check, view);
  if (problem) return resultOf(check, { absent: problem }, { absent: problem }, { message: `no data: ${problem}` });
  const scope = summaryScope(check, view);
  if ('absent' in scope) return resultOf(check, scope, { absent: scope.absent }, { message: `no data: ${scope.absent}` });
  if (check.metric === 'throughput') {
    const obs = summaryThroughput(check, view, check.aggregate);
    const observed: Observed = obs === null ? { absent: 'no throughput in the summary' } : { value: obs };
    let limit: Observed;
    if (check.right.kind === 'share') {
      const base = summaryThroughput(check, view, check.right.of);
      limit = base === null ? { absent: 'no throughput in the summary' } : { value: base * check.right.share };
    } else limit = limitOf(check, view, scope.counters, scope.durationNs);
    return resultOf(check, observed, limit);
  }
  const { observed, limit } = observeScope(check, view, scope);
  return resultOf(check, observed, limit);
}

function intervalCounters(iv: Interval, cmd: string | undefined): Counters | null {
  if (cmd === undefined) return iv.total.counters;
  return iv.perCommand[cmd]?.counters ?? null;
}

function intervalHist(check: Check, iv: Interval): string {
  if (check.metric === 'lag') return iv.lag;
  const ci = check.tags.cmd === undefined ? iv.total : iv.perCommand[check.tags.cmd];
  if (!ci) return '';
  return check.metric === 'service' ? ci.service : ci.response;
}

function fmtSeconds(ns: number): string {
  const s = ns / 1e9;
  return `${Number(s.toPrecision(6))}s`;
}

/** Is `a` worse than `b` for this check (for reporting the worst window)? */
function worse(check: Check, a: number, b: number): boolean {
  return check.op === '<' || check.op === '<=' ? a > b : check.op === '>' || check.op === '>=' ? a < b : false;
}

interface WindowOutcome {
  result: CheckResult;
  /** Number of complete windows evaluated. */
  windows: number;
}

/**
 * Evaluates a windowed check over sliding windows of whole intervals. With `completeOnly`, a run
 * shorter than one window evaluates nothing (for --abort-on-fail); otherwise it evaluates its whole
 * length as one window and says so.
 */
function evaluateWindows(check: Check, view: ResultsView, completeOnly: boolean): WindowOutcome {
  // a rolled-up run: tumbling windows of the window's length (check-windows.ts), one block each
  if (hasRolledIntervals(view.intervals)) view = { ...view, intervals: windowBlocks(view.intervals, check.windowNs!), intervalNs: check.windowNs! };
  const problem = scopeProblem(check, view);
  if (problem) return { result: resultOf(check, { absent: problem }, { absent: problem }, { message: `no data: ${problem}` }), windows: 0 };
  const ivs = view.intervals.filter((iv) => !iv.warmup);
  const windowNs = check.windowNs!;
  const k = Math.max(1, Math.round(windowNs / view.intervalNs));
  if (ivs.length === 0) {
    const absent = 'the run has no non-warm-up interval';
    return { result: resultOf(check, { absent }, { absent }, { message: `no data: ${absent}` }), windows: 0 };
  }
  let short = false;
  let size = k;
  if (ivs.length < k) {
    if (completeOnly) return { result: resultOf(check, { absent: 'no complete window yet' }, { value: 0 }), windows: 0 };
    short = true;
    size = ivs.length;
  }
  const isHist = LATENCY_METRICS.has(check.metric);
  const running: Histogram | null = isHist ? createHistogram(true) : null;
  let counters = emptyCounters();
  let haveCounters = 0;
  let worst: { obs: number; limit: number; start: number; end: number; first: number } | null = null;
  let firstFail: { obs: number; limit: number; start: number; end: number; first: number; message: string } | null = null;
  let evaluated = 0;
  let lastAbsent = '';
  try {
    for (let i = 0; i < ivs.length; i++) {
      const iv = ivs[i]!;
      if (running) addEncoded(running, intervalHist(check, iv));
      const ic = intervalCounters(iv, check.tags.cmd);
      if (ic) {
        counters = sumCounters(counters, ic);
        haveCounters++;
      }
      // a short trailing interval (the run ended inside it) is not a window of its own: it joins the
      // window before it rather than being judged on a few milliseconds of data
      const trailingShort = i === ivs.length - 1 && i >= size && iv.endNs - iv.startNs < view.intervalNs / 2;
      if (i >= size && !trailingShort) {
        const old = ivs[i - size]!;
        if (running) {
          const enc = intervalHist(check, old);
          if (enc !== '') {
            const h = decodeHistogram(enc);
            try {
              running.subtract(h);
            } finally {
              freeHistogram(h);
            }
          }
        }
        const oc = intervalCounters(old, check.tags.cmd);
        if (oc) {
          counters = subtractCounters(counters, oc);
          haveCounters--;
        }
      }
      if (i < size - 1) continue;
      const from = trailingShort ? i - size : i - size + 1;
      const first = ivs[from]!;
      const durationNs = ivs.slice(from, i + 1).reduce((a, v) => a + (v.endNs - v.startNs), 0);
      const observed: Observed = running
        ? fromHistogram(check, running)
        : haveCounters > 0 || check.metric === 'throughput' || check.quantity === 'count'
          ? fromCounters(check, counters, durationNs)
          : { absent: 'no activity' };
      const limit = limitOf(check, view, counters, durationNs);
      if (isAbsent(observed) || isAbsent(limit)) {
        lastAbsent = isAbsent(observed) ? observed.absent : (limit as Absent).absent;
        continue; // a window without data for this scope cannot break the check
      }
      evaluated++;
      const w = { obs: observed.value, limit: limit.value, start: first.startNs, end: iv.endNs, first: first.index };
      if (!worst || worse(check, w.obs, worst.obs)) worst = w;
      if (!firstFail && !compare(observed.value, check.op, limit.value)) firstFail = { ...w, message: '' };
    }
  } finally {
    freeHistogram(running);
  }
  const span = (w: { start: number; end: number }) => `[${fmtSeconds(w.start)}–${fmtSeconds(w.end)}]`;
  const note = short ? ` (the run is shorter than one ${fmtSeconds(windowNs)} window: evaluated over its ${ivs.length} interval(s))` : '';
  if (evaluated === 0) {
    const absent = `no ${fmtSeconds(windowNs)} window had data${lastAbsent ? ` (${lastAbsent})` : ''}`;
    return { result: resultOf(check, { absent }, { absent }, { message: `no data: ${absent}` }), windows: 0 };
  }
  const metric = selectorText(check.metric, check.tags, check.aggregate);
  if (firstFail) {
    const failing = worst && !compare(worst.obs, check.op, worst.limit) ? worst : firstFail;
    const r = resultOf(check, { value: failing.obs }, { value: failing.limit }, { failedInterval: firstFail.first });
    r.pass = false;
    r.message = `${metric} breaks ${check.op} ${rightText(check, toDisplay(check, failing.limit))} in the window ${span(failing)}: ${formatValue(toDisplay(check, failing.obs), check.displayUnit)} (first failing window starts at interval ${firstFail.first})${note}`;
    return { result: r, windows: evaluated };
  }
  const r = resultOf(check, { value: worst!.obs }, { value: worst!.limit });
  r.message = `${metric} holds in all ${evaluated} ${fmtSeconds(k * view.intervalNs)} window(s); worst ${formatValue(toDisplay(check, worst!.obs), check.displayUnit)} in ${span(worst!)}${note}`;
  return { result: r, windows: evaluated };
}

/**
 * Evaluates checks against a results file. A check whose data is absent fails with a message.
 */
export function evaluateChecks(results: ResultsView, checks: readonly Check[]): CheckResult[] {
  return checks.map((check) => (check.windowNs === null ? evaluateWhole(check, results) : evaluateWindows(check, results, false).result));
}

/** What `canStillPass` found. */
export interface StillPassOutcome {
  /** False when some check has failed for good: the run can stop (--abort-on-fail). */
  canPass: boolean;
  /** The checks that can no longer pass, with why. */
  failed: CheckResult[];
}

/** Can this check's whole-run value only grow as the run goes on? (counts, max) */
function monotoneUp(check: Check): boolean {
  if (check.right.kind !== 'value') return false;
  if (check.quantity === 'count') return true; // sums of non-negative interval counters
  return LATENCY_METRICS.has(check.metric) && (check.aggregate === 'max' || check.percentile === 100);
}

/**
 * For --abort-on-fail: given the intervals finished so far (warm-up ones are skipped), says whether
 * every check can still pass. A check is lost for good when an upper bound on a growing count (or
 * on the max latency) is already broken, or when a complete window already failed.
 */
export function canStillPass(partial: ResultsView, checks: readonly Check[]): StillPassOutcome {
  const failed: CheckResult[] = [];
  const ivs = partial.intervals.filter((iv) => !iv.warmup);
  for (const check of checks) {
    if (scopeProblem(check, partial) !== null && check.tags.target !== undefined) continue; // decided at the end
    if (check.windowNs !== null) {
      if (check.tags.cmd !== undefined && !partial.commands.includes(check.tags.cmd)) continue; // may still appear
      const out = evaluateWindows(check, partial, true);
      if (out.windows > 0 && !out.result.pass) failed.push(out.result);
      continue;
    }
    if (!monotoneUp(check) || (check.op !== '<' && check.op !== '<=' && check.op !== '==')) continue;
    let observed: Observed;
    if (LATENCY_METRICS.has(check.metric)) {
      const h = createHistogram(true);
      try {
        for (const iv of ivs) addEncoded(h, intervalHist(check, iv));
        observed = h.totalCount === 0 ? { absent: 'none yet' } : { value: h.maxValue };
      } finally {
        freeHistogram(h);
      }
    } else {
      let c = emptyCounters();
      for (const iv of ivs) {
        const ic = intervalCounters(iv, check.tags.cmd);
        if (ic) c = sumCounters(c, ic);
      }
      observed = fromCounters(check, c, 0);
    }
    if (isAbsent(observed)) continue;
    const limit = (check.right as { value: number }).value;
    const lost = check.op === '==' ? observed.value > limit : !compare(observed.value, check.op, limit);
    if (lost) {
      const r = resultOf(check, observed, { value: limit });
      r.pass = false;
      r.message = `${r.metric} is already ${formatValue(toDisplay(check, observed.value), check.displayUnit)} and can only grow: ${check.op} ${formatValue(toDisplay(check, limit), check.displayUnit)} cannot hold`;
      failed.push(r);
    }
  }
  return { canPass: failed.length === 0, failed };
}
