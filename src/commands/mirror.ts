// `mcreplay mirror --interface eth0 --port 11211 --target new:11211`: copies live traffic onto new
// servers as it happens. tcpdump runs as a child (or a capture stream comes on stdin); each request
// is sent a fixed delay after it was captured; the run ends on SIGINT/SIGTERM, --duration or the end
// of the stream, and writes results as `replay` does.
import { Command } from 'commander';
import { join } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { cpus } from 'node:os';
import { ExitCode, McError } from '../errors.js';
import { collect, intOption } from './options.js';
import { parseTargets, formatHostPort, targetAddresses } from '../topology/targets.js';
import { defaultShape, normalizeServerKey, type ShapeOptions } from '../workload/shape.js';
import type { WorkloadRequest } from '../workload/model.js';
import { listOption, parseDurationNs } from '../replay/parse.js';
import { runReplay, type ReplaySetup } from '../replay/coordinator.js';
import { buildResults, engineVerdict } from '../replay/results.js';
import { DEFAULT_BACKLOG_BYTES, DEFAULT_BACKLOG_REQUESTS, type LiveInput } from '../replay/live-source.js';
import { keySampler, parseShare } from '../replay/sample.js';
import { captureQuality } from '../replay/capture-quality.js';
import { portFilter, startTcpdump, type Tcpdump, type TcpdumpCounts } from '../replay/tcpdump.js';
import type { PoolPart } from '../replay/pool-route.js';
import { makeRunId, writeResultsFile } from '../metrics/results.js';
import { writeHlog } from '../metrics/hlog.js';
import { writeReport } from '../report/index.js';
import { StatsPoller } from '../metrics/stats-poller.js';
import type { ResultsFile } from '../metrics/results-types.js';
import { formatVerdict, parseChecks, preflightGate, runGate, type GateOptions } from '../report/gate.js';
import { fmtInt, fmtNs, parsePorts } from './text.js';
import { createLiveMetrics, serveMetrics, type CapturedView, type MetricsServer } from '../report/prometheus.js';
import { createWarmthTracker, parseUntilWarm, type WarmthTracker } from '../report/warmth.js';

const EXAMPLES = `
Examples:
  mcreplay mirror --interface eth0 --port 11211 --target new1:11211
  mcreplay mirror --interface any --port 11211,11212 --target 10.0.0.5:11211=new1:11211 --target 10.0.0.5:11212=new1:11212
  mcreplay mirror --interface eth0 --pool new1:11211,new2:11211 --hash ketama
  tcpdump -i eth0 -s 0 -U -w - 'tcp port 11211' | mcreplay mirror - --target new1:11211
  mcreplay mirror --interface lo --port 11211 --target 127.0.0.1:11311 --sample 10% --duration 1m

Timing: request i is sent at (its capture timestamp + --delay) on this host's clock; lag = actual -
intended, response and service time as in replay. A capture timestamp more than 1 s ahead of (or
10 s behind) this host's clock is a clock jump: counted, reported, and the mapping re-anchored.

Backlog: when the target is slower than production, at most --max-backlog requests (and
--max-backlog-bytes of them) wait for the workers; beyond that a request is dropped and counted
as held back "backlog-full". Reading the capture never waits for the target.

Permissions: --interface runs tcpdump, which needs root or CAP_NET_RAW (and CAP_NET_ADMIN for -B).

Warmth: --until-warm 'hit_ratio{cmd=get} >= captured - 2% over 10m' ends the mirror by itself
(exit 0) once the target's hit ratio has kept up with the capture's over a whole window; with
--duration as the limit, exit 99 if it never did.

Exit codes: 0 ok (also when stopped by SIGINT/SIGTERM: the results are written), 2 bad usage or
no capture (tcpdump missing, no permission, no such interface), 3 target unreachable, 4 saturated,
or the capture ended unexpectedly (tcpdump died), 99 a threshold failed or never warm.`;

