// `mcreplay merge shard-*/results.json --out dir`: the shards of a sharded run (replay --shard i/N)
// merged into one run's results, verdict and reports (src/report/merge.ts).
import type { Command } from 'commander';
import { McError } from '../errors.js';
import { collect } from './options.js';
import { initMetrics } from '../metrics/histogram.js';
import { makeRunId } from '../metrics/results.js';
import { loadResultsFile } from '../report/compare.js';
import { preflightGate } from '../report/gate.js';
import { gateOptionsOf, type GateCliOpts } from './gate-options.js';
import { checkShards, mergeShards } from '../report/merge.js';
import { judgeAndWrite } from './run-output.js';

interface MergeOpts extends GateCliOpts {
  out: string;
  force?: boolean;
  html: boolean;
  png: boolean;
  json?: boolean;
}

/** Adds the 'merge' verb to the program. */
export function register(program: Command): void {
  program
    .command('merge')
    .description('Merge the results of the shards of one run (replay --shard i/N) into one exact result: histograms added, counters summed, the verdict decided again')
    .argument('<results...>', "every shard's results.json")
    .option('--out <dir>', 'reports directory of the merged run', 'reports')
    .option('--threshold <check>', "pass/fail check on the merged run, e.g. 'latency.p99 < 2ms' (repeatable; exit 99 when one fails)", collect)
    .option('--no-default-checks', 'do not add the default checks (target errors < 1%, nothing unsent, 99% answered)')
    .option('--baseline <results.json>', 'compare the merged run with an earlier run (regressions fail the gate)')
    .option('--max-regression <rule>', "allowed worsening vs the baseline, e.g. 'latency.p99=10%' (repeatable)", collect)
    .option('--noise-band <pct>', 'changes within this band are not regressions (default 5%)')
    .option('--force', 'merge shards of different captures, rates or shard counts, or with shards missing or given twice')
    .option('--junit <file>', 'write a JUnit XML report of the checks')
    .option('--summary <file>', 'write a markdown summary (also to $GITHUB_STEP_SUMMARY when set)')
    .option('--no-html', 'do not write the HTML report (results.json and the .hlog only)')
    .option('--no-png', 'do not draw the PNG charts beside the HTML report')
    .option('--json', 'print the merged summary as JSON on stdout')
    .addHelpText(
      'after',
      `
Examples:
  mcreplay replay captures/sample.pcap --target 127.0.0.1:11211 --shard 1/2 --duration 3s --out merge-demo/1 --no-html; mcreplay replay captures/sample.pcap --target 127.0.0.1:11211 --shard 2/2 --duration 3s --out merge-demo/2 --no-html; mcreplay merge merge-demo/*/*/results.json --out merged --threshold 'latency.p99 < 50ms'

The shards must be every shard 1..N of one run: the same capture (sha256), rate and N, each once;
otherwise merge refuses (exit 2) and names the problem, unless --force. Interval histograms are
added per wall-clock interval (the merged t0 is the earliest shard t0; a shard interval goes to
the merged interval containing its start), counters are summed, the capture's own figures are
taken once. A saturated shard makes the merged run saturated.

Exit codes: 0 pass, 2 bad files, options or shards, 4 saturated, 99 a threshold or baseline rule failed.`,
    )
    .action(async (paths: string[], o: MergeOpts) => {
      process.exitCode = await runMerge(paths, o);
    });
}

async function runMerge(paths: string[], o: MergeOpts): Promise<number> {
  const gate = gateOptionsOf(o, false);
  preflightGate(gate);
  if (paths.length === 0) throw new McError('merge needs the results.json of every shard', 'MCR_ERR_BAD_OPTION');
  const inputs = paths.map((path) => ({ path, results: loadResultsFile(path, 'shard') }));
  const problems = checkShards(inputs, o.force === true);
  for (const p of problems) process.stderr.write(`mcreplay: warning: --force: ${p}\n`);
  await initMetrics();
  const first = inputs[0]!.results;
  const id = `${makeRunId(first.capture.path, new Date(first.run.startedAt), o.out)}`;
  const results = mergeShards(inputs, id, process.argv.slice(2), problems);
  const { d, resultsPath, hlogPath, htmlPath: html } = await judgeAndWrite(results, gate, { dir: o.out, id, html: o.html !== false, png: o.png !== false });
  const t = results.summary.total;
  if (o.json) {
    const shards = (results.config.options.merged ?? []) as unknown[];
    process.stdout.write(`${JSON.stringify({ runId: id, results: resultsPath, hlog: hlogPath, html, shards, verdict: results.verdict, durationNs: results.summary.durationNs, total: { counters: t.counters, response: t.response }, lag: results.summary.lag }, null, 2)}\n`);
  } else {
    process.stdout.write(`mcreplay: merged ${inputs.length} shard${inputs.length === 1 ? '' : 's'} of ${first.capture.name}: ${t.counters.sent} sent, ${t.counters.completed} answered, response p99 ${(t.response.p99 / 1e6).toFixed(3)} ms\n  results: ${resultsPath}${html ? `\n  report:  ${html}` : ''}\n${d.text}\n`);
  }
  return d.verdict.exitCode;
}
