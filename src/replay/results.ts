// Builds results.json (schema mcreplay.results/1) from a finished replay run, and the engine's own
// verdict: saturation (the generator could not keep the schedule), interruption, and a run that
// measured nothing. Thresholds and
// baselines are applied afterwards by src/report/gate.ts.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { environment } from '../metrics/results.js';
import { CONNECT_AHEAD_NS } from './feed.js';
import { resultsAccountingGaps, heldBackTotal } from '../metrics/counters.js';
import { portHint } from '../workload/port-hint.js';
import { ExitCode } from '../errors.js';
import { RESULTS_SCHEMA, type ResultsFile, type Verdict } from '../metrics/results-types.js';
import { VERSION } from '../version.js';
import { isPreparedFile, openPrepared } from '../workload/prepared-read.js';
import { epochNsString } from './start-at.js';
import { describeTargets } from '../topology/targets.js';
import type { ReplayOutcome, ReplaySetup } from './coordinator.js';

/** Limits that make a run invalid (saturated). */
export interface SaturationLimits {
  /** p99 of schedule lag above this → saturated (open-loop modes only). */
  maxLagNs: number;
  /** Worst event-loop delay of a worker above this → saturated. */
  maxStallNs: number;
}

/** Default limits; documented in the replay --help and README. */
export const DEFAULT_LIMITS: SaturationLimits = { maxLagNs: 10e6, maxStallNs: 250e6 };

/** sha256 and size of the capture file ('-' gives an empty identity). */
export async function captureIdentity(path: string): Promise<{ sha256: string; bytes: number }> {
  if (path === '-') return { sha256: '', bytes: 0 };
  // a prepared workload stands for its capture (merge and --baseline compare captures)
  if (isPreparedFile(path)) return preparedCaptureIdentity(path);
  const st = await stat(path);
  const h = createHash('sha256');
  await new Promise<void>((resolve, reject) => {
    const s = createReadStream(path, { highWaterMark: 1 << 20 });
    s.on('data', (d) => h.update(d));
    s.on('end', () => resolve());
    s.on('error', reject);
  });
  return { sha256: h.digest('hex'), bytes: st.size };
}

function preparedCaptureIdentity(path: string): { sha256: string; bytes: number } {
  const c = openPrepared(path, VERSION).header.capture;
  return { sha256: c.sha256, bytes: c.bytes };
}

/** The engine's verdict: saturated when the schedule could not be kept, interrupted on a signal. */
export function engineVerdict(out: ReplayOutcome, setup: Pick<ReplaySetup, 'rate' | 'serverPorts' | 'anyPort'>, limits: SaturationLimits, signal: 'SIGINT' | 'SIGTERM' | null): Verdict {
  const reasons: string[] = [];
  const s = out.aggregate.summary;
  let saturated = false;
  if (setup.rate.mode !== 'max' && s.lag.count > 0 && s.lag.p99 > limits.maxLagNs) {
    saturated = true;
    reasons.push(`saturated: schedule lag p99 ${(s.lag.p99 / 1e6).toFixed(2)} ms is above the limit ${(limits.maxLagNs / 1e6).toFixed(2)} ms (--max-lag): the generator fell behind the schedule`);
  }
  if (s.eventLoopMaxNs > limits.maxStallNs) {
    saturated = true;
    reasons.push(`saturated: a worker's event loop stalled ${(s.eventLoopMaxNs / 1e6).toFixed(0)} ms (limit ${(limits.maxStallNs / 1e6).toFixed(0)} ms, --max-stall)`);
  }
  if (out.stopReason === 'interrupted') {
    reasons.push(`interrupted${signal ? ` by ${signal}` : ''}: partial result${out.captureFullyRead ? '' : ' (the rest of the capture was not read)'}`);
    return { status: saturated ? 'saturated' : 'interrupted', reasons, saturated, checks: [], exitCode: signal === 'SIGTERM' ? ExitCode.sigterm : ExitCode.sigint };
  }
  const nothing = nothingReplayed(out, setup);
  if (nothing !== null) return { status: 'error', reasons: [nothing, ...reasons], saturated, checks: [], exitCode: ExitCode.invalidRun };
  if (saturated) return { status: 'saturated', reasons, saturated, checks: [], exitCode: ExitCode.invalidRun };
  return { status: 'pass', reasons, saturated: false, checks: [], exitCode: ExitCode.ok };
}

/**
 * Why a run that read its whole capture measured nothing, or null: no memcached requests on the
 * chosen ports, or every request held back. Such a run used to say PASS (every check holds on zero
 * requests), which a CI gate must not take for a good result.
 */
function nothingReplayed(out: ReplayOutcome, setup: Pick<ReplaySetup, 'serverPorts' | 'anyPort'>): string | null {
  if (out.stopReason !== 'complete' || !out.captureFullyRead) return null;
  if (out.shapedRequests === 0) {
    const ports = setup.serverPorts.length > 0 ? setup.serverPorts.join(',') : '11211';
    return `nothing to replay: the capture holds no memcached requests on port(s) ${ports}${setup.anyPort ? ' or any other port' : ''}; ${portHint(out.extract?.capture, setup.anyPort)}`;
  }
  const c = out.aggregate.summary.total.counters;
  const held = heldBackTotal(out.heldBack);
  if (c.sent > 0 || held < out.shapedRequests) return null;
  const why = Object.entries(out.heldBack)
    .filter(([, n]) => n > 0)
    .map(([r, n]) => `${r}: ${n}`)
    .join(', ');
  return `nothing was sent: all ${out.shapedRequests} requests of the capture were held back (${why}); README, "Faithful replay and safety", says what each reason means and which option lets it through`;
}

