// A replay worker's timing loop: sends what is due (pump), arms the wait for the next item (arm:
// spin turn, waker thread, or backstop timer), the periodic check of its connections, and the start
// of the schedule at t0.
import { Ev, trace, traceGc, tracing } from './trace.js';
import { conn, dispatch } from './worker-conns.js';
import { farBehind, flushDirty, maybeDone, now, postClosed, progress, readPolicy, type SpinConfig, type WorkerState } from './worker-state.js';

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
export const RT_SPIN: SpinConfig = { spinNs: 50e3, wakeEarlyNs: 60e3, startSpinNs: 0, answerSpinNs: 200e3 };
export const NORMAL_SPIN: SpinConfig = { spinNs: SPIN_NS, wakeEarlyNs: WAKE_EARLY_NS, startSpinNs: START_SPIN_NS, answerSpinNs: ANSWER_SPIN_NS };
/**
 * Once a turn finds the head item due, it also sends what is due within COALESCE_NS after now (up
 * to that much early, never the head itself): a client's pipeline, captured as packets a few µs
 * apart, then goes out in one write per connection as the client wrote it, instead of one write per
 * spin turn (a turn takes 5–50 µs on a busy machine). Its lag counts as 0.
 */
const COALESCE_NS = 10e3;
/** Most items one dispatch turn sends before it lets the event loop read answers (then it goes on). */
const PUMP_MAX = 512;
/**
 * The interval closed at the last boundary (worker-state.ts advance) is encoded and posted once the
 * next due item is at least this far off and no answer is expected any moment: the encoding takes
 * 0.1–0.2 ms with 3 commands, 0.7–1 ms with 25, more on a loaded machine.
 */
const ENCODE_GAP_NS = 2e6;
/**
 * With no such gap (a steady stream of requests) it is encoded anyway by the check timer once this
 * share of an interval has passed since its end: it costs the same whenever it runs, and the
 * coordinator completes an interval only with every worker's snapshot.
 */
const ENCODE_LATE_SHARE = 0.5;
const CHECK_MS = 50;
/**
 * A wait of up to SLEEP_MAX_NS with nothing that needs a timestamp meanwhile (no answer awaited, no
 * connection being set up, nothing unwritten) is slept in this thread (Atomics.wait) instead of in
 * the event loop until the waker's message: one futex wake-up, 56–73 µs late at p50 on a 2-vCPU
 * VM, against 180–200 µs for the waker's futex wake-up and then its postMessage to this loop
 * (bench/wake-path.js). It wakes SLEEP_EARLY_NS before the due time and spins the rest. A longer
 * wait is slept in the event loop until the waker wakes it SLEEP_MAX_NS before the due time (its
 * p99 lateness is about 1 ms here), then in the thread. Messages from the coordinator (batches of
 * the look-ahead, stop) wait at most SLEEP_MAX_NS.
 */
