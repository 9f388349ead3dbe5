// The results file: assembled from the run's parts, written atomically to
// reports/<run-id>/results.json, and read back with validation (report, compare, CI gates).
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { cpus, hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { McError } from '../errors.js';
import { VERSION } from '../version.js';
import { RESULTS_SCHEMA, type ResultsFile } from './results-types.js';

/** "<base>" of a capture path without directories and capture extensions, safe as a path part. */
export function captureBase(capturePath: string): string {
  // a capture piped in (`tcpdump -w - | mcreplay replay -`) is named for what it is
  if (capturePath === '-') return 'stdin';
  let b = basename(capturePath);
  b = b.replace(/\.(gz)$/i, '').replace(/\.(pcapng|pcap|cap|dmp)$/i, '');
  b = b.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[._]+/, '');
  return b.slice(0, 64) || 'capture';
}

/**
 * A run id like "20261121-013000-prod" (UTC time of `date`, then the capture's base name). With
 * `reportsDir`, a suffix (-2, -3 ...) keeps it from reusing an existing run directory.
 */
export function makeRunId(capturePath: string, date: Date = new Date(), reportsDir?: string): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  const stamp = `${date.getUTCFullYear()}${p(date.getUTCMonth() + 1)}${p(date.getUTCDate())}-${p(date.getUTCHours())}${p(date.getUTCMinutes())}${p(date.getUTCSeconds())}`;
  const id = `${stamp}-${captureBase(capturePath)}`;
  if (reportsDir === undefined) return id;
  let n = 1;
  let candidate = id;
  while (existsSync(join(reportsDir, candidate))) candidate = `${id}-${++n}`;
  return candidate;
}

/** The machine the run happened on. */
export function environment(argv: string[] = process.argv.slice(2)): Pick<ResultsFile['run'], 'host' | 'platform' | 'node' | 'cpus' | 'argv'> {
  return { host: hostname(), platform: `${process.platform}-${process.arch}`, node: process.version, cpus: cpus().length, argv: [...argv] };
}

/** Everything of a results file but the fixed header (schema, tool). */
export type ResultsParts = Omit<ResultsFile, 'schema' | 'tool'>;

/** Puts the parts together under the current schema and tool version. */
export function assembleResults(parts: ResultsParts): ResultsFile {
  return { schema: RESULTS_SCHEMA, tool: { name: 'mcreplay', version: VERSION }, ...parts };
}

/** Writes `file` atomically (temp file in the same directory, then rename). */
export async function writeResultsFile(path: string, results: ResultsFile): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
  try {
    await writeFile(tmp, JSON.stringify(results) + '\n');
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw new McError(`cannot write ${path}: ${(err as Error).message}`, 'MCR_ERR_OUTPUT_UNWRITABLE', 'check that the reports directory is writable (--out)');
  }
}

/** Writes reports/<run.id>/results.json (under `reportsDir`) and returns its path. */
export async function writeResults(results: ResultsFile, reportsDir = 'reports'): Promise<string> {
  const path = join(reportsDir, results.run.id, 'results.json');
  await writeResultsFile(path, results);
  return path;
}

/** Reads and validates a results.json; a missing, corrupt, foreign or other-version file is an McError (exit 2). */
export async function readResults(path: string): Promise<ResultsFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new McError(`cannot read results file ${path}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`, 'MCR_ERR_RESULTS_UNREADABLE', 'pass the results.json that `mcreplay replay` wrote (reports/<run-id>/results.json)');
  }
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch (err) {
    throw new McError(`${path} is not a valid results file: not JSON (${(err as Error).message}); it may be truncated`, 'MCR_ERR_RESULTS_INVALID', 'an interrupted write leaves no partial file; re-run the replay or pick another results.json');
  }
  return validateResults(obj, path);
}

type Check = (cond: boolean, what: string) => void;

