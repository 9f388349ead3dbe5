// Baseline comparison: a table per command (count, throughput, p50/p99/p99.9, errors, hit ratio)
// with deltas and noise-band marks, `--max-regression` rules, and the refusal to compare runs of a
// different capture or rate (apples to oranges) unless forced.
import { readFileSync } from 'node:fs';
import { McError } from '../errors.js';
import { RESULTS_SCHEMA, type CommandSummary, type ResultsFile } from '../metrics/results-types.js';
import { decodeHistogram, freeHistogram } from '../metrics/histogram.js';
import { errorCount, heldBackTotal } from '../metrics/counters.js';
import { parseSelectorText, ruleError, selectorText } from './check-grammar.js';
import type { CheckTags, MetricName } from './check-types.js';

/** Default noise band: relative changes within ±5% are not marked. */
export const DEFAULT_NOISE_BAND = 0.05;

/** Options of compareResults. */
export interface CompareOptions {
  /** Rules like 'latency.p99=10%', 'latency{cmd=get}.p99.9=0.5ms', 'errors.rate=0.1%', 'throughput.achieved=5%'. */
  maxRegression?: readonly string[];
  /** Relative change (fraction, 0.05 = 5%) below which a delta is noise. */
  noiseBand?: number;
  /** Compare even when capture or rate differ. */
  force?: boolean;
  /** Labels for the two sides (file paths by default). */
  baselineLabel?: string;
  currentLabel?: string;
}

/** Which way is worse for a compared value. */
export type Direction = 'up-is-worse' | 'down-is-worse' | 'neutral';

/** One compared value. */
export interface CompareCell {
  /** Row name: count, throughput, p50, p99, p99.9, errors, hit ratio. */
  name: string;
  /** 'ns', 'ops/s', '%', '' (count). */
  unit: string;
  baseline: number | null;
  current: number | null;
  /** Relative change (fraction) for counts, rates and times; percentage points for '%' values. */
  delta: number | null;
  deltaKind: 'relative' | 'points';
  direction: Direction;
  /** |delta| is beyond the noise band. */
  beyondNoise: boolean;
  /** Beyond noise and in the worse direction. */
  worse: boolean;
  /** Beyond noise and in the better direction. */
  better: boolean;
}

/** The comparison table of one command (or 'total'). */
export interface CompareTable {
  command: string;
  cells: CompareCell[];
}

/** One --max-regression rule evaluated on one command. */
export interface RegressionResult {
  rule: string;
  command: string;
  metric: string;
  unit: string;
  baseline: number | null;
  current: number | null;
  /** Worsening: relative fraction, percentage points, or absolute (per `allowedKind`). */
  change: number | null;
  allowed: number;
  allowedKind: 'relative' | 'points' | 'absolute';
  pass: boolean;
  message: string;
}

/** The outcome of compareResults. */
export interface Comparison {
  baseline: { label: string; runId: string; capture: string; sha256: string; rate: string };
  current: { label: string; runId: string; capture: string; sha256: string; rate: string };
  noiseBand: number;
  tables: CompareTable[];
  regressions: RegressionResult[];
  /** Some rule failed. */
  regressed: boolean;
  /** What makes the runs not comparable (compared anyway because of --force). */
  differences: string[];
  /** Other differences worth knowing (workers, targets, tool version, saturation ...). */
  notes: string[];
  forced: boolean;
}

// ---------------------------------------------------------------------------------------------
// Loading

/** Reads and minimally validates a results.json; a missing or malformed file is a usage error (exit 2). */
export function loadResultsFile(path: string, role = 'results'): ResultsFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new McError(`cannot read the ${role} file ${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`, 'MCR_ERR_RESULTS_UNREADABLE');
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new McError(`the ${role} file ${path} is not JSON: ${(err as Error).message}`, 'MCR_ERR_RESULTS_INVALID', 'pass the results.json that mcreplay replay wrote (reports/<run-id>/results.json)');
  }
  const r = data as Partial<ResultsFile> | null;
  if (!r || typeof r !== 'object' || r.schema !== RESULTS_SCHEMA) {
    const got = r && typeof r === 'object' && 'schema' in r ? `schema '${String(r.schema)}'` : 'no schema field';
    throw new McError(`the ${role} file ${path} is not an mcreplay results file (${got}, expected '${RESULTS_SCHEMA}')`, 'MCR_ERR_RESULTS_INVALID');
  }
  for (const key of ['summary', 'config', 'capture', 'intervals'] as const) {
    if (!r[key]) throw new McError(`the ${role} file ${path} has no '${key}': truncated or written by another tool`, 'MCR_ERR_RESULTS_INVALID');
  }
  return r as ResultsFile;
}

