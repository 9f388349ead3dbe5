// Spreads the decoding of a long run's histograms over worker threads (the main thread takes a
// share too). A 1-hour run with 10 commands has ~50,000 interval histograms to decode.
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Interval } from '../metrics/results-types.js';
import { pointStats, type PointStats } from './data.js';

/** Below this many histograms a worker's start-up costs more than it saves. */
const MIN_HISTOGRAMS = 15_000;

function runWorker(url: URL, groups: Interval[][], cmds: string[]): Promise<PointStats[]> {
  return new Promise((resolve, reject) => {
    const w = new Worker(url);
    w.once('message', (points: PointStats[]) => {
      resolve(points);
      void w.terminate();
    });
    w.once('error', reject);
    w.once('exit', (code) => {
      if (code !== 0) reject(new Error(`report worker exited with code ${code}`));
    });
    w.postMessage({ groups, cmds });
  });
}

/**
 * The chart numbers of every time point, computed in parallel; null when a single thread is the
 * better choice (small run, one CPU, or running from TypeScript sources without the compiled worker).
 */
export async function pointsInParallel(
  groups: Interval[][],
  cmds: string[],
  opts: { threads?: number; minHistograms?: number } = {},
): Promise<PointStats[] | null> {
  const threads = opts.threads ?? availableParallelism();
  const per = groups[0]?.length ?? 0;
  if (groups.length * per * (cmds.length + 2) < (opts.minHistograms ?? MIN_HISTOGRAMS) || threads < 2) return null;
  const url = new URL('./data-worker.js', import.meta.url);
  if (!existsSync(fileURLToPath(url))) return null;
  const n = Math.min(threads, 8);
  const size = Math.ceil(groups.length / n);
  const chunks: Interval[][][] = [];
  for (let i = 0; i < groups.length; i += size) chunks.push(groups.slice(i, i + size));
  const pending = chunks.slice(1).map((c) => runWorker(url, c, cmds));
  // the main thread works on the first share meanwhile
  const first = pointStats(chunks[0]!, cmds);
  return [first, ...(await Promise.all(pending))].flat();
}
