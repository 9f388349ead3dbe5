// The markdown summary for CI job pages: verdict, check table, baseline comparison, chart paths.
// Written to --summary and appended to $GITHUB_STEP_SUMMARY when that is set.
import { appendFileSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ResultsFile, Verdict } from '../metrics/results-types.js';
import { describeRate, formatDelta, formatUnitValue, type Comparison } from './compare.js';
import { formatValue } from './check-eval.js';

/** Inputs of toMarkdownSummary. */
export interface SummaryInput {
  verdict: Verdict;
  results?: ResultsFile | null;
  comparison?: Comparison | null;
  /** PNG chart paths to list (see chartPaths). */
  charts?: readonly string[];
  /** Where the HTML report is, to point at it. */
  reportPath?: string | null;
}

/** Escapes text for a markdown table cell. */
export function mdCell(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, '<br>').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Inline code for a cell, safe with backticks and pipes inside. */
function code(text: string): string {
  const ticks = text.includes('`') ? '``' : '`';
  const pad = text.includes('`') ? ' ' : '';
  return `${ticks}${pad}${text.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ')}${pad}${ticks}`;
}

const ICON: Record<string, string> = { pass: '✅', fail: '❌', saturated: '⚠️', interrupted: '⏹️', error: '🛑' };

/** The PNG charts under `<reportDir>/charts/`, sorted; none when the directory is absent. */
export function chartPaths(reportDir: string): string[] {
  const dir = join(reportDir, 'charts');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.toLowerCase().endsWith('.png'))
    .sort()
    .map((f) => join(dir, f));
}

/** The markdown summary. */
export function toMarkdownSummary(input: SummaryInput): string {
  const v = input.verdict;
  const r = input.results;
  const out: string[] = [];
  out.push(`## mcreplay: ${ICON[v.status] ?? ''} ${v.status.toUpperCase()} (exit ${v.exitCode})`, '');
  if (r) {
    const targets = r.config.targets.map((t) => t.target).join(', ');
    const dur = r.summary.durationNs / 1e9;
    out.push(`Run \`${r.run.id}\`: capture \`${r.capture.name}\` (sha256 \`${r.capture.sha256.slice(0, 12)}\`) replayed at **${describeRate(r.config.rate)}** against \`${targets}\` for ${Number(dur.toPrecision(4))}s; ${r.summary.total.counters.sent} requests sent.`, '');
  }
  if (v.reasons.length) {
    out.push('**Why:**', '');
    for (const reason of v.reasons) out.push(`- ${mdCell(reason)}`);
    out.push('');
  }
  out.push('### Checks', '');
  if (v.checks.length === 0) out.push('_No thresholds were given._', '');
  else {
    out.push('| | Check | Observed | Limit | Detail |', '|---|---|---:|---:|---|');
    for (const c of v.checks) {
      out.push(`| ${c.pass ? '✅' : '❌'} | ${code(c.check)} | ${mdCell(formatValue(c.observed, c.unit))} | ${mdCell(Number.isFinite(c.limit) ? formatValue(c.limit, c.unit) : 'n/a')} | ${mdCell(c.message)} |`);
    }
    out.push('');
  }
  const cmp = input.comparison;
  if (cmp) {
    out.push('### Baseline comparison', '');
    out.push(`Baseline \`${cmp.baseline.label}\` (run \`${cmp.baseline.runId}\`) vs current \`${cmp.current.label}\` (run \`${cmp.current.runId}\`); noise band ±${cmp.noiseBand * 100}%. ⚠️ worse beyond noise, 🟢 better beyond noise.`, '');
    if (cmp.differences.length) {
      out.push('**Not comparable, compared anyway (--force):**', '');
      for (const d of cmp.differences) out.push(`- ${mdCell(d)}`);
      out.push('');
    }
    const names = cmp.tables[0]?.cells.map((c) => c.name) ?? [];
    out.push(`| Command | ${names.map(mdCell).join(' | ')} |`, `|---|${names.map(() => '---:').join('|')}|`);
    for (const t of cmp.tables) {
      const cells = t.cells.map((c) => `${mdCell(formatUnitValue(c.baseline, c.unit))} → ${mdCell(formatUnitValue(c.current, c.unit))} (${mdCell(formatDelta(c))})${c.worse ? ' ⚠️' : c.better ? ' 🟢' : ''}`);
      out.push(`| ${mdCell(t.command)} | ${cells.join(' | ')} |`);
    }
    out.push('');
    if (cmp.regressions.length) {
      out.push('| | Regression rule | Result |', '|---|---|---|');
      for (const g of cmp.regressions) out.push(`| ${g.pass ? '✅' : '❌'} | ${code(g.rule)}${g.command !== 'total' ? ` (${mdCell(g.command)})` : ''} | ${mdCell(g.message)} |`);
      out.push('');
    }
    if (cmp.notes.length) {
      for (const n of cmp.notes) out.push(`- ${mdCell(n)}`);
      out.push('');
    }
  }
  const charts = input.charts ?? [];
  if (charts.length || input.reportPath) {
    out.push('### Report', '');
    if (input.reportPath) out.push(`- HTML report: \`${input.reportPath}\``);
    for (const c of charts) out.push(`- chart: \`${c}\``);
    out.push('');
  }
  return out.join('\n');
}

/** Writes the summary to `path` (if given) and appends it to $GITHUB_STEP_SUMMARY when set; returns the paths written. */
export function writeSummary(markdown: string, path?: string | null, env: NodeJS.ProcessEnv = process.env): string[] {
  const written: string[] = [];
  if (path) {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, markdown);
    written.push(path);
  }
  const step = env.GITHUB_STEP_SUMMARY;
  if (step) {
    appendFileSync(step, `${markdown}\n`);
    written.push(step);
  }
  return written;
}
