// The rolling results sink of a long or open-ended run (`mirror`, a looping `replay`): memory stays
// flat (intervals roll up as they age, src/metrics/rollup.ts), latency.hlog is appended interval by
// interval (a reader can parse it at any moment), and results.json is rewritten atomically every
// checkpoint (default each minute) so a crash or a kill -9 loses at most that much.
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { hlogHeader, hlogIntervalLines } from '../metrics/hlog.js';
import { writeResultsFile } from '../metrics/results.js';
import { rollingStore, rollupFromEnv, type IntervalStore } from '../metrics/rollup.js';
import type { Interval, ResultsFile } from '../metrics/results-types.js';
import { VERSION } from '../version.js';
import type { ReplayOutcome } from './coordinator.js';
import { parseDurationNs } from './parse.js';

/** The environment variable that sets the results.json cadence (tests use seconds). */
export const CHECKPOINT_ENV = 'MCREPLAY_CHECKPOINT';
const DEFAULT_CHECKPOINT_MS = 60_000;

/** What a rolling sink needs from its run. */
export interface RollingSinkOptions {
  runId: string;
  resultsPath: string;
  hlogPath: string;
  /** The run's own interval width, ns. */
  intervalNs: number;
  /** The results file of the outcome so far (the command's own assembly, with a checkpoint verdict). */
  build(soFar: ReplayOutcome): ResultsFile;
  /** A checkpoint that could not be written (the run goes on). */
  onError?(err: Error): void;
}

/** The rolling sink: give `store` to the run, `interval` every closed interval, `start` the checkpoint source. */
export interface RollingSink {
  readonly store: IntervalStore;
  interval(iv: Interval): void;
  start(soFar: () => ReplayOutcome): void;
  /** Writes a checkpoint now (also what the timer does); resolves once it is on disk. */
  checkpoint(): Promise<void>;
  /** Stops the timer (the command writes the final results itself). */
  stop(): Promise<void>;
  /** Checkpoints written so far. */
  readonly written: number;
}

/** The checkpoint period in force: $MCREPLAY_CHECKPOINT (a duration) or a minute. */
export function checkpointMs(env: NodeJS.ProcessEnv = process.env): number {
  const s = env[CHECKPOINT_ENV];
  if (s === undefined || s.trim() === '') return DEFAULT_CHECKPOINT_MS;
  return Math.max(100, Math.round(parseDurationNs(s, CHECKPOINT_ENV) / 1e6));
}

/** A rolling sink writing to `opts.resultsPath` and `opts.hlogPath`. */
export function createRollingSink(opts: RollingSinkOptions): RollingSink {
  const store = rollingStore(rollupFromEnv(opts.intervalNs));
  mkdirSync(dirname(opts.hlogPath), { recursive: true });
  let hlogStarted = false;
  let soFar: (() => ReplayOutcome) | null = null;
  let timer: NodeJS.Timeout | null = null;
  let writing: Promise<void> = Promise.resolve();
  let written = 0;

  function startHlog(startedAt: Date): void {
    // one write per interval, whole lines only: a reader never sees half a record
    writeFileSync(opts.hlogPath, hlogHeader({ run: { startedAt: startedAt.toISOString(), id: opts.runId }, tool: { name: 'mcreplay', version: VERSION } }));
    hlogStarted = true;
  }

  async function checkpoint(): Promise<void> {
    if (soFar === null) return;
    const take = soFar;
    writing = writing.then(async () => {
      try {
        await writeResultsFile(opts.resultsPath, opts.build(take()));
        written++;
      } catch (err) {
        opts.onError?.(err instanceof Error ? err : new Error(String(err)));
      }
    });
    return writing;
  }

  return {
    store,
    get written() {
      return written;
    },
    interval(iv) {
      if (!hlogStarted) startHlog(soFar ? soFar().startedAt : new Date());
      const text = hlogIntervalLines(iv);
      if (text !== '') appendFileSync(opts.hlogPath, text);
    },
    start(fn) {
      soFar = fn;
      if (!hlogStarted) startHlog(fn().startedAt);
      timer = setInterval(() => void checkpoint(), checkpointMs());
      timer.unref();
    },
    checkpoint,
    async stop() {
      if (timer) clearInterval(timer);
      timer = null;
      soFar = null;
      await writing;
    },
  };
}

/** Runs longer than this keep rolling intervals (the default tiers start rolling after an hour). */
export const LONG_RUN_NS = 3600e9;

/** Whether a `replay` is long: open-ended (--loop without --duration) or planned beyond an hour. Such a run rolls up and checkpoints. */
export function replayRolls(run: { loop: boolean; durationNs: number | null; plannedNs?: number | null }): boolean {
  const open = run.loop && run.durationNs === null;
  const long = (run.durationNs ?? run.plannedNs ?? 0) > LONG_RUN_NS;
  return open || long;
}

/** The interval store of a `replay`: rolling when the run is long (replayRolls), else null (keep all). */
export function replayIntervalStore(run: { loop: boolean; durationNs: number | null; intervalNs: number; plannedNs?: number | null }): IntervalStore | null {
  return replayRolls(run) ? rollingStore(rollupFromEnv(run.intervalNs)) : null;
}