interface MirrorOpts {
  interface?: string;
  tcpdump: string;
  target?: string[];
  pool?: string;
  hash?: string;
  port?: string[];
  anyPort?: boolean;
  asciiAuth?: boolean;
  delay: string;
  duration?: string;
  sample?: string;
  maxBacklog: string;
  maxBacklogBytes: string;
  clone: string;
  cloneKeys?: boolean;
  commands?: string[];
  readOnly?: boolean;
  writesOnly?: boolean;
  server?: string[];
  allow?: string[];
  saslUser?: string;
  allowSourceTarget?: boolean;
  pollStats?: string | boolean;
  out: string;
  json?: boolean;
  workers?: string;
  timeout: string;
  maxLag: string;
  maxStall: string;
  progress: boolean;
  html: boolean;
  png: boolean;
  threshold?: string[];
  metrics?: string;
  untilWarm?: string;
}


/** "64MiB", "1GiB", "500000" → bytes. */
function parseBytes(text: string, option: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(|k|ki|kib|kb|m|mi|mib|mb|g|gi|gib|gb)$/i.exec(text.trim());
  if (!m) throw new McError(`${option} ${text}: expected a size such as 64MiB`, ExitCode.usage);
  const unit = m[2]!.toLowerCase()[0] ?? '';
  const mult = unit === 'k' ? 1024 : unit === 'm' ? 1024 ** 2 : unit === 'g' ? 1024 ** 3 : 1;
  return Math.floor(Number(m[1]) * mult);
}

/** Adds the 'mirror' verb to the program. */
export function register(program: Command): void {
  program
    .command('mirror')
    .description('Copy live memcached traffic onto target servers as it happens (tcpdump child, or a capture stream on stdin)')
    .argument('[capture]', '- to read a live pcap/pcapng stream from stdin (instead of --interface)')
    .option('--interface <if>', 'capture on this interface with tcpdump (any = all interfaces)')
    .option('--tcpdump <path>', 'the tcpdump binary', 'tcpdump')
    .option('--target <addr>', 'target host:port for everything, or captured=new to map one captured server (repeatable)', collect)
    .option('--pool <list>', 'targets as a client pool: host:port,host:port (keys are re-sharded with --hash)')
    .option('--hash <scheme>', 'pool hashing: modulo, crc32, ketama, rendezvous')
    .option('--port <ports>', 'memcached server port(s) (default 11211)', collect)
    .option('--any-port', 'also decode TCP connections on other ports (server = the SYN receiver)')
    .option('--ascii-auth', 'the captured servers run with ascii auth (memcached -Y): the first set of every connection is credentials, never mirrored')
    .option('--delay <d>', 'send each request this long after it was captured', '30ms')
    .option('--duration <d>', 'stop after this long (default: until SIGINT/SIGTERM or the end of the stream)')
    .option('--sample <pct>', 'mirror only this share of the keys, chosen by key hash (e.g. 10%)')
    .option('--max-backlog <n>', 'requests waiting for the workers beyond which new ones are dropped', String(DEFAULT_BACKLOG_REQUESTS))
    .option('--max-backlog-bytes <size>', 'request bytes waiting beyond which new ones are dropped', '64MiB')
    .option('--clone <n>', 'send every connection N times', '1')
    .option('--clone-keys', 'namespace keys per clone (c1:, c2: ...)')
    .option('--commands <list>', 'only these commands (get,set,...)', collect)
    .option('--read-only', 'only commands that do not change the cache')
    .option('--writes-only', 'only commands that change the cache (no gets, stats ...)')
    .option('--server <addr>', 'only connections to this captured server (repeatable)', collect)
    .option('--allow <list>', 'destructive commands to send anyway (flush_all,verbosity,...)', collect)
    .option('--sasl-user <user>', 'authenticate to targets as this user; password from MCREPLAY_SASL_PASSWORD')
    .option('--allow-source-target', 'allow a target that is one of the captured servers')
    .option('--poll-stats [interval]', 'poll `stats` on every target (default every 1s)')
    .option('--out <dir>', 'reports directory', 'reports')
    .option('--json', 'print the run summary as JSON on stdout')
    .option('--workers <n>', 'worker threads (default min(cores - 1, 4), at least 1)')
    .option('--timeout <d>', 'a request unanswered this long fails as timeout', '5s')
    .option('--max-lag <d>', 'lag p99 above this makes the run saturated (exit 4)', '10ms')
    .option('--max-stall <d>', 'a worker event-loop stall above this makes the run saturated (exit 4)', '250ms')
    .option('--no-progress', 'no progress output on stderr')
    .option('--no-html', 'do not write the HTML report')
    .option('--no-png', 'do not draw the PNG charts beside the HTML report')
    .option('--threshold <check>', "pass/fail check, e.g. 'latency.p99 < 2ms' (repeatable; exit 99 when one fails)", collect)
    .option('--until-warm <check>', "end the mirror (exit 0) once the check has held over its window, e.g. 'hit_ratio{cmd=get} >= captured - 2% over 10m'; exit 99 if --duration or the stream ends first")
    .option('--metrics <[host:]port>', 'serve Prometheus /metrics while the mirror runs (127.0.0.1 unless a host is given; no authentication)')
    .addHelpText('after', EXAMPLES)
    .action(async (capture: string | undefined, o: MirrorOpts) => {
      process.exitCode = await mirrorAction(capture, o);
    });
}

