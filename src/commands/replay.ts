// `mcreplay replay <capture> --target host:port --rate 2x`: parse options, run the replay engine,
// write results.json + .hlog (+ HTML when the report module provides it), print, exit with the verdict.
import { parseShard } from '../replay/shard.js';
import { parseStartAt } from '../replay/start-at.js';
import { Command, Option } from 'commander';
import { basename } from 'node:path';
import { existsSync } from 'node:fs';
import { ExitCode, McError } from '../errors.js';
import { collect, intOption } from './options.js';
import { parseTargets, formatHostPort, targetAddresses } from '../topology/targets.js';
import { defaultShape, normalizeServerKey, type ShapeOptions } from '../workload/shape.js';
import { listOption, parseDurationNs, parseFactor, parseRate, parseWarmup } from '../replay/parse.js';
import { runReplay, type ReplaySetup } from '../replay/coordinator.js';
import { buildResults, captureIdentity, DEFAULT_LIMITS, engineVerdict } from '../replay/results.js';
import { makeRunId } from '../metrics/results.js';
import { StatsPoller } from '../metrics/stats-poller.js';
import type { Interval, ResultsFile } from '../metrics/results-types.js';
import { judgeAndWrite } from './run-output.js';
import { fmtNs } from './text.js';
import { parseChecks, canStillPass, preflightGate, type GateOptions } from '../report/gate.js';
import { captureQuality } from '../replay/capture-quality.js';
import { nonEmptyTargets, readTargetStats, targetState } from '../metrics/target-state.js';
import { checkBaseline, checkCommandTags, checkOutDir, rampFit, rampWarning } from './replay-preflight.js';
import { captureSpanNs, plannedTotalNs, progressLine } from './replay-progress.js';
import { humanSummary, jsonSummary } from './replay-summary.js';
import { loadConfigFile, applyConfigFile } from '../report/config-file.js';
import type { Check } from '../report/check-types.js';
import { cpus } from 'node:os';
import { createLiveMetrics, serveMetrics } from '../report/prometheus.js';
import { parsePorts } from './capture-args.js';

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

interface ReplayOpts {
  target?: string[];
  pool?: string;
  hash?: string;
  port?: string[];
  anyPort?: boolean;
  asciiAuth?: boolean;
  rate?: string;
  step?: string;
  stepDuration?: string;
  loop?: boolean;
  duration?: string;
  clone: string;
  cloneKeys?: boolean;
  warmup?: string;
  commands?: string[];
  readOnly?: boolean;
  server?: string[];
  from?: string;
  to?: string;
  maxGap?: string;
  allow?: string[];
  ttlScale?: string;
  saslUser?: string;
  allowSourceTarget?: boolean;
  pollStats?: string | boolean;
  out: string;
  json?: boolean;
  workers?: string;
  timeout: string;
  maxLag: string;
  maxStall: string;
  lookAhead: string;
  shard?: string;
  startAt?: string;
  progress: boolean;
  html: boolean;
  png: boolean;
  threshold?: string[];
  defaultChecks?: boolean;
  config?: string;
  abortOnFail?: boolean;
  baseline?: string;
  maxRegression?: string[];
  noiseBand?: string;
  force?: boolean;
  junit?: string;
  summary?: string;
  benchJson?: string;
  metrics?: string;
}