// ---------------------------------------------------------------------------------------------
// Apples to oranges

/** The rate as a user would write it: '2x', 'max', 'ramp 1x→8x step 1x every 30s'. */
export function describeRate(rate: ResultsFile['config']['rate']): string {
  switch (rate.mode) {
    case 'factor':
      return `${rate.factor}x`;
    case 'max':
      return 'max';
    case 'ramp':
      return `ramp ${rate.from}x→${rate.to}x step ${rate.step}x every ${rate.stepDurationNs / 1e9}s`;
  }
}

function shortHash(h: string): string {
  return h.length > 12 ? `${h.slice(0, 12)}…` : h;
}

const stable = (v: unknown): string => JSON.stringify(v, (_k, val: unknown) => (val && typeof val === 'object' && !Array.isArray(val) ? Object.fromEntries(Object.entries(val as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b))) : val));

/** What makes two runs not comparable (capture, rate, clone, filters); empty when they are. */
export function incomparabilities(baseline: Pick<ResultsFile, 'capture' | 'config'>, current: Pick<ResultsFile, 'capture' | 'config'>): string[] {
  const out: string[] = [];
  if (baseline.capture.sha256 !== current.capture.sha256) {
    out.push(`capture differs: baseline ${baseline.capture.name} (sha256 ${shortHash(baseline.capture.sha256)}) vs current ${current.capture.name} (sha256 ${shortHash(current.capture.sha256)})`);
  }
  const rb = describeRate(baseline.config.rate);
  const rc = describeRate(current.config.rate);
  if (rb !== rc) out.push(`rate differs: baseline ${rb} vs current ${rc}`);
  if ((baseline.config.clone ?? 1) !== (current.config.clone ?? 1)) out.push(`clone (amplification) differs: baseline ${baseline.config.clone} vs current ${current.config.clone}`);
  if (stable(baseline.config.filters ?? {}) !== stable(current.config.filters ?? {})) {
    out.push(`filters differ: baseline ${stable(baseline.config.filters ?? {})} vs current ${stable(current.config.filters ?? {})}`);
  }
  return out;
}

/** Throws a usage error (exit 2) saying what differs, unless the runs are comparable or `force`. */
export function assertComparable(baseline: Pick<ResultsFile, 'capture' | 'config'>, current: Pick<ResultsFile, 'capture' | 'config'>, force = false): string[] {
  const diffs = incomparabilities(baseline, current);
  if (diffs.length && !force) {
    throw new McError(`the baseline is not comparable with this run:\n  - ${diffs.join('\n  - ')}`, 'MCR_ERR_NOT_COMPARABLE', 'compare runs of the same capture at the same rate, or pass --force to compare anyway');
  }
  return diffs;
}

function notesOf(b: ResultsFile, c: ResultsFile): string[] {
  const out: string[] = [];
  const tb = b.config.targets.map((t) => t.target).join(',');
  const tc = c.config.targets.map((t) => t.target).join(',');
  if (tb !== tc) out.push(`targets: baseline ${tb || '?'} vs current ${tc || '?'}`);
  if (b.config.workers !== c.config.workers) out.push(`workers: baseline ${b.config.workers} vs current ${c.config.workers}`);
  if (b.config.durationNs !== c.config.durationNs) out.push(`duration limit: baseline ${fmtDur(b.config.durationNs)} vs current ${fmtDur(c.config.durationNs)}`);
  if (b.config.hash !== c.config.hash) out.push(`hashing: baseline ${b.config.hash} vs current ${c.config.hash}`);
  if (b.tool?.version !== c.tool?.version) out.push(`mcreplay version: baseline ${b.tool?.version} vs current ${c.tool?.version}`);
  if (b.run?.host !== c.run?.host) out.push(`host: baseline ${b.run?.host} vs current ${c.run?.host}`);
  if (b.verdict?.saturated) out.push('the baseline run was saturated (its numbers are not trustworthy)');
  if (c.verdict?.saturated) out.push('the current run was saturated (its numbers are not trustworthy)');
  return out;
}

