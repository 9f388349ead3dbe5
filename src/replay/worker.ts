// Replay worker thread: owns a set of replayed connections, sends each request at its intended time
// (open loop) or as soon as its connection allows (max mode), records every outcome into per-interval
// histograms, and posts one snapshot per interval to the coordinator.
// The parts: worker-state.ts (its state, the run clock and the end of the run), worker-setup.ts (its
// making), worker-conns.ts (its connections and the dispatch of work items), worker-timing.ts (the
// timing loop), rehearsal.ts (the run-through before t0); here the handlers of the coordinator's messages.
import { parentPort } from 'node:worker_threads';
import { IntervalRecorder } from '../metrics/recorder.js';
import { monoNs } from './clock.js';
import { CasTable } from './cas-table.js';
import { decodeBatch } from './batch.js';
import { startWaker } from './waker.js';
import { Ev, trace, tracing } from './trace.js';
import { applySenderPriority } from './priority.js';
import { warmUp } from './warmup.js';
import { rehearse } from './rehearsal.js';
import type { PackedBatch, ToWorker, WorkerInit } from './messages.js';
import { flushDirty, maybeDone, now, post, type WorkerState, type WorkerPort } from './worker-state.js';
import { dispatch, sync } from './worker-conns.js';
import { arm, begin, RT_SPIN, wake } from './worker-timing.js';
import { configureWorker, newWorkerState } from './worker-setup.js';

/** Runs a worker on `port` (the worker thread's parentPort). Exported for in-thread tests. */
export function runWorker(port: WorkerPort): void {
  const s = newWorkerState(port);
  port.on('message', (m: ToWorker) => {
    try {
      switch (m.t) {
        case 'init':
          onInit(s, m.init);
          return;
        case 'sync':
          sync(s, (samples) => rehearse(s, samples));
          return;
        case 'start':
          begin(s, m.t0Ns);
          return;
        case 'batch':
          onBatch(s, m.b);
          return;
        case 'stop':
          stop(s, m.graceNs);
          return;
        case 'end':
          s.ended = true;
          maybeDone(s);
          return;
      }
    } catch (err) {
      post(s, { t: 'fatal', worker: s.init?.worker ?? -1, message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    }
  });
}

/** 'init': sender priority, run settings; then (after warm-up) the waker and the recorder, and 'ready'. */
function onInit(s: WorkerState, init: WorkerInit): void {
  configureWorker(s, init);
  // before the waker starts: it inherits this thread's scheduling policy
  const applied = applySenderPriority(init.priority);
  s.priority = applied.label;
  if (applied.realtime) s.spin = RT_SPIN;
  const ctx = s.ctx;
  ctx.cas = new CasTable(init.casTable);
  void warmUp(init)
    .then(() => {
      try {
        s.waker = startWaker(s.baseSec, () => wake(s));
      } catch {
        s.waker = null; // timers only: more spinning, same schedule
      }
      s.rec = new IntervalRecorder({ worker: init.worker, eventLoop: init.eventLoop, intervalNs: init.intervalNs });
      ctx.rec = s.rec;
      post(s, { t: 'ready', worker: init.worker, priority: s.priority });
    })
    .catch((err: unknown) => post(s, { t: 'fatal', worker: s.init?.worker ?? -1, message: err instanceof Error ? (err.stack ?? err.message) : String(err) }));
}

/** 'batch': work items; queued before t0, dispatched at once when stopped. */
function onBatch(s: WorkerState, b: PackedBatch): void {
  if (s.stopped) {
    for (const it of decodeBatch(b)) dispatch(s, it, 0);
    maybeDone(s);
    return;
  }
  if (s.t0 === null) {
    s.queue.add(b);
    return;
  }
  const t = now(s);
  if (tracing) trace(Ev.Batch, t, s.queue.size);
  // connections the capture joined mid-way exist already: open them at once
  s.queue.add(b, (it) => {
    dispatch(s, it, t);
    return true;
  });
  flushDirty(s);
  arm(s);
}

/** 'stop': what is queued is counted unsent; what is in flight gets `graceNs`, then is abandoned. */
function stop(s: WorkerState, graceNs: number): void {
  if (s.stopped) return;
  // stopped before the schedule started: the run clock starts now, so the counts have an interval
  if (s.t0 === null) begin(s, monoNs(s.baseSec));
  s.stopped = true;
  if (s.timer) clearTimeout(s.timer);
  if (s.immediate) clearImmediate(s.immediate);
  s.timer = null;
  s.immediate = null;
  s.queue.drainCounted((cmd) => {
    s.totals.consumed++;
    s.rec!.count(cmd, 'unsent');
    s.totals.unsent++;
  }, (it) => dispatch(s, it, 0));
  for (const c of [...s.conns.values()]) s.totals.unsent += c.stop();
  const abandonAll = (): void => {
    for (const c of [...s.conns.values()]) c.abandon();
    maybeDone(s);
  };
  if (s.conns.size > 0) {
    if (graceNs <= 0) abandonAll();
    else s.graceTimer = setTimeout(abandonAll, Math.ceil(graceNs / 1e6));
  }
  maybeDone(s);
}

if (parentPort !== null) runWorker(parentPort as unknown as WorkerPort);
