// `mcreplay replay <capture> --target host:port --rate 2x`: parse options, run the replay (the
// session: engine, signals, poller), write results.json + .hlog + HTML, print, exit with the verdict.
import { Command, Option } from 'commander';
import { existsSync } from 'node:fs';
import { ExitCode, McError } from '../errors.js';
import { collect } from './options.js';
import { formatHostPort, targetAddresses } from '../topology/targets.js';
import { parseDurationNs, parseFactor, parseRate, parseWarmup } from '../replay/parse.js';
import { parseShard } from '../replay/shard.js';
import { parseStartAt } from '../replay/start-at.js';
import type { ReplaySetup } from '../replay/coordinator.js';
import { createSession } from '../replay/session.js';
import { replayRolling, type ReplayRolling } from './replay-rolling.js';
import { applyPreparedFile } from './prepared-options.js';
import { accountingWarnings, buildResults, captureIdentity, DEFAULT_LIMITS, engineVerdict } from '../replay/results.js';
import { captureQuality } from '../replay/capture-quality.js';
import { makeRunId } from '../metrics/results.js';
import type { ResultsFile } from '../metrics/results-types.js';
import { nonEmptyTargets, readTargetStats, targetState } from '../metrics/target-state.js';
import { stoppedOnPurpose, watchChecks } from '../report/gate.js';
import { loadConfigFile, applyConfigFile } from '../report/config-file.js';
import { createLiveMetrics, serveMetrics } from '../report/prometheus.js';
import { fmtNs } from '../report/format.js';
import { progressLine } from '../report/progress-line.js';
import { humanSummary, jsonSummary, rateLabel } from '../report/run-summary.js';
import { judgeAndWrite } from './run-output.js';
import { preflight, type PreflightOpts } from './replay-preflight.js';
import { addMetricsOption, addOutputOptions, addRunOptions, addServerOptions, addShapeOptions, addTargetOptions, addThresholdOption, addViewOptions, parseCommonRun, type RunOpts } from './run-options.js';

const EXAMPLES = `
Examples:
  mcreplay replay captures/sample.pcap --target 127.0.0.1:11211 --rate 2x
  mcreplay replay captures/sample.pcap --target 127.0.0.1:11211 --threshold 'latency.p99 < 2ms' --threshold 'errors.rate < 0.1%'
  mcreplay replay prod.pcap --target 10.0.0.5:11211=new1:11211 --target 10.0.0.6:11211=new2:11211
  mcreplay replay prod.pcap --pool new1:11211,new2:11211 --hash ketama
  mcreplay replay prod.pcap --target new:11211 --rate max --duration 5m --loop
  mcreplay replay prod.pcap --target new:11211 --rate 1x..8x --step 1x --step-duration 30s
  mcreplay replay prod.pcap --target new:11211 --clone 4 --clone-keys --read-only
  mcreplay replay captures/sample.pcap --target 127.0.0.1:11211 --shard 1/4 --start-at "$(date -u -d '+5 sec' +%FT%TZ)" --out shard-demo/1
  mcreplay replay prod.pcap --target new:11211 --rate 2x --baseline reports/main/results.json --max-regression 'latency.p99=10%'
  tcpdump -i any -s 0 -U -w - 'tcp port 11211' | mcreplay replay - --target new:11211
(captures/sample.pcap is in this repository, its server was 127.0.0.2:11211; prod.pcap stands for
your own capture, new:11211 for your new server.)

Timing: request i is sent at t0 + (ts_i - ts_0) / rate (open loop, never re-anchored). Response
time = completion - intended send; service time = completion - actual write; lag = actual - intended.
A run whose lag p99 is above --max-lag (default 10ms) or whose worker event loop stalls longer than
--max-stall (default 250ms) is SATURATED (exit 4): its numbers describe the generator, not the target.
--rate max is closed loop per connection (capacity mode) and is labelled so in every output.

Safety: destructive commands (flush_all, shutdown, verbosity, slabs, lru_crawler, cache_memlimit,
watch ...) are held back unless named in --allow; captured credentials are never replayed (give
--sasl-user and the password in MCREPLAY_SASL_PASSWORD); a target that is one of the captured servers
is refused unless --allow-source-target.

Exit codes: 0 ok, 2 bad usage, 3 target unreachable, 4 saturated run, 99 threshold failed,
130/143 interrupted (partial results are written).`;

interface ReplayOpts extends RunOpts, PreflightOpts {
  rate?: string;
  step?: string;
  stepDuration?: string;
  loop?: boolean;
  warmup?: string;
  from?: string;
  to?: string;
  maxGap?: string;
  ttlScale?: string;
  lookAhead: string;
  shard?: string;
  startAt?: string;
  config?: string;
  abortOnFail?: boolean;
}

