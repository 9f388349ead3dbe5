// The mcreplay command line: verbs and options only; each verb lives in src/commands/.
import { Command, CommanderError } from 'commander';
import { ExitCode, McError } from './errors.js';
import { VERSION } from './version.js';

const program = new Command();
program
  .name('mcreplay')
  .description('Replay captured memcached traffic against new servers on the captured schedule, and measure every request.')
  .version(VERSION)
  .showHelpAfterError('(run with --help for usage and examples)')
  .exitOverride();

// Each verb's module loads its whole pipeline (replay: coordinator, report, histograms ...): a run
// of one verb loads only its own (~0.1 s of CPU less for inspect); help and errors load them all.
const VERBS: Record<string, () => Promise<{ register(p: Command): void }>> = {
  inspect: () => import('./commands/inspect.js'),
  replay: () => import('./commands/replay.js'),
  mirror: () => import('./commands/mirror.js'),
  report: () => import('./commands/report.js'),
  compare: () => import('./commands/compare.js'),
  warm: () => import('./commands/warm.js'),
  keys: () => import('./commands/keys.js'),
  top: () => import('./commands/top.js'),
  plan: () => import('./commands/plan.js'),
  diff: () => import('./commands/diff.js'),
  merge: () => import('./commands/merge.js'),
  prepare: () => import('./commands/prepare.js'),
};
const verb = process.argv.slice(2).find((a) => !a.startsWith('-'));
for (const v of verb !== undefined && Object.hasOwn(VERBS, verb) ? [verb] : Object.keys(VERBS)) (await VERBS[v]!()).register(program);

program.addHelpText(
  'after',
  `
Examples (from a clone: npx mcreplay ..., or npm link once for mcreplay on your PATH):
  mcreplay inspect captures/sample.pcap
  mcreplay replay captures/sample.pcap --target 127.0.0.1:11211 --rate 2x
  mcreplay report reports/20261207-034500-sample/results.json
  mcreplay compare reports/main/results.json reports/pr/results.json --max-regression 'latency.p99=10%'
Each verb has its own --help with more (mcreplay replay --help).

Exit codes: 0 ok, 2 bad usage or config, 3 target unreachable, 4 run invalid
(generator saturated, capture not replayable), 99 a threshold failed,
130/143 interrupted (SIGINT/SIGTERM). An error names its stable code
(MCR_ERR_...): README.md "Error codes" lists them and what to do.`,
);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // help and version exit 0; any other commander error is bad usage
    process.exit(err.exitCode === 0 ? 0 : ExitCode.usage);
  }
  if (err instanceof McError) {
    process.stderr.write(`mcreplay: ${err.message}\n`);
    if (err.hint) process.stderr.write(`  ${err.hint}\n`);
    // the stable code, for scripts (README "Error codes"); the exit code comes from it
    process.stderr.write(`  error code ${err.code} (exit ${err.exitCode})\n`);
    process.exit(err.exitCode);
  }
  process.stderr.write(`mcreplay: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
}
