// One home for request counters (the Counters of results.json): zero, add in place, sum, subtract,
// and the error totals. Used by the recorder and aggregator (metrics) and the gate's check
// evaluation (report).
import { ERROR_CLASSES, type Counters, type ErrorClass } from './results-types.js';

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