const WRITE_CLASSES_EXCLUDED = new Set(['read', 'info', 'session']);

function buildSetup(o: MirrorOpts, capture: string | undefined): { setup: ReplaySetup; limits: { maxLagNs: number; maxStallNs: number }; pollNs: number | null; sample: number | null } {
  if (capture !== undefined && capture !== '-') throw new McError(`mirror reads a live stream: give --interface IF, or - for stdin (for a capture file use \`mcreplay replay ${capture}\`)`, ExitCode.usage);
  if (capture === '-' && o.interface !== undefined) throw new McError('give either --interface or - (stdin), not both', ExitCode.usage);
  if (capture === undefined && o.interface === undefined) throw new McError('nothing to mirror: give --interface IF (tcpdump runs as a child) or - to read a capture stream on stdin', ExitCode.usage);
  if (o.readOnly && o.writesOnly) throw new McError('--read-only and --writes-only exclude each other', ExitCode.usage);
  const targets = parseTargets({ target: o.target, pool: o.pool, hash: o.hash });
  const shape: ShapeOptions = defaultShape();
  const commands = listOption(o.commands);
  if (commands.length > 0) shape.commands = new Set(commands.map((c) => c.toLowerCase()));
  shape.readOnly = o.readOnly === true;
  const servers = listOption(o.server);
  if (servers.length > 0) shape.servers = new Set(servers.map(normalizeServerKey));
  shape.allow = new Set(listOption(o.allow).map((c) => c.toLowerCase()));
  const durationNs = o.duration === undefined ? null : parseDurationNs(o.duration, '--duration');
  if (durationNs !== null && durationNs <= 0) throw new McError('--duration must be above 0', ExitCode.usage);
  const timeoutNs = parseDurationNs(o.timeout, '--timeout');
  if (timeoutNs <= 0) throw new McError('--timeout must be above 0', ExitCode.usage);
  let auth: ReplaySetup['auth'] = null;
  if (o.saslUser !== undefined) {
    const password = process.env.MCREPLAY_SASL_PASSWORD;
    if (password === undefined) throw new McError('--sasl-user needs the password in the environment variable MCREPLAY_SASL_PASSWORD', ExitCode.usage);
    auth = { user: o.saslUser, password };
  }
  let pollNs: number | null = null;
  if (o.pollStats !== undefined && o.pollStats !== false) pollNs = o.pollStats === true ? 1e9 : parseDurationNs(o.pollStats, '--poll-stats');
  let sample: number | null = null;
  if (o.sample !== undefined) {
    sample = parseShare(o.sample);
    if (sample === null) throw new McError(`--sample ${o.sample}: expected a share of the keys such as 10% (above 0, at most 100%)`, ExitCode.usage);
  }
  let ports: number[];
  try {
    ports = parsePorts(o.port);
  } catch (err) {
    throw new McError((err as Error).message, ExitCode.usage);
  }
  const setup: ReplaySetup = {
    input: capture === '-' ? '-' : `tcpdump:${o.interface}`,
    targets,
    rate: { mode: 'factor', factor: 1 },
    shape,
    clone: intOption(o.clone, '--clone', 1, 10_000),
    cloneKeys: o.cloneKeys === true,
    loop: false,
    durationNs,
    ttlScale: 1,
    workers: o.workers === undefined ? Math.max(1, Math.min(cpus().length - 1, 4)) : intOption(o.workers, '--workers', 1, 256),
    timeoutNs,
    serverPorts: ports,
    anyPort: o.anyPort === true,
    asciiAuth: o.asciiAuth === true,
    auth,
    allowSourceTarget: o.allowSourceTarget === true,
    intervalNs: 1e9,
    lookAheadNs: 0,
    warmup: { ns: null, requests: null },
  };
  const limits = { maxLagNs: parseDurationNs(o.maxLag, '--max-lag'), maxStallNs: parseDurationNs(o.maxStall, '--max-stall') };
  return { setup, limits, pollNs, sample };
}