/** Everything besides the run outcome that goes into results.json. */
export interface ResultsMeta {
  id: string;
  argv: string[];
  captureId: { sha256: string; bytes: number };
  options: Record<string, unknown>;
  targetStats: ResultsFile['targetStats'];
  verdict: Verdict;
}

/** Assembles the results file of a run. */
export function buildResults(setup: ReplaySetup, out: ReplayOutcome, meta: ResultsMeta): ResultsFile {
  const cap = out.extract?.capture;
  const durationNs = cap ? Math.max(0, cap.lastNs - cap.firstNs) : 0;
  const filters: Record<string, unknown> = {};
  const sh = setup.shape;
  if (sh.commands) filters.commands = [...sh.commands];
  if (sh.readOnly) filters.readOnly = true;
  if (sh.servers) filters.servers = [...sh.servers];
  if (sh.fromNs !== null) filters.fromNs = sh.fromNs;
  if (sh.toNs !== null) filters.toNs = sh.toNs;
  if (sh.maxGapNs !== null) filters.maxGapNs = sh.maxGapNs;
  const ag = out.aggregate;
  const results: ResultsFile = {
    schema: RESULTS_SCHEMA,
    tool: { name: 'mcreplay', version: VERSION },
    run: {
      id: meta.id,
      startedAt: out.startedAt.toISOString(),
      endedAt: out.endedAt.toISOString(),
      ...environment(meta.argv),
      replayCpu: out.replayCpu,
      ...(out.t0Wall ? { t0: { iso: new Date(out.t0Wall.ms).toISOString(), epochNs: epochNsString(out.t0Wall.ms), lateNs: out.t0Wall.lateNs } } : {}),
    },
    config: {
      rate: setup.rate,
      targets: describeTargets(setup.targets),
      hash: setup.targets.kind === 'pool' ? setup.targets.hash : 'none',
      warmup: setup.warmup,
      loop: setup.loop,
      durationNs: setup.durationNs,
      clone: setup.clone,
      ttlScale: setup.ttlScale ?? (setup.rate.mode === 'factor' ? setup.rate.factor : 1),
      filters,
      allow: [...sh.allow],
      workers: setup.workers,
      timeoutNs: setup.timeoutNs,
      ...(setup.shard ? { shard: { index: setup.shard.index, count: setup.shard.count } } : {}),
      ...(setup.startAtMs != null ? { startAt: new Date(setup.startAtMs).toISOString() } : {}),
      options: {
        ...meta.options,
        stopReason: out.stopReason,
        passes: out.passes,
        captureFullyRead: out.captureFullyRead,
        // what `unsent` covers: 'capture' = every request of the shaped capture is sent, held back or
        // unsent; 'read' = reading stopped early (Ctrl-C, SIGTERM, --abort-on-fail, --loop), so the
        // identity holds for the requests read so far and the unread rest is in no counter
        unsentScope: out.captureFullyRead ? 'capture' : 'read',
        shapedRequests: out.shapedRequests,
        heldBack: out.heldBack,
        abandoned: out.totals.abandoned,
        reconnects: out.totals.reconnects,
        // connections the capture opened in its first moments were connected just before t0
        preopened: out.totals.preopened,
        // the rest of the connections were dialled --connect-ahead before their captured open;
        // requests that still had to wait for a handshake (their lag runs to their write)
        connectAheadNs: setup.connectAheadNs ?? CONNECT_AHEAD_NS,
        connectWaits: out.totals.connectWaits,
        // before t0 each worker ran the kinds of request the capture starts with against an in-process
        // target (never a real one), so their code paths were compiled when the schedule started
        rehearsal: { kinds: out.totals.rehearsalKinds, requests: out.totals.rehearsalRequests, answered: out.totals.rehearsed },
        // what the sending threads ran at (--priority): SCHED_FIFO keeps the schedule on a busy machine
        senderPriority: out.senderPriority,
        squeezedNs: out.squeezedNs,
        warnings: out.warnings,
      },
    },
    capture: {
      path: setup.input,
      // a prepared workload is named for its capture (path says which file was read)
      name: setup.input === '-' ? 'stdin' : isPreparedFile(setup.input) ? openPrepared(setup.input, VERSION).header.capture.name : basename(setup.input),
      sha256: meta.captureId.sha256,
      bytes: meta.captureId.bytes || (cap?.bytesRead ?? 0),
      durationNs,
      connections: out.capture.connections,
      requests: out.capture.requests,
      replayable: out.capture.replayable,
    },
    intervalNs: ag.intervalNs,
    commands: ag.commands,
    intervals: ag.intervals,
    summary: ag.summary,
    steps: ag.steps,
    captured: out.captured,
    targetStats: meta.targetStats,
    verdict: meta.verdict,
  };
  // a copy: the outcome's own list is the run's, and a checkpoint is built from it again later
  results.config.options.warnings = [...out.warnings, ...accountingWarnings(results)];
  return results;
}

/**
 * The accounting identity of a results file as warnings (empty when its counters add up): every
 * request sent and measured, or counted as skipped with its reason. A broken one is a bug of
 * mcreplay, not of the target, and the warning says so; the gate does not let such a run pass.
 */
export function accountingWarnings(r: Pick<ResultsFile, 'config' | 'intervals' | 'summary'>): string[] {
  return resultsAccountingGaps(r).map((g) => `the counters do not add up (${g.text}): this is a bug in mcreplay, please report it with this run's results.json`);
}
