// The replay coordinator (main thread): wires the pipeline's stages together and owns the run's
// start and stop. Stages: a request source (file-source.ts: the capture read ahead), a schedule
// (capture-schedule.ts: capture clock compressed by --rate), the feed that shapes requests into
// worker items (feed.ts), the worker pool (worker-pool.ts), and the results sink (the Aggregator
// plus results-sink.ts). It fixes t0, stops the run on duration, ramp end, interrupt or the end of
// the workload, and assembles the outcome.
import { type ExtractResult } from '../workload/extract.js';
import type { ShapeOptions } from '../workload/shape.js';
import { createHasher, type KeyHasher } from '../topology/hashing.js';
import { formatHostPort, targetAddresses, type HostPort, type TargetPlan } from '../topology/targets.js';
import { Aggregator, type AggregateResult, type Progress } from '../metrics/aggregate.js';
import { initMetrics } from '../metrics/histogram.js';
import type { CapturedCommand, Interval, ResultsFile } from '../metrics/results-types.js';
import type { IntervalStore } from '../metrics/rollup.js';
import { McError, type ErrorCode } from '../errors.js';
import { clockBaseSec, monoNs } from './clock.js';
import { fixT0 } from './start-at.js';
import { shardFilter, type ShardSpec } from './shard.js';
import { makeSchedule, type Schedule } from './schedule.js';
import type { RateSpec } from './parse.js';
import type { TargetAddr, ToWorker, WorkerTotals } from './messages.js';
import { CasTable } from './cas-table.js';
import { lowerThreadPriority, senderPriority, type PriorityMode } from './priority.js';
import { availableParallelism } from 'node:os';
import { captureEpochSec } from './capture-epoch.js';
import type { AuthCred, AuthMech } from './auth.js';
import { probeTargetAuth, resolveAll, workerAuth, type ProbeResult } from './probe.js';
import { startWorkerPool } from './worker-pool.js';
import { newFeedState } from './feed.js';
import { createCapturedSink, runTotals } from './results-sink.js';
import { runFileSource, type FileSourceResult } from './file-source.js';
import { runLiveSource, type LiveInput } from './live-source.js';
import type { LiveClockStats } from './live-schedule.js';

/** Everything a replay run needs, already parsed and validated. */
export interface ReplaySetup {
  input: string;
  targets: TargetPlan;
  rate: RateSpec;
  shape: ShapeOptions;
  clone: number;
  cloneKeys: boolean;
  loop: boolean;
  durationNs: number | null;
  /** TTL compression; null = follow the rate in force. */
  ttlScale: number | null;
  workers: number;
  timeoutNs: number;
  serverPorts: number[];
  anyPort: boolean;
  /** --ascii-auth: the captured servers ran with -Y (each connection's first `set` is credentials). */
  asciiAuth?: boolean;
  auth: { user: string; password: string } | null;
  allowSourceTarget: boolean;
  intervalNs: number;
  /** How far ahead of the schedule the workload is read, ns (Infinity: as far as the look-ahead bound of requests and bytes allows). */
  lookAheadNs: number;
  warmup: { ns: number | null; requests: number | null };
  /** Sample worker event-loop delay (default true). */
  eventLoop?: boolean;
  /** --priority: how the sending threads ask for the CPU (default 'auto', priority.ts). */
  priority?: PriorityMode;
  /** --shard i/N: replay only this shard's captured connections (src/replay/shard.ts). */
  shard?: ShardSpec | null;
  /** --start-at: t0 at this wall-clock time, epoch ms (src/replay/start-at.ts). */
  startAtMs?: number | null;
  /** A live mirror: the requests come from this stream on the live clock (input, rate, loop unused). */
  live?: LiveInput;
  /** Interrupt: the run stops, workers abandon in-flight requests after a short grace. */
  signal?: AbortSignal;
  /** Called once the run state exists, with a live view of what the capture answered per command (--metrics). */
  onCaptured?(byCmd: ReadonlyMap<string, { count: number; hits: number; misses: number }>): void;
  /** Called once per completed interval (all workers), in order. */
  onInterval?(iv: Interval, p: Progress): void;
  /** Where the run keeps its closed intervals (default: all; a long run rolls old ones up, src/metrics/rollup.ts). */
  intervalStore?: IntervalStore;
  /** Called once the run is under way with a function that returns the outcome so far (periodic results.json of a long run). */
  onCheckpoint?(soFar: () => ReplayOutcome): void;
  /**
   * Called once the schedule's t0 is fixed, with a run clock (ns since t0); per target (in the
   * order of targetAddresses), how it takes the credentials: what a stats poller needs to log in;
   * and warnings about the run that the look-ahead read before t0 already shows.
   */
  onStart?(clock: () => number, targetAuth: ((AuthCred & { mech: AuthMech }) | null)[], warnings: string[]): void;
}

