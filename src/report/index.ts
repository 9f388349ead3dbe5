// The report entry points: load a results file, write reports/<run-id>/index.html beside it and
// the PNG charts into charts/. The replay engine calls writeReport after a run; `mcreplay report`
// calls it for an old run or a CI artifact.
import { readFile, readdir, writeFile, mkdir, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { McError } from '../errors.js';
import { RESULTS_SCHEMA, type ResultsFile } from '../metrics/results-types.js';
import { buildReportData, groupIntervals } from './data.js';
import { pointsInParallel } from './parallel.js';
import { buildHtmlReport } from './html.js';
import { writePngs } from './png.js';

export { buildHtmlReport } from './html.js';
export { buildReportData } from './data.js';

const OUR_PNG = /^(latency|throughput|errors|hit-ratio|warmth|spectrum|heatmap|lag|knee|target-[a-z-]+)\.png$/;

/** Options of writeReport. */
export interface WriteReportOptions {
  /** Also write charts/*.png (default true). */
  png?: boolean;
  /** Show key names / patterns from the run's options (never credentials). */
  showKeys?: boolean;
  /** Folder for index.html and charts/ (default: the results file's folder). */
  outDir?: string;
}

/** Reads and checks a results file; bad input is an McError (exit 2) that says what is wrong. */
export async function loadResults(path: string): Promise<ResultsFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new McError(`results file not found: ${path}`, 'MCR_ERR_RESULTS_UNREADABLE', 'Give the path of a results.json written by `mcreplay replay` (reports/<run-id>/results.json).');
    if (code === 'EISDIR') throw new McError(`${path} is a folder, not a results file`, 'MCR_ERR_RESULTS_UNREADABLE', `Try ${join(path, 'results.json')}.`);
    throw new McError(`cannot read results file ${path}: ${(err as Error).message}`, 'MCR_ERR_RESULTS_UNREADABLE');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new McError(`${path} is not valid JSON (${(err as Error).message})`, 'MCR_ERR_RESULTS_INVALID', 'Is the file truncated? A results file is written at the end of a replay.');
  }
  return checkResults(json, path);
}

/** Checks the shape of parsed results JSON; returns it typed or throws an McError naming what is missing. */
export function checkResults(json: unknown, path = 'results'): ResultsFile {
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw new McError(`${path} is not an mcreplay results file (not a JSON object)`, 'MCR_ERR_RESULTS_INVALID');
  const o = json as Record<string, unknown>;
  if (o.schema !== RESULTS_SCHEMA) {
    throw new McError(
      `${path} is not an mcreplay results file (schema ${JSON.stringify(o.schema ?? null)}, expected "${RESULTS_SCHEMA}")`,
      'MCR_ERR_RESULTS_INVALID',
      typeof o.schema === 'string' && o.schema.startsWith('mcreplay.results/') ? 'It was written by another mcreplay version; re-render it with that version.' : undefined,
    );
  }
  const need: [string, (v: Record<string, unknown>) => boolean][] = [
    ['run.id', (v) => typeof (v.run as Record<string, unknown> | undefined)?.id === 'string'],
    ['config.rate', (v) => !!(v.config as Record<string, unknown> | undefined)?.rate],
    ['config.targets', (v) => Array.isArray((v.config as Record<string, unknown> | undefined)?.targets)],
    ['capture', (v) => !!v.capture && typeof v.capture === 'object'],
    ['intervalNs', (v) => typeof v.intervalNs === 'number' && v.intervalNs > 0],
    ['commands', (v) => Array.isArray(v.commands)],
    ['intervals', (v) => Array.isArray(v.intervals)],
    ['summary.total', (v) => !!(v.summary as Record<string, unknown> | undefined)?.total],
    ['summary.perCommand', (v) => !!(v.summary as Record<string, unknown> | undefined)?.perCommand],
    ['steps', (v) => Array.isArray(v.steps)],
    ['captured', (v) => !!v.captured && typeof v.captured === 'object'],
    ['targetStats', (v) => Array.isArray(v.targetStats)],
    ['verdict.status', (v) => typeof (v.verdict as Record<string, unknown> | undefined)?.status === 'string'],
  ];
  const missing = need.filter(([, ok]) => !ok(o)).map(([k]) => k);
  if (missing.length) throw new McError(`${path} is incomplete: missing or invalid ${missing.join(', ')}`, 'MCR_ERR_RESULTS_INVALID', 'Was the run interrupted while writing it?');
  return json as ResultsFile;
}

/**
 * Writes index.html (and charts/*.png unless png is false) for a results file, beside it or into
 * opts.outDir. Returns the paths written.
 */
export async function writeReport(resultsPath: string, opts: WriteReportOptions = {}): Promise<{ html: string; pngs: string[] }> {
  const results = await loadResults(resultsPath);
  const dir = resolve(opts.outDir ?? dirname(resultsPath));
  await mkdir(dir, { recursive: true });
  let data;
  try {
    const { groups, cmds } = groupIntervals(results);
    const points = (await pointsInParallel(groups, cmds)) ?? undefined;
    data = buildReportData(results, { points });
  } catch (err) {
    throw new McError(`cannot read the histograms in ${resultsPath}: ${(err as Error).message}`, 'MCR_ERR_RESULTS_INVALID');
  }
  const html = join(dir, 'index.html');
  await writeFile(html, buildHtmlReport(results, { showKeys: opts.showKeys ?? false, data }));
  let pngs: string[] = [];
  if (opts.png ?? true) {
    const chartsDir = join(dir, 'charts');
    // charts of an earlier rendering (e.g. a ramp chart) must not survive into this one
    for (const f of await readdir(chartsDir).catch(() => [] as string[])) {
      if (OUR_PNG.test(f)) await rm(join(chartsDir, f), { force: true });
    }
    pngs = await writePngs(data, chartsDir);
  }
  return { html, pngs };
}