function fmtDur(ns: number | null): string {
  return ns === null ? 'none' : `${ns / 1e9}s`;
}

// ---------------------------------------------------------------------------------------------
// Tables

function cell(name: string, unit: string, baseline: number | null, current: number | null, direction: Direction, noise: number): CompareCell {
  const points = unit === '%';
  let delta: number | null = null;
  if (baseline !== null && current !== null) {
    if (points) delta = current - baseline;
    else if (baseline === 0) delta = current === 0 ? 0 : Infinity;
    else delta = (current - baseline) / baseline;
  }
  // for percentages the noise band is in points: 5% noise = 5 points of hit ratio would hide
  // everything, so points use a tenth of it (0.5 points for the default band)
  const band = points ? noise * 10 : noise;
  const beyondNoise = delta !== null && Math.abs(delta) > band;
  const up = delta !== null && delta > 0;
  const worse = beyondNoise && direction !== 'neutral' && (direction === 'up-is-worse' ? up : !up);
  const better = beyondNoise && direction !== 'neutral' && !worse;
  return { name, unit, baseline, current, delta, deltaKind: points ? 'points' : 'relative', direction, beyondNoise, worse, better };
}

function tableOf(command: string, b: CommandSummary | undefined, c: CommandSummary | undefined, noise: number): CompareTable {
  const v = <T>(s: CommandSummary | undefined, f: (s: CommandSummary) => T): T | null => (s ? f(s) : null);
  const errRate = (s: CommandSummary) => (s.counters.sent > 0 ? (100 * Object.values(s.counters.errors).reduce((a, n) => a + n, 0)) / s.counters.sent : 0);
  const hit = (s: CommandSummary) => (s.hitRatio === null ? null : 100 * s.hitRatio);
  return {
    command,
    cells: [
      cell('count', '', v(b, (s) => s.counters.sent), v(c, (s) => s.counters.sent), 'neutral', noise),
      cell('throughput', 'ops/s', v(b, (s) => s.achievedRate), v(c, (s) => s.achievedRate), 'down-is-worse', noise),
      cell('p50', 'ns', v(b, (s) => s.response.p50), v(c, (s) => s.response.p50), 'up-is-worse', noise),
      cell('p99', 'ns', v(b, (s) => s.response.p99), v(c, (s) => s.response.p99), 'up-is-worse', noise),
      cell('p99.9', 'ns', v(b, (s) => s.response.p999), v(c, (s) => s.response.p999), 'up-is-worse', noise),
      cell('errors', '%', v(b, errRate), v(c, errRate), 'up-is-worse', noise),
      cell('hit ratio', '%', b ? hit(b) : null, c ? hit(c) : null, 'down-is-worse', noise),
    ],
  };
}

// ---------------------------------------------------------------------------------------------
// --max-regression rules

interface Rule {
  text: string;
  metric: MetricName;
  tags: CheckTags;
  aggregate: string;
  percentile: number | null;
  allowed: number;
  allowedKind: 'relative' | 'points' | 'absolute';
}

const RULE_METRICS: readonly MetricName[] = ['latency', 'response', 'service', 'lag', 'errors', 'throughput', 'hit_ratio', 'requests', 'unsent', 'heldback'];
const TIME_UNITS: Record<string, number> = { ns: 1, 'µs': 1e3, 'μs': 1e3, us: 1e3, ms: 1e6, s: 1e9 };

