// The CI gate after a run: evaluate the checks, compare with a baseline, decide the verdict and exit
// code, and write the CI outputs (JUnit, markdown summary, benchmark JSON). The replay command calls
// parseChecks() before any load and runGate() once the run is over.
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ExitCode, McError } from '../errors.js';
import type { CheckResult, GeneratorState, Interval, ResultsFile, Verdict, VerdictStatus } from '../metrics/results-types.js';
import { generatorState } from './generator-state.js';
import { initMetrics } from '../metrics/histogram.js';
import { canStillPass, evaluateChecks, formatValue } from './check-eval.js';
import { parseChecks } from './check-grammar.js';
import type { Check } from './check-types.js';
import { compareResults, formatComparison, loadResultsFile, parseRegressionRule, type Comparison } from './compare.js';
import { toJUnitXml } from './junit.js';
import { chartPaths, toMarkdownSummary, writeSummary } from './summary-md.js';
import { toBenchJson } from './bench-json.js';
import { defaultChecksFor } from './default-checks.js';
import { resultsAccountingGaps, type AccountingGap } from '../metrics/counters.js';

export { parseChecks, canStillPass };

/** What the gate needs besides the results. */
export interface GateOptions {
  /** Parsed with parseChecks() before the run. */
  checks: readonly Check[];
  /** A baseline results.json to compare with. */
  baseline?: string | null;
  /** --max-regression rules (only used with a baseline). */
  maxRegression?: readonly string[];
  /** Noise band (fraction) for the comparison table. */
  noiseBand?: number;
  /** Compare with a baseline of a different capture or rate. */
  force?: boolean;
  junit?: string | null;
  summary?: string | null;
  benchJson?: string | null;
  /** The run's report directory (reports/<run-id>), to list its charts in the summary. */
  reportDir?: string | null;
  /** Apply the default checks (errors, unsent, answered); false with --no-default-checks. Default true. */
  defaultChecks?: boolean;
  /** Environment for $GITHUB_STEP_SUMMARY (default process.env). */
  env?: NodeJS.ProcessEnv;
}

/** The gate's outcome. */
export interface GateOutcome {
  verdict: Verdict;
  exitCode: number;
  comparison: Comparison | null;
  /** Human text for the terminal: checks, comparison, verdict. */
  text: string;
  /** Files written (junit, summary, bench json, $GITHUB_STEP_SUMMARY). */
  written: string[];
}

/** Validates gate options that do not need the run (rules, baseline file) before any load; exit 2 on problems. */
export function preflightGate(gate: Pick<GateOptions, 'baseline' | 'maxRegression'>): ResultsFile | null {
  for (const r of gate.maxRegression ?? []) parseRegressionRule(r);
  if ((gate.maxRegression?.length ?? 0) > 0 && !gate.baseline) throw new McError('--max-regression needs --baseline <results.json> to compare with', 'MCR_ERR_BAD_OPTION');
  return gate.baseline ? loadResultsFile(gate.baseline, 'baseline') : null;
}

function write(path: string, text: string, written: string[]): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  written.push(path);
}

/** The HTML report in a report directory, if one was written. */
function htmlReport(dir: string): string | null {
  if (!existsSync(dir)) return null;
  const html = readdirSync(dir).filter((f) => f.endsWith('.html')).sort();
  const pick = html.find((f) => f === 'index.html' || f === 'report.html') ?? html[0];
  return pick ? join(dir, pick) : null;
}

/** One line per check: ✓/✗, the check, what was observed. */
export function formatCheckResults(results: readonly CheckResult[]): string {
  return results.map((c) => `  ${c.pass ? '✓' : '✗'} ${c.check}${c.origin === 'default' ? ' (default)' : ''}  —  ${c.message}`).join('\n');
}

/** The verdict as terminal text. */
export function formatVerdict(v: Verdict): string {
  const head = `verdict: ${v.status.toUpperCase()} (exit ${v.exitCode})`;
  const lines = [head];
  if (v.status !== 'pass') for (const r of v.reasons) lines.push(`  - ${r}`);
  return lines.join('\n');
}

