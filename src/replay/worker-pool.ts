// The worker pool stage: the replay's worker threads, the batches posted to them, and what they
// report back (ready, synced, interval snapshots, progress, done, failures). The coordinator posts
// items through posted1() and reads the pool's counters; it knows nothing of the message protocol.
import { Worker } from 'node:worker_threads';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Aggregator } from '../metrics/aggregate.js';
import type { FromWorker, ToWorker, WorkerTotals } from './messages.js';
import { BatchWriter } from './batch.js';
import { emptyTotals } from './totals.js';

const BATCH_ITEMS = 2048;

/** Resolves the worker script: dist/replay/worker.js next to this module, or the built copy when run from sources (tests). */
function workerUrl(): URL {
  const here = new URL('./worker.js', import.meta.url);
  if (existsSync(fileURLToPath(here))) return here;
  const built = new URL('../../dist/replay/worker.js', import.meta.url);
  if (existsSync(fileURLToPath(built))) return built;
  throw new Error('replay worker script not found: run `npm run build` first');
}

/** The running worker threads and what was posted to them. */
export interface WorkerPool {
  readonly nWorkers: number;
  readonly workers: Worker[];
  /** Last totals each worker reported (progress or done). */
  readonly workerTotals: WorkerTotals[];
  /** What each worker thread runs at, as it reported when ready ('' until then). */
  readonly priorities: string[];
  readonly batches: BatchWriter[];
  readonly done: boolean[];
  /** The first failure of a worker (the run cannot be trusted after it). */
  fatal: Error | null;
  /** Latest end (run clock ns) any worker reported. */
  runEndNs: number;
  /** Items posted so far, their request bytes, the latest due time among them. */
  postedItems: number;
  postedBytes: number;
  lastAt: number;
  /** Every worker is done (or gone). */
  readonly allDone: Promise<void>;
  /** Every worker is ready (or gone). */
  readonly allReady: Promise<void>;
  send(w: number, m: ToWorker): void;
  flush(w: number): void;
  flushAll(): void;
  /** Counts an item posted to worker `w` (due at `at`); sends the batch when it is full. */
  posted1(w: number, at: number, bytes: number): void;
  /** Items posted and not yet consumed by the workers. */
  outstanding(): number;
  /** Sends `sync` to every worker and resolves once all hold what was posted (or are done). */
  sync(): Promise<void>;
  /** Resolves at the next progress/done report, or after `ms`. */
  waitProgress(ms: number): Promise<void>;
  /** Wakes a waitProgress() now (the run stopped). */
  wakeProgress(): void;
  terminate(): Promise<void>;
}

