// The state of one replay worker thread, shared by its parts, and the run clock that closes its
// intervals and ends its run. The parts: connection set-up and dispatch (worker-conns.ts), the timing
// loop (worker-timing.ts), the message handlers (worker.ts). One plain object of one shape that every
// part reads directly: the callbacks handed to timers and connections are made once per worker
// (pumpCb, onTimer, flushCb), never per request.
import type { IntervalRecorder } from '../metrics/recorder.js';
import { monoNs } from './clock.js';
import type { ConnCtx, ReplayConn } from './conn.js';
import type { RunQueue } from './batch.js';
import type { Waker } from './waker.js';
import type { WriteOrder } from './write-order.js';
import { Ev, dropTrace, trace, tracing, writeTrace } from './trace.js';
import type { FromWorker, ToWorker, WorkerInit, WorkerTotals } from './messages.js';

/** What the worker talks to: the worker thread's parentPort, or a test's channel. */
export interface WorkerPort {
  postMessage(m: FromWorker): void;
  on(ev: 'message', f: (m: ToWorker) => void): void;
  close?(): void;
}

/** How long the worker spins instead of sleeping (worker-timing.ts: NORMAL_SPIN, RT_SPIN). */
export interface SpinConfig {
  spinNs: number;
  wakeEarlyNs: number;
  startSpinNs: number;
  answerSpinNs: number;
}

/** Everything one worker thread keeps between callbacks. */
export interface WorkerState {
  port: WorkerPort;
  init: WorkerInit | null;
  priority: string;
  spin: SpinConfig;
  rec: IntervalRecorder | null;
  t0: number | null;
  baseSec: number;
  queue: RunQueue;
  conns: Map<number, ReplayConn>;
  /** Target of each open connection: created by its open item; requests/closes of a connection always follow it. */
  connTarget: Map<number, number>;
  totals: WorkerTotals;
  curIndex: number;
  nextBoundary: number;
  intervalNs: number;
  stopped: boolean;
  ended: boolean;
  finishedAll: boolean;
  timer: NodeJS.Timeout | null;
  timerAt: number;
  immediate: NodeJS.Immediate | null;
  checkTimer: NodeJS.Timeout | null;
  graceTimer: NodeJS.Timeout | null;
  lastProgress: number;
  /** Open loop: run-clock time after which what is left fails as timeout (see DRAIN_EXTRA_NS). */
  drainDeadline: number | null;
  /** Connections with bytes queued, written as a turn passes their coalescing window (write-order.ts). */
  order: WriteOrder;
  /** A dispatch turn (pump) is running: an answer parsed inside it does not start another. */
  pumping: boolean;
  /** The last dispatch turn stopped so that answers waiting in the sockets are read (worker-timing.ts pump): until the next turn, a read callback sends only what is readPolicy.lagCapNs late. */
  readBreak: boolean;
  waker: Waker | null;
  /**
   * When a stopped worker had nothing left in flight: its run ends there. The coordinator may still
   * be reading the rest of the capture to count what was not sent (--duration on a large capture:
   * seconds); those counts go into the last interval instead of a trail of empty ones that would
   * stretch the run and dilute its rates.
   */
  drainedNs: number | null;
  /**
   * Max mode: the next item opens a connection and waits until every request before it in the
   * capture has left its connection's queue. Everything is due at once there, so without this a
   * large look-ahead would open every connection of a churning capture (clients that connect per
   * request or per page: thousands) at the same moment; with it the replay keeps the capture's
   * connection concurrency: a connection opens where the capture opened it relative to the
   * requests before it, only faster.
   */
  openWaits: boolean;
  /** A throwaway worker rehearsing before t0 (rehearsal.ts): its trace and its GC watch are not the run's. */
  rehearsal: boolean;
  /** What the worker's connections see of it (worker-conns.ts newConnCtx). */
  ctx: ConnCtx;
  /** pump(s) on a spin turn (setImmediate), made once. */
  pumpCb: () => void;
  /** pump(s) from the backstop timer, made once. */
  onTimer: () => void;
  /** flushDirty(s), made once (ctx.flushDirty). */
  flushCb: () => void;
  /** pump(s) before an answer is parsed (ctx.sendDue), made once. */
  readCb: () => void;
  /** arm(s): the wait for the next due item, set afresh (worker-timing.ts), made once. */
  armCb: () => void;
  /** The in-thread sleep until the next due item, then pump(s) (worker-timing.ts sleepThenPump), made once. */
  sleepCb: () => void;
  /** What the in-thread sleep waits on (Atomics.wait; nothing ever wakes it early). */
  sleepCell: Int32Array;
}

/**
 * Answers that wait in the sockets while the worker writes a burst are timestamped only when it
 * reads them, so a turn that kept writing for milliseconds added that to every answer's service
 * time (memaslap-64conns: service p50 0.5–0.9 ms at 1x where memcached answered in 20–50 µs on the
 * wire). A turn therefore stops `afterNs` after its first write that awaits an answer (between two
 * writes, never inside a pipeline being gathered) and lets the event loop read what came, unless
 * the schedule is `lagCapNs` behind or more: reading costs the sends behind it time (10–50 µs an
 * answer on a 2-core VM), and past that the capture's load shape goes first (README "Design
 * notes": a burst costs more than its schedule leaves).
 * Mutable for tests that need either branch whatever the machine's speed.
 */
