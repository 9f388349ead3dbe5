// One home for request counters (the Counters of results.json): zero, add in place, sum, subtract,
// the error totals, and the accounting identity. Used by the recorder and aggregator (metrics), the
// gate's check evaluation and verdict (report), and the replay's results (a broken identity is a warning).
import { ERROR_CLASSES, type Counters, type ErrorClass, type ResultsFile } from './results-types.js';

/** A zeroed Counters object. */
export function emptyCounters(): Counters {
  const errors = {} as Record<ErrorClass, number>;
  for (const c of ERROR_CLASSES) errors[c] = 0;
  return { intended: 0, sent: 0, completed: 0, hits: 0, misses: 0, errors, heldBack: {}, unsent: 0, bytesOut: 0, bytesIn: 0 };
}

/** Adds counters `b` into `a` (in place; the hot merge path of the aggregator). */
export function addCounters(a: Counters, b: Counters): void {
  a.intended += b.intended;
  a.sent += b.sent;
  a.completed += b.completed;
  a.hits += b.hits;
  a.misses += b.misses;
  a.unsent += b.unsent;
  a.bytesOut += b.bytesOut;
  a.bytesIn += b.bytesIn;
  for (const c of ERROR_CLASSES) a.errors[c] += b.errors[c];
  for (const [k, v] of Object.entries(b.heldBack)) a.heldBack[k] = (a.heldBack[k] ?? 0) + v;
}

/**
 * Sum of two counters as a new object (a and b untouched). Tolerant of a results file whose error
 * or held-back classes differ from this build's (a missing class counts as 0).
 */
export function sumCounters(a: Counters, b: Counters): Counters {
  const errors = { ...a.errors };
  for (const [k, v] of Object.entries(b.errors)) errors[k as keyof typeof errors] = (errors[k as keyof typeof errors] ?? 0) + v;
  const heldBack = { ...a.heldBack };
  for (const [k, v] of Object.entries(b.heldBack)) heldBack[k] = (heldBack[k] ?? 0) + v;
  return {
    intended: a.intended + b.intended,
    sent: a.sent + b.sent,
    completed: a.completed + b.completed,
    hits: a.hits + b.hits,
    misses: a.misses + b.misses,
    errors,
    heldBack,
    unsent: a.unsent + b.unsent,
    bytesOut: a.bytesOut + b.bytesOut,
    bytesIn: a.bytesIn + b.bytesIn,
  };
}

/** Difference a − b as a new object (for windows: cumulative counters minus an earlier prefix). */
export function subtractCounters(a: Counters, b: Counters): Counters {
  const errors = { ...a.errors };
  for (const [k, v] of Object.entries(b.errors)) errors[k as keyof typeof errors] = (errors[k as keyof typeof errors] ?? 0) - v;
  const heldBack = { ...a.heldBack };
  for (const [k, v] of Object.entries(b.heldBack)) heldBack[k] = (heldBack[k] ?? 0) - v;
  return {
    intended: a.intended - b.intended,
    sent: a.sent - b.sent,
    completed: a.completed - b.completed,
    hits: a.hits - b.hits,
    misses: a.misses - b.misses,
    errors,
    heldBack,
    unsent: a.unsent - b.unsent,
    bytesOut: a.bytesOut - b.bytesOut,
    bytesIn: a.bytesIn - b.bytesIn,
  };
}

/** Requests held back, all reasons together. */
export function heldBackTotal(h: Readonly<Record<string, number>>): number {
  let n = 0;
  for (const v of Object.values(h)) n += v;
  return n;
}

/** Sum of all error classes. */
export function totalErrors(c: Counters): number {
  let n = 0;
  for (const k of ERROR_CLASSES) n += c.errors[k];
  return n;
}

/** Errors of one class, of several (`timeout|reset`), or of all. */
export function errorCount(c: Counters, cls: string | undefined): number {
  let n = 0;
  if (cls) {
    for (const one of cls.split('|')) n += (c.errors as Record<string, number>)[one] ?? 0;
    return n;
  }
  for (const v of Object.values(c.errors)) n += v;
  return n;
}

/**
 * What a set of counters covers, for the accounting identity: the requests abandoned at stop
 * (sent, then neither answered nor failed: config.options.abandoned) and, when the counters cover
 * every request of the shaped workload (config.options.unsentScope 'capture'), its request count.
 */
export interface AccountingScope {
  /** What the counters are, as the messages name it ('whole run', 'summary'). */
  name: string;
  abandoned: number;
  /** The shaped workload's request count, or null when the counters cover only what was read of it. */
  shapedRequests: number | null;
}

/** One equation of the accounting identity that does not hold, with both sides' numbers. */
export interface AccountingGap {
  /** 'sent': sent = completed + errors + abandoned; 'shaped': shaped = sent + held back + unsent. */
  equation: 'sent' | 'shaped';
  scope: string;
  left: number;
  right: number;
  /** The equation with its numbers, for a warning or a verdict reason. */
  text: string;
}

/**
 * The equations of the accounting identity (every request is sent and measured, or counted as
 * skipped with its reason) that counters `c` break: every request sent was answered, failed with
 * an error class, or abandoned at stop; and, over the whole shaped workload, every request was
 * sent, held back (with its reason) or left unsent. `intended` is in neither: it counts when a
 * request was due (at submit, or when it became sendable in max mode), and a request that reaches a
 * stopped worker is unsent without ever being due. Empty when the counters add up.
 */
export function accountingGaps(c: Counters, scope: AccountingScope): AccountingGap[] {
  const gaps: AccountingGap[] = [];
  const errors = errorCount(c, undefined);
  const answered = c.completed + errors + scope.abandoned;
  if (c.sent !== answered) {
    gaps.push({
      equation: 'sent',
      scope: scope.name,
      left: c.sent,
      right: answered,
      text: `${scope.name}: sent ${c.sent} ≠ completed ${c.completed} + errors ${errors} + abandoned ${scope.abandoned} (= ${answered})`,
    });
  }
  if (scope.shapedRequests !== null) {
    const held = heldBackTotal(c.heldBack);
    const accounted = c.sent + held + c.unsent;
    if (scope.shapedRequests !== accounted) {
      gaps.push({
        equation: 'shaped',
        scope: scope.name,
        left: scope.shapedRequests,
        right: accounted,
        text: `${scope.name}: shaped requests ${scope.shapedRequests} ≠ sent ${c.sent} + held back ${held} + unsent ${c.unsent} (= ${accounted})`,
      });
    }
  }
  return gaps;
}

/**
 * The accounting identity of a finished run's results: the whole run (every interval, warm-up
 * included) and the summary (which carries the requests in flight at the end of the warm-up, so it
 * adds up too). A results file without the run's own totals (abandoned), or a checkpoint written
 * while requests were still in flight, is not checked.
 */
export function resultsAccountingGaps(r: Pick<ResultsFile, 'config' | 'intervals' | 'summary'>): AccountingGap[] {
  const o = r.config?.options ?? {};
  if (typeof o.abandoned !== 'number' || o.checkpoint !== undefined) return [];
  const shaped = o.unsentScope === 'capture' && typeof o.shapedRequests === 'number' ? o.shapedRequests : null;
  let whole = emptyCounters();
  for (const iv of r.intervals ?? []) whole = sumCounters(whole, iv.total.counters);
  if ((r.intervals ?? []).length === 0) whole = r.summary.total.counters;
  return [
    ...accountingGaps(whole, { name: 'whole run', abandoned: o.abandoned, shapedRequests: shaped }),
    ...accountingGaps(r.summary.total.counters, { name: 'summary', abandoned: o.abandoned, shapedRequests: null }),
  ];
}