/** Why the run ended. */
export type StopReason = 'complete' | 'duration' | 'ramp-end' | 'interrupted';

/** What a replay run produced, for the results file. */
export interface ReplayOutcome {
  /** t0 on the wall clock (epoch ms) and how late this process fixed it after --start-at (ns). */
  t0Wall?: { ms: number; lateNs: number };
  startedAt: Date;
  endedAt: Date;
  stopReason: StopReason;
  aggregate: AggregateResult;
  extract: ExtractResult | null;
  captured: Record<string, CapturedCommand>;
  capture: { connections: number; requests: number; replayable: number };
  totals: WorkerTotals;
  /** Requests in the shaped workload (after clone/pool split): sent + held back + unsent. */
  shapedRequests: number;
  heldBack: Record<string, number>;
  passes: number;
  /** False when the run stopped before the whole capture was read (interrupt, loop). */
  captureFullyRead: boolean;
  targets: TargetAddr[];
  runEndNs: number;
  squeezedNs: number;
  warnings: string[];
  /** CPU of this process (every thread) from t0 until the last worker finished, µs; null if the run never started. */
  replayCpu: { userUs: number; sysUs: number } | null;
  /** A live mirror: what its clock saw of the capture host's clock. */
  liveClock?: LiveClockStats;
  /** What each worker thread ran at ('SCHED_FIFO 1', 'nice -10', 'unchanged'). */
  senderPriority: string[];
}

/**
 * t0 is fixed only once every worker is started, warmed up, holds the first part of the schedule and
 * has its mid-way connections up; the margin covers the 'start' message reaching them.
 */
const START_MARGIN_NS = 20e6;
const INTERRUPT_GRACE_NS = 250e6;

