// Replay worker thread: owns a set of replayed connections, sends each request at its intended time
// (open loop) or as soon as its connection allows (max mode), records every outcome into per-interval
// histograms, and posts one snapshot per interval to the coordinator.
import { parentPort } from 'node:worker_threads';
import { IntervalRecorder } from '../metrics/recorder.js';
import { monoNs } from './clock.js';
import { ReplayConn, type ConnCtx } from './conn.js';
import { newUdpConn } from './udp-conn.js';
import { CasTable } from './cas-table.js';
import { decodeBatch, RunQueue } from './batch.js';
import { emptyTotals } from './totals.js';
import { startWaker, type Waker } from './waker.js';
import { Ev, trace, tracing, writeTrace } from './trace.js';
import { applySenderPriority } from './priority.js';
import { READ_BUF_BYTES, warmUp } from './warmup.js';
import type { FromWorker, ToWorker, WorkItem, WorkerInit } from './messages.js';

/**
 * Waiting for the next due item: the waker thread (waker.ts) wakes the worker WAKE_EARLY_NS before
 * it is due (a futex wait is 0.1–0.2 ms late at p50 on these machines, more under load), then
 * setImmediate turns take the last SPIN_NS (each turn polls the sockets, so answers are still
 * timestamped as they arrive). Between the two the worker sleeps in its event loop. Everything due
 * when a turn runs goes out in that turn, one write per connection. Without a waker (it failed to
 * start) libuv timers do the coarse part: they have millisecond resolution, so the spin then covers
 * up to TIMER_SPIN_NS + 1 ms.
 */
const SPIN_NS = 300e3;
const WAKE_EARLY_NS = 300e3;
const TIMER_SPIN_NS = 1e6;
/**
 * From 'start' (START_MARGIN_NS before t0 in the coordinator) to this long after t0 the worker spins
 * instead of sleeping: on a loaded machine a sleeping thread can take tens of ms to be woken, and the
 * first requests of a capture must not pay for that.
 */
const START_SPIN_NS = 5e6;
/**
 * After a write the worker stays awake (spinning) this long while answers are outstanding: a sleeping
 * thread takes 50–100 µs to be woken when the answer arrives, and that would be counted as the
 * target's latency (loopback memcached answers in tens of µs). Slower answers are waited for asleep.
 */
const ANSWER_SPIN_NS = 1e6;
/**
 * Under SCHED_FIFO (priority.ts) a sleeping worker is woken within tens of µs, so most of the
 * spinning above only burns a core that the target and the rest of the machine need (a real-time
 * spinner cannot be preempted by them): the waits shrink to these.
 */
const RT_SPIN = { spinNs: 50e3, wakeEarlyNs: 60e3, startSpinNs: 0, answerSpinNs: 200e3 };
const NORMAL_SPIN = { spinNs: SPIN_NS, wakeEarlyNs: WAKE_EARLY_NS, startSpinNs: START_SPIN_NS, answerSpinNs: ANSWER_SPIN_NS };
/**
 * Once a turn finds the head item due, it also sends what is due within COALESCE_NS after now (up
 * to that much early, never the head itself): a client's pipeline, captured as packets a few µs
 * apart, then goes out in one write per connection as the client wrote it, instead of one write per
 * spin turn (a turn takes 5–50 µs on a busy machine). Its lag counts as 0.
 */
const COALESCE_NS = 10e3;
/** Most items one dispatch turn sends before it lets the event loop read answers (then it goes on). */
const PUMP_MAX = 512;
const CHECK_MS = 50;
/**
 * Open loop: once everything is sent, the run waits at most the timeout plus this for what is
 * still in flight or queued on a reconnecting connection (the longest backoff of conn.ts); then it
 * fails as timeout. A run ends within its schedule + the timeout + this, whatever the target does.
 */