/** Parses a --max-regression rule (`latency{cmd=get}.p99=10%`); bad rules are usage errors (exit 2). */
export function parseRegressionRule(text: string): Rule {
  const label = 'bad --max-regression rule';
  const sel = parseSelectorText(text, label);
  if (!RULE_METRICS.includes(sel.metric)) throw ruleError(label, text, `${sel.metric} cannot be a regression rule`, 0);
  const m = /^\s*=\s*((?:\d+(?:\.\d*)?|\.\d+))\s*(%|ns|µs|μs|us|ms|s)?\s*$/.exec(sel.rest);
  if (!m) {
    throw ruleError(label, text, "expected '=' and an allowance after the metric, e.g. 'latency.p99=10%' (relative) or 'latency.p99=0.5ms' (absolute)", sel.restPos);
  }
  const n = Number(m[1]);
  const unit = m[2] ?? '';
  const time = ['latency', 'response', 'service', 'lag'].includes(sel.metric);
  const pointsMetric = sel.metric === 'hit_ratio' || (sel.metric === 'errors' && sel.aggregate === 'rate');
  let allowed: number;
  let allowedKind: Rule['allowedKind'];
  if (unit === '%') {
    allowed = pointsMetric ? n : n / 100;
    allowedKind = pointsMetric ? 'points' : 'relative';
  } else if (unit in TIME_UNITS) {
    if (!time) throw ruleError(label, text, `${selectorText(sel.metric, sel.tags, sel.aggregate)} is not a time: allow a change in % instead`, sel.restPos);
    allowed = n * TIME_UNITS[unit]!;
    allowedKind = 'absolute';
  } else {
    if (pointsMetric || time || sel.metric === 'throughput') {
      throw ruleError(label, text, `the allowance needs a unit: % (relative${pointsMetric ? ', in percentage points for rates and ratios' : ''})${time ? ' or a time unit (absolute)' : ''}`, sel.restPos);
    }
    allowed = n;
    allowedKind = 'absolute';
  }
  return { text, metric: sel.metric, tags: sel.tags, aggregate: sel.aggregate, percentile: sel.percentile, allowed, allowedKind };
}

function ruleValue(rule: Rule, results: ResultsFile, command: string): number | null {
  const s = results.summary;
  const cs = command === 'total' ? s.total : s.perCommand[command];
  if (rule.metric === 'lag') return pct(rule, s.lag, s.lagHist);
  if (!cs) return null;
  switch (rule.metric) {
    case 'latency':
    case 'response':
      return pct(rule, cs.response, cs.responseHist);
    case 'service':
      return pct(rule, cs.service, cs.serviceHist);
    case 'errors': {
      const n = errorCount(cs.counters, rule.tags.class);
      if (rule.aggregate === 'count') return n;
      return cs.counters.sent > 0 ? (100 * n) / cs.counters.sent : null;
    }
    case 'throughput':
      return rule.aggregate === 'intended' ? cs.intendedRate : cs.achievedRate;
    case 'hit_ratio':
      return cs.hitRatio === null ? null : 100 * cs.hitRatio;
    case 'requests':
      return rule.aggregate === 'intended' ? cs.counters.intended : rule.aggregate === 'completed' ? cs.counters.completed : cs.counters.sent;
    case 'unsent':
      return cs.counters.unsent;
    case 'heldback':
      return rule.tags.reason ? (cs.counters.heldBack[rule.tags.reason] ?? 0) : heldBackTotal(cs.counters.heldBack);
    default:
      return null;
  }
}

function pct(rule: Rule, p: { count: number; min: number; mean: number; p50: number; p90: number; p99: number; p999: number; p9999: number; max: number }, hist: string): number | null {
  if (p.count === 0) return null;
  switch (rule.aggregate) {
    case 'min':
      return p.min;
    case 'max':
      return p.max;
    case 'mean':
      return p.mean;
    case 'p50':
      return p.p50;
    case 'p90':
      return p.p90;
    case 'p99':
      return p.p99;
    case 'p99.9':
      return p.p999;
    case 'p99.99':
      return p.p9999;
  }
  const h = decodeHistogram(hist);
  try {
    return h.totalCount === 0 ? null : h.getValueAtPercentile(rule.percentile ?? 100);
  } finally {
    freeHistogram(h);
  }
}

function ruleDirection(rule: Rule): Direction {
  if (rule.metric === 'throughput' || rule.metric === 'hit_ratio' || (rule.metric === 'requests' && rule.aggregate !== 'intended')) return 'down-is-worse';
  if (rule.metric === 'requests') return 'neutral';
  return 'up-is-worse';
}

function ruleUnit(rule: Rule): string {
  if (['latency', 'response', 'service', 'lag'].includes(rule.metric)) return 'ns';
  if (rule.metric === 'throughput') return 'ops/s';
  if (rule.metric === 'hit_ratio' || (rule.metric === 'errors' && rule.aggregate === 'rate')) return '%';
  return '';
}