/** Starts `nWorkers` worker threads feeding `agg`; `onFailure` is called when one fails (the run must stop). */
export function startWorkerPool(nWorkers: number, agg: Aggregator, onFailure: () => void): WorkerPool {
  const url = workerUrl();
  const workers: Worker[] = [];
  const workerTotals: WorkerTotals[] = [];
  const priorities: string[] = [];
  const posted: number[] = [];
  const batches: BatchWriter[] = [];
  const synced: boolean[] = [];
  const done: boolean[] = [];
  let readyCount = 0;
  let resolveAllDone!: () => void;
  const allDone = new Promise<void>((r) => (resolveAllDone = r));
  let resolveReady!: () => void;
  const allReady = new Promise<void>((r) => (resolveReady = r));
  const readySeen: boolean[] = [];
  /** A worker is ready (or gone: the run then fails, but nothing waits for it forever). */
  const markReady = (w: number): void => {
    if (readySeen[w]) return;
    readySeen[w] = true;
    if (++readyCount === nWorkers) resolveReady();
  };
  let syncWaiter: (() => void) | null = null;
  const checkSynced = (): void => {
    if (syncWaiter !== null && synced.every((x, i) => x || done[i])) {
      const f = syncWaiter;
      syncWaiter = null;
      f();
    }
  };
  let progressWaiter: (() => void) | null = null;
  const wakeProgress = (): void => {
    if (progressWaiter) {
      const f = progressWaiter;
      progressWaiter = null;
      f();
    }
  };

  const pool: WorkerPool = {
    nWorkers,
    workers,
    workerTotals,
    priorities,
    batches,
    done,
    fatal: null,
    runEndNs: 0,
    postedItems: 0,
    postedBytes: 0,
    lastAt: 0,
    allDone,
    allReady,
    send,
    flush,
    flushAll,
    posted1,
    outstanding,
    sync,
    waitProgress,
    wakeProgress,
    terminate: async () => {
      await Promise.all(workers.map((w) => w.terminate().catch(() => 0)));
    },
  };

  function send(w: number, m: ToWorker): void {
    if (!done[w]) workers[w]!.postMessage(m);
  }
  const events: PoolEvents = { synced, markReady, checkSynced, wakeProgress, allDone: () => resolveAllDone(), onFailure };

  for (let w = 0; w < nWorkers; w++) {
    const worker = new Worker(url);
    workers.push(worker);
    workerTotals.push(emptyTotals());
    priorities.push('');
    posted.push(0);
    batches.push(new BatchWriter(BATCH_ITEMS));
    done.push(false);
    synced.push(false);
    listen(worker, w, pool, agg, events);
  }

  function flush(w: number): void {
    const b = batches[w]!;
    if (b.size === 0) return;
    const { batch, transfer } = b.take();
    if (done[w]) return;
    workers[w]!.postMessage({ t: 'batch', b: batch } satisfies ToWorker, transfer);
  }
  function flushAll(): void {
    for (let w = 0; w < nWorkers; w++) flush(w);
  }
  function posted1(w: number, at: number, bytes: number): void {
    if (at > pool.lastAt) pool.lastAt = at;
    posted[w]!++;
    pool.postedItems++;
    pool.postedBytes += bytes;
    if (batches[w]!.full) flush(w);
  }
  function outstanding(): number {
    let consumed = 0;
    for (const t of workerTotals) consumed += t.consumed;
    return pool.postedItems - consumed;
  }
  function sync(): Promise<void> {
    for (let w = 0; w < nWorkers; w++) send(w, { t: 'sync' });
    return new Promise<void>((r) => {
      syncWaiter = r;
      checkSynced();
    });
  }
  async function waitProgress(ms: number): Promise<void> {
    await new Promise<void>((res) => {
      progressWaiter = res;
      setTimeout(res, ms);
    });
    progressWaiter = null;
  }
  return pool;
}

/** What a worker's events change in the pool besides its public fields. */
interface PoolEvents {
  synced: boolean[];
  markReady(w: number): void;
  checkSynced(): void;
  wakeProgress(): void;
  /** Every worker is done. */
  allDone(): void;
  onFailure(): void;
}

/** Follows worker `w`'s reports (ready, synced, snapshots, progress, done, failures) into `pool` and `agg`. */
function listen(worker: Worker, w: number, pool: WorkerPool, agg: Aggregator, h: PoolEvents): void {
  const done = pool.done;
  worker.on('message', (m: FromWorker) => {
    switch (m.t) {
      case 'ready':
        pool.priorities[w] = m.priority;
        h.markReady(w);
        return;
      case 'synced':
        h.synced[m.worker] = true;
        h.checkSynced();
        return;
      case 'snap':
        agg.add(m.snap);
        return;
      case 'progress':
        pool.workerTotals[m.worker] = m.totals;
        h.wakeProgress();
        return;
      case 'done':
        pool.workerTotals[m.worker] = m.totals;
        done[m.worker] = true;
        if (m.endNs > pool.runEndNs) pool.runEndNs = m.endNs;
        agg.workerDone(m.worker);
        h.wakeProgress();
        if (done.every(Boolean)) h.allDone();
        h.checkSynced();
        return;
      case 'fatal':
        pool.fatal ??= new Error(`replay worker ${w} failed: ${m.message}`);
        // its state cannot be trusted to finish the protocol: end it (its 'exit' marks it done)
        void worker.terminate();
        h.onFailure();
        return;
    }
  });
  worker.on('error', (err) => {
    pool.fatal ??= err;
    done[w] = true;
    h.markReady(w);
    agg.workerDone(w);
    if (done.every(Boolean)) h.allDone();
    h.checkSynced();
    h.onFailure();
  });
  worker.on('exit', () => {
    if (!done[w]) {
      done[w] = true;
      pool.fatal ??= new Error(`replay worker ${w} exited early`);
      h.markReady(w);
      agg.workerDone(w);
      if (done.every(Boolean)) h.allDone();
      h.checkSynced();
    }
  });
}
