// `mcreplay compare baseline.json current.json`: the regression table and an exit code for CI.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { Option, type Command } from 'commander';
import { collect } from './options.js';
import { ExitCode, McError } from '../errors.js';
import { initMetrics } from '../metrics/histogram.js';
import type { Verdict } from '../metrics/results-types.js';
import { compareResults, formatComparison, loadResultsFile, parseNoiseBand, parseRegressionRule } from '../report/compare.js';
import { toJUnitXml } from '../report/junit.js';
import { evaluateAll, formatCheckResults } from '../report/gate.js';
import { startStateDifference } from '../report/start-state.js';
import { toMarkdownSummary, writeSummary } from '../report/summary-md.js';

interface CompareCliOptions {
  maxRegression: string[];
  noise?: string;
  noiseBand?: string;
  force?: boolean;
  json?: boolean;
  junit?: string;
  summary?: string;
  defaultChecks?: boolean;
}

function write(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}

/** Adds the 'compare' verb to the program. */
export function register(program: Command): void {
  program
    .command('compare')
    .description('Compare two results files: a table per command with deltas, and an exit code for CI when a --max-regression rule breaks.')
    .argument('<baseline>', 'baseline results.json (e.g. reports/main/results.json)')
    .argument('<current>', 'current results.json')
    .option('--max-regression <rule>', "allowed worsening, repeatable: 'latency.p99=10%' (relative), 'latency{cmd=get}.p99.9=0.5ms' (absolute), 'errors.rate=0.1%' (points), 'throughput.achieved=5%', '{cmd=*}' for every command", collect, [])
    .option('--noise-band <band>', 'changes within this band are not marked (default 5%; as in mcreplay replay)')
    .addOption(new Option('--noise <band>', 'old name of --noise-band').hideHelp())
    .option('--force', 'compare even when the capture (hash), rate, clone or filters differ')
    .option('--no-default-checks', 'do not apply the default checks (errors, unsent, answered) to the current run')
    .option('--json', 'print the comparison as JSON')
    .option('--junit <file>', 'write JUnit XML: one test case per regression rule')
    .option('--summary <file>', 'write a markdown summary (also appended to $GITHUB_STEP_SUMMARY when set)')
    .addHelpText(
      'after',
      `
Examples:
  mcreplay compare reports/main/results.json reports/pr/results.json
  mcreplay compare base.json cur.json --max-regression 'latency.p99=10%' --max-regression 'errors.rate=0.1%'
  mcreplay compare base.json cur.json --max-regression 'latency{cmd=*}.p99.9=20%' --noise-band 10% --junit compare.xml

The current run also gets the default checks (errors{class=timeout|reset|refused|desync}.rate < 1%,
unsent.count == 0 when its run was not cut short, requests.answered >= 99% sent);
--no-default-checks switches them off. Runs whose targets
held different amounts of data at the start are flagged (hit ratios would differ for that alone).

Exit codes: 0 no regression, 99 a --max-regression rule or a default check broke, 4 the current run was saturated
(invalid), 2 bad files or options, or runs that are not comparable (different capture or rate)
without --force.`,
    )
    .action(async (baselinePath: string, currentPath: string, opts: CompareCliOptions) => {
      for (const r of opts.maxRegression) parseRegressionRule(r);
      const noiseText = opts.noiseBand ?? opts.noise;
      const noiseBand = noiseText !== undefined ? parseNoiseBand(noiseText) : undefined;
      const baseline = loadResultsFile(baselinePath, 'baseline');
      const current = loadResultsFile(currentPath, 'current');
      await initMetrics();
      const cmp = compareResults(baseline, current, { maxRegression: opts.maxRegression, noiseBand, force: opts.force, baselineLabel: baselinePath, currentLabel: currentPath });
      const saturated = current.verdict?.saturated === true || current.verdict?.status === 'saturated';
      const failed = cmp.regressions.filter((r) => !r.pass);
      // the current run gets the default checks a replay gets (a current run whose target died is no pass)
      const checks = evaluateAll(current, [], opts.defaultChecks !== false);
      const failedChecks = checks.filter((c) => !c.pass);
      const startDiff = startStateDifference(baseline, current);
      const verdict: Verdict = {
        status: saturated ? 'saturated' : failed.length || failedChecks.length ? 'fail' : 'pass',
        reasons: [
          ...(saturated ? ['the current run was saturated: its numbers are not a valid measurement'] : []),
          ...failedChecks.map((c) => `default check failed on the current run: ${c.check}: ${c.message}`),
          ...failed.map((r) => `regression: ${r.message}`),
        ],
        saturated,
        checks,
        exitCode: saturated ? ExitCode.invalidRun : failed.length || failedChecks.length ? ExitCode.thresholdFailed : ExitCode.ok,
      };
      if (opts.junit) write(opts.junit, toJUnitXml({ verdict, comparison: cmp, name: 'mcreplay.compare' }));
      if (opts.summary || process.env.GITHUB_STEP_SUMMARY) writeSummary(toMarkdownSummary({ verdict, results: current, comparison: cmp }), opts.summary);
      if (opts.json) process.stdout.write(`${JSON.stringify({ ...cmp, startState: startDiff, checks, verdict: { status: verdict.status, exitCode: verdict.exitCode, reasons: verdict.reasons } }, null, 2)}\n`);
      else {
        const extra: string[] = [];
        if (startDiff) extra.push(`\nWARNING: ${startDiff}`);
        if (checks.length) extra.push(`\nchecks on the current run (the defaults switch off with --no-default-checks):\n${formatCheckResults(checks)}`);
        if (failedChecks.length && !saturated) extra.push(`\nFAIL: ${failedChecks.length} default check(s) failed on the current run (exit 99)`);
        process.stdout.write(`${formatComparison(cmp)}\n${extra.join('\n')}${extra.length ? '\n' : ''}${saturated ? '\nINVALID: the current run was saturated (exit 4)\n' : ''}`);
      }
      if (verdict.exitCode !== ExitCode.ok) process.exitCode = verdict.exitCode;
    });
}

