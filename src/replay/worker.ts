// Replay worker thread: owns a set of replayed connections, sends each request at its intended time
// (open loop) or as soon as its connection allows (max mode), records every outcome into per-interval
// histograms, and posts one snapshot per interval to the coordinator.
import { parentPort } from 'node:worker_threads';
import type { Socket } from 'node:net';
import { initMetrics } from '../metrics/histogram.js';
import { IntervalRecorder } from '../metrics/recorder.js';
import { ERROR_CLASSES, type ErrorClass } from '../metrics/results-types.js';
import { monoNs } from './clock.js';
import { TimeHeap } from './heap.js';
import { ReplayConn, type ConnCtx } from './conn.js';
import type { FromWorker, ReqItem, ToWorker, WorkItem, WorkerInit, WorkerTotals } from './messages.js';

/** Below this much time to the next item, the worker spins on setImmediate instead of a timer. */
const SPIN_NS = 1.5e6;
const CHECK_MS = 50;
const PROGRESS_EVERY_NS = 100e6;

function emptyTotals(): WorkerTotals {
  const byClass = {} as Record<ErrorClass, number>;
  for (const c of ERROR_CLASSES) byClass[c] = 0;
  return { consumed: 0, sent: 0, completed: 0, errors: 0, byClass, abandoned: 0, unsent: 0, openConns: 0, reconnects: 0, unexpectedBytes: 0 };
}