const SLEEP_MAX_NS = 2e6;
const SLEEP_EARLY_NS = 100e3;
const PROGRESS_EVERY_NS = 100e6;
/** setTimeout's largest delay (2^31-1 ms); Node runs longer ones at once with a TimeoutOverflowWarning. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Sends everything due; re-arms the wait for the next item. */
export function pump(s: WorkerState, src: Ev = Ev.WakeSpin): void {
  // whichever of waker, timer or spin turn came first, the others are void now (arm() re-arms)
  if (s.immediate !== null) clearImmediate(s.immediate);
  if (s.timer !== null) clearTimeout(s.timer);
  s.immediate = null;
  s.timer = null;
  s.timerAt = Infinity;
  if (s.t0 === null || s.finishedAll) return;
  const queue = s.queue;
  const ctx = s.ctx;
  s.pumping = true;
  s.readBreak = false;
  let t = now(s);
  // answers are not read inside a turn: those its own writes await are due readPolicy.afterNs after the first
  const inflight0 = ctx.inflight;
  let awaitedSince = -1;
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
    if (ctx.maxMode && !s.stopped && queue.headIsReq()) {
      // max mode: the request waits in its connection's queue still packed (see enqueueRef)
      const id = queue.headConn();
      const v = queue.headView();
      const i = queue.headIndex();
      queue.skip();
      conn(s, id, s.connTarget.get(id) ?? 0).enqueueRef(v, i);
    } else if (ctx.maxMode && !s.stopped && ctx.queued > 0 && queue.headIsOpen()) {
      s.openWaits = true; // ctx.drained() pumps again
      break;
    } else {
      const it = queue.pop()!;
      dispatch(s, it, t);
      // timed: each connection is written once the turn has passed it, and the clock is read per
      // request, so its lag and write time are its write's (write-order.ts; in max mode one write
      // per connection and turn keeps the CPU per request down)
      if (!ctx.maxMode) {
        s.order.passed(it.k === 'req' ? it.conn : null, it.at, queue.peekAt(), COALESCE_NS);
        t = now(s);
        if (awaitedSince < 0) {
          if (ctx.inflight > inflight0) awaitedSince = ctx.lastWriteNs;
        } else if (t - awaitedSince >= readPolicy.afterNs && s.order.size === 0 && (queue.peekAt() ?? Infinity) <= t && !farBehind(s, t)) {
          // (not while a connection's pipeline is still being gathered: it would go out in two writes)
          s.readBreak = true; // arm() spins: the event loop reads, then the next turn goes on
          break;
        }
      }
    }
    if (++n % 64 === 0) {
      // behind schedule (a stall): catch up in slices, reading answers in between, so their
      // timestamps stay true and the server is not left waiting on full socket buffers
      if (n >= PUMP_MAX) break;
      t = now(s);
    }
  }
  if (tracing) trace(Ev.Dispatched, now(s), n);
  flushDirty(s);
  s.pumping = false;
  if (tracing) trace(Ev.PumpEnd, now(s), n);
  if (t - s.lastProgress >= PROGRESS_EVERY_NS) progress(s, t);
  arm(s);
  maybeDone(s);
}

/** Arms the wait for the next due item: a spin turn when it is close, else the waker and a backstop timer. */
export function arm(s: WorkerState): void {
  if (s.t0 === null || s.stopped || s.openWaits) return;
  const at = s.queue.peekAt();
  let t = now(s);
  if (s.rec !== null && s.rec.pending && hasSlack(s, t, at)) {
    // the turn's bytes are written and nothing is due soon: encode the closed interval before waiting
    postClosed(s);
    t = now(s);
  }
  const spin = s.spin;
  const answers = answersDue(s, t);
  if (at === undefined) {
    // nothing left to send: stay awake only for answers due any moment
    if (answers) s.immediate ??= setImmediate(s.pumpCb);
    return;
  }
  const delta = at - t;
  if (delta <= spin.spinNs || answers || t < spin.startSpinNs || (s.waker === null && delta < TIMER_SPIN_NS + 1e6)) {
    // close: spin
    if (s.timer !== null) {
      clearTimeout(s.timer);
      s.timer = null;
      s.timerAt = Infinity;
    }
    s.immediate ??= setImmediate(s.pumpCb);
    return;
  }
  if (s.immediate !== null) return; // the spinning turn re-arms
  const sleepable = canSleepHere(s);
  if (delta <= SLEEP_MAX_NS && sleepable) {
    // after this turn of the event loop (whatever it has polled is handled first)
    s.immediate = setImmediate(s.sleepCb);
    return;
  }
  // farther off: the waker wakes the loop (it handles messages meanwhile) in time for that sleep
  if (s.waker !== null) s.waker.at(s.t0 + at - (sleepable ? SLEEP_MAX_NS : spin.wakeEarlyNs));
  if (s.timer !== null && s.timerAt <= at) return;
  if (s.timer !== null) clearTimeout(s.timer);
  s.timerAt = at;
  // with a waker the timer is only a backstop (a starved waker thread wakes the worker late):
  // it fires just after the due time; without one it does the coarse part of the wait
  // capped at setTimeout's 2^31-1 ms (Node fires a longer one at once, with a warning): a
  // longer quiet period in the capture wakes the pump early and it re-arms
  const ms = s.waker !== null ? Math.ceil(delta / 1e6) : Math.floor((delta - TIMER_SPIN_NS) / 1e6);
  s.timer = setTimeout(s.onTimer, ms < MAX_TIMER_MS ? ms : MAX_TIMER_MS);
}