/** Adds the 'replay' verb to the program. */
export function register(program: Command): void {
  const cmd = program
    .command('replay')
    .description('Replay a capture against target servers on the captured schedule and measure every request')
    .argument('<capture>', 'pcap/pcapng file (.gz ok), a prepared workload (mcreplay prepare), or - for stdin');
  addTargetOptions(cmd)
    .option('--rate <rate>', 'Nx (0.5x slows down), max (closed loop, capacity mode), or a ramp 1x..8x', '1x')
    .option('--step <factor>', 'ramp step (default 1x)')
    .option('--step-duration <d>', 'ramp step length (default 30s)')
    .option('--loop', 'start the capture over when it ends (with --duration, or until Ctrl-C)')
    .option('--duration <d>', 'stop after this long (e.g. 5m)')
    .option('--warmup <d|n>', 'leading time (10s) or request count (5000) kept out of the summary');
  addShapeOptions(cmd)
    .option('--from <d>', 'start at this offset into the capture (e.g. 30s)')
    .option('--to <d>', 'stop at this offset into the capture')
    .option('--max-gap <d>', 'squeeze idle periods of the capture longer than this')
    .option('--ttl-scale <n>', 'divide relative expiry times by this (default: the rate factor)');
  addServerOptions(cmd);
  addRunOptions(cmd)
    .option('--shard <i/N>', 'replay only shard i of N: a share of the captured connections balanced by requests (merge the shards with mcreplay merge)')
    .option('--start-at <time>', 'fix t0 at this wall-clock time (ISO 8601 or Unix seconds), the same for every shard');
  addOutputOptions(cmd).addOption(new Option('--look-ahead <d>', 'read the capture at most this far ahead of the schedule (default: as far as 1M requests / 128 MiB allow)').default('max').hideHelp());
  addViewOptions(cmd).option('--no-default-checks', 'do not add the default checks (target errors < 1%, nothing unsent, 99% answered)');
  addThresholdOption(cmd)
    .option('--config <file>', 'options and thresholds from a JSON file (command-line options win)')
    .option('--abort-on-fail', 'stop the run as soon as a threshold can no longer pass')
    .option('--baseline <results.json>', 'compare with an earlier run (regressions fail the gate)')
    .option('--max-regression <rule>', "allowed worsening vs the baseline, e.g. 'latency.p99=10%' (repeatable; rules as in mcreplay compare)", collect)
    .option('--noise-band <pct>', 'changes within this band are not regressions (default 5%)')
    .option('--force', 'compare with a baseline of another capture or rate')
    .option('--junit <file>', 'write a JUnit XML report of the checks')
    .option('--summary <file>', 'write a markdown summary (also to $GITHUB_STEP_SUMMARY when set)')
    .option('--bench-json <file>', 'write github-action-benchmark JSON');
  addMetricsOption(cmd)
    .addHelpText('after', EXAMPLES)
    .action(async (capture: string, _o: ReplayOpts, command: Command) => {
      if (command.opts().config) applyConfigFile(command, loadConfigFile(command.opts().config as string));
      process.exitCode = await replayAction(capture, command.opts() as ReplayOpts);
    });
}

function buildSetup(capture: string, o: ReplayOpts): { setup: ReplaySetup; pollNs: number | null; limits: typeof DEFAULT_LIMITS } {
  const { common, pollNs, limits } = parseCommonRun(o);
  const rate = parseRate(o.rate, o.step, o.stepDuration);
  const shape = common.shape;
  if (o.from !== undefined) shape.fromNs = parseDurationNs(o.from, '--from');
  if (o.to !== undefined) shape.toNs = parseDurationNs(o.to, '--to');
  if (shape.fromNs !== null && shape.toNs !== null && shape.toNs <= shape.fromNs) throw new McError('--to must be after --from', 'MCR_ERR_BAD_OPTION');
  if (o.maxGap !== undefined) shape.maxGapNs = parseDurationNs(o.maxGap, '--max-gap');
  const setup: ReplaySetup = {
    ...common,
    input: capture,
    rate,
    loop: o.loop === true,
    ttlScale: o.ttlScale === undefined ? null : parseFactor(o.ttlScale, '--ttl-scale'),
    lookAheadNs: o.lookAhead === 'max' ? Infinity : parseDurationNs(o.lookAhead, '--look-ahead'),
    warmup: parseWarmup(o.warmup),
    shard: o.shard === undefined ? null : parseShard(o.shard),
    startAtMs: o.startAt === undefined ? null : parseStartAt(o.startAt),
  };
  if (capture !== '-' && !existsSync(capture)) throw new McError(`${capture}: no such capture file`, 'MCR_ERR_CAPTURE_UNREADABLE');
  // a prepared workload (mcreplay prepare): its header is checked, its shaping options hold
  applyPreparedFile(capture, o, setup);
  return { setup, pollNs, limits };
}

