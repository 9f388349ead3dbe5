// JUnit XML for CI systems: one test case per threshold check, one per baseline regression rule, and
// one for the run's validity, so a saturated run shows as a failed test rather than a silent pass.
import type { CheckResult, Verdict } from '../metrics/results-types.js';
import type { Comparison } from './compare.js';

/** Escapes text for XML content and attribute values, dropping characters XML 1.0 cannot carry. */
export function xmlEscape(text: string): string {
  return text
    .replace(/[^\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, '\uFFFD')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/** Inputs of toJUnitXml. */
export interface JUnitInput {
  verdict: Verdict;
  comparison?: Comparison | null;
  /** Suite name prefix (default 'mcreplay'); the run id makes reports from several runs distinct. */
  name?: string;
  /** ISO timestamp of the run. */
  timestamp?: string;
  /** Run duration, seconds. */
  timeS?: number;
}

interface Case {
  name: string;
  classname: string;
  failure: { message: string; type: string; detail: string } | null;
  out: string;
}

function checkCase(suite: string, c: CheckResult): Case {
  const num = (v: number | null) => (v === null || !Number.isFinite(v) ? 'n/a' : `${v}${c.unit ? ` ${c.unit}` : ''}`);
  const detail = `observed: ${num(c.observed)}\nlimit: ${num(c.limit)}\n${c.failedInterval != null ? `first failing interval: ${c.failedInterval}\n` : ''}${c.message}`;
  return { name: c.check, classname: `${suite}.thresholds`, failure: c.pass ? null : { message: c.message, type: 'threshold', detail }, out: c.message };
}

function suiteXml(name: string, cases: Case[], timestamp: string | undefined, timeS: number): string {
  const failures = cases.filter((c) => c.failure).length;
  const head = `  <testsuite name="${xmlEscape(name)}" tests="${cases.length}" failures="${failures}" errors="0" skipped="0" time="${timeS.toFixed(3)}"${timestamp ? ` timestamp="${xmlEscape(timestamp)}"` : ''}>`;
  const body = cases.map((c) => {
    const open = `    <testcase name="${xmlEscape(c.name)}" classname="${xmlEscape(c.classname)}" time="0">`;
    const fail = c.failure ? `\n      <failure message="${xmlEscape(c.failure.message)}" type="${xmlEscape(c.failure.type)}">${xmlEscape(c.failure.detail)}</failure>` : '';
    const out = c.out ? `\n      <system-out>${xmlEscape(c.out)}</system-out>` : '';
    return `${open}${fail}${out}\n    </testcase>`;
  });
  return [head, ...body, '  </testsuite>'].join('\n');
}

/** JUnit XML (the `testsuites` dialect Jenkins, GitLab and GitHub test reporters read). */
export function toJUnitXml(input: JUnitInput): string {
  const prefix = input.name ?? 'mcreplay';
  const v = input.verdict;
  const timeS = input.timeS ?? 0;
  const runCase: Case = {
    name: 'run is valid (generator kept the schedule, target reachable)',
    classname: `${prefix}.run`,
    failure:
      v.status === 'saturated' || v.status === 'error'
        ? { message: v.reasons[0] ?? v.status, type: v.status, detail: v.reasons.join('\n') }
        : null,
    out: `verdict: ${v.status} (exit ${v.exitCode})`,
  };
  const suites = [suiteXml(`${prefix}.run`, [runCase], input.timestamp, timeS)];
  suites.push(suiteXml(`${prefix}.thresholds`, v.checks.map((c) => checkCase(prefix, c)), input.timestamp, timeS));
  const cmp = input.comparison;
  if (cmp) {
    const cases: Case[] = cmp.regressions.map((r) => ({
      name: `${r.rule}${r.command !== 'total' ? ` [${r.command}]` : ''}`,
      classname: `${prefix}.baseline`,
      failure: r.pass ? null : { message: r.message, type: 'regression', detail: r.message },
      out: r.message,
    }));
    suites.push(suiteXml(`${prefix}.baseline`, cases, input.timestamp, timeS));
  }
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="${xmlEscape(prefix)}">\n${suites.join('\n')}\n</testsuites>\n`;
}