/** Runs a worker on `port` (the worker thread's parentPort). Exported for in-thread tests. */
export function runWorker(port: { postMessage(m: FromWorker): void; on(ev: 'message', f: (m: ToWorker) => void): void; close?(): void }): void {
  let init: WorkerInit | null = null;
  let rec: IntervalRecorder | null = null;
  let t0: number | null = null;
  let baseSec = 0;
  const heap = new TimeHeap<WorkItem>();
  const conns = new Map<number, ReplayConn>();
  const totals = emptyTotals();
  let curIndex = 0;
  let nextBoundary = 0;
  let intervalNs = 1e9;
  let stopped = false;
  let ended = false;
  let finishedAll = false;
  let timer: NodeJS.Timeout | null = null;
  let timerAt = Infinity;
  let immediate: NodeJS.Immediate | null = null;
  let checkTimer: NodeJS.Timeout | null = null;
  let graceTimer: NodeJS.Timeout | null = null;
  let lastProgress = 0;
  const corked: Socket[] = [];
  const pendingBeforeStart: WorkItem[] = [];
  const post = (m: FromWorker): void => port.postMessage(m);

  /** Run-clock ns; closes the intervals the clock has passed first (snapshots are posted in order). */
  function now(): number {
    const t = monoNs(baseSec) - (t0 ?? 0);
    if (t >= nextBoundary && rec !== null && t0 !== null) advance(t);
    return t;
  }

  function advance(t: number): void {
    while (t >= nextBoundary) {
      post({ t: 'snap', snap: rec!.snapshot(curIndex) });
      curIndex++;
      nextBoundary += intervalNs;
    }
  }

  const ctx: ConnCtx = {
    rec: null as unknown as IntervalRecorder,
    now,
    timeoutNs: 5e9,
    maxMode: false,
    cas: new Map(),
    totals,
    auth: null,
    finished(c) {
      conns.delete(c.id);
      maybeDone();
    },
    corked(s) {
      // writes made outside a dispatch batch (on connect, on an answer in max mode) must not wait
      // for the next batch: uncork them once the current callback is over
      if (corked.push(s) === 1) process.nextTick(uncorkAll);
    },
  };

  function uncorkAll(): void {
    for (const s of corked) if (!s.destroyed) s.uncork();
    corked.length = 0;
  }

  function conn(id: number, target: number): ReplayConn {
    let c = conns.get(id);
    if (c === undefined) {
      const t = init!.targets[target];
      if (t === undefined) throw new Error(`worker ${init!.worker}: no target #${target}`);
      c = new ReplayConn(id, target, t, ctx);
      conns.set(id, c);
    }
    return c;
  }

  // connections are created by their open item; requests/closes of a connection always follow it
  const connTarget = new Map<number, number>();

  function dispatch(it: WorkItem, t: number): void {
    totals.consumed++;
    switch (it.k) {
      case 'open':
        if (stopped) return;
        connTarget.set(it.conn, it.target);
        conn(it.conn, it.target).open();
        return;
      case 'req': {
        if (stopped) {
          rec!.count(it.req.cmd, 'unsent');
          totals.unsent++;
          return;
        }
        const c = conn(it.conn, connTarget.get(it.conn) ?? 0);
        if (init!.maxMode) c.enqueue(it);
        else c.submit(it, t);
        return;
      }
      case 'close': {
        connTarget.delete(it.conn);
        const c = conns.get(it.conn);
        if (c !== undefined) c.requestClose();
        return;
      }
      case 'held':
        rec!.heldBack(it.cmd, it.reason, it.n);
        return;
      case 'unsent':
        rec!.count(it.cmd, 'unsent', it.n);
        totals.unsent += it.n;
        return;
    }
  }

  /** Sends everything due; re-arms the timer for the next item. */
  function pump(): void {
    immediate = null;
    timer = null;
    timerAt = Infinity;
    if (t0 === null) return;
    let t = now();
    let n = 0;
    for (;;) {
      const top = heap.peek();
      if (top === undefined || top.at > t) break;
      heap.pop();
      dispatch(top, t);
      if (++n % 256 === 0) t = now();
    }
    uncorkAll();
    if (t - lastProgress >= PROGRESS_EVERY_NS) progress(t);
    arm();
    maybeDone();
  }

  function arm(): void {
    const top = heap.peek();
    if (top === undefined || t0 === null) return;
    const delta = top.at - now();
    if (delta < SPIN_NS) {
      if (timer !== null) {
        clearTimeout(timer);
        timer = null;
        timerAt = Infinity;
      }
      immediate ??= setImmediate(pump);
      return;
    }
    if (immediate !== null) return;
    if (timer !== null && timerAt <= top.at) return;
    if (timer !== null) clearTimeout(timer);
    timerAt = top.at;
    // wake ~1 ms early: setTimeout is late by up to a millisecond, the spin covers the rest
    timer = setTimeout(pump, Math.max(0, Math.floor((delta - 1e6) / 1e6)));
  }

  function progress(t: number): void {
    lastProgress = t;
    post({ t: 'progress', worker: init!.worker, totals: { ...totals, byClass: { ...totals.byClass } } });
  }

  function check(): void {
    if (t0 === null) return;
    const t = now();
    for (const c of conns.values()) c.check(t);
    if (t - lastProgress >= PROGRESS_EVERY_NS) progress(t);
    maybeDone();
  }

  function maybeDone(): void {
    if (finishedAll || !ended || heap.size > 0 || t0 === null) return;
    if (conns.size > 0) {
      if (!stopped) {
        // the workload is over: close what the capture left open once its answers are in
        for (const c of [...conns.values()]) c.requestClose();
      }
      if (conns.size > 0) return;
    }
    finishedAll = true;
    if (checkTimer) clearInterval(checkTimer);
    if (graceTimer) clearTimeout(graceTimer);
    if (timer) clearTimeout(timer);
    if (immediate) clearImmediate(immediate);
    const endNs = monoNs(baseSec) - t0;
    if (endNs >= nextBoundary) advance(endNs);
    post({ t: 'snap', snap: rec!.snapshot(curIndex) });
    post({ t: 'done', worker: init!.worker, endNs, totals: { ...totals, byClass: { ...totals.byClass } } });
    rec!.destroy();
    rec = null;
    port.close?.();
  }

  function stop(graceNs: number): void {
    if (stopped) return;
    stopped = true;
    for (const it of heap.drain()) dispatch(it, 0);
    for (const c of [...conns.values()]) totals.unsent += c.stop();
    const abandonAll = (): void => {
      for (const c of [...conns.values()]) c.abandon();
      maybeDone();
    };
    if (conns.size > 0) {
      if (graceNs <= 0) abandonAll();
      else graceTimer = setTimeout(abandonAll, Math.ceil(graceNs / 1e6));
    }
    maybeDone();
  }

  port.on('message', (m: ToWorker) => {
    try {
      switch (m.t) {
        case 'init':
          init = m.init;
          baseSec = init.baseSec;
          intervalNs = init.intervalNs;
          ctx.timeoutNs = init.timeoutNs;
          ctx.maxMode = init.maxMode;
          ctx.auth = init.auth;
          void initMetrics().then(() => {
            rec = new IntervalRecorder({ worker: init!.worker, eventLoop: init!.eventLoop });
            ctx.rec = rec;
            post({ t: 'ready', worker: init!.worker });
          });
          return;
        case 'start':
          t0 = m.t0Ns;
          nextBoundary = intervalNs;
          curIndex = 0;
          checkTimer = setInterval(check, CHECK_MS);
          for (const it of pendingBeforeStart) heap.push(it);
          pendingBeforeStart.length = 0;
          arm();
          return;
        case 'items':
          for (const it of m.items) {
            // structured clone delivers Buffers as plain Uint8Arrays: re-wrap the same memory
            if (it.k === 'req' && !Buffer.isBuffer(it.req.raw)) {
              const u = it.req.raw as Uint8Array;
              it.req.raw = Buffer.from(u.buffer, u.byteOffset, u.byteLength);
            }
          }
          if (t0 === null) {
            for (const it of m.items) pendingBeforeStart.push(it);
            return;
          }
          if (stopped) {
            for (const it of m.items) dispatch(it, 0);
            maybeDone();
            return;
          }
          {
            const t = now();
            for (const it of m.items) {
              // connections the capture joined mid-way exist already: open them at once
              if (it.k === 'open' && it.early) dispatch(it, t);
              else heap.push(it);
            }
          }
          uncorkAll();
          arm();
          return;
        case 'stop':
          stop(m.graceNs);
          return;
        case 'end':
          ended = true;
          maybeDone();
          return;
      }
    } catch (err) {
      post({ t: 'fatal', worker: init?.worker ?? -1, message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    }
  });
}

/** Type guard used by tests that build items by hand. */
export function isReq(it: WorkItem): it is ReqItem {
  return it.k === 'req';
}

if (parentPort !== null) runWorker(parentPort as unknown as Parameters<typeof runWorker>[0]);
