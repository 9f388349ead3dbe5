// A replay worker's state as it is made and configured: used for the worker itself (worker.ts) and
// for its rehearsal before t0 (rehearsal.ts), which runs a throwaway state of the same shape through
// the same functions so that V8 has compiled them, with the feedback of the capture's own requests,
// when the real schedule starts.
import type { ConnCtx, ReplayConn } from './conn.js';
import { RunQueue } from './batch.js';
import { emptyTotals } from './totals.js';
import { Ev } from './trace.js';
import { flushDirty, type WorkerState, type WorkerPort } from './worker-state.js';
import { newConnCtx } from './worker-conns.js';
import { arm, NORMAL_SPIN, pump, sleepThenPump } from './worker-timing.js';
import { WriteOrder } from './write-order.js';
import type { WorkerInit } from './messages.js';

/** A worker before its 'init': one object of its final shape, with its once-made callbacks. */
export function newWorkerState(port: WorkerPort): WorkerState {
  const s: WorkerState = {
    port,
    init: null,
    priority: 'unchanged',
    spin: NORMAL_SPIN,
    rec: null,
    t0: null,
    baseSec: 0,
    queue: new RunQueue(),
    conns: new Map<number, ReplayConn>(),
    connTarget: new Map<number, number>(),
    totals: emptyTotals(),
    curIndex: 0,
    nextBoundary: 0,
    intervalNs: 1e9,
    stopped: false,
    ended: false,
    finishedAll: false,
    timer: null,
    timerAt: Infinity,
    immediate: null,
    checkTimer: null,
    graceTimer: null,
    lastProgress: 0,
    drainDeadline: null,
    order: new WriteOrder(),
    pumping: false,
    readBreak: false,
    waker: null,
    drainedNs: null,
    openWaits: false,
    rehearsal: false,
    ctx: null as unknown as ConnCtx,
    pumpCb: () => pump(s),
    onTimer: () => pump(s, Ev.WakeTimer),
    flushCb: () => flushDirty(s),
    readCb: () => pump(s, Ev.WakeRead),
    armCb: () => arm(s),
    sleepCb: () => sleepThenPump(s),
    sleepCell: new Int32Array(new SharedArrayBuffer(4)),
  };
  s.ctx = newConnCtx(s);
  return s;
}

/** Takes the run settings of `init` (the CAS table and the recorder are the caller's). */
export function configureWorker(s: WorkerState, init: WorkerInit): void {
  s.init = init;
  s.baseSec = init.baseSec;
  s.intervalNs = init.intervalNs;
  const ctx = s.ctx;
  ctx.timeoutNs = init.timeoutNs;
  ctx.maxMode = init.maxMode;
  ctx.auth = init.auth;
}
