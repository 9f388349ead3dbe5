// Replay worker thread: owns a set of replayed connections, sends each request at its intended time
// (open loop) or as soon as its connection allows (max mode), records every outcome into per-interval
// histograms, and posts one snapshot per interval to the coordinator.
import { parentPort } from 'node:worker_threads';
import { initMetrics } from '../metrics/histogram.js';
import { IntervalRecorder } from '../metrics/recorder.js';
import { ERROR_CLASSES, type ErrorClass } from '../metrics/results-types.js';
import { monoNs } from './clock.js';
import { DueQueue } from './heap.js';
import { ReplayConn, type ConnCtx } from './conn.js';
import { decodeBatch } from './batch.js';
import type { FromWorker, ReqItem, ToWorker, WorkItem, WorkerInit, WorkerTotals } from './messages.js';

/**
 * Waiting for the next due item: a timer while it is far, then setImmediate turns (each one polls
 * the sockets, so answers are still timestamped as they arrive) for the last SPIN_NS. libuv timers
 * have millisecond resolution and fire 0.1–0.2 ms late at p50 on these machines (more under load),
 * so the timer aims SPIN_NS early and the spin takes the rest; a shorter spin saves CPU but lets
 * late timers show up as schedule lag. Everything due when a turn runs goes out in that turn, one
 * write per connection.
 */
const SPIN_NS = 1.0e6;
const CHECK_MS = 50;
const PROGRESS_EVERY_NS = 100e6;
/** How long the worker waits at start for connections the capture joined mid-way to come up. */
const EARLY_CONNECT_WAIT_MS = 1000;
const WARMUP_TIMEOUT_MS = 2000;

function emptyTotals(): WorkerTotals {
  const byClass = {} as Record<ErrorClass, number>;
  for (const c of ERROR_CLASSES) byClass[c] = 0;
  return { consumed: 0, sent: 0, completed: 0, errors: 0, byClass, abandoned: 0, unsent: 0, openConns: 0, reconnects: 0, unexpectedBytes: 0 };
}

/** A `version` request, used to warm the connection code up before the schedule starts. */
function versionItem(): ReqItem {
  return {
    k: 'req',
    at: 0,
    ord: 0,
    conn: -1,
    proto: 'text',
    cmd: 'version',
    expect: 'line',
    quiet: false,
    opaque: 0,
    keys: [],
    metaFlags: [],
    raw: Buffer.from('version\r\n', 'latin1'),
    absExpSec: null,
    casKey: null,
    pipelined: false,
  };
}

/**
 * Dials every target once through the replay's own connection code (connect, authentication,
 * write, response matching, recording into a throwaway recorder): the first scheduled requests
 * must not pay for lazy compilation and socket set-up, which cost several ms in a fresh thread.
 */
async function warmUp(init: WorkerInit): Promise<void> {
  const rec = new IntervalRecorder({ worker: init.worker, eventLoop: false });
  const totals = emptyTotals();
  try {
    await Promise.all(
      init.targets.map(
        (t, i) =>
          new Promise<void>((resolve) => {
            let c: ReplayConn | null = null;
            const timer = setTimeout(() => c?.abandon(), WARMUP_TIMEOUT_MS);
            const ctx: ConnCtx = {
              rec,
              now: () => monoNs(init.baseSec),
              timeoutNs: WARMUP_TIMEOUT_MS * 1e6,
              maxMode: true,
              cas: new Map(),
              totals,
              auth: init.auth,
              finished: () => {
                clearTimeout(timer);
                resolve();
              },
              dirty: (d) => process.nextTick(() => d.flush()),
            };
            c = new ReplayConn(-1 - i, i, t, ctx);
            c.enqueue(versionItem());
            c.requestClose();
          }),
      ),
    );
  } finally {
    rec.destroy();
  }
}