/** Evaluates the user's checks and the default checks they leave in force (marked origin 'default'). */
export function evaluateAll(results: ResultsFile, checks: readonly Check[], defaults: boolean): CheckResult[] {
  const defs = defaultChecksFor(results, checks, defaults);
  // a default check with nothing to measure (no request sent: an all-UDP capture) does not fail the
  // run; a check the user wrote does (src/report/check-eval.ts: absent data fails)
  const out = evaluateChecks(results, defs).map((c) => (c.observed === null ? { ...c, pass: true, message: `not applicable: ${c.message.replace(/^no data: /, '')}` } : c)).map((c) => ({ ...c, origin: 'default' as const }));
  return [...out, ...evaluateChecks(results, checks)];
}

/** The gate's decision before any file is written: checks, comparison, verdict, generator state, terminal text. */
export interface GateDecision {
  verdict: Verdict;
  comparison: Comparison | null;
  generator: GeneratorState;
  text: string;
}

/** Evaluates the checks (defaults included) and the baseline, and decides the verdict; writes nothing. */
export async function decideGate(results: ResultsFile, gate: GateOptions): Promise<GateDecision> {
  await initMetrics();
  const checkResults = evaluateAll(results, gate.checks, gate.defaultChecks !== false);
  let comparison: Comparison | null = null;
  let baselineError: string | null = null;
  if (gate.baseline) {
    try {
      const baseline = loadResultsFile(gate.baseline, 'baseline');
      comparison = compareResults(baseline, results, { maxRegression: gate.maxRegression, noiseBand: gate.noiseBand, force: gate.force, baselineLabel: gate.baseline, currentLabel: 'this run' });
    } catch (err) {
      if (!(err instanceof McError)) throw err;
      baselineError = `baseline ${gate.baseline}: ${err.message}${err.hint ? ` (${err.hint})` : ''}`;
    }
  }
  const verdict = verdictFor(results, checkResults, comparison, baselineError, resultsAccountingGaps(results));
  const generator = generatorState({ ...results, verdict });
  const parts: string[] = [];
  if (checkResults.length) parts.push(`checks${gate.defaultChecks === false ? '' : ' (the defaults switch off with --no-default-checks)'}:`, formatCheckResults(checkResults));
  if (comparison) parts.push('', formatComparison(comparison));
  parts.push('', formatVerdict(verdict));
  return { verdict, comparison, generator, text: parts.join('\n') };
}

/** Writes the CI outputs (JUnit, markdown summary, benchmark JSON) for a decided gate; returns the files written. */
export function writeGateOutputs(results: ResultsFile, gate: GateOptions, d: Pick<GateDecision, 'verdict' | 'comparison'>): string[] {
  const { verdict, comparison } = d;
  const written: string[] = [];
  if (gate.junit) write(gate.junit, toJUnitXml({ verdict, comparison, name: 'mcreplay', timestamp: results.run?.startedAt, timeS: results.summary.durationNs / 1e9 }), written);
  if (gate.benchJson) write(gate.benchJson, `${JSON.stringify(toBenchJson(results), null, 2)}\n`, written);
  const env = gate.env ?? process.env;
  if (gate.summary || env.GITHUB_STEP_SUMMARY) {
    const md = toMarkdownSummary({ verdict, results, comparison, charts: gate.reportDir ? chartPaths(gate.reportDir) : [], reportPath: gate.reportDir ? htmlReport(gate.reportDir) : null });
    written.push(...writeSummary(md, gate.summary, env));
  }
  return written;
}

/** Evaluates checks and the baseline, decides the verdict, writes the CI outputs. */
export async function runGate(results: ResultsFile, gate: GateOptions): Promise<GateOutcome> {
  const d = await decideGate(results, gate);
  const written = writeGateOutputs(results, gate, d);
  return { verdict: d.verdict, exitCode: d.verdict.exitCode, comparison: d.comparison, text: d.text, written };
}

export { formatValue };

// ---------------------------------------------------------------------------------------------
// The verdict policy

/** Baseline outcome that feeds the verdict (from compare.ts), or a reason it could not be compared. */
export interface GateComparison {
  regressed: boolean;
  regressions: { pass: boolean; message: string }[];
}

/**
 * The run's verdict and exit code: the engine's own verdict in results.verdict decides first
 * (error → its code, 3 by default), then a baseline that could not be compared (2), then counters
 * that do not add up (`accounting`, from resultsAccountingGaps: an error, exit 4, the run is not
 * valid), then saturated (4) and interrupted (130/143), then failed checks or regressions (99),
 * else pass (0).
 */