/** Adds the 'replay' verb to the program. */
export function register(program: Command): void {
  const cmd = program
    .command('replay')
    .description('Replay a capture against target servers on the captured schedule and measure every request')
    .argument('<capture>', 'pcap/pcapng file (.gz ok), or - for stdin')
    .option('--target <addr>', 'target host:port for everything, or captured=new to map one captured server (repeatable)', collect)
    .option('--pool <list>', 'targets as a client pool: host:port,host:port (keys are re-sharded with --hash)')
    .option('--hash <scheme>', 'pool hashing: modulo (libmemcached default), crc32 (python-memcached), ketama (libmemcached weighted, spymemcached), consistent (libmemcached ketama, pylibmc), rendezvous (pymemcache)')
    .option('--port <ports>', 'memcached server port(s) in the capture (default 11211)', collect)
    .option('--any-port', 'also decode TCP connections on other ports (server = the SYN receiver)')
    .option('--ascii-auth', 'the captured servers ran with ascii auth (memcached -Y): the first set of every connection is credentials, never replayed')
    .option('--rate <rate>', 'Nx (0.5x slows down), max (closed loop, capacity mode), or a ramp 1x..8x', '1x')
    .option('--step <factor>', 'ramp step (default 1x)')
    .option('--step-duration <d>', 'ramp step length (default 30s)')
    .option('--loop', 'start the capture over when it ends (with --duration, or until Ctrl-C)')
    .option('--duration <d>', 'stop after this long (e.g. 5m)')
    .option('--clone <n>', 'replay every connection N times', '1')
    .option('--clone-keys', 'namespace keys per clone (c1:, c2: ...) so the key space grows N times')
    .option('--warmup <d|n>', 'leading time (10s) or request count (5000) kept out of the summary')
    .option('--commands <list>', 'only these commands (get,set,...)', collect)
    .option('--read-only', 'only commands that do not change the cache')
    .option('--server <addr>', 'only connections to this captured server (repeatable)', collect)
    .option('--from <d>', 'start at this offset into the capture (e.g. 30s)')
    .option('--to <d>', 'stop at this offset into the capture')
    .option('--max-gap <d>', 'squeeze idle periods of the capture longer than this')
    .option('--allow <list>', 'destructive commands to send anyway (flush_all,verbosity,...)', collect)
    .option('--ttl-scale <n>', 'divide relative expiry times by this (default: the rate factor)')
    .option('--sasl-user <user>', 'authenticate to targets as this user; password from MCREPLAY_SASL_PASSWORD')
    .option('--allow-source-target', 'allow a target that is one of the captured servers')
    .option('--poll-stats [interval]', 'poll `stats` on every target (default every 1s)')
    .option('--shard <i/N>', 'replay only shard i of N: a share of the captured connections balanced by requests (merge the shards with mcreplay merge)')
    .option('--start-at <time>', 'fix t0 at this wall-clock time (ISO 8601 or Unix seconds), the same for every shard')
    .option('--out <dir>', 'reports directory', 'reports')
    .option('--json', 'print the run summary as JSON on stdout instead of the table (nothing else goes to stdout)')
    .option('--workers <n>', 'worker threads (default min(cores - 1, 4), at least 1)')
    .option('--timeout <d>', 'a request unanswered this long fails as timeout', '5s')
    .option('--max-lag <d>', 'schedule lag p99 above this makes the run saturated (exit 4)', '10ms')
    .option('--max-stall <d>', 'a worker event-loop stall above this makes the run saturated (exit 4)', '250ms')
    .addOption(new Option('--look-ahead <d>', 'read the capture at most this far ahead of the schedule (default: as far as 1M requests / 128 MiB allow)').default('max').hideHelp())
    .option('--no-progress', 'no progress output on stderr')
    .option('--no-html', 'do not write the HTML report (results.json and the .hlog only)')
    .option('--no-png', 'do not draw the PNG charts beside the HTML report')
    .option('--no-default-checks', 'do not add the default checks (target errors < 1%, nothing unsent, 99% answered)')
    .option('--threshold <check>', "pass/fail check, e.g. 'latency.p99 < 2ms' (repeatable; exit 99 when one fails)", collect)
    .option('--config <file>', 'options and thresholds from a JSON file (command-line options win)')
    .option('--abort-on-fail', 'stop the run as soon as a threshold can no longer pass')
    .option('--baseline <results.json>', 'compare with an earlier run (regressions fail the gate)')
    .option('--max-regression <rule>', "allowed worsening vs the baseline, e.g. 'latency.p99=10%' (repeatable; rules as in mcreplay compare)", collect)
    .option('--noise-band <pct>', 'changes within this band are not regressions (default 5%)')
    .option('--force', 'compare with a baseline of another capture or rate')
    .option('--junit <file>', 'write a JUnit XML report of the checks')
    .option('--summary <file>', 'write a markdown summary (also to $GITHUB_STEP_SUMMARY when set)')
    .option('--bench-json <file>', 'write github-action-benchmark JSON')
    .option('--metrics <[host:]port>', 'serve Prometheus /metrics while the replay runs (127.0.0.1 unless a host is given; no authentication)')
    .addHelpText('after', EXAMPLES)
    .action(async (capture: string, _o: ReplayOpts, command: Command) => {
      if (command.opts().config) applyConfigFile(command, loadConfigFile(command.opts().config as string));
      const code = await replayAction(capture, command.opts() as ReplayOpts);
      process.exitCode = code;
    });
  void cmd;
}