/** Runs a worker on `port` (the worker thread's parentPort). Exported for in-thread tests. */
export function runWorker(port: { postMessage(m: FromWorker): void; on(ev: 'message', f: (m: ToWorker) => void): void; close?(): void }): void {
  let init: WorkerInit | null = null;
  let rec: IntervalRecorder | null = null;
  let t0: number | null = null;
  let baseSec = 0;
  const queue = new DueQueue<WorkItem>();
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
  let dirty: ReplayConn[] = [];
  let flushQueued = false;
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

  function flushDirty(): void {
    flushQueued = false;
    if (dirty.length === 0) return;
    const d = dirty;
    dirty = [];
    for (const c of d) c.flush();
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
    dirty(c) {
      dirty.push(c);
      // writes made outside a dispatch turn (on connect, on an answer in max mode) go out once the
      // current callback is over, together with whatever else it wrote
      if (!flushQueued) {
        flushQueued = true;
        process.nextTick(flushDirty);
      }
    },
  };

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
          rec!.count(it.cmd, 'unsent');
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

  /** Sends everything due; re-arms the wait for the next item. */
  function pump(): void {
    immediate = null;
    timer = null;
    timerAt = Infinity;
    if (t0 === null || finishedAll) return;
    let t = now();
    let n = 0;
    for (;;) {
      const top = queue.peek();
      if (top === undefined || top.at > t) break;
      queue.pop();
      dispatch(top, t);
      if (++n % 64 === 0) t = now();
    }
    flushDirty();
    if (t - lastProgress >= PROGRESS_EVERY_NS) progress(t);
    arm();
    maybeDone();
  }

  function arm(): void {
    const top = queue.peek();
    if (top === undefined || t0 === null || stopped) return;
    const delta = top.at - now();
    const ms = Math.floor((delta - SPIN_NS) / 1e6);
    if (ms < 1) {
      // close: spin (a 0 ms timer would wait a whole millisecond)
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
    timer = setTimeout(pump, ms);
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
    if (finishedAll || !ended || queue.size > 0 || t0 === null) return;
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
    flushDirty();
    const endNs = monoNs(baseSec) - t0;
    if (endNs >= nextBoundary) advance(endNs);
    post({ t: 'snap', snap: rec!.snapshot(curIndex) });
    post({ t: 'done', worker: init!.worker, endNs, totals: { ...totals, byClass: { ...totals.byClass } } });
    rec!.destroy();
    rec = null;
    port.close?.();
  }

  function begin(t0Ns: number): void {
    if (t0 !== null) return;
    t0 = t0Ns;
    nextBoundary = intervalNs;
    curIndex = 0;
    checkTimer = setInterval(check, CHECK_MS);
    arm();
  }

  function stop(graceNs: number): void {
    if (stopped) return;
    // stopped before the schedule started: the run clock starts now, so the counts have an interval
    if (t0 === null) begin(monoNs(baseSec));
    stopped = true;
    if (timer) clearTimeout(timer);
    if (immediate) clearImmediate(immediate);
    timer = null;
    immediate = null;
    for (const it of queue.drain()) dispatch(it, 0);
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

  /** Before t0: open the connections the capture joined mid-way (they existed before it) and wait for them. */
  function sync(): void {
    const early: ReplayConn[] = [];
    for (const it of queue.drain()) {
      queue.push(it);
      if (it.k === 'req') rec!.slot(it.cmd); // histograms of the first commands exist before t0
      else if (it.k === 'open' && it.early) {
        const c = conn(it.conn, it.target);
        c.open();
        early.push(c);
      }
    }
    const until = Date.now() + EARLY_CONNECT_WAIT_MS;
    const wait = (): void => {
      if (early.some((c) => c.connecting) && Date.now() < until) setTimeout(wait, 1);
      else post({ t: 'synced', worker: init!.worker });
    };
    wait();
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
          void initMetrics()
            .then(() => warmUp(init!))
            .then(() => {
              rec = new IntervalRecorder({ worker: init!.worker, eventLoop: init!.eventLoop });
              ctx.rec = rec;
              post({ t: 'ready', worker: init!.worker });
            })
            .catch((err: unknown) => post({ t: 'fatal', worker: init?.worker ?? -1, message: err instanceof Error ? (err.stack ?? err.message) : String(err) }));
          return;
        case 'sync':
          sync();
          return;
        case 'start':
          begin(m.t0Ns);
          return;
        case 'batch': {
          const items = decodeBatch(m.b);
          if (stopped) {
            for (const it of items) dispatch(it, 0);
            maybeDone();
            return;
          }
          if (t0 === null) {
            for (const it of items) queue.push(it);
            return;
          }
          const t = now();
          for (const it of items) {
            // connections the capture joined mid-way exist already: open them at once
            if (it.k === 'open' && it.early) dispatch(it, t);
            else queue.push(it);
          }
          flushDirty();
          arm();
          return;
        }
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

if (parentPort !== null) runWorker(parentPort as unknown as Parameters<typeof runWorker>[0]);
