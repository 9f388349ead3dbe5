// A worker's running totals (messages.ts WorkerTotals): made empty by each worker, summed by the
// coordinator. One place, so a new counter cannot be zeroed on one side and forgotten on the other.
import { ERROR_CLASSES, type ErrorClass } from '../metrics/results-types.js';
import type { WorkerTotals } from './messages.js';

/** All-zero totals. */
export function emptyTotals(): WorkerTotals {
  const byClass = {} as Record<ErrorClass, number>;
  for (const c of ERROR_CLASSES) byClass[c] = 0;
  return { consumed: 0, sent: 0, completed: 0, errors: 0, byClass, abandoned: 0, unsent: 0, openConns: 0, reconnects: 0, unexpectedBytes: 0, authRefused: 0, preopened: 0, connectWaits: 0, rehearsalRequests: 0, rehearsed: 0, rehearsalKinds: 0 };
}

/** Adds `b` into `a`. */
export function addTotals(a: WorkerTotals, b: WorkerTotals): void {
  a.consumed += b.consumed;
  a.sent += b.sent;
  a.completed += b.completed;
  a.errors += b.errors;
  for (const c of ERROR_CLASSES) a.byClass[c] += b.byClass[c];
  a.abandoned += b.abandoned;
  a.unsent += b.unsent;
  a.openConns += b.openConns;
  a.reconnects += b.reconnects;
  a.unexpectedBytes += b.unexpectedBytes;
  a.authRefused += b.authRefused;
  a.preopened += b.preopened;
  a.connectWaits += b.connectWaits;
  a.rehearsalRequests += b.rehearsalRequests;
  a.rehearsed += b.rehearsed;
  // every worker rehearses the kinds its own connections start with
  a.rehearsalKinds = Math.max(a.rehearsalKinds, b.rehearsalKinds);
}
