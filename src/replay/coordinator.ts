// The replay coordinator (main thread): wires the pipeline's stages together. Stages: the targets
// (run-targets.ts: probe, resolution, the workers' init), a request source (file-source.ts: the
// capture read ahead; live-source.ts: a mirror), a schedule (capture-schedule.ts: capture clock
// compressed by --rate), the feed that shapes requests into worker items (feed.ts), the worker pool
// (worker-pool.ts), the run's start and stop (run-control.ts: t0, duration, ramp end, interrupt),
// and the results (the Aggregator, results-sink.ts, run-outcome.ts). Its types are in run-types.ts.
import { Aggregator } from '../metrics/aggregate.js';
import { initMetrics } from '../metrics/histogram.js';
import { McError } from '../errors.js';
import { clockBaseSec } from './clock.js';
import { shardFilter } from './shard.js';
import { makeSchedule, type Schedule } from './schedule.js';
import { CasTable } from './cas-table.js';
import { lowerThreadPriority } from './priority.js';
import { captureEpochSec } from './capture-epoch.js';
import { startWorkerPool, type WorkerPool } from './worker-pool.js';
import { newFeedState } from './feed.js';
import { createCapturedSink } from './results-sink.js';
import { runFileSource, type FileSourceResult, type FileSourceRun } from './file-source.js';
import { runLiveSource } from './live-source.js';
import type { LiveClockStats } from './live-schedule.js';
import { initWorkers, planTargets } from './run-targets.js';
import { createRunControl, STOP_DRAIN, type RunControl } from './run-control.js';
import { checkpointOutcome, finalOutcome, type RunParts } from './run-outcome.js';
import type { ReplayOutcome, ReplaySetup } from './run-types.js';

export type { ReplayOutcome, ReplaySetup, StopReason } from './run-types.js';

