// The outcome of a replay run (a coordinator stage): what it measured so far (a long run's
// checkpoint) and at its end, assembled from the pool, the aggregator, the run control and the feed.
import type { Aggregator } from '../metrics/aggregate.js';
import type { TargetAddr } from './messages.js';
import type { WorkerPool } from './worker-pool.js';
import type { FeedState } from './feed.js';
import { runTotals, type CapturedSink } from './results-sink.js';
import type { FileSourceResult } from './file-source.js';
import type { LiveClockStats } from './live-schedule.js';
import type { RunControl } from './run-control.js';
import type { ReplayOutcome } from './run-types.js';

/** The parts of a run its outcome is read from. */
export interface RunParts {
  pool: WorkerPool;
  agg: Aggregator;
  ctl: RunControl;
  st: FeedState;
  captured: CapturedSink;
  targets: TargetAddr[];
  warnings: string[];
  startedAt: Date;
}

/** What the run measured so far, shaped as its end will be (results.json checkpoints of a long run). */
export function checkpointOutcome(r: RunParts): ReplayOutcome {
  const { pool, ctl, st } = r;
  const cpu = ctl.cpuAtT0 === null ? null : process.cpuUsage(ctl.cpuAtT0);
  return {
    startedAt: r.startedAt, endedAt: new Date(), stopReason: ctl.stopReason ?? 'interrupted', aggregate: r.agg.snapshot(), extract: null, captured: r.captured.snapshot(),
    capture: { connections: st.capConnections, requests: st.capRequests, replayable: st.capRequests - st.capUnreplayable },
    totals: runTotals(pool.workerTotals, 0, []), shapedRequests: st.shapedRequests, heldBack: { ...st.heldBack }, passes: 1, captureFullyRead: false, targets: r.targets,
    runEndNs: ctl.runNow(), squeezedNs: 0, warnings: [...r.warnings], senderPriority: [...pool.priorities], replayCpu: cpu === null ? null : { userUs: cpu.user, sysUs: cpu.system },
    ...(ctl.t0Wall ? { t0Wall: ctl.t0Wall } : {}),
  };
}

/** The outcome of a finished run (every worker done); `cpu` is this process's CPU from t0. */
export function finalOutcome(r: RunParts, source: FileSourceResult & { liveClock?: LiveClockStats }, cpu: NodeJS.CpuUsage | null): ReplayOutcome {
  const { pool, ctl, st } = r;
  const runEndNs = pool.runEndNs;
  const aggregate = r.agg.finish(runEndNs);
  const capturedOut = r.captured.finish();
  const totals = runTotals(pool.workerTotals, st.textToBinaryOnly, r.warnings);
  return {
    startedAt: r.startedAt,
    endedAt: new Date(),
    stopReason: ctl.stopReason ?? 'complete',
    aggregate,
    extract: source.firstExtract,
    captured: capturedOut,
    capture: { connections: st.capConnections, requests: st.capRequests, replayable: st.capRequests - st.capUnreplayable },
    totals,
    shapedRequests: st.shapedRequests,
    heldBack: st.heldBack,
    passes: source.passes,
    captureFullyRead: ctl.captureFullyRead,
    targets: r.targets,
    runEndNs,
    squeezedNs: source.squeezedNs,
    warnings: r.warnings,
    replayCpu: cpu === null ? null : { userUs: cpu.user, sysUs: cpu.system },
    senderPriority: [...pool.priorities],
    ...(source.liveClock ? { liveClock: source.liveClock } : {}),
    ...(ctl.t0Wall ? { t0Wall: ctl.t0Wall } : {}),
  };
}