const DRAIN_EXTRA_NS = 1e9;
const PROGRESS_EVERY_NS = 100e6;
/** How long the worker waits at start for connections the capture joined mid-way to come up. */
const EARLY_CONNECT_WAIT_MS = 1000;
/**
 * Connections the capture opens in its first PREOPEN_NS are connected before t0 (results.json
 * config.options.preopened counts them): a connect costs the worker 20–400 µs of CPU on the send
 * path and the answer of the handshake comes back a turn later, so 64 connections opened at t0 held
 * the first requests back by 10–16 ms (README, "Design notes"). Only in timed modes: in max mode
 * everything is due at once and a connection opens when the capture's order lets it.
 */
const PREOPEN_NS = 100e6;
const PREOPEN_MAX = 2000;
/** setTimeout's largest delay (2^31-1 ms); Node runs longer ones at once with a TimeoutOverflowWarning. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** Runs a worker on `port` (the worker thread's parentPort). Exported for in-thread tests. */
export function runWorker(port: { postMessage(m: FromWorker): void; on(ev: 'message', f: (m: ToWorker) => void): void; close?(): void }): void {
  let init: WorkerInit | null = null;
  let priority = 'unchanged';
  let spin = NORMAL_SPIN;
  let rec: IntervalRecorder | null = null;
  let t0: number | null = null;
  let baseSec = 0;
  const queue = new RunQueue();
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
  /** Open loop: run-clock time after which what is left fails as timeout (see DRAIN_EXTRA_NS). */
  let drainDeadline: number | null = null;
  let dirty: ReplayConn[] = [];
  let flushQueued = false;
  let waker: Waker | null = null;
  /**
   * When a stopped worker had nothing left in flight: its run ends there. The coordinator may still
   * be reading the rest of the capture to count what was not sent (--duration on a large capture:
   * seconds); those counts go into the last interval instead of a trail of empty ones that would
   * stretch the run and dilute its rates.
   */
  let drainedNs: number | null = null;
  /**
   * Max mode: the next item opens a connection and waits until every request before it in the
   * capture has left its connection's queue. Everything is due at once there, so without this a
   * large look-ahead would open every connection of a churning capture (clients that connect per
   * request or per page: thousands) at the same moment; with it the replay keeps the capture's
   * connection concurrency: a connection opens where the capture opened it relative to the
   * requests before it, only faster.
   */
  let openWaits = false;
  const post = (m: FromWorker): void => port.postMessage(m);

  /** Run-clock ns; closes the intervals the clock has passed first (snapshots are posted in order). */
  function now(): number {
    const t = monoNs(baseSec) - (t0 ?? 0);
    if (t >= nextBoundary && rec !== null && t0 !== null && drainedNs === null) advance(t);
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
    cas: null as unknown as CasTable,
    totals,
    auth: null,
    finished(c) {
      conns.delete(c.id);
      maybeDone();
    },
    inflight: 0,
    lastWriteNs: 0,
    queued: 0,
    drained() {
      if (!openWaits) return;
      openWaits = false;
      immediate ??= setImmediate(pump);
    },
    readBuf: Buffer.allocUnsafe(READ_BUF_BYTES),
    reading: false,
    flushDirty,
    dirty(c) {
      dirty.push(c);
      // writes made outside a dispatch turn (on connect, on an answer) go out once the current
      // callback is over, together with whatever else it wrote; a read callback flushes at its end
      if (!flushQueued && !ctx.reading) {
        flushQueued = true;
        process.nextTick(flushDirty);
      }
    },
  };

  function conn(id: number, target: number, udp = false): ReplayConn {
    let c = conns.get(id);
    if (c === undefined) {
      const t = init!.targets[target];
      if (t === undefined) throw new Error(`worker ${init!.worker}: no target #${target}`);
      c = udp ? newUdpConn(id, target, t, ctx) : new ReplayConn(id, target, t, ctx);
      conns.set(id, c);
    }
    return c;
  }

  // connections are created by their open item; requests/closes of a connection always follow it
  const connTarget = new Map<number, number>();

  function dispatch(it: WorkItem, t: number): void {
    // in max mode a request leaves the look-ahead only when its connection writes it (or gives it
    // up): everything is due at once there, and counting it here would let the coordinator read the
    // whole capture into the connections' queues
    if (it.k !== 'req' || !init!.maxMode || stopped) totals.consumed++;
    switch (it.k) {
      case 'open':
        if (stopped) return;
        connTarget.set(it.conn, it.target);
        conn(it.conn, it.target, it.udp).open();
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
  function pump(src: Ev = Ev.WakeSpin): void {
    // whichever of waker, timer or spin turn came first, the others are void now (arm() re-arms)
    if (immediate !== null) clearImmediate(immediate);
    if (timer !== null) clearTimeout(timer);
    immediate = null;
    timer = null;
    timerAt = Infinity;
    if (t0 === null || finishedAll) return;
    let t = now();
    let n = 0;
    if (tracing) trace(src, t, t - (queue.peekAt() ?? t), queue.size);
    let limit = -Infinity;
    for (;;) {
      const at = queue.peekAt();
      if (at === undefined) break;
      if (at > limit) {
        if (at > t) break;
        limit = t + COALESCE_NS;
      }
      if (ctx.maxMode && !stopped && queue.headIsReq()) {
        // max mode: the request waits in its connection's queue still packed (see enqueueRef)
        const id = queue.headConn();
        const v = queue.headView();
        const i = queue.headIndex();
        queue.skip();
        conn(id, connTarget.get(id) ?? 0).enqueueRef(v, i);
      } else if (ctx.maxMode && !stopped && ctx.queued > 0 && queue.headIsOpen()) {
        openWaits = true; // ctx.drained() pumps again
        break;
      } else dispatch(queue.pop()!, t);
      if (++n % 64 === 0) {
        // behind schedule (a stall): catch up in slices, reading answers in between, so their
        // timestamps stay true and the server is not left waiting on full socket buffers
        if (n >= PUMP_MAX) break;
        t = now();
      }
    }
    flushDirty();
    if (tracing) trace(Ev.PumpEnd, now(), n);
    if (t - lastProgress >= PROGRESS_EVERY_NS) progress(t);
    arm();
    maybeDone();
  }

  function arm(): void {
    if (t0 === null || stopped || openWaits) return;
    const at = queue.peekAt();
    const t = now();
    // (not in max mode: there the next write follows each answer, and CPU per request is the figure)
    const answers = !ctx.maxMode && ctx.inflight > 0 && t - ctx.lastWriteNs < spin.answerSpinNs;
    if (at === undefined) {
      // nothing left to send: stay awake only for answers due any moment
      if (answers) immediate ??= setImmediate(pump);
      return;
    }
    const delta = at - t;
    if (delta <= spin.spinNs || answers || t < spin.startSpinNs || (waker === null && delta < TIMER_SPIN_NS + 1e6)) {
      // close: spin
      if (timer !== null) {
        clearTimeout(timer);
        timer = null;
        timerAt = Infinity;
      }
      immediate ??= setImmediate(pump);
      return;
    }
    if (immediate !== null) return; // the spinning turn re-arms
    if (waker !== null) waker.at(t0 + at - spin.wakeEarlyNs);
    if (timer !== null && timerAt <= at) return;
    if (timer !== null) clearTimeout(timer);
    timerAt = at;
    // with a waker the timer is only a backstop (a starved waker thread wakes the worker late):
    // it fires just after the due time; without one it does the coarse part of the wait
    // capped at setTimeout's 2^31-1 ms (Node fires a longer one at once, with a warning): a
    // longer quiet period in the capture wakes the pump early and it re-arms
    const ms = waker !== null ? Math.ceil(delta / 1e6) : Math.floor((delta - TIMER_SPIN_NS) / 1e6);
    timer = setTimeout(pump, ms < MAX_TIMER_MS ? ms : MAX_TIMER_MS, Ev.WakeTimer);
  }

  function wake(): void {
    if (immediate === null && !finishedAll) pump(Ev.WakeWaker);
  }

  function progress(t: number): void {
    lastProgress = t;
    post({ t: 'progress', worker: init!.worker, totals: { ...totals, byClass: { ...totals.byClass } } });
  }

  function check(): void {
    if (t0 === null) return;
    const t = now();
    for (const c of conns.values()) c.check(t);
    if (drainDeadline !== null && t > drainDeadline) for (const c of [...conns.values()]) c.expire(t);
    if (t - lastProgress >= PROGRESS_EVERY_NS) progress(t);
    maybeDone();
  }

  function maybeDone(): void {
    if (finishedAll || t0 === null) return;
    if (stopped && drainedNs === null && conns.size === 0) {
      drainedNs = now();
      if (checkTimer) clearInterval(checkTimer);
      checkTimer = null;
    }
    if (!ended || queue.size > 0) return;
    if (conns.size > 0) {
      if (!stopped) {
        // the workload is over: close what the capture left open once its answers are in
        for (const c of [...conns.values()]) c.requestClose();
        if (!ctx.maxMode) drainDeadline ??= now() + ctx.timeoutNs + DRAIN_EXTRA_NS;
      }
      if (conns.size > 0) return;
    }
    finishedAll = true;
    waker?.close();
    if (checkTimer) clearInterval(checkTimer);
    if (graceTimer) clearTimeout(graceTimer);
    if (timer) clearTimeout(timer);
    if (immediate) clearImmediate(immediate);
    flushDirty();
    const endNs = drainedNs ?? monoNs(baseSec) - t0;
    if (endNs >= nextBoundary) advance(endNs);
    post({ t: 'snap', snap: rec!.snapshot(curIndex) });
    post({ t: 'done', worker: init!.worker, endNs, totals: { ...totals, byClass: { ...totals.byClass } } });
    rec!.destroy();
    rec = null;
    writeTrace(init!.worker);
    port.close?.();
  }

  function begin(t0Ns: number): void {
    if (t0 !== null) return;
    t0 = t0Ns;
    if (tracing) trace(Ev.Start, now(), queue.size);
    // event-loop delay counts from t0: start-up work (init, sync) is no stall of the schedule
    rec?.resetEventLoop();
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
    queue.drainCounted((cmd) => {
      totals.consumed++;
      rec!.count(cmd, 'unsent');
      totals.unsent++;
    }, (it) => dispatch(it, 0));
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

  /** Before t0: open the connections the capture joined mid-way (they existed before it) or opens in its first moments, and wait for them. */
  function sync(): void {
    const early: ReplayConn[] = [];
    const info = queue.startInfo(init!.maxMode ? -1 : PREOPEN_NS);
    for (const cmd of info.cmds) rec!.slot(cmd); // histograms of the first commands exist before t0
    for (const it of info.early) {
      if (!it.early && early.length >= PREOPEN_MAX) continue;
      if (!it.early) {
        totals.preopened++;
        connTarget.set(it.conn, it.target); // its open item later finds it open (a no-op)
      }
      const c = conn(it.conn, it.target, it.udp);
      c.open();
      early.push(c);
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
          // before the waker starts: it inherits this thread's scheduling policy
          {
            const applied = applySenderPriority(init.priority);
            priority = applied.label;
            if (applied.realtime) spin = RT_SPIN;
          }
          baseSec = init.baseSec;
          intervalNs = init.intervalNs;
          ctx.timeoutNs = init.timeoutNs;
          ctx.maxMode = init.maxMode;
          ctx.auth = init.auth;
          ctx.cas = new CasTable(init.casTable);
          void warmUp(init!)
            .then(() => {
              try {
                waker = startWaker(baseSec, wake);
              } catch {
                waker = null; // timers only: more spinning, same schedule
              }
              rec = new IntervalRecorder({ worker: init!.worker, eventLoop: init!.eventLoop, intervalNs: init!.intervalNs });
              ctx.rec = rec;
              post({ t: 'ready', worker: init!.worker, priority });
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
          if (stopped) {
            for (const it of decodeBatch(m.b)) dispatch(it, 0);
            maybeDone();
            return;
          }
          if (t0 === null) {
            queue.add(m.b);
            return;
          }
          const t = now();
          if (tracing) trace(Ev.Batch, t, queue.size);
          // connections the capture joined mid-way exist already: open them at once
          queue.add(m.b, (it) => {
            dispatch(it, t);
            return true;
          });
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
