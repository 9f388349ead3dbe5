// A replay worker run in the test's own thread (runWorker on a port of the test's), driven through
// the coordinator's messages: for tests that watch which of its functions run, and in what order.
// runWorker is passed in, so that a test may set up the environment (MCREPLAY_TRACE) before the
// worker's modules load.
import type { FromWorker, TargetAddr, ToWorker, WorkerInit } from '../../src/replay/messages.js';
import type { WorkerPort } from '../../src/replay/worker-state.js';
import { CasTable } from '../../src/replay/cas-table.js';
import { clockBaseSec, monoNs } from '../../src/replay/clock.js';
import type { Memcached } from '../helpers/memcached.js';
import { waitFor } from '../helpers/wait.js';

/** A worker in this thread: what it posted so far, and how to send it a message. */
export interface InThreadWorker {
  got: FromWorker[];
  send(m: ToWorker): void;
  baseSec: number;
}

/** A worker's 'init' for tests: worker 0 replaying to `target` at normal priority (`init` overrides the rest). */
export function testInit(target: TargetAddr, init: Partial<WorkerInit> = {}): WorkerInit {
  return { worker: 0, baseSec: clockBaseSec(), targets: [target], timeoutNs: 2e9, maxMode: false, intervalNs: 1e9, auth: null, eventLoop: true, casTable: CasTable.create(64).buffer, priority: 'normal', ...init };
}

/** Starts a worker in this thread replaying to `mc` (`init` overrides the defaults) and waits for its 'ready'. */
export async function startInThread(runWorker: (port: WorkerPort) => void, mc: Memcached, init: Partial<WorkerInit> = {}): Promise<InThreadWorker> {
  const got: FromWorker[] = [];
  const handlers: ((m: ToWorker) => void)[] = [];
  const port: WorkerPort = { postMessage: (m) => got.push(m), on: (_ev, f) => handlers.push(f) };
  const w: InThreadWorker = {
    got,
    send(m) {
      for (const h of handlers) h(m);
    },
    baseSec: clockBaseSec(),
  };
  runWorker(port);
  w.send({ t: 'init', init: testInit({ host: mc.host, port: mc.port, name: mc.address }, { baseSec: w.baseSec, ...init }) });
  await waitFor('ready', () => got.some((m) => m.t === 'ready' || m.t === 'fatal'), 20_000);
  return w;
}

/** Hands the worker its schedule (a 'batch') and waits until it is synced (connections opened, rehearsal done). */
export async function syncSchedule(w: InThreadWorker, batch: ToWorker): Promise<void> {
  w.send(batch);
  w.send({ t: 'sync' });
  await waitFor('synced', () => w.got.some((m) => m.t === 'synced' || m.t === 'fatal'), 20_000);
}

/** Starts the schedule `t0InNs` from now (negative: already begun), ends the workload and waits for 'done'. */
export async function runToDone(w: InThreadWorker, t0InNs: number): Promise<void> {
  w.send({ t: 'start', t0Ns: monoNs(w.baseSec) + t0InNs });
  w.send({ t: 'end' });
  await waitFor('done', () => w.got.some((m) => m.t === 'done' || m.t === 'fatal'), 30_000);
}

/** Wraps method `name` of `obj` (a prototype) to call `spy` after it, with `this`, the arguments and the result; returns the undo. */
export function wrap<T extends object>(obj: T, name: string, spy: (self: unknown, args: unknown[], result: unknown) => void): () => void {
  const o = obj as Record<string, unknown>;
  const orig = o[name] as (...a: unknown[]) => unknown;
  o[name] = function (this: unknown, ...args: unknown[]): unknown {
    const result = orig.apply(this, args);
    spy(this, args, result);
    return result;
  };
  return () => {
    o[name] = orig;
  };
}
