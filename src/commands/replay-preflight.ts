// Checks `replay` makes before any load, so that a mistake costs seconds and not a whole run: the
// reports directory can be written, a baseline is of the same capture and rate, every threshold's
// command tag names a memcached command, and a ramp fits the capture; and the run's planned length
// (the total and ETA of the progress line), which needs the capture's time span: read before the
// load when the file is small enough to read twice cheaply, and always for a ramp (to say which
// steps the capture can feed). Also the fallback that keeps a finished run's results when the
// reports directory fails after all.
import { VERSION } from '../version.js';
import type { ExtractResult } from '../workload/extract.js';
import { isPreparedFile, openPrepared, readTrailer } from '../workload/prepared-read.js';
import { accessSync, constants, mkdirSync, statSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { McError } from '../errors.js';
import { BINARY_OPCODES, commandInfo } from '../protocol/index.js';
import type { ResultsFile } from '../metrics/results-types.js';
import { describeRate, incomparabilities } from '../report/compare.js';
import { suggest } from '../report/check-grammar.js';
import type { Check } from '../report/check-types.js';
import type { RateSpec } from '../replay/parse.js';
import { fmtNs } from '../report/format.js';
import { readCapture } from '../capture/index.js';
import type { ReplaySetup } from '../replay/coordinator.js';
import { captureIdentity } from '../replay/results.js';
import { preflightGate, type GateOptions } from '../report/gate.js';
import { gateOptionsOf, type GateCliOpts } from './gate-options.js';

/** The options the checks before the load read. */
export interface PreflightOpts extends GateCliOpts {
  force?: boolean;
  out: string;
}

/**
 * Fails (exit 2) unless `dir` is a writable directory or can be made one: it, or its nearest existing
 * ancestor, must be a writable directory. Nothing is created (a run refused later leaves no trace).
 */
export function checkOutDir(dir: string): void {
  let p = resolve(dir);
  let why: string | null = null;
  for (;;) {
    let st;
    try {
      st = statSync(p);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT') {
        why = code === 'ENOTDIR' ? 'a file of that name is in the way' : (err as Error).message;
        break;
      }
      const up = dirname(p);
      if (up === p) break;
      p = up;
      continue;
    }
    if (!st.isDirectory()) why = p === resolve(dir) ? 'a file of that name is in the way' : `${p} is a file, not a directory`;
    else {
      try {
        accessSync(p, constants.W_OK);
      } catch {
        why = `${p} is not writable`;
      }
    }
    break;
  }
  if (why !== null) throw new McError(`--out ${dir}: cannot write the reports there (${why}); nothing was sent`, 'MCR_ERR_OUTPUT_UNWRITABLE', 'give --out a directory you can write to');
}

/** Every command name mcreplay knows (text, meta and binary), for checking `cmd=` tags. */
function knownCommand(name: string): boolean {
  return commandInfo('text', name).cls !== 'unknown' || commandInfo('binary', name).cls !== 'unknown' || /^op_0x[0-9a-f]{2}$/.test(name);
}

/** Fails (exit 2) when a check's cmd tag names no memcached command (`cmd=gett`). */
export function checkCommandTags(checks: readonly Check[], option = '--threshold'): void {
  const names = [...new Set(['get', 'gets', 'gat', 'gats', 'set', 'add', 'replace', 'append', 'prepend', 'cas', 'incr', 'decr', 'delete', 'touch', 'mg', 'ms', 'md', 'ma', 'mn', 'me', ...Object.values(BINARY_OPCODES)])];
  for (const c of checks) {
    const cmd = c.tags.cmd;
    if (cmd === undefined || cmd === '*' || knownCommand(cmd)) continue;
    throw new McError(`${option} '${c.text}': cmd=${cmd} is not a memcached command${suggest(cmd, names)}; nothing was sent`, 'MCR_ERR_BAD_THRESHOLD', 'use a command name as the summary table shows it (get, set, mg ...)');
  }
}