export function verdictFor(
  results: Pick<ResultsFile, 'verdict'>,
  checkResults: readonly CheckResult[],
  comparison?: GateComparison | null,
  baselineError?: string | null,
  accounting: readonly AccountingGap[] = [],
): Verdict {
  const prior = results.verdict ?? { status: 'pass', reasons: [], saturated: false, checks: [], exitCode: 0 };
  const checks = [...checkResults];
  const failedChecks = checks.filter((c) => !c.pass);
  const failedRules = comparison?.regressions.filter((r) => !r.pass) ?? [];
  const reasons = [...(prior.reasons ?? [])];
  for (const c of failedChecks) reasons.push(`${c.origin === 'default' ? 'default check failed' : 'threshold failed'}: ${c.check}: ${c.message}`);
  for (const r of failedRules) reasons.push(`regression: ${r.message}`);
  if (baselineError) reasons.push(baselineError);
  for (const g of accounting) reasons.push(`the counters do not add up (${g.text}): the run is not valid; this is a bug in mcreplay, please report it with its results.json`);
  const saturated = prior.saturated || prior.status === 'saturated';
  let status: VerdictStatus;
  let exitCode: number;
  if (prior.status === 'error') {
    status = 'error';
    exitCode = prior.exitCode && prior.exitCode !== ExitCode.ok ? prior.exitCode : ExitCode.targetUnreachable;
  } else if (baselineError) {
    status = 'error';
    exitCode = ExitCode.usage;
  } else if (accounting.length) {
    status = 'error';
    exitCode = ExitCode.invalidRun;
  } else if (saturated) {
    status = 'saturated';
    exitCode = ExitCode.invalidRun;
    if (!reasons.some((r) => /saturat/i.test(r))) reasons.unshift('the run is invalid: the generator was saturated (it could not keep the schedule)');
  } else if (prior.status === 'interrupted' && (prior.exitCode === ExitCode.sigint || prior.exitCode === ExitCode.sigterm)) {
    status = 'interrupted';
    exitCode = prior.exitCode;
  } else if (failedChecks.length || failedRules.length) {
    status = 'fail';
    exitCode = ExitCode.thresholdFailed;
  } else {
    status = prior.status === 'interrupted' ? 'interrupted' : 'pass';
    exitCode = prior.status === 'interrupted' ? prior.exitCode || ExitCode.ok : ExitCode.ok;
  }
  return { status, reasons, saturated, checks, exitCode };
}

/**
 * Watches the intervals of a running replay for --abort-on-fail: calls `onFail` (once) with the
 * checks that can no longer pass. Returns the function to feed each interval to.
 */
export function watchChecks(checks: readonly Check[], intervalNs: number, onFail: (why: string) => void): (iv: Interval) => void {
  const partial: Interval[] = [];
  const seenCmds = new Set<string>();
  let failed = false;
  return (iv) => {
    if (failed) return;
    partial.push(iv);
    for (const c of Object.keys(iv.perCommand)) seenCmds.add(c);
    const st = canStillPass({ intervals: partial, intervalNs, commands: [...seenCmds].sort() }, checks);
    if (!st.canPass) {
      failed = true;
      onFail(st.failed.map((f) => `${f.check}: ${f.message}`).join('; '));
    }
  };
}

/**
 * The verdict of a run stopped on purpose (by --abort-on-fail, by the user ending a mirror, by
 * --until-warm): not "interrupted"; the generator state, then the checks, decide it.
 */
export function stoppedOnPurpose(v: Verdict, reason: string): void {
  v.status = v.saturated ? 'saturated' : 'pass';
  v.exitCode = v.saturated ? ExitCode.invalidRun : ExitCode.ok;
  v.reasons = v.reasons.filter((r) => !r.startsWith('interrupted'));
  v.reasons.push(reason);
}

/** A verdict made to fail by a rule outside the checks (mirror: never warm), unless saturated. */
export function failVerdict(v: Verdict, reason: string | null): void {
  if (reason !== null) v.reasons.push(reason);
  if (v.status === 'saturated') return;
  v.status = 'fail';
  v.exitCode = ExitCode.thresholdFailed;
}