export const readPolicy = { afterNs: 100e3, lagCapNs: 500e3 };

/** The head of the queue is at least readPolicy.lagCapNs late at run time `t` (reading answers must wait). */
export function farBehind(s: WorkerState, t: number): boolean {
  return (s.queue.peekAt() ?? Infinity) <= t - readPolicy.lagCapNs;
}

/** Posts `m` to the coordinator. */
export function post(s: WorkerState, m: FromWorker): void {
  s.port.postMessage(m);
}

/** Run-clock ns; closes the intervals the clock has passed first (cheap: see advance). */
export function now(s: WorkerState): number {
  const t = monoNs(s.baseSec) - (s.t0 ?? 0);
  if (t >= s.nextBoundary && s.rec !== null && s.t0 !== null && s.drainedNs === null) advance(s, t);
  return t;
}

/**
 * Closes every interval that ended before run time `t`. now() runs inside the dispatch loop, so
 * closing only rotates the recorder's storage (microseconds); encoding the closed interval's
 * histograms (0.1–1 ms, more on a loaded machine) would make the requests due at the boundary
 * late. It is encoded and posted later by postClosed, when the worker has slack (worker-timing.ts:
 * arm, check). The recorder holds one closed interval: one still waiting at the next boundary is
 * posted first, so snapshots stay in index order. In max mode nothing is ever idle and the CPU per
 * request is the figure: there each interval is encoded at its boundary, as before.
 */
export function advance(s: WorkerState, t: number): void {
  while (t >= s.nextBoundary) {
    postClosed(s);
    s.rec!.rotate(s.curIndex);
    s.curIndex++;
    s.nextBoundary += s.intervalNs;
    if (s.ctx.maxMode) postClosed(s);
  }
}

/** Encodes and posts the interval the recorder closed last, if it still waits. */
export function postClosed(s: WorkerState): void {
  const rec = s.rec;
  if (rec === null || !rec.pending) return;
  if (!tracing) {
    post(s, { t: 'snap', snap: rec.takeClosed() });
    return;
  }
  const start = monoNs(s.baseSec);
  const snap = rec.takeClosed();
  trace(Ev.Encode, start - (s.t0 ?? 0), monoNs(s.baseSec) - start, snap.index);
  post(s, { t: 'snap', snap });
}

/** Writes the queued bytes of every connection marked dirty. */
export function flushDirty(s: WorkerState): void {
  s.order.writeAll();
}

/** Posts the running totals (a copy: the worker goes on counting); nothing once 'done' is posted. */
export function progress(s: WorkerState, t: number): void {
  // a dispatch turn or check that finished the last connection posted 'done' from inside it, and
  // then reached its own progress post: the coordinator must see nothing of a worker after 'done'
  if (s.finishedAll) return;
  s.lastProgress = t;
  post(s, { t: 'progress', worker: s.init!.worker, totals: { ...s.totals, byClass: { ...s.totals.byClass } } });
}

/** Ends the run once everything is sent and every connection is finished: last snapshots (in order), 'done', clean-up. */
export function maybeDone(s: WorkerState): void {
  if (s.finishedAll || s.t0 === null) return;
  if (s.stopped && s.drainedNs === null && s.conns.size === 0) {
    s.drainedNs = now(s);
    if (s.checkTimer) clearInterval(s.checkTimer);
    s.checkTimer = null;
    postClosed(s); // nothing is sent or awaited any more, and the run may end much later (see drainedNs)
  }
  if (!s.ended || s.queue.size > 0) return;
  if (s.conns.size > 0) {
    if (!s.stopped) {
      // the workload is over: close what the capture left open once its answers are in
      for (const c of [...s.conns.values()]) c.requestClose();
      if (!s.ctx.maxMode) s.drainDeadline ??= now(s) + s.ctx.timeoutNs + DRAIN_EXTRA_NS;
    }
    if (s.conns.size > 0) return;
  }
  s.finishedAll = true;
  s.waker?.close();
  if (s.checkTimer) clearInterval(s.checkTimer);
  if (s.graceTimer) clearTimeout(s.graceTimer);
  if (s.timer) clearTimeout(s.timer);
  if (s.immediate) clearImmediate(s.immediate);
  flushDirty(s);
  const endNs = s.drainedNs ?? monoNs(s.baseSec) - s.t0;
  if (endNs >= s.nextBoundary) advance(s, endNs);
  postClosed(s);
  post(s, { t: 'snap', snap: s.rec!.snapshot(s.curIndex) });
  post(s, { t: 'done', worker: s.init!.worker, endNs, totals: { ...s.totals, byClass: { ...s.totals.byClass } } });
  s.rec!.destroy();
  s.rec = null;
  if (s.rehearsal) dropTrace();
  else writeTrace(s.init!.worker);
  s.port.close?.();
}

/**
 * Open loop: once everything is sent, the run waits at most the timeout plus this for what is
 * still in flight or queued on a reconnecting connection (the longest backoff of conn.ts); then it
 * fails as timeout. A run ends within its schedule + the timeout + this, whatever the target does.
 */
const DRAIN_EXTRA_NS = 1e9;