function buildSetup(capture: string, o: ReplayOpts): { setup: ReplaySetup; pollNs: number | null; limits: typeof DEFAULT_LIMITS } {
  const targets = parseTargets({ target: o.target, pool: o.pool, hash: o.hash });
  const rate = parseRate(o.rate, o.step, o.stepDuration);
  const shape: ShapeOptions = defaultShape();
  const commands = listOption(o.commands);
  if (commands.length > 0) shape.commands = new Set(commands.map((c) => c.toLowerCase()));
  shape.readOnly = o.readOnly === true;
  const servers = listOption(o.server);
  if (servers.length > 0) shape.servers = new Set(servers.map(normalizeServerKey));
  if (o.from !== undefined) shape.fromNs = parseDurationNs(o.from, '--from');
  if (o.to !== undefined) shape.toNs = parseDurationNs(o.to, '--to');
  if (shape.fromNs !== null && shape.toNs !== null && shape.toNs <= shape.fromNs) throw new McError('--to must be after --from', 'MCR_ERR_BAD_OPTION');
  if (o.maxGap !== undefined) shape.maxGapNs = parseDurationNs(o.maxGap, '--max-gap');
  shape.allow = new Set(listOption(o.allow).map((c) => c.toLowerCase()));
  const clone = intOption(o.clone, '--clone', 1, 10_000);
  const durationNs = o.duration === undefined ? null : parseDurationNs(o.duration, '--duration');
  if (durationNs !== null && durationNs <= 0) throw new McError('--duration must be above 0', 'MCR_ERR_BAD_OPTION');
  // one core stays with the main thread (capture reading and shaping); on 2 cores one worker keeps
  // the schedule better than two (bench/README.md, Replay)
  const workers = o.workers === undefined ? Math.max(1, Math.min(cpus().length - 1, 4)) : intOption(o.workers, '--workers', 1, 256);
  const timeoutNs = parseDurationNs(o.timeout, '--timeout');
  if (timeoutNs <= 0) throw new McError('--timeout must be above 0', 'MCR_ERR_BAD_OPTION');
  let auth: ReplaySetup['auth'] = null;
  if (o.saslUser !== undefined) {
    const password = process.env.MCREPLAY_SASL_PASSWORD;
    if (password === undefined) throw new McError('--sasl-user needs the password in the environment variable MCREPLAY_SASL_PASSWORD', 'MCR_ERR_NO_PASSWORD', 'the password is never taken from the command line, where other users could see it');
    auth = { user: o.saslUser, password };
  }
  let pollNs: number | null = null;
  if (o.pollStats !== undefined && o.pollStats !== false) pollNs = o.pollStats === true ? 1e9 : parseDurationNs(o.pollStats, '--poll-stats');
  const setup: ReplaySetup = {
    input: capture,
    targets,
    rate,
    shape,
    clone,
    cloneKeys: o.cloneKeys === true,
    loop: o.loop === true,
    durationNs,
    ttlScale: o.ttlScale === undefined ? null : parseFactor(o.ttlScale, '--ttl-scale'),
    workers,
    timeoutNs,
    serverPorts: parsePorts(o.port),
    anyPort: o.anyPort === true,
    asciiAuth: o.asciiAuth === true,
    auth,
    allowSourceTarget: o.allowSourceTarget === true,
    intervalNs: 1e9,
    lookAheadNs: o.lookAhead === 'max' ? Infinity : parseDurationNs(o.lookAhead, '--look-ahead'),
    warmup: parseWarmup(o.warmup),
    shard: o.shard === undefined ? null : parseShard(o.shard),
    startAtMs: o.startAt === undefined ? null : parseStartAt(o.startAt),
  };
  if (capture !== '-' && !existsSync(capture)) throw new McError(`${capture}: no such capture file`, 'MCR_ERR_CAPTURE_UNREADABLE');
  const limits = { maxLagNs: parseDurationNs(o.maxLag, '--max-lag'), maxStallNs: parseDurationNs(o.maxStall, '--max-stall') };
  return { setup, pollNs, limits };
}

