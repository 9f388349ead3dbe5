// The worker's rehearsal before t0: one request of each kind the capture starts with, replayed a
// few hundred times on a short schedule of its own through a throwaway worker state (the same pump,
// write order, connection, response matcher and recorder functions as the run) against an
// in-process target that answers as a memcached holding every key would (warm-target.ts). V8
// compiles a function only when it first runs and optimises it only after it has run often with the
// same kinds of values: before this, the first requests of each kind in a capture ran cold inside
// the schedule (a 30-request capture's answers took 0.5 ms to parse, 9 ms at worst, while the
// target had answered in 75 µs; README "Design notes"). Nothing of it reaches the real targets.
import { commandInfo } from '../protocol/index.js';
import { IntervalRecorder } from '../metrics/recorder.js';
import { monoNs } from './clock.js';
import { CasTable } from './cas-table.js';
import { BatchWriter } from './batch.js';
import { startWarmTarget } from './warm-target.js';
import { maybeDone, type WorkerPort, type WorkerState } from './worker-state.js';
import { begin } from './worker-timing.js';
import { configureWorker, newWorkerState } from './worker-setup.js';
import type { FromWorker, PackedBatch, ReqItem } from './messages.js';

/** Connections of the rehearsal: more than one, so that a turn writes to several. */
const CONNS = 4;
/** About this many requests in all, each kind at least MIN_ROUNDS times per connection. */
const BUDGET = 2400;
const MIN_ROUNDS = 10;
const MAX_ROUNDS = 100;
/**
 * Gaps between rounds, in turn: one inside a spin turn, one the worker waits for asleep and in
 * which it encodes a closed interval (worker-timing.ts: a gap of 2 ms or more).
 */
const GAPS_NS = [150e3, 2.5e6] as const;
/** The first requests are due this long after the rehearsal's opens (loopback connects in ~0.1 ms). */
const FIRST_NS = 2e6;
/** A short interval: the rehearsal also runs the interval snapshots with the capture's command names. */
const INTERVAL_NS = 10e6;
/** A rehearsal that has not ended after `timeoutMs` is abandoned (the run must not wait on it); a test shortens it. */
export const rehearsalLimits = { timeoutMs: 2000 };
const CAS_ENTRIES = 1024;
/** Requests larger than this are not rehearsed (a 1 MB set would be copied hundreds of times), and all rounds together send at most BUDGET_BYTES. */
const MAX_REQUEST_BYTES = 64 * 1024;
const BUDGET_BYTES = 16 * 1024 * 1024;

/**
 * Requests a rehearsal runs: not quit (it closes the connection), not credentials (never sent
 * anywhere), not a command the server does not know: its ERROR is also how memcached answers a
 * noreply request that failed, so after a quiet request it would be taken for that one's answer and
 * leave the rehearsal's connection out of step (a real server's bytes would say the same).
 */
function rehearsable(it: ReqItem): boolean {
  const cls = commandInfo(it.proto, it.cmd).cls;
  return cls !== 'session' && cls !== 'auth' && cls !== 'unknown' && it.raw.length <= MAX_REQUEST_BYTES;
}

/** The rehearsal's schedule: CONNS connections, each sending every kind once per round, rounds GAPS_NS apart. */
function schedule(kinds: readonly ReqItem[]): { batch: PackedBatch; requests: number } {
  const byCount = Math.min(MAX_ROUNDS, Math.max(MIN_ROUNDS, Math.round(BUDGET / (CONNS * kinds.length))));
  const roundBytes = CONNS * kinds.reduce((n, it) => n + it.raw.length, 0);
  const rounds = Math.max(1, Math.min(byCount, Math.floor(BUDGET_BYTES / roundBytes)));
  const w = new BatchWriter(CONNS * (rounds * kinds.length + 2));
  for (let c = 0; c < CONNS; c++) w.open(0, c, 0, false);
  let at = FIRST_NS;
  for (let r = 0; r < rounds; r++) {
    for (let c = 0; c < CONNS; c++) {
      kinds.forEach((it, k) => {
        w.req({
          at,
          conn: c,
          proto: it.proto,
          cmd: it.cmd,
          expect: it.expect,
          quiet: it.quiet,
          opaque: it.opaque,
          keys: it.keys,
          metaFlags: it.metaFlags,
          raw: it.raw,
          absExpSec: it.absExpSec,
          cas: it.casKey !== null,
          pipelined: k > 0,
        });
      });
    }
    at += GAPS_NS[r % GAPS_NS.length]!;
  }
  for (let c = 0; c < CONNS; c++) w.close(at, c);
  return { batch: w.take().batch, requests: CONNS * rounds * kinds.length };
}

/**
 * Rehearses `samples` (one request per kind) in worker `real`'s thread and adds what it did to its
 * totals (results.json config.options.rehearsal); nothing when there is nothing to rehearse or no
 * in-process target could start.
 */
export async function rehearse(real: WorkerState, samples: readonly ReqItem[]): Promise<void> {
  // --rate max keeps no schedule: compiling on its first requests costs it only CPU, which the
  // rehearsal's ~0.25 s would add to (its CPU per request is a figure of its own)
  if (real.init === null || real.init.maxMode) return;
  const kinds = samples.filter(rehearsable);
  if (kinds.length === 0) return;
  const target = await startWarmTarget().catch(() => null);
  if (target === null) return;
  try {
    let finished: () => void = () => {};
    const done = new Promise<void>((resolve) => (finished = resolve));
    const port: WorkerPort = {
      postMessage(m: FromWorker) {
        if (m.t === 'done' || m.t === 'fatal') finished();
      },
      on() {},
    };
    const s = newWorkerState(port);
    s.rehearsal = true;
    configureWorker(s, { ...real.init, targets: [target.target], auth: null, intervalNs: INTERVAL_NS });
    s.spin = real.spin;
    s.ctx.cas = CasTable.create(CAS_ENTRIES);
    s.rec = new IntervalRecorder({ worker: real.init.worker, eventLoop: false, intervalNs: INTERVAL_NS });
    s.ctx.rec = s.rec;
    const { batch, requests } = schedule(kinds);
    s.queue.add(batch);
    s.ended = true; // nothing more comes: it finishes once its connections have closed
    const timer = setTimeout(() => {
      abandon(s);
      finished();
    }, rehearsalLimits.timeoutMs);
    begin(s, monoNs(s.baseSec));
    await done;
    clearTimeout(timer);
    real.totals.rehearsalRequests += requests;
    real.totals.rehearsed += s.totals.completed;
    real.totals.rehearsalKinds = Math.max(real.totals.rehearsalKinds, kinds.length);
  } finally {
    await target.close();
  }
}

/** Ends a rehearsal that overran: what is queued is dropped, what is open is abandoned, and its timers stop whatever is left. */
function abandon(s: WorkerState): void {
  s.stopped = true;
  s.queue.drainCounted(
    () => {},
    () => {},
  );
  for (const c of [...s.conns.values()]) c.abandon();
  maybeDone(s);
  if (s.finishedAll) return;
  s.finishedAll = true;
  if (s.checkTimer) clearInterval(s.checkTimer);
  if (s.timer) clearTimeout(s.timer);
  if (s.immediate) clearImmediate(s.immediate);
  s.rec?.destroy();
}