/** The per-request filter of --sample and --writes-only. */
function requestFilter(sample: number | null, writesOnly: boolean): ((r: WorkloadRequest) => string | PoolPart | null) | null {
  const sampler = sample === null || sample >= 1 ? null : keySampler(sample);
  if (!writesOnly) return sampler;
  return (r) => (WRITE_CLASSES_EXCLUDED.has(r.cls) ? 'filtered' : sampler === null ? null : sampler(r));
}

/** Runs the mirror verb; returns the exit code. */
export async function mirrorAction(capture: string | undefined, o: MirrorOpts): Promise<number> {
  const { setup, limits, pollNs, sample } = buildSetup(o, capture);
  const delayNs = parseDurationNs(o.delay, '--delay');
  if (delayNs < 0 || delayNs > 60e9) throw new McError('--delay must be from 0 to 60s', ExitCode.usage);
  const backlog = { requests: intOption(o.maxBacklog, '--max-backlog', 1, 100_000_000), bytes: parseBytes(o.maxBacklogBytes, '--max-backlog-bytes') };
  if (backlog.bytes <= 0) backlog.bytes = DEFAULT_BACKLOG_BYTES;
  const gate: GateOptions = { checks: parseChecks(o.threshold ?? []), baseline: null, maxRegression: [], force: false, junit: null, summary: null, benchJson: null };
  preflightGate(gate);
  const showProgress = o.progress !== false;
  const say = (s: string): void => {
    if (showProgress) process.stderr.write(`${s}\n`);
  };

  const warmRule = o.untilWarm === undefined ? null : parseUntilWarm(o.untilWarm);
  const targetLabel = targetAddresses(setup.targets).map(formatHostPort).join(',');
  const metrics = o.metrics === undefined ? null : createLiveMetrics(targetLabel);
  let capturedView: CapturedView | null = null;
  setup.onCaptured = (v) => {
    capturedView = v;
    metrics?.setCaptured(v);
  };
  let metricsServer: MetricsServer | null = null;
  if (metrics !== null) metricsServer = await serveMetrics(o.metrics!, metrics);
  let tcpdump: Tcpdump | null = null;
  let chunks: AsyncIterable<Buffer>;
  let cancel: () => void;
  let name: string;
  if (o.interface !== undefined) {
    const filter = portFilter(setup.serverPorts, setup.anyPort);
    tcpdump = await startTcpdump(o.interface, filter, o.tcpdump).catch(async (e: unknown) => {
      await metricsServer?.close();
      throw e;
    });
    const td = tcpdump;
    chunks = td.stdout;
    cancel = () => void td.stop();
    name = td.command;
  } else {
    chunks = process.stdin;
    cancel = () => process.stdin.destroy();
    name = 'standard input';
  }
  const live: LiveInput = { chunks, name, delayNs, backlog, sampler: requestFilter(sample, o.writesOnly === true), cancel };
  setup.live = live;

  const ac = new AbortController();
  let signal: 'SIGINT' | 'SIGTERM' | null = null;
  const onSig = (s: 'SIGINT' | 'SIGTERM'): void => {
    if (signal !== null) {
      process.stderr.write(`mcreplay: second ${s}, exiting without results\n`);
      process.exit(0);
    }
    signal = s;
    say(`mcreplay: ${s}: stopping the mirror, writing the results ...`);
    ac.abort();
  };
  const sigint = (): void => onSig('SIGINT');
  const sigterm = (): void => onSig('SIGTERM');
  process.on('SIGINT', sigint);
  process.on('SIGTERM', sigterm);
  setup.signal = ac.signal;

  let poller: StatsPoller | null = null;
  const targetNames = targetAddresses(setup.targets).map(formatHostPort);
  setup.onStart = (clock, targetAuth, early) => {
    for (const w of early) process.stderr.write(`mcreplay: warning: ${w}\n`);
    if (metricsServer !== null) say(`mcreplay: metrics on http://${metricsServer.address}/metrics (no authentication)`);
    say(`mcreplay: mirroring ${name} -> ${targetNames.join(', ')}, ${fmtNs(delayNs)} after capture${sample !== null ? `, ${(sample * 100).toFixed(3).replace(/\.?0+$/, '')}% of the keys` : ''}${setup.durationNs ? ` for ${fmtNs(setup.durationNs)}` : ''}`);
    if (pollNs !== null) {
      poller = new StatsPoller({ targets: targetNames, intervalMs: Math.max(10, Math.round(pollNs / 1e6)), clock, auth: targetAuth });
      poller.start();
    }
  };
  let warm: WarmthTracker | null = null;
  if (warmRule !== null) {
    warm = createWarmthTracker(warmRule, setup.intervalNs, (atNs) => {
      say(`mcreplay: --until-warm held over ${fmtNs(warmRule.windowNs)} at ${fmtNs(atNs)}: ${warm?.last ?? ''}; stopping`);
      ac.abort();
    });
  }
  let lastLine = 0;
  setup.onInterval = (iv, p) => {
    metrics?.add(iv);
    warm?.add(iv, capturedView);
    if (!showProgress || iv.endNs - lastLine < 5e9) return;
    lastLine = iv.endNs;
    const c = iv.total.counters;
    const secs = (iv.endNs - iv.startNs) / 1e9 || 1;
    process.stderr.write(`${(iv.endNs / 1e9).toFixed(0)}s  sent ${fmtInt(p.total.sent)}  ${fmtInt(c.completed / secs)}/s  p99 ${p.responseP99Ns > 0 ? fmtNs(p.responseP99Ns) : '-'}  errors ${fmtInt(p.errors)}  lag p99 ${fmtNs(p.lagP99Ns)}\n`);
  };

  let out;
  let tcpdumpEnd: { code: number | null; signal: string | null; counts: TcpdumpCounts; stderr: string } | null = null;
  let tcpdumpDied = false;
  try {
    out = await runReplay(setup);
  } finally {
    process.off('SIGINT', sigint);
    process.off('SIGTERM', sigterm);
    await metricsServer?.close();
    if (tcpdump !== null) {
      // the stream ended by itself: tcpdump is exiting; its 'close' may come just after the last byte
      if (out?.stopReason === 'complete') await Promise.race([tcpdump.exited, new Promise((r) => setTimeout(r, 3000).unref())]);
      tcpdumpDied = tcpdump.unexpectedExit();
      tcpdumpEnd = await tcpdump.stop();
    }
  }
  const targetStats = poller !== null ? await (poller as StatsPoller).stop() : [];
  if (poller !== null) out.warnings.push(...(poller as StatsPoller).warnings());
  // a stream cut mid-record (its producer died) is said, never taken for a clean end
  const quality = captureQuality(out.extract?.capture ?? null, out.extract?.extract ?? null, out.capture.requests, out.capture.replayable);
  if (quality.cutShort) out.warnings.push(quality.findings[0]!);
  const lc = out.liveClock;
  if (lc && lc.jumps > 0) out.warnings.push(`the capture's clock jumped ${lc.jumps} time(s) against this host's clock (largest ${fmtNs(Math.abs(lc.worstOffsetNs))} ${lc.worstOffsetNs > 0 ? 'ahead' : 'behind'}): the send times were re-anchored there`);
  if (tcpdumpEnd !== null && (tcpdumpEnd.counts.droppedByKernel ?? 0) > 0) out.warnings.push(`tcpdump: ${tcpdumpEnd.counts.droppedByKernel} packets dropped by the kernel (requests on those connections may be lost or cut)`);
  const streamEnded = out.stopReason === 'complete';
  if (tcpdumpDied && tcpdumpEnd !== null) {
    out.warnings.push(`tcpdump exited during the mirror (code ${tcpdumpEnd.code ?? '-'}${tcpdumpEnd.signal ? `, ${tcpdumpEnd.signal}` : ''}): ${tcpdumpEnd.stderr.trim().split('\n').slice(-2).join(' ').slice(0, 300) || 'no message'}`);
  }

  const verdict = engineVerdict(out, setup, limits, null);
  const warmAtNs = warm?.heldAtNs ?? null;
  if (out.stopReason === 'interrupted' && (signal !== null || warmAtNs !== null)) {
    // a user's stop, or --until-warm reached, is how a mirror ends
    verdict.status = verdict.saturated ? 'saturated' : 'pass';
    verdict.exitCode = verdict.saturated ? ExitCode.invalidRun : ExitCode.ok;
    verdict.reasons = verdict.reasons.filter((r) => !r.startsWith('interrupted'));
    verdict.reasons.push(signal !== null ? `stopped by ${signal}` : `warm: '${warmRule!.text}' held at ${fmtNs(warmAtNs!)} (${warm!.last})`);
  }
  if (warmRule !== null && warmAtNs === null) {
    const why = `never warm: '${warmRule.text}' did not hold over a whole window${warm!.last ? ` (last: ${warm!.last})` : ''}`;
    verdict.reasons.push(why);
    if (signal === null && verdict.status !== 'saturated') {
      verdict.status = 'fail';
      verdict.exitCode = ExitCode.thresholdFailed;
    }
  }
  if (tcpdumpDied) {
    verdict.status = 'error';
    verdict.exitCode = ExitCode.invalidRun;
    verdict.reasons.push('the capture ended unexpectedly: tcpdump exited during the mirror');
  }
  await mkdir(o.out, { recursive: true });
  const id = makeRunId('mirror', out.startedAt, o.out);
  const results: ResultsFile = buildResults(setup, out, {
    id,
    argv: process.argv.slice(2),
    captureId: { sha256: '', bytes: 0 },
    options: {
      maxLagNs: limits.maxLagNs,
      maxStallNs: limits.maxStallNs,
      cloneKeys: setup.cloneKeys,
      signal,
      mirror: {
        source: name,
        delayNs,
        sample,
        backlog,
        streamEnded,
        clock: out.liveClock ?? null,
        warm: warmRule === null ? null : { rule: warmRule.text, windowNs: warmRule.windowNs, heldAtNs: warmAtNs, last: warm!.last },
        tcpdump: tcpdumpEnd === null ? null : { command: tcpdump!.command, exitCode: tcpdumpEnd.code, signal: tcpdumpEnd.signal, diedDuringRun: tcpdumpDied, ...tcpdumpEnd.counts },
      },
    },
    targetStats,
    verdict,
  });
  const dir = join(o.out, id);
  await mkdir(dir, { recursive: true });
  const resultsPath = join(dir, 'results.json');
  await writeResultsFile(resultsPath, results);
  const hlogPath = join(dir, 'latency.hlog');
  await writeHlog(results, hlogPath);
  let htmlPath: string | null = null;
  if (o.html !== false) {
    try {
      htmlPath = (await writeReport(resultsPath, { png: o.png !== false })).html;
    } catch (err) {
      process.stderr.write(`mcreplay: the HTML report failed (results.json is written): ${(err as Error).message}\n`);
    }
  }
  gate.reportDir = dir;
  const g = await runGate(results, gate);
  if (warmRule !== null && warmAtNs === null && signal === null && g.verdict.status === 'pass') {
    // never warm is the cut-over gate failing: it outlives the gate's own recomputation
    g.verdict.status = 'fail';
    g.verdict.exitCode = ExitCode.thresholdFailed;
    g.exitCode = ExitCode.thresholdFailed;
    g.text = g.text.replace(/verdict:[\s\S]*$/, formatVerdict(g.verdict));
  }
  if (g.verdict.status !== results.verdict.status || g.verdict.checks.length > 0) {
    results.verdict = g.verdict;
    await writeResultsFile(resultsPath, results);
  }
  const t = results.summary.total.counters;
  if (tcpdumpDied) process.stderr.write(`mcreplay: tcpdump exited during the mirror; results written to ${resultsPath}\n`);
  if (o.json) {
    process.stdout.write(
      `${JSON.stringify(
        {
          runId: id,
          results: resultsPath,
          hlog: hlogPath,
          html: htmlPath,
          verdict: results.verdict,
          stopReason: out.stopReason,
          durationNs: results.summary.durationNs,
          counters: t,
          heldBack: out.heldBack,
          lag: results.summary.lag,
          clock: out.liveClock ?? null,
          warm: warmRule === null ? null : { rule: warmRule.text, heldAtNs: warmAtNs, last: warm!.last },
          tcpdump: results.config.options.mirror && tcpdumpEnd ? tcpdumpEnd.counts : null,
          warnings: out.warnings,
        },
        null,
        2,
      )}\n`,
    );
  } else {
    const lines = [`mirrored ${name}: ${fmtInt(t.sent)} sent, ${fmtInt(t.completed)} answered in ${fmtNs(results.summary.durationNs)}`];
    const held = Object.entries(out.heldBack).filter(([, n]) => n > 0);
    if (held.length) lines.push(`held back / dropped: ${held.map(([k, n]) => `${k} ${fmtInt(n)}`).join(', ')}`);
    if (results.summary.lag.count > 0) lines.push(`lag behind capture + ${fmtNs(delayNs)}: p50 ${fmtNs(results.summary.lag.p50)}, p99 ${fmtNs(results.summary.lag.p99)}, max ${fmtNs(results.summary.lag.max)}`);
    if (warmRule !== null) lines.push(warmAtNs !== null ? `warm: '${warmRule.text}' held at ${fmtNs(warmAtNs)}` : `NOT warm: '${warmRule.text}' never held over a whole window${warm!.last ? ` (last: ${warm!.last})` : ''}`);
    if (tcpdumpEnd !== null) lines.push(`tcpdump: ${tcpdumpEnd.counts.captured ?? '?'} packets captured, ${tcpdumpEnd.counts.droppedByKernel ?? '?'} dropped by the kernel`);
    for (const w of out.warnings) lines.push(`warning: ${w}`);
    lines.push(`results: ${resultsPath}${htmlPath ? `\nreport:  ${htmlPath}` : ''}`);
    process.stdout.write(`${lines.join('\n')}\n${g.text}\n`);
  }
  return g.exitCode;
}