function evaluateRule(rule: Rule, b: ResultsFile, c: ResultsFile, command: string): RegressionResult {
  const metric = selectorText(rule.metric, command === 'total' ? rule.tags : { ...rule.tags, cmd: command }, rule.aggregate);
  const unit = ruleUnit(rule);
  const bv = ruleValue(rule, b, command);
  const cv = ruleValue(rule, c, command);
  const base = { rule: rule.text, command, metric, unit, baseline: bv, current: cv, allowed: rule.allowed, allowedKind: rule.allowedKind };
  if (bv === null || cv === null) {
    const side = bv === null && cv === null ? 'either run' : bv === null ? 'the baseline' : 'the current run';
    return { ...base, change: null, pass: false, message: `${metric}: no data in ${side}${command !== 'total' ? ` for '${command}'` : ''}; cannot check '${rule.text}'` };
  }
  const dir = ruleDirection(rule);
  const sign = dir === 'down-is-worse' ? -1 : 1;
  let change: number;
  if (rule.allowedKind === 'relative') change = bv === 0 ? (cv === bv ? 0 : sign * (cv - bv) > 0 ? Infinity : -Infinity) : (sign * (cv - bv)) / bv;
  else change = sign * (cv - bv); // points or absolute
  const pass = dir === 'neutral' || change <= rule.allowed;
  const fmtAllowed = rule.allowedKind === 'relative' ? `${round(rule.allowed * 100)}%` : rule.allowedKind === 'points' ? `${round(rule.allowed)} points` : unit === 'ns' ? formatNs(rule.allowed) : String(rule.allowed);
  const actual = rule.allowedKind === 'relative' && bv === 0 ? (cv === 0 ? '±0%' : '+∞%') : rule.allowedKind === 'points' ? `${fmtSigned(cv - bv)} points` : rule.allowedKind === 'absolute' && unit === 'ns' ? `${cv >= bv ? '+' : '-'}${formatNs(Math.abs(cv - bv))}` : rule.allowedKind === 'absolute' ? fmtSigned(cv - bv) : `${fmtSigned(((cv - bv) / bv) * 100)}%`;
  const worseWord = dir === 'down-is-worse' ? 'a drop' : 'a rise';
  const message = `${metric}: ${formatUnitValue(bv, unit)} → ${formatUnitValue(cv, unit)} (${actual}); ${worseWord} of up to ${fmtAllowed} is allowed: ${pass ? 'ok' : 'REGRESSION'}`;
  return { ...base, change, pass, message };
}

function fmtSigned(v: number): string {
  if (!Number.isFinite(v)) return v > 0 ? '+∞' : '-∞';
  const r = round(v);
  return `${r >= 0 ? '+' : ''}${r}`;
}

function round(v: number): number {
  return Math.abs(v) >= 100 ? Math.round(v * 10) / 10 : Number(v.toPrecision(3));
}

/** A time in ns with a readable unit (ns, µs, ms, s). */
export function formatNs(ns: number): string {
  const a = Math.abs(ns);
  if (a < 1e3) return `${round(ns)}ns`;
  if (a < 1e6) return `${round(ns / 1e3)}µs`;
  if (a < 1e9) return `${round(ns / 1e6)}ms`;
  return `${round(ns / 1e9)}s`;
}

/** A value with its unit ('ns' → readable time, 'ops/s', '%', '' count). */
export function formatUnitValue(v: number | null, unit: string): string {
  if (v === null) return 'n/a';
  if (unit === 'ns') return formatNs(v);
  if (unit === 'ops/s') return `${round(v)} ops/s`;
  if (unit === '%') return `${round(v)}%`;
  return Number.isInteger(v) ? String(v) : String(round(v));
}

/** A cell's delta as text: '+12.3%', '-0.4 pts', 'n/a'. */
export function formatDelta(c: CompareCell): string {
  if (c.delta === null) return 'n/a';
  if (c.deltaKind === 'points') return `${fmtSigned(c.delta)} pts`;
  return `${fmtSigned(c.delta * 100)}%`;
}

// ---------------------------------------------------------------------------------------------
// The comparison