/** Runs a replay to its end and returns what it measured. Throws McError on setup problems (unreachable target: exit 3). */
export async function runReplay(setup: ReplaySetup): Promise<ReplayOutcome> {
  const warnings: string[] = [];
  if (setup.loop && setup.input === '-') throw new McError('--loop needs a capture file, not stdin', 'MCR_ERR_BAD_OPTION');
  await initMetrics();

  // ---- targets -------------------------------------------------------------------------------
  const plan = setup.targets;
  const addrs: HostPort[] = plan.kind === 'pool' ? plan.members : targetAddresses(plan);
  const targets: TargetAddr[] = addrs.map((hp) => ({ host: hp.host, port: hp.port, name: formatHostPort(hp) }));
  const targetIndex = new Map<string, number>(targets.map((t, i) => [t.name, i]));
  const hasher: KeyHasher | null = plan.kind === 'pool' ? createHasher(plan.hash, plan.members) : null;

  // every target must answer before any load is sent (checked below, while the workers start)
  const probing = Promise.all(targets.map((t) => probeTargetAuth(t, 2000, setup.auth).catch((e: Error) => ({ why: `${t.name}: ${e.message}`, code: e instanceof McError ? e.code : ('MCR_ERR_TARGET_UNREACHABLE' as const) }))));
  // addresses of the targets, for the "replaying into the captured server" guard
  const targetEndpoints = new Set<string>();
  const resolving = Promise.all(
    targets.map(async (t) => {
      for (const a of await resolveAll(t.host)) targetEndpoints.add(`${a.includes(':') ? `[${a}]` : a}:${t.port}`);
    }),
  );
  const epochP = setup.live ? Promise.resolve(null) : captureEpochSec(setup.input);
  const schedule: Schedule = makeSchedule(setup.rate);
  const maxMode = setup.rate.mode === 'max';
  const clones = Math.max(1, setup.clone);

  // ---- workers -------------------------------------------------------------------------------
  const baseSec = clockBaseSec();
  const nWorkers = Math.max(1, setup.workers);
  // one table for all workers: a pooled client reads a token on one connection and uses it on another
  const casTable = CasTable.create();
  /** The run state below exists (handlers may stop the run); before that a failure only records `fatal`. */
  let running = false;

  const agg = new Aggregator({
    workers: nWorkers,
    intervalNs: setup.intervalNs,
    rate: setup.rate.mode === 'factor' ? { mode: 'factor', factor: setup.rate.factor } : setup.rate,
    warmup: setup.warmup,
    onInterval: (iv) => setup.onInterval?.(iv, agg.progress()),
    ...(setup.intervalStore ? { store: setup.intervalStore } : {}),
  });

  const pool = startWorkerPool(nWorkers, agg, () => {
    if (running) stopRun('interrupted');
  });
  const { workers, workerTotals, batches, done, send, flushAll, posted1 } = pool;
  const probed = await probing;
  const bad = probed.filter((p): p is { why: string; code: ErrorCode } => 'why' in p);
  if (bad.length > 0) {
    await pool.terminate();
    agg.destroy();
    const authIssue = bad.some((b) => b.code === 'MCR_ERR_TARGET_AUTH');
    throw new McError(
      `${authIssue ? 'target authentication failed' : 'target unreachable'}, nothing was sent: ${bad.map((b) => b.why).join('; ')}`,
      authIssue ? 'MCR_ERR_TARGET_AUTH' : bad[0]!.code,
      authIssue
        ? "give the target's user with --sasl-user and its password in MCREPLAY_SASL_PASSWORD (binary SASL PLAIN for memcached -S, ascii auth for memcached -Y)"
        : 'check the address and that memcached runs there (--target host:port)',
    );
  }
  // init (and with it the workers' first connections) only once the credentials proved right and
  // it is known how the targets take them
  const auth = workerAuth(setup.auth, probed as ProbeResult[], warnings);
  // memcached -S speaks only the binary protocol: text and meta requests sent to it fail
  const binaryOnly = auth?.mech === 'sasl';
  const prio = senderPriority(setup.priority ?? 'auto', { maxMode, live: setup.live !== undefined, workers: nWorkers, cpus: availableParallelism() });
  if (prio.warning !== null) warnings.push(prio.warning);
  workers.forEach((worker, w) => {
    if (done[w]) return;
    worker.postMessage({
      t: 'init',
      init: { worker: w, baseSec, targets, timeoutNs: setup.timeoutNs, maxMode, intervalNs: setup.intervalNs, auth, eventLoop: setup.eventLoop ?? true, casTable: casTable.buffer, priority: prio.mode },
    } satisfies ToWorker);
  });
  await resolving;
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
  let t0: number | null = null;
  const runNow = (): number => (t0 === null ? 0 : monoNs(baseSec) - t0);
  let stopReason: StopReason | null = null;
  let counting = false; // after a stop without loop: read on only to count the rest as unsent
  const st = newFeedState();
  const captured = createCapturedSink(setup.live ? agg.pairs : null);
  setup.onCaptured?.(captured.byCmd);
  let durationTimer: NodeJS.Timeout | null = null;
  const extractAbort = new AbortController();
  let captureFullyRead = true;

  let startP: Promise<void> | null = null;
  let t0Wall: { ms: number; lateNs: number } | undefined;
  const keepConnection = setup.shard && !setup.live ? await shardFilter(setup, setup.shard) : undefined;
  let cpuAtT0: NodeJS.CpuUsage | null = null;
  /** Fixes t0 once every worker holds the start of the schedule (idempotent). */
  function start(): Promise<void> {
    startP ??= (async () => {
      flushAll();
      await pool.sync();
      const fix = await fixT0(setup.startAtMs ?? null, baseSec, START_MARGIN_NS, setup.signal);
      t0 = fix.t0;
      t0Wall = { ms: fix.wallMs, lateNs: fix.lateNs };
      cpuAtT0 = process.cpuUsage();
      for (let w = 0; w < nWorkers; w++) send(w, { t: 'start', t0Ns: fix.t0 });
      flushAll();
      const early: string[] = [];
      if (fix.lateNs > 0) {
        const w = `started ${(fix.lateNs / 1e6).toFixed(1)} ms after --start-at ${new Date(fix.wallMs).toISOString()}: t0 stays the common one, so the first requests are late by up to that much (see the lag)`;
        warnings.push(w);
        early.push(w);
      }
      if (st.textToBinaryOnly > 0) {
        early.push(
          `${st.textToBinaryOnly} of the first ${st.shapedRequests} requests are text/meta for targets that take binary SASL (memcached -S), which speak only the binary protocol: they will fail (reset, timeout); replay such a capture against a target without -S`,
        );
      }
      setup.onStart?.(
        runNow,
        (probed as ProbeResult[]).map((p) => (setup.auth !== null && (p.auth === 'sasl' || p.auth === 'ascii') ? { ...setup.auth, mech: p.auth } : null)),
        early,
      );
      const cutoff = Math.min(setup.durationNs ?? Infinity, schedule.endNs ?? Infinity);
      if (Number.isFinite(cutoff)) {
        const arm = (): void => {
          const left = cutoff - runNow();
          if (left <= 0) stopRun(setup.durationNs !== null && setup.durationNs <= (schedule.endNs ?? Infinity) ? 'duration' : 'ramp-end');
          else durationTimer = setTimeout(arm, Math.min(2 ** 31 - 1, Math.ceil(left / 1e6)));
        };
        if (stopReason === null) arm();
      }
      if (stopReason !== null) sendStop();
    })();
    return startP;
  }

  function sendStop(): void {
    flushAll();
    const grace = stopReason === 'interrupted' ? INTERRUPT_GRACE_NS : setup.timeoutNs;
    for (let w = 0; w < nWorkers; w++) send(w, { t: 'stop', graceNs: grace });
  }

  function stopRun(reason: StopReason): void {
    if (stopReason !== null) return;
    stopReason = reason;
    if (durationTimer) clearTimeout(durationTimer);
    // before t0 the stop goes out right after the start
    if (t0 !== null) sendStop();
    else void start();
    if (reason === 'interrupted' || setup.loop || setup.live) {
      captureFullyRead = false;
      extractAbort.abort();
    } else {
      counting = true;
    }
    pool.wakeProgress();
  }

  running = true;
  const onAbort = (): void => stopRun('interrupted');
  if (setup.signal) {
    if (setup.signal.aborted) onAbort();
    else setup.signal.addEventListener('abort', onAbort, { once: true });
  }

  // ---- the source: passes over the capture ---------------------------------------------------
  const feed = {
    setup,
    plan,
    hasher,
    clones,
    targetIndex,
    targetEndpoints,
    epochSec,
    binaryOnly,
    pool,
    captured,
    st,
    stopped: () => stopReason !== null,
    counting: () => counting,
    ...(keepConnection ? { keepConnection } : {}),
  };
  let source: FileSourceResult = { firstExtract: null, passes: 0, squeezedNs: 0 };
  let liveClockStats: LiveClockStats | undefined;
  const startedAt = new Date();
  // a long run's checkpoint: what the run measured so far, shaped as its end will be
  setup.onCheckpoint?.(() => ({
    startedAt, endedAt: new Date(), stopReason: stopReason ?? 'interrupted', aggregate: agg.snapshot(), extract: null, captured: captured.snapshot(),
    capture: { connections: st.capConnections, requests: st.capRequests, replayable: st.capRequests - st.capUnreplayable },
    totals: runTotals(workerTotals, 0, []), shapedRequests: st.shapedRequests, heldBack: { ...st.heldBack }, passes: 1, captureFullyRead: false, targets,
    runEndNs: runNow(), squeezedNs: 0, warnings: [...warnings], senderPriority: [...pool.priorities], replayCpu: cpuAtT0 === null ? null : ((c) => ({ userUs: c.user, sysUs: c.system }))(process.cpuUsage(cpuAtT0)),
    ...(t0Wall ? { t0Wall } : {}),
  }));
  try {
    if (setup.live) {
      const r = await runLiveSource({ setup, live: setup.live, pool, feed, extractAbort, start, runNow });
      source = { firstExtract: r.extract, passes: 1, squeezedNs: 0 };
      liveClockStats = r.clock;
    } else source = await runFileSource({ setup, schedule, maxMode, pool, feed, extractAbort, started: () => t0 !== null, start, runNow });
  } catch (err) {
    if (!pool.fatal && !(err instanceof McError)) pool.fatal = err instanceof Error ? err : new Error(String(err));
    else if (err instanceof McError) pool.fatal = err;
    stopRun('interrupted');
  }
  await start();
  // requests beyond the end of the run that were counted while reading
  for (const [cmd, n] of st.unsentByCmd) {
    batches[0]!.unsent(cmd, n);
    posted1(0, 0, 0);
  }
  flushAll();
  for (let w = 0; w < nWorkers; w++) send(w, { t: 'end' });
  await pool.allDone;
  const cpu = cpuAtT0 === null ? null : process.cpuUsage(cpuAtT0);
  restorePriority();
  if (durationTimer) clearTimeout(durationTimer);
  setup.signal?.removeEventListener('abort', onAbort);
  await pool.terminate();
  if (pool.fatal) {
    agg.destroy();
    captured.destroy();
    throw pool.fatal;
  }

  const runEndNs = pool.runEndNs;
  const aggregate = agg.finish(runEndNs);
  const capturedOut = captured.finish();
  const totals = runTotals(workerTotals, st.textToBinaryOnly, warnings);
  return {
    startedAt,
    endedAt: new Date(),
    stopReason: stopReason ?? 'complete',
    aggregate,
    extract: source.firstExtract,
    captured: capturedOut,
    capture: { connections: st.capConnections, requests: st.capRequests, replayable: st.capRequests - st.capUnreplayable },
    totals,
    shapedRequests: st.shapedRequests,
    heldBack: st.heldBack,
    passes: source.passes,
    captureFullyRead,
    targets,
    runEndNs,
    squeezedNs: source.squeezedNs,
    warnings,
    replayCpu: cpu === null ? null : { userUs: cpu.user, sysUs: cpu.system },
    senderPriority: [...pool.priorities],
    ...(liveClockStats ? { liveClock: liveClockStats } : {}),
    ...(t0Wall ? { t0Wall } : {}),
  };
}

export { probeTarget, probeTargetAuth, type ProbeResult } from './probe.js';
export { routePool, type PoolPart } from './pool-route.js';

/** The `config.rate` value of results.json for a rate spec. */
export function rateConfig(rate: RateSpec): ResultsFile['config']['rate'] {
  return rate;
}
