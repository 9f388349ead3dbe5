// The results of a mirror as it runs and at its end: the run directory fixed up front, the rolling
// sink (src/replay/rolling-sink.ts: flat memory, latency.hlog appended, results.json rewritten every
// checkpoint), and the one assembly of results.json that checkpoints and the final file share.
import { join } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { ExitCode, McError } from '../errors.js';
import { makeRunId } from '../metrics/results.js';
import type { ResultsFile, Verdict } from '../metrics/results-types.js';
import type { ReplayOutcome, ReplaySetup } from '../replay/coordinator.js';
import { buildResults } from '../replay/results.js';
import { createRollingSink, type RollingSink } from '../replay/rolling-sink.js';
import type { Tcpdump, TcpdumpCounts } from '../replay/tcpdump.js';
import type { WarmRule, WarmthTracker } from '../report/warmth.js';

/** How a mirror ended, for its final results (null in a checkpoint). */
export interface MirrorEnd {
  signal: 'SIGINT' | 'SIGTERM' | null;
  streamEnded: boolean;
  tcpdump: ({ exitCode: number | null; signal: string | null; diedDuringRun: boolean } & TcpdumpCounts) | null;
}

/** What `config.options.mirror` says, read when results are assembled (some parts exist only once the run is under way). */
export interface MirrorFacts {
  source: string;
  delayNs: number;
  sample: number | null;
  backlog: { requests: number; bytes: number };
  warmRule: WarmRule | null;
  warm: WarmthTracker | null;
  tcpdump: Tcpdump | null;
}

/** The verdict a checkpoint carries: the run is still going (a kill -9 leaves this one). */
export function checkpointVerdict(out: ReplayOutcome, verb: 'mirror' | 'replay' = 'mirror'): Verdict {
  return { status: 'interrupted', reasons: [`checkpoint at ${(out.runEndNs / 1e9).toFixed(0)} s: the ${verb} was still running (results.json is rewritten every checkpoint and at exit)`], saturated: false, checks: [], exitCode: ExitCode.sigint };
}

/** A run directory made up front (a run that writes its results as it goes): `out`/<run id of `name`>. */
export async function makeRunDir(out: string, name: string): Promise<{ id: string; dir: string }> {
  const id = makeRunId(name, new Date(), out);
  const dir = join(out, id);
  try {
    await mkdir(dir, { recursive: true });
  } catch (err) {
    throw new McError(`cannot create the run directory ${dir}: ${(err as Error).message}`, 'MCR_ERR_OUTPUT_UNWRITABLE', 'check that the reports directory is writable (--out)');
  }
  return { id, dir };
}

/** A mirror's run directory and rolling sink; sets the setup's interval store and checkpoint hook. */
export async function mirrorRun(run: { out: string; setup: ReplaySetup; limits: { maxLagNs: number; maxStallNs: number }; mirror: () => MirrorFacts }): Promise<{
  id: string;
  dir: string;
  resultsPath: string;
  hlogPath: string;
  sink: RollingSink;
  resultsOf(out: ReplayOutcome, verdict: Verdict, end: MirrorEnd | null, targetStats: ResultsFile['targetStats']): ResultsFile;
}> {
  const { setup, limits } = run;
  const { id, dir } = await makeRunDir(run.out, 'mirror');
  const resultsPath = join(dir, 'results.json');
  const hlogPath = join(dir, 'latency.hlog');
  const resultsOf = (out: ReplayOutcome, verdict: Verdict, end: MirrorEnd | null, targetStats: ResultsFile['targetStats']): ResultsFile => {
    const m = run.mirror();
    const td = m.tcpdump;
    return buildResults(setup, out, {
      id,
      argv: process.argv.slice(2),
      captureId: { sha256: '', bytes: 0 },
      options: {
        maxLagNs: limits.maxLagNs,
        maxStallNs: limits.maxStallNs,
        cloneKeys: setup.cloneKeys,
        signal: end?.signal ?? null,
        ...(end === null ? { checkpoint: { atNs: out.runEndNs, at: out.endedAt.toISOString() } } : {}),
        mirror: {
          source: m.source,
          delayNs: m.delayNs,
          sample: m.sample,
          backlog: m.backlog,
          streamEnded: end?.streamEnded ?? false,
          clock: out.liveClock ?? null,
          warm: m.warmRule === null ? null : { rule: m.warmRule.text, windowNs: m.warmRule.windowNs, settleNs: m.warm?.settleNs ?? null, heldAtNs: m.warm?.heldAtNs ?? null, decidedAtNs: m.warm?.decidedAtNs ?? null, last: m.warm?.last ?? null },
          tcpdump: td === null ? null : { command: td.command, ...(end?.tcpdump ?? { exitCode: null, signal: null, diedDuringRun: false, ...td.counts() }) },
        },
      },
      targetStats,
      verdict,
    });
  };
  const sink = createRollingSink({
    runId: id,
    resultsPath,
    hlogPath,
    intervalNs: setup.intervalNs,
    build: (soFar) => resultsOf(soFar, checkpointVerdict(soFar), null, []),
    onError: (e) => process.stderr.write(`mcreplay: warning: checkpoint of ${resultsPath} failed (the mirror goes on): ${e.message}\n`),
  });
  setup.intervalStore = sink.store;
  setup.onCheckpoint = (soFar) => sink.start(soFar);
  return { id, dir, resultsPath, hlogPath, sink, resultsOf };
}