/** Compares two results files; refuses (McError, exit 2) a different capture/rate unless `force`. */
export function compareResults(baseline: ResultsFile, current: ResultsFile, opts: CompareOptions = {}): Comparison {
  const rules = (opts.maxRegression ?? []).map(parseRegressionRule);
  const differences = assertComparable(baseline, current, opts.force ?? false);
  const noise = opts.noiseBand ?? DEFAULT_NOISE_BAND;
  const bCmds = Object.keys(baseline.summary.perCommand);
  const cCmds = Object.keys(current.summary.perCommand);
  const all = [...new Set([...bCmds, ...cCmds])].sort((x, y) => (baseline.summary.perCommand[y]?.counters.sent ?? 0) - (baseline.summary.perCommand[x]?.counters.sent ?? 0) || x.localeCompare(y));
  const tables = [tableOf('total', baseline.summary.total, current.summary.total, noise), ...all.map((cmd) => tableOf(cmd, baseline.summary.perCommand[cmd], current.summary.perCommand[cmd], noise))];
  const notes = notesOf(baseline, current);
  const onlyB = bCmds.filter((x) => !cCmds.includes(x));
  const onlyC = cCmds.filter((x) => !bCmds.includes(x));
  if (onlyB.length) notes.push(`commands only in the baseline: ${onlyB.join(', ')}`);
  if (onlyC.length) notes.push(`commands only in the current run: ${onlyC.join(', ')}`);

  const regressions: RegressionResult[] = [];
  for (const rule of rules) {
    const cmd = rule.tags.cmd;
    if (cmd === '*') {
      const both = bCmds.filter((x) => cCmds.includes(x)).sort();
      for (const x of both) regressions.push(evaluateRule({ ...rule, tags: { ...rule.tags, cmd: undefined } }, baseline, current, x));
    } else {
      regressions.push(evaluateRule({ ...rule, tags: { ...rule.tags, cmd: undefined } }, baseline, current, cmd ?? 'total'));
    }
  }
  const side = (r: ResultsFile, label: string) => ({ label, runId: r.run?.id ?? '?', capture: r.capture.name, sha256: r.capture.sha256, rate: describeRate(r.config.rate) });
  return {
    baseline: side(baseline, opts.baselineLabel ?? 'baseline'),
    current: side(current, opts.currentLabel ?? 'current'),
    noiseBand: noise,
    tables,
    regressions,
    regressed: regressions.some((r) => !r.pass),
    differences,
    notes,
    forced: differences.length > 0,
  };
}

/** Parses a noise band like '5%' or '0.05' into a fraction. */
export function parseNoiseBand(text: string): number {
  const m = /^\s*((?:\d+(?:\.\d*)?|\.\d+))\s*(%?)\s*$/.exec(text);
  if (!m) throw new McError(`bad --noise-band '${text}': expected a percentage like 5%`, 'MCR_ERR_BAD_OPTION');
  const v = m[2] === '%' ? Number(m[1]) / 100 : Number(m[1]);
  if (!(v >= 0 && v < 10)) throw new McError(`bad --noise-band '${text}': out of range`, 'MCR_ERR_BAD_OPTION');
  return v;
}

function pad(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => Array.from(r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd());
}

/** The comparison as terminal text: a table per command, the rules, what differed. */
export function formatComparison(cmp: Comparison): string {
  const lines: string[] = [];
  lines.push(`baseline: ${cmp.baseline.label} (run ${cmp.baseline.runId}, ${cmp.baseline.capture} at ${cmp.baseline.rate})`);
  lines.push(`current:  ${cmp.current.label} (run ${cmp.current.runId}, ${cmp.current.capture} at ${cmp.current.rate})`);
  lines.push(`noise band: ±${round(cmp.noiseBand * 100)}% (±${round(cmp.noiseBand * 10)} points for rates and ratios); ! = worse beyond noise, + = better beyond noise`);
  if (cmp.differences.length) {
    lines.push('', 'NOT COMPARABLE (compared anyway, --force):');
    for (const d of cmp.differences) lines.push(`  - ${d}`);
  }
  for (const t of cmp.tables) {
    lines.push('', `${t.command}:`);
    const rows = [['', 'baseline', 'current', 'delta', '']];
    for (const c of t.cells) rows.push([`  ${c.name}`, formatUnitValue(c.baseline, c.unit), formatUnitValue(c.current, c.unit), formatDelta(c), c.worse ? '!' : c.better ? '+' : '']);
    lines.push(...pad(rows));
  }
  if (cmp.regressions.length) {
    lines.push('', 'regression rules:');
    for (const r of cmp.regressions) lines.push(`  ${r.pass ? 'ok  ' : 'FAIL'} ${r.message}`);
  }
  if (cmp.notes.length) {
    lines.push('', 'notes:');
    for (const n of cmp.notes) lines.push(`  - ${n}`);
  }
  lines.push('', cmp.regressed ? `REGRESSION: ${cmp.regressions.filter((r) => !r.pass).length} rule(s) failed` : cmp.regressions.length ? 'no regression beyond the allowed limits' : 'no --max-regression rules given: nothing gated');
  return lines.join('\n');
}