/**
 * Fails (exit 2, unless force) when the baseline cannot be compared with the run about to start:
 * another rate or clone count, or another capture (by sha256 when the capture was hashed first).
 */
export function checkBaseline(baseline: ResultsFile, run: { rate: RateSpec; clone: number; sha256: string | null; name: string }, force: boolean, path: string): void {
  const current = {
    capture: { ...baseline.capture, sha256: run.sha256 ?? baseline.capture.sha256, name: run.name },
    config: { ...baseline.config, rate: run.rate as ResultsFile['config']['rate'], clone: run.clone },
  };
  const diffs = incomparabilities(baseline, current as Pick<ResultsFile, 'capture' | 'config'>);
  if (diffs.length && !force) {
    throw new McError(`--baseline ${path} is not comparable with this run, nothing was sent:\n  - ${diffs.join('\n  - ')}`, 'MCR_ERR_NOT_COMPARABLE', `replay at the baseline's rate (${describeRate(baseline.config.rate)}) and capture, or pass --force to compare anyway`);
  }
}

/** One ramp step and whether the capture lasts through it. */
export interface RampStepFit {
  step: number;
  rateFactor: number;
  /** Capture time this step consumes, ns. */
  captureNs: number;
  fits: boolean;
  /** Part of the step the capture covers, 0–1. */
  covered: number;
}

/**
 * Which ramp steps the capture lasts through: step k at factor f consumes f × step-duration of
 * capture time (the schedule is the capture's own, scaled by the rate in force).
 */
export function rampFit(rate: RateSpec, captureNs: number): RampStepFit[] {
  if (rate.mode !== 'ramp') return [];
  const out: RampStepFit[] = [];
  let used = 0;
  const n = Math.floor((rate.to - rate.from) / rate.step + 1e-9) + 1;
  for (let i = 0; i < n; i++) {
    const f = rate.from + i * rate.step;
    const need = f * rate.stepDurationNs;
    const left = Math.max(0, captureNs - used);
    out.push({ step: i, rateFactor: f, captureNs: need, fits: left >= need, covered: need > 0 ? Math.min(1, left / need) : 1 });
    used += need;
  }
  return out;
}

/** The before-the-load warning for a ramp that the capture cannot feed to its end, or null. */
export function rampWarning(fit: readonly RampStepFit[], captureNs: number, loop: boolean): string | null {
  if (loop || fit.length === 0 || fit.every((s) => s.fits)) return null;
  const full = fit.filter((s) => s.fits).map((s) => `${s.rateFactor}x`);
  const partial = fit.find((s) => !s.fits && s.covered > 0);
  const need = fit.reduce((a, s) => a + s.captureNs, 0);
  return (
    `the ramp needs ${fmtNs(need)} of capture but the capture lasts ${fmtNs(captureNs)}: ` +
    `steps that fit: ${full.join(', ') || 'none'}${partial ? `; ${partial.rateFactor}x only ${Math.round(partial.covered * 100)}%` : ''}; ` +
    `the run ends when the capture does (add --loop to start it over and run every step)`
  );
}

/** A directory to write a finished run to when --out fails: a fresh one under the system temp dir. */
export function fallbackDir(id: string): string {
  const base = mkdtempSync(join(tmpdir(), 'mcreplay-'));
  const dir = join(base, id);
  mkdirSync(dir, { recursive: true });
  return resolve(dir);
}

/** Largest capture read twice (once here, once by the replay) just to know its length. */
const SPAN_SCAN_MAX_BYTES = 64 * 1024 * 1024;

const noop = (): void => undefined;