/** Checks the structure of a parsed results file; `source` names it in errors. */
export function validateResults(obj: unknown, source: string): ResultsFile {
  if (!isObj(obj)) throw new McError(`${source} is not an mcreplay results file (not a JSON object)`, 'MCR_ERR_RESULTS_INVALID');
  const schema = obj['schema'];
  if (typeof schema !== 'string' || !schema.startsWith('mcreplay.results/')) {
    throw new McError(`${source} is not an mcreplay results file (no "schema": "${RESULTS_SCHEMA}")`, 'MCR_ERR_RESULTS_INVALID', 'pass the results.json that `mcreplay replay` wrote');
  }
  if (schema !== RESULTS_SCHEMA) {
    const theirs = Number(schema.split('/')[1]);
    const ours = Number(RESULTS_SCHEMA.split('/')[1]);
    const age = theirs < ours ? 'an older' : theirs > ours ? 'a newer' : 'another';
    throw new McError(`${source} was written by ${age} mcreplay (schema ${schema}; this version reads ${RESULTS_SCHEMA})`, 'MCR_ERR_RESULTS_INVALID', 'use the mcreplay version that wrote it, or re-run the replay');
  }
  const problems: string[] = [];
  const check: Check = (cond, what) => {
    if (!cond && problems.length < 10) problems.push(what);
  };
  const run = obj['run'];
  check(isObj(run) && typeof run['id'] === 'string' && typeof run['startedAt'] === 'string', 'run.id/run.startedAt');
  check(isObj(obj['tool']), 'tool');
  check(isObj(obj['config']), 'config');
  check(isObj(obj['capture']), 'capture');
  check(typeof obj['intervalNs'] === 'number' && (obj['intervalNs'] as number) > 0, 'intervalNs');
  check(Array.isArray(obj['commands']) && (obj['commands'] as unknown[]).every((c) => typeof c === 'string'), 'commands');
  const intervals = obj['intervals'];
  check(Array.isArray(intervals), 'intervals');
  if (Array.isArray(intervals)) {
    intervals.forEach((iv: unknown, i) => {
      const at = `intervals[${i}]`;
      if (!isObj(iv)) return check(false, at);
      check(typeof iv['index'] === 'number' && typeof iv['startNs'] === 'number' && typeof iv['endNs'] === 'number', `${at}.index/startNs/endNs`);
      check(typeof iv['warmup'] === 'boolean', `${at}.warmup`);
      check(isHist(iv['lag']), `${at}.lag`);
      check(isCmdInterval(iv['total']), `${at}.total`);
      const per = iv['perCommand'];
      check(isObj(per) && Object.values(per).every(isCmdInterval), `${at}.perCommand`);
    });
  }
  const summary = obj['summary'];
  check(isObj(summary), 'summary');
  if (isObj(summary)) {
    check(typeof summary['durationNs'] === 'number', 'summary.durationNs');
    check(isCmdSummary(summary['total']), 'summary.total');
    check(isObj(summary['perCommand']) && Object.values(summary['perCommand']).every(isCmdSummary), 'summary.perCommand');
    check(isHist(summary['lagHist']), 'summary.lagHist');
  }
  check(Array.isArray(obj['steps']), 'steps');
  check(isObj(obj['captured']), 'captured');
  check(Array.isArray(obj['targetStats']), 'targetStats');
  const verdict = obj['verdict'];
  check(isObj(verdict) && typeof verdict['status'] === 'string' && Array.isArray(verdict['checks']), 'verdict');
  if (problems.length > 0) {
    throw new McError(`${source} is a corrupt results file: missing or malformed ${problems.join(', ')}`, 'MCR_ERR_RESULTS_INVALID', 're-run the replay to get a complete results.json');
  }
  return obj as unknown as ResultsFile;
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
function isHist(v: unknown): boolean {
  return typeof v === 'string' && v.startsWith('HISTF');
}
function isCounters(v: unknown): boolean {
  return isObj(v) && typeof v['sent'] === 'number' && typeof v['completed'] === 'number' && isObj(v['errors']) && isObj(v['heldBack']);
}
function isCmdInterval(v: unknown): boolean {
  return isObj(v) && isCounters(v['counters']) && isHist(v['response']) && isHist(v['service']);
}
function isPct(v: unknown): boolean {
  return isObj(v) && typeof v['count'] === 'number' && typeof v['p99'] === 'number';
}
function isCmdSummary(v: unknown): boolean {
  return isObj(v) && isCounters(v['counters']) && isPct(v['response']) && isPct(v['service']) && isHist(v['responseHist']) && isHist(v['serviceHist']);
}