/** Runs a replay to its end and returns what it measured. Throws McError on setup problems (unreachable target: exit 3). */
export async function runReplay(setup: ReplaySetup): Promise<ReplayOutcome> {
  const warnings: string[] = [];
  if (setup.loop && setup.input === '-') throw new McError('--loop needs a capture file, not stdin', 'MCR_ERR_BAD_OPTION');
  await initMetrics();
  const tg = planTargets(setup);
  const epochP = setup.live ? Promise.resolve(null) : captureEpochSec(setup.input);
  const schedule: Schedule = makeSchedule(setup.rate);
  const maxMode = setup.rate.mode === 'max';

  // ---- workers -------------------------------------------------------------------------------
  const baseSec = clockBaseSec();
  const nWorkers = Math.max(1, setup.workers);
  // one table for all workers: a pooled client reads a token on one connection and uses it on another
  const casTable = CasTable.create();
  /** The run control exists (handlers may stop the run); before that a failure only records `fatal`. */
  let rc: RunControl | null = null;
  const agg = new Aggregator({
    workers: nWorkers,
    intervalNs: setup.intervalNs,
    rate: setup.rate.mode === 'factor' ? { mode: 'factor', factor: setup.rate.factor } : setup.rate,
    warmup: setup.warmup,
    onInterval: (iv) => setup.onInterval?.(iv, agg.progress()),
    ...(setup.intervalStore ? { store: setup.intervalStore } : {}),
  });
  const pool = startWorkerPool(nWorkers, agg, () => rc?.stopRun('interrupted'));
  const { probed, binaryOnly } = await initWorkers(setup, tg, pool, agg, { baseSec, maxMode, casTable, warnings });
  await tg.resolving;
  const epochSec = await epochP;
  await pool.allReady;
  // the workers' threads exist now and keep their priority: this thread gives way to them
  // (not in a mirror: there this thread reads the capture as it comes, and must keep up with the
  // wire or the kernel drops packets; bench/README.md "Mirror soak")
  const restorePriority = setup.live ? () => {} : lowerThreadPriority();
  if (pool.fatal) {
    restorePriority();
    // a worker failed while starting (before any load)
    await pool.terminate();
    agg.destroy();
    throw pool.fatal;
  }

  // ---- run state -----------------------------------------------------------------------------
  const st = newFeedState();
  const captured = createCapturedSink(setup.live ? agg.pairs : null);
  setup.onCaptured?.(captured.byCmd);
  const keepConnection = setup.shard && !setup.live ? await shardFilter(setup, setup.shard) : undefined;
  const ctl = createRunControl({ setup, pool, schedule, baseSec, st, probed, warnings });
  rc = ctl;
  const onAbort = (): void => ctl.stopRun('interrupted', setup.signal?.reason === STOP_DRAIN);
  if (setup.signal) {
    if (setup.signal.aborted) onAbort();
    else setup.signal.addEventListener('abort', onAbort, { once: true });
  }

  // ---- the source: passes over the capture ---------------------------------------------------
  const { plan, hasher, targetIndex, targetEndpoints, targets } = tg;
  const feed = {
    setup,
    plan,
    hasher,
    clones: Math.max(1, setup.clone),
    targetIndex,
    targetEndpoints,
    epochSec,
    binaryOnly,
    pool,
    captured,
    st,
    stopped: () => ctl.stopReason !== null,
    counting: () => ctl.counting,
    ...(keepConnection ? { keepConnection } : {}),
  };
  const run: RunParts = { pool, agg, ctl, st, captured, targets, warnings, startedAt: new Date() };
  // a long run's checkpoint: what the run measured so far, shaped as its end will be
  setup.onCheckpoint?.(() => checkpointOutcome(run));
  const source = await readSource(setup, { schedule, maxMode, pool, feed, ctl });

  // ---- the end: every worker drains, then the outcome ------------------------------------------
  await ctl.start();
  // requests beyond the end of the run that were counted while reading
  for (const [cmd, n] of st.unsentByCmd) {
    pool.batches[0]!.unsent(cmd, n);
    pool.posted1(0, 0, 0);
  }
  pool.flushAll();
  for (let w = 0; w < nWorkers; w++) pool.send(w, { t: 'end' });
  await pool.allDone;
  // a cut schedule drained before the stop timer fired (a loaded machine) still ended at the cutoff
  if (st.pastCutoff) ctl.reachedCutoff();
  const cpu = ctl.cpuAtT0 === null ? null : process.cpuUsage(ctl.cpuAtT0);
  restorePriority();
  if (ctl.durationTimer) clearTimeout(ctl.durationTimer);
  setup.signal?.removeEventListener('abort', onAbort);
  await pool.terminate();
  if (pool.fatal) {
    agg.destroy();
    captured.destroy();
    throw pool.fatal;
  }
  return finalOutcome(run, source, cpu);
}

/** Reads the workload (a capture file's passes, or a live stream) into the pool; a failure stops the run and is kept as the pool's `fatal`. */
async function readSource(
  setup: ReplaySetup,
  r: { schedule: Schedule; maxMode: boolean; pool: WorkerPool; feed: FileSourceRun['feed']; ctl: RunControl },
): Promise<FileSourceResult & { liveClock?: LiveClockStats }> {
  const { pool, feed, ctl } = r;
  const { extractAbort, start, runNow } = ctl;
  try {
    if (setup.live) {
      const lr = await runLiveSource({ setup, live: setup.live, pool, feed, extractAbort, start, runNow });
      return { firstExtract: lr.extract, passes: 1, squeezedNs: 0, liveClock: lr.clock };
    }
    return await runFileSource({ setup, schedule: r.schedule, maxMode: r.maxMode, pool, feed, extractAbort, started: () => ctl.t0 !== null, start, runNow });
  } catch (err) {
    if (!pool.fatal && !(err instanceof McError)) pool.fatal = err instanceof Error ? err : new Error(String(err));
    else if (err instanceof McError) pool.fatal = err;
    ctl.stopRun('interrupted');
    return { firstExtract: null, passes: 0, squeezedNs: 0 };
  }
}