function rateLabel(s: ReplaySetup): string {
  const r = s.rate;
  if (r.mode === 'max') return 'max (closed loop, capacity mode)';
  if (r.mode === 'factor') return `${r.factor}x`;
  return `ramp ${r.from}x..${r.to}x step ${r.step}x every ${fmtNs(r.stepDurationNs)}`;
}

/** What the checks before any load settled: the gate, the run's planned length, the capture's identity when it was hashed. */
interface Preflight {
  checks: Check[];
  gate: GateOptions;
  totalNs: number | null;
  captureId: { sha256: string; bytes: number } | null;
  warnings: string[];
}

/** Every check that can fail before the load (exit 2), and what the progress line needs. */
async function preflight(capture: string, o: ReplayOpts, setup: ReplaySetup): Promise<Preflight> {
  // thresholds and baseline are validated before any load (exit 2 on a bad check)
  const checks: Check[] = parseChecks(o.threshold ?? []);
  checkCommandTags(checks);
  const gate: GateOptions = {
    checks,
    baseline: o.baseline ?? null,
    maxRegression: o.maxRegression ?? [],
    noiseBand: o.noiseBand === undefined ? undefined : Number(String(o.noiseBand).replace('%', '')) / (String(o.noiseBand).includes('%') ? 100 : 1),
    force: o.force === true,
    junit: o.junit ?? null,
    summary: o.summary ?? null,
    benchJson: o.benchJson ?? null,
    defaultChecks: o.defaultChecks !== false,
  };
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
  return { checks, gate, totalNs, captureId, warnings };
}

