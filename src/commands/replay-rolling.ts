// The results of a long `replay` as it runs (open-ended --loop, or planned beyond an hour): the
// same rolling sink as a mirror's (src/replay/rolling-sink.ts: intervals rolled up, latency.hlog
// appended interval by interval, results.json rewritten atomically every checkpoint), so a crash or
// a kill -9 loses at most one checkpoint period. A short replay keeps everything and writes at exit.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ReplaySetup } from '../replay/coordinator.js';
import { buildResults } from '../replay/results.js';
import { createRollingSink, replayRolls, type RollingSink } from '../replay/rolling-sink.js';
import { checkpointVerdict, makeRunDir } from './mirror-results.js';

/** A long replay's run directory (fixed up front) and its rolling sink. */
export interface ReplayRolling {
  id: string;
  dir: string;
  sink: RollingSink;
  /** After the run: stops the checkpoints; a run that never started leaves no directory behind. */
  end(ran: boolean): Promise<void>;
}

/**
 * For a long replay: fixes the run id and directory, sets the setup's interval store and checkpoint
 * hook, and returns the sink (give it every interval); null for a short replay (written at exit).
 */
export async function replayRolling(run: {
  capture: string;
  out: string;
  setup: ReplaySetup;
  limits: { maxLagNs: number; maxStallNs: number };
  captureId: { sha256: string; bytes: number } | null;
}): Promise<ReplayRolling | null> {
  const { setup, limits } = run;
  if (!replayRolls(setup)) return null;
  const { id, dir } = await makeRunDir(run.out, run.capture);
  const resultsPath = join(dir, 'results.json');
  const sink = createRollingSink({
    runId: id,
    resultsPath,
    hlogPath: join(dir, 'latency.hlog'),
    intervalNs: setup.intervalNs,
    build: (soFar) =>
      buildResults(setup, soFar, {
        id,
        argv: process.argv.slice(2),
        captureId: run.captureId ?? { sha256: '', bytes: 0 },
        options: { maxLagNs: limits.maxLagNs, maxStallNs: limits.maxStallNs, cloneKeys: setup.cloneKeys, abortedByChecks: null, signal: null, checkpoint: { atNs: soFar.runEndNs, at: soFar.endedAt.toISOString() } },
        targetStats: [],
        verdict: checkpointVerdict(soFar, 'replay'),
      }),
    onError: (e) => process.stderr.write(`mcreplay: warning: checkpoint of ${resultsPath} failed (the replay goes on): ${e.message}\n`),
  });
  setup.intervalStore = sink.store;
  setup.onCheckpoint = (soFar) => sink.start(soFar);
  return {
    id,
    dir,
    sink,
    async end(ran) {
      await sink.stop();
      if (!ran && sink.written === 0) await rm(dir, { recursive: true, force: true });
    },
  };
}