/**
 * Answers are due any moment: the worker stays awake for them, since waking a sleeping thread would
 * be counted as the target's latency (not in max mode: there the next write follows each answer,
 * and CPU per request is the figure).
 */
function answersDue(s: WorkerState, t: number): boolean {
  return !s.ctx.maxMode && s.ctx.inflight > 0 && t - s.ctx.lastWriteNs < s.spin.answerSpinNs;
}

/** Nothing is due within ENCODE_GAP_NS of run time `t` (`at`: the next item's due time) and no answer is about to arrive. */
function hasSlack(s: WorkerState, t: number, at: number | undefined): boolean {
  return (at === undefined || at - t >= ENCODE_GAP_NS) && !answersDue(s, t);
}

/** Nothing that needs a timestamp or an answer can arrive while the thread sleeps in Atomics.wait. */
function canSleepHere(s: WorkerState): boolean {
  const ctx = s.ctx;
  return ctx.inflight === 0 && ctx.dialling === 0 && s.order.size === 0 && !ctx.maxMode && !s.stopped && !writesPending(ctx.backlog);
}

/** Some socket still holds bytes that the event loop writes once the kernel takes them (a large pipeline of quiet sets). */
function writesPending(backlog: { readonly writableLength: number }[]): boolean {
  if (backlog.length === 0) return false;
  let k = 0;
  for (const b of backlog) if (b.writableLength > 0) backlog[k++] = b;
  backlog.length = k;
  return k > 0;
}

/** Sleeps in this thread until SLEEP_EARLY_NS before the next due item (if that is still right), then pumps. */
export function sleepThenPump(s: WorkerState): void {
  s.immediate = null;
  if (s.t0 === null || s.finishedAll) return;
  const at = s.queue.peekAt();
  if (at !== undefined && canSleepHere(s)) {
    const t = now(s);
    // (at normal priority the futex wait ends later, and the spin is longer: wake as early as the waker would)
    const ns = at - Math.max(SLEEP_EARLY_NS, s.spin.wakeEarlyNs) - t;
    if (ns > 0 && ns <= SLEEP_MAX_NS) {
      Atomics.wait(s.sleepCell, 0, 0, ns / 1e6);
      s.rec?.excuseEventLoop(now(s) - t);
    }
  }
  pump(s, Ev.WakeSleep);
}

/** The waker thread's call: pump unless a spin turn is already due. */
export function wake(s: WorkerState): void {
  if (s.immediate === null && !s.finishedAll) pump(s, Ev.WakeWaker);
}

/** Every CHECK_MS: timeouts and stalls of the connections, the drain deadline, progress, the closed interval's snapshot. */
function check(s: WorkerState): void {
  if (s.t0 === null) return;
  const t = now(s);
  for (const c of s.conns.values()) c.check(t);
  if (s.drainDeadline !== null && t > s.drainDeadline) for (const c of [...s.conns.values()]) c.expire(t);
  if (t - s.lastProgress >= PROGRESS_EVERY_NS) progress(s, t);
  // the closed interval ended at the last boundary passed (one interval before the next)
  if (s.rec !== null && s.rec.pending && (hasSlack(s, t, s.queue.peekAt()) || t - (s.nextBoundary - s.intervalNs) >= s.intervalNs * ENCODE_LATE_SHARE)) postClosed(s);
  maybeDone(s);
}

/** Starts the schedule: t0 is `t0Ns` on the monoNs clock. */
export function begin(s: WorkerState, t0Ns: number): void {
  if (s.t0 !== null) return;
  s.t0 = t0Ns;
  // the interval clock first: now() closes intervals, and a worker that begins after t0 (late
  // 'start') would otherwise close one against the boundary of before the run and post index 0 twice
  s.nextBoundary = s.intervalNs;
  s.curIndex = 0;
  if (tracing && !s.rehearsal) traceGc(() => now(s), s.queue.size);
  // event-loop delay counts from t0: start-up work (init, sync) is no stall of the schedule
  s.rec?.resetEventLoop();
  s.checkTimer = setInterval(() => check(s), CHECK_MS);
  arm(s);
}