/** The capture's time span, ns (first to last frame), or null for stdin or a file too large to read twice (unless `force`). */
export async function captureSpanNs(path: string, serverPorts: number[], anyPort: boolean, force: boolean): Promise<number | null> {
  if (path === '-') return null;
  if (isPreparedFile(path)) {
    // a prepared workload knows its capture's span from its trailer
    const c = ((await readTrailer(openPrepared(path, VERSION))).result as ExtractResult).capture;
    return c.packets > 0 ? Math.max(0, c.lastNs - c.firstNs) : null;
  }
  const st = await stat(path).catch(() => null);
  if (st === null || (!force && st.size > SPAN_SCAN_MAX_BYTES)) return null;
  try {
    const s = await readCapture(path, { serverPorts, followSynDirection: anyPort }, { open: noop, data: noop, gap: noop, close: noop, datagram: noop });
    return s.packets > 0 ? Math.max(0, s.lastNs - s.firstNs) : null;
  } catch {
    return null; // the replay reports a bad file with its context
  }
}

/** What the run will last on the run clock, ns, or null when it cannot be known (max rate, a loop without --duration, unknown span). */
export function plannedTotalNs(o: { rate: RateSpec; spanNs: number | null; fromNs: number | null; toNs: number | null; loop: boolean; durationNs: number | null }): number | null {
  let natural: number | null = null;
  const span = o.spanNs === null ? null : Math.max(0, Math.min(o.toNs ?? Infinity, o.spanNs) - (o.fromNs ?? 0));
  const r = o.rate;
  if (r.mode === 'factor') natural = o.loop || span === null ? null : span / r.factor;
  else if (r.mode === 'ramp') {
    // a step the capture cannot feed to its end lasts only as long as the capture it has left
    const fit = rampFit(r, o.loop || span === null ? Infinity : span);
    natural = span === null && !o.loop ? null : fit.reduce((t, st) => t + st.covered * r.stepDurationNs, 0);
  }
  if (o.durationNs !== null) return natural === null ? o.durationNs : Math.min(natural, o.durationNs);
  return natural;
}

/** What the checks before any load settled: the gate, the run's planned length, the capture's identity when it was hashed. */
export interface Preflight {
  checks: readonly Check[];
  gate: GateOptions;
  totalNs: number | null;
  captureId: { sha256: string; bytes: number } | null;
  warnings: string[];
}

/** Every check that can fail before the load (exit 2), and what the progress line needs. */
export async function preflight(capture: string, o: PreflightOpts, setup: ReplaySetup): Promise<Preflight> {
  // thresholds and baseline are validated before any load (exit 2 on a bad check)
  const gate = gateOptionsOf(o, o.force === true);
  checkCommandTags(gate.checks);
  const baseline = preflightGate(gate);
  checkOutDir(o.out);
  let captureId: Preflight['captureId'] = null;
  if (baseline !== null) {
    // hashed now (not after the run) so that a baseline of another capture is refused before the load
    if (capture !== '-') captureId = await captureIdentity(capture);
    checkBaseline(baseline, { rate: setup.rate, clone: setup.clone, sha256: captureId?.sha256 ?? null, name: capture === '-' ? 'stdin' : basename(capture) }, gate.force === true, gate.baseline!);
  }
  const warnings: string[] = [];
  const ramp = setup.rate.mode === 'ramp';
  // --duration gives the length of a timed run; a ramp always needs the span (which steps fit)
  const needSpan = ramp || (setup.durationNs === null && setup.rate.mode === 'factor' && !setup.loop);
  const spanNs = needSpan ? await captureSpanNs(capture, setup.serverPorts, setup.anyPort, ramp) : null;
  if (ramp && spanNs !== null) {
    const from = setup.shape.fromNs ?? 0;
    const w = rampWarning(rampFit(setup.rate, Math.max(0, Math.min(setup.shape.toNs ?? Infinity, spanNs) - from)), spanNs - from, setup.loop || setup.durationNs !== null);
    if (w) warnings.push(w);
  }
  const totalNs = plannedTotalNs({ rate: setup.rate, spanNs, fromNs: setup.shape.fromNs, toNs: setup.shape.toNs, loop: setup.loop, durationNs: setup.durationNs });
  return { checks: gate.checks, gate, totalNs, captureId, warnings };
}