/** Runs the replay verb; returns the exit code. */
export async function replayAction(capture: string, o: ReplayOpts): Promise<number> {
  const { setup, pollNs, limits } = buildSetup(capture, o);
  const pre = await preflight(capture, o, setup);
  const { checks, gate } = pre;

  const tty = process.stderr.isTTY === true;
  const showProgress = o.progress !== false;
  const maxMode = setup.rate.mode === 'max';
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

  // Ctrl-C / SIGTERM: stop the workers, write the partial result, exit 130/143
  const ac = new AbortController();
  let signal: 'SIGINT' | 'SIGTERM' | null = null;
  const onSig = (s: 'SIGINT' | 'SIGTERM'): void => {
    if (signal !== null) {
      process.stderr.write(`mcreplay: second ${s}, exiting without results\n`);
      process.exit(s === 'SIGTERM' ? ExitCode.sigterm : ExitCode.sigint);
    }
    signal = s;
    if (showProgress) process.stderr.write(`${tty ? '\n' : ''}mcreplay: ${s}: stopping, writing the partial result ...\n`);
    ac.abort();
  };
  const sigint = (): void => onSig('SIGINT');
  const sigterm = (): void => onSig('SIGTERM');
  process.on('SIGINT', sigint);
  process.on('SIGTERM', sigterm);
  setup.signal = ac.signal;

  let poller: StatsPoller | null = null;
  let lastPlain = 0;
  let abortedByChecks: string | null = null;
  const partial: Interval[] = [];
  const seenCmds = new Set<string>();
  setup.onStart = (clock, targetAuth, early) => {
    for (const w of early) warn(w);
    say(`mcreplay: replaying ${capture} -> ${targetNames.join(', ')} at ${rateLabel(setup)}${setup.loop ? ', looping' : ''}${setup.durationNs ? ` for ${fmtNs(setup.durationNs)}` : ''} (${setup.workers} worker${setup.workers === 1 ? '' : 's'})`);
    if (pollNs !== null) {
      // the poller logs in the way the replay's probe found each target takes the credentials
      poller = new StatsPoller({ targets: targetNames, intervalMs: Math.max(10, Math.round(pollNs / 1e6)), clock, auth: targetAuth });
      poller.start();
    }
  };
  setup.onInterval = (iv, p) => {
    if (o.abortOnFail && checks.length > 0) {
      partial.push(iv);
      for (const c of Object.keys(iv.perCommand)) seenCmds.add(c);
      const st = canStillPass({ intervals: partial, intervalNs: 1e9, commands: [...seenCmds].sort() }, checks);
      if (!st.canPass && abortedByChecks === null) {
        abortedByChecks = st.failed.map((f) => `${f.check}: ${f.message}`).join('; ');
        say(`${tty ? '\n' : ''}mcreplay: --abort-on-fail: ${abortedByChecks}; stopping`);
        ac.abort();
      }
    }
    if (!showProgress) return;
    const line = progressLine(iv, p, maxMode, pre.totalNs);
    if (tty) process.stderr.write(`\r\x1b[K${line}`);
    else if (iv.endNs - lastPlain >= 5e9) {
      lastPlain = iv.endNs;
      process.stderr.write(`${line}\n`);
    }
  };

  // --metrics: Prometheus /metrics while the run goes (src/report/prometheus.ts)
  const metrics = o.metrics === undefined ? null : createLiveMetrics(targetNames.join(','));
  const metricsServer = metrics === null ? null : await serveMetrics(o.metrics!, metrics);
  if (metrics !== null) {
    setup.onCaptured = (v) => metrics.setCaptured(v);
    const onIv = setup.onInterval;
    setup.onInterval = (iv, p) => {
      metrics.add(iv);
      onIv(iv, p);
    };
  }
  let out;
  try {
    out = await runReplay(setup);
  } finally {
    await metricsServer?.close();
    process.off('SIGINT', sigint);
    process.off('SIGTERM', sigterm);
    if (tty && showProgress) process.stderr.write('\n');
  }
  const targetStats = poller !== null ? await (poller as StatsPoller).stop() : [];
  // failed polls leave one line per target in the results (the samples are just missing)
  if (poller !== null) out.warnings.push(...(poller as StatsPoller).warnings());
  const after = await readTargetStats(targetNames, setup.auth);
  const verdict = engineVerdict(out, setup, limits, abortedByChecks !== null ? null : signal);
  if (abortedByChecks !== null) {
    // stopped by the gate, not by the user: the checks decide the exit code
    verdict.status = verdict.saturated ? 'saturated' : 'pass';
    verdict.exitCode = verdict.saturated ? ExitCode.invalidRun : ExitCode.ok;
    verdict.reasons = verdict.reasons.filter((r) => !r.startsWith('interrupted'));
    verdict.reasons.push(`stopped early by --abort-on-fail`);
  }
  const id = makeRunId(capture, out.startedAt, o.out);
  const results: ResultsFile = buildResults(setup, out, {
    id,
    argv: process.argv.slice(2),
    // hashed after the run: reading the file twice at once would slow the replay's own reading
    captureId: pre.captureId ?? (await captureIdentity(capture).catch(() => ({ sha256: '', bytes: 0 }))),
    options: { maxLagNs: limits.maxLagNs, maxStallNs: limits.maxStallNs, cloneKeys: setup.cloneKeys, abortedByChecks, signal },
    targetStats,
    verdict,
  });
  results.targetState = targetState(before, after);
  results.captureQuality = captureQuality(out.extract?.capture ?? null, out.extract?.extract ?? null, out.capture.requests, out.capture.replayable);
  const { d, resultsPath, hlogPath, htmlPath } = await judgeAndWrite(results, gate, { dir: o.out, id, html: o.html !== false, png: o.png !== false });

  if (o.json) {
    process.stdout.write(`${JSON.stringify(jsonSummary(results, resultsPath, hlogPath, htmlPath, out.totals), null, 2)}\n`);
  } else {
    process.stdout.write(`${humanSummary(results, { results: resultsPath, html: htmlPath }, rateLabel(setup))}\n${d.text}\n`);
  }
  return d.verdict.exitCode;
}
