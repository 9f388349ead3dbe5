// Writing a finished run (replay, merge): results.json and the .hlog in reports/<run-id>/, then the
// HTML report beside them; a failure to write moves the run elsewhere rather than losing it.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { writeHlog } from '../metrics/hlog.js';
import { writeResultsFile } from '../metrics/results.js';
import type { ResultsFile } from '../metrics/results-types.js';
import { writeReport } from '../report/index.js';
import { decideGate, writeGateOutputs, type GateDecision, type GateOptions } from '../report/gate.js';
import { fallbackDir } from './replay-preflight.js';

/**
 * Writes results.json and the .hlog under `out`/<id>; when that fails (disk full, directory removed
 * during the run) the finished run goes to a fresh temp directory instead, and stderr says where.
 * `hlogAppended`: a long run appended latency.hlog as it went (at full resolution): it stays as is.
 */
export async function writeRun(results: ResultsFile, out: string, id: string, hlogAppended = false): Promise<{ dir: string; resultsPath: string; hlogPath: string }> {
  const attempt = async (dir: string, keepHlog: boolean) => {
    await mkdir(dir, { recursive: true });
    const resultsPath = join(dir, 'results.json');
    await writeResultsFile(resultsPath, results);
    const hlogPath = join(dir, 'latency.hlog');
    if (!keepHlog) await writeHlog(results, hlogPath);
    return { dir, resultsPath, hlogPath };
  };
  try {
    return await attempt(join(out, id), hlogAppended);
  } catch (err) {
    const dir = fallbackDir(id);
    process.stderr.write(`mcreplay: could not write the results under ${out} (${(err as Error).message}); they are written to ${dir} instead\n`);
    return attempt(dir, false);
  }
}

/** Writes index.html (and the PNG charts) beside results.json; a report failure does not lose the run. */
export async function renderHtml(resultsPath: string, png: boolean): Promise<string | null> {
  try {
    return (await writeReport(resultsPath, { png })).html;
  } catch (err) {
    process.stderr.write(`mcreplay: the HTML report failed (results.json is written; retry with \`mcreplay report ${resultsPath}\`): ${(err as Error).message}\n`);
    return null;
  }
}

/**
 * Decides the gate (checks, baseline, generator state) before anything is written, so that
 * results.json and the HTML report carry the verdict; then writes the run and the CI outputs.
 */
export async function judgeAndWrite(results: ResultsFile, gate: GateOptions, out: { dir: string; id: string; html: boolean; png: boolean; hlogAppended?: boolean }): Promise<{ d: GateDecision; dir: string; resultsPath: string; hlogPath: string; htmlPath: string | null }> {
  const d = await decideGate(results, gate);
  results.verdict = d.verdict;
  results.generator = d.generator;
  const { dir, resultsPath, hlogPath } = await writeRun(results, out.dir, out.id, out.hlogAppended === true);
  const htmlPath = out.html ? await renderHtml(resultsPath, out.png) : null;
  gate.reportDir = dir;
  writeGateOutputs(results, gate, d);
  return { d, dir, resultsPath, hlogPath, htmlPath };
}