/** Runs the replay verb; returns the exit code. */
export async function replayAction(capture: string, o: ReplayOpts): Promise<number> {
  const { setup, pollNs, limits } = buildSetup(capture, o);
  const pre = await preflight(capture, o, setup);
  const tty = process.stderr.isTTY === true;
  const showProgress = o.progress !== false;
  const say = (s: string): void => {
    if (showProgress) process.stderr.write(`${s}\n`);
  };
  // a warning is not progress: printed even with --no-progress
  const warn = (w: string): boolean => process.stderr.write(`mcreplay: warning: ${w}\n`);
  for (const w of pre.warnings) warn(w);
  const targetNames = targetAddresses(setup.targets).map(formatHostPort);
  // what the targets hold before any load (a reused memcached changes the hit ratio)
  const before = await readTargetStats(targetNames, setup.auth);
  const full = nonEmptyTargets(targetState(before, before));
  // also in the summary, results.json and the report, so with --no-progress it is not repeated here
  if (full.length) say(`mcreplay: warning: target(s) already hold data: ${full.join(', ')}; the replayed hit ratio will not be comparable with the capture's`);

  setup.onStart = (_clock, _auth, early) => {
    for (const w of early) warn(w);
    say(`mcreplay: replaying ${capture} -> ${targetNames.join(', ')} at ${rateLabel(setup.rate)}${setup.loop ? ', looping' : ''}${setup.durationNs ? ` for ${fmtNs(setup.durationNs)}` : ''} (${setup.workers} worker${setup.workers === 1 ? '' : 's'})`);
  };
  let abortedByChecks: string | null = null;
  const watch = o.abortOnFail && pre.checks.length > 0
    ? watchChecks(pre.checks, 1e9, (why) => {
        abortedByChecks = why;
        say(`${tty ? '\n' : ''}mcreplay: --abort-on-fail: ${why}; stopping`);
        session.stop();
      })
    : null;
  // --metrics: Prometheus /metrics while the run goes (src/report/prometheus.ts)
  const metrics = o.metrics === undefined ? null : createLiveMetrics(targetNames.join(','));
  if (metrics !== null) setup.onCaptured = (v) => metrics.setCaptured(v);
  let lastPlain = 0;
  // a long replay: results.json and latency.hlog on disk as it goes (set below, before the run)
  let rolling: ReplayRolling | null = null;
  setup.onInterval = (iv, p) => {
    rolling?.sink.interval(iv);
    metrics?.add(iv);
    watch?.(iv);
    if (!showProgress) return;
    const line = progressLine(iv, p, setup.rate.mode === 'max', pre.totalNs);
    if (tty) process.stderr.write(`\r\x1b[K${line}`);
    else if (iv.endNs - lastPlain >= 5e9) {
      lastPlain = iv.endNs;
      process.stderr.write(`${line}\n`);
    }
  };
  // Ctrl-C / SIGTERM: stop the workers, write the partial result, exit 130/143
  const session = createSession(setup, {
    targetNames,
    pollNs,
    onSignal: (s) => {
      if (showProgress) process.stderr.write(`${tty ? '\n' : ''}mcreplay: ${s}: stopping, writing the partial result ...\n`);
    },
    secondSignalExit: (s) => (s === 'SIGTERM' ? ExitCode.sigterm : ExitCode.sigint),
  });
  const metricsServer = metrics === null ? null : await serveMetrics(o.metrics!, metrics);
  // a long or open-ended replay keeps flat memory (old intervals roll up, src/metrics/rollup.ts) and
  // checkpoints its results (src/commands/replay-rolling.ts)
  rolling = await replayRolling({ capture, out: o.out, setup, limits, captureId: pre.captureId });
  let run;
  try {
    run = await session.run();
  } finally {
    await rolling?.end(run !== undefined);
    await metricsServer?.close();
    if (tty && showProgress) process.stderr.write('\n');
  }
  const { out, targetStats } = run;
  const signal = session.signal();
  const after = await readTargetStats(targetNames, setup.auth);
  const verdict = engineVerdict(out, setup, limits, abortedByChecks !== null ? null : signal);
  // stopped by the gate, not by the user: the checks decide the exit code
  if (abortedByChecks !== null) stoppedOnPurpose(verdict, 'stopped early by --abort-on-fail');
  const id = rolling?.id ?? makeRunId(capture, out.startedAt, o.out);
  const results: ResultsFile = buildResults(setup, out, {
    id,
    argv: process.argv.slice(2),
    // hashed after the run: reading the file twice at once would slow the replay's own reading
    captureId: pre.captureId ?? (await captureIdentity(capture).catch(() => ({ sha256: '', bytes: 0 }))),
    options: { maxLagNs: limits.maxLagNs, maxStallNs: limits.maxStallNs, cloneKeys: setup.cloneKeys, abortedByChecks, signal },
    targetStats,
    verdict,
  });
  for (const w of accountingWarnings(results)) warn(w);
  results.targetState = targetState(before, after);
  results.captureQuality = captureQuality(out.extract?.capture ?? null, out.extract?.extract ?? null, out.capture.requests, out.capture.replayable);
  const { d, resultsPath, hlogPath, htmlPath } = await judgeAndWrite(results, pre.gate, { dir: o.out, id, html: o.html !== false, png: o.png !== false, hlogAppended: rolling !== null });

  if (o.json) process.stdout.write(`${JSON.stringify(jsonSummary(results, resultsPath, hlogPath, htmlPath, out.totals), null, 2)}\n`);
  else process.stdout.write(`${humanSummary(results, { results: resultsPath, html: htmlPath }, rateLabel(setup.rate))}\n${d.text}\n`);
  return d.verdict.exitCode;
}
