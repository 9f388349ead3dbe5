// `mcreplay mirror --interface eth0 --port 11211 --target new:11211`: copies live traffic onto new
// servers as it happens. tcpdump runs as a child (or a capture stream comes on stdin); each request
// is sent a fixed delay after it was captured; the run ends on SIGINT/SIGTERM, --duration,
// --until-warm or the end of the stream, and writes results as `replay` does.
import { Command } from 'commander';
import { rm } from 'node:fs/promises';
import { McError } from '../errors.js';
import { intOption } from './options.js';
import { formatHostPort, targetAddresses } from '../topology/targets.js';
import { parseDurationNs } from '../replay/parse.js';
import type { ReplayOutcome, ReplaySetup } from '../replay/coordinator.js';
import { createSession } from '../replay/session.js';
import { engineVerdict } from '../replay/results.js';
import { capturedSince } from '../replay/results-sink.js';
import { mirrorRun } from './mirror-results.js';
import { DEFAULT_BACKLOG_BYTES, DEFAULT_BACKLOG_REQUESTS, type LiveInput } from '../replay/live-source.js';
import { mirrorFilter, parseShare } from '../replay/sample.js';
import { captureQuality } from '../replay/capture-quality.js';
import { portFilter, startTcpdump, type Tcpdump, type TcpdumpCounts } from '../replay/tcpdump.js';
import { writeResultsFile } from '../metrics/results.js';
import type { Interval, ResultsFile } from '../metrics/results-types.js';
import { failVerdict, formatVerdict, parseChecks, preflightGate, runGate, type GateOptions } from '../report/gate.js';
import { fmtNs } from '../report/format.js';
import { mirrorProgressLine } from '../report/progress-line.js';
import { mirrorJson, mirrorText, type MirrorEnd } from '../report/mirror-summary.js';
import { mirrorVerdict } from '../report/mirror-verdict.js';
import { createLiveMetrics, serveMetrics, setTargetStats, setTcpdumpCounts, type MetricsServer } from '../report/prometheus.js';
import { createWarmthTracker, parseUntilWarm, type WarmthTracker } from '../report/warmth.js';
import { renderHtml } from './run-output.js';
import { addMetricsOption, addOutputOptions, addRunOptions, addServerOptions, addShapeOptions, addTargetOptions, addThresholdOption, addViewOptions, parseCommonRun, type RunOpts } from './run-options.js';

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
--duration as the limit, exit 99 if it never did. Both sides count the same requests (by intended
send time), and the check runs on intervals older than the timeout (--delay + --timeout after
their end), when every answer is in.

Exit codes: 0 ok (also when stopped by SIGINT/SIGTERM: the results are written), 2 bad usage or
no capture (tcpdump missing, no permission, no such interface), 3 target unreachable, 4 saturated,
or the capture ended unexpectedly (tcpdump died), 99 a threshold failed or never warm.`;

interface MirrorOpts extends RunOpts {
  interface?: string;
  tcpdump: string;
  delay: string;
  sample?: string;
  maxBacklog: string;
  maxBacklogBytes: string;
  writesOnly?: boolean;
  untilWarm?: string;
}

/** "64MiB", "1GiB", "500000" → bytes. */
function parseBytes(text: string, option: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(|k|ki|kib|kb|m|mi|mib|mb|g|gi|gib|gb)$/i.exec(text.trim());
  if (!m) throw new McError(`${option} ${text}: expected a size such as 64MiB`, 'MCR_ERR_BAD_OPTION');
  const unit = m[2]!.toLowerCase()[0] ?? '';
  const mult = unit === 'k' ? 1024 : unit === 'm' ? 1024 ** 2 : unit === 'g' ? 1024 ** 3 : 1;
  return Math.floor(Number(m[1]) * mult);
}

/** Adds the 'mirror' verb to the program. */
export function register(program: Command): void {
  const cmd = program
    .command('mirror')
    .description('Copy live memcached traffic onto target servers as it happens (tcpdump child, or a capture stream on stdin)')
    .argument('[capture]', '- to read a live pcap/pcapng stream from stdin (instead of --interface)')
    .option('--interface <if>', 'capture on this interface with tcpdump (any = all interfaces)')
    .option('--tcpdump <path>', 'the tcpdump binary', 'tcpdump');
  addTargetOptions(cmd)
    .option('--delay <d>', 'send each request this long after it was captured', '30ms')
    .option('--duration <d>', 'stop after this long (default: until SIGINT/SIGTERM or the end of the stream)')
    .option('--sample <pct>', 'mirror only this share of the keys, chosen by key hash (e.g. 10%)')
    .option('--max-backlog <n>', 'requests waiting for the workers beyond which new ones are dropped', String(DEFAULT_BACKLOG_REQUESTS))
    .option('--max-backlog-bytes <size>', 'request bytes waiting beyond which new ones are dropped', '64MiB');
  addShapeOptions(cmd).option('--writes-only', 'only commands that change the cache (no gets, stats ...)');
  addServerOptions(cmd);
  addRunOptions(cmd);
  addOutputOptions(cmd);
  addViewOptions(cmd);
  addThresholdOption(cmd).option(
    '--until-warm <check>',
    "end the mirror (exit 0) once the check has held over its window, e.g. 'hit_ratio{cmd=get} >= captured - 2% over 10m'; exit 99 if --duration or the stream ends first",
  );
  addMetricsOption(cmd)
    .addHelpText('after', EXAMPLES)
    .action(async (capture: string | undefined, o: MirrorOpts) => {
      process.exitCode = await mirrorAction(capture, o);
    });
}


function buildSetup(o: MirrorOpts, capture: string | undefined): { setup: ReplaySetup; limits: { maxLagNs: number; maxStallNs: number }; pollNs: number | null; sample: number | null } {
  if (capture !== undefined && capture !== '-') throw new McError(`mirror reads a live stream: give --interface IF, or - for stdin (for a capture file use \`mcreplay replay ${capture}\`)`, 'MCR_ERR_BAD_OPTION');
  if (capture === '-' && o.interface !== undefined) throw new McError('give either --interface or - (stdin), not both', 'MCR_ERR_BAD_OPTION');
  if (capture === undefined && o.interface === undefined) throw new McError('nothing to mirror: give --interface IF (tcpdump runs as a child) or - to read a capture stream on stdin', 'MCR_ERR_BAD_OPTION');
  if (o.readOnly && o.writesOnly) throw new McError('--read-only and --writes-only exclude each other', 'MCR_ERR_BAD_OPTION');
  const { common, pollNs, limits } = parseCommonRun(o);
  let sample: number | null = null;
  if (o.sample !== undefined) {
    sample = parseShare(o.sample);
    if (sample === null) throw new McError(`--sample ${o.sample}: expected a share of the keys such as 10% (above 0, at most 100%)`, 'MCR_ERR_BAD_OPTION');
  }
  const setup: ReplaySetup = {
    ...common,
    input: capture === '-' ? '-' : `tcpdump:${o.interface}`,
    rate: { mode: 'factor', factor: 1 },
    loop: false,
    ttlScale: 1,
    lookAheadNs: 0,
    warmup: { ns: null, requests: null },
  };
  return { setup, limits, pollNs, sample };
}

/** The live input: tcpdump as a child on --interface, or a capture stream on stdin. */
async function openInput(o: MirrorOpts, setup: ReplaySetup): Promise<{ tcpdump: Tcpdump | null; chunks: AsyncIterable<Buffer>; cancel: () => void; name: string }> {
  if (o.interface === undefined) return { tcpdump: null, chunks: process.stdin, cancel: () => process.stdin.destroy(), name: 'standard input' };
  const td = await startTcpdump(o.interface, portFilter(setup.serverPorts, setup.anyPort), o.tcpdump);
  return { tcpdump: td, chunks: td.stdout, cancel: () => void td.stop(), name: td.command };
}

type TcpdumpEnd = { code: number | null; signal: string | null; counts: TcpdumpCounts; stderr: string };

/** Stops tcpdump after the run: whether it died during it, and how it ended. */
async function endTcpdump(tcpdump: Tcpdump, out: ReplayOutcome | undefined): Promise<{ died: boolean; end: TcpdumpEnd }> {
  // the stream ended by itself: tcpdump is exiting; its 'close' may come just after the last byte
  if (out?.stopReason === 'complete') await Promise.race([tcpdump.exited, new Promise((r) => setTimeout(r, 3000).unref())]);
  const died = tcpdump.unexpectedExit();
  return { died, end: await tcpdump.stop() };
}

/** The run's own warnings about the capture clock and tcpdump. */
function mirrorWarnings(out: ReplayOutcome, td: { died: boolean; end: TcpdumpEnd } | null): void {
  const lc = out.liveClock;
  if (lc && lc.jumps > 0) out.warnings.push(`the capture's clock jumped ${lc.jumps} time(s) against this host's clock (largest ${fmtNs(Math.abs(lc.worstOffsetNs))} ${lc.worstOffsetNs > 0 ? 'ahead' : 'behind'}): the send times were re-anchored there`);
  if (td === null) return;
  if ((td.end.counts.droppedByKernel ?? 0) > 0) out.warnings.push(`tcpdump: ${td.end.counts.droppedByKernel} packets dropped by the kernel (requests on those connections may be lost or cut)`);
  if (td.died) out.warnings.push(`tcpdump exited during the mirror (code ${td.end.code ?? '-'}${td.end.signal ? `, ${td.end.signal}` : ''}): ${td.end.stderr.trim().split('\n').slice(-2).join(' ').slice(0, 300) || 'no message'}`);
}

/** Writes results.json, the .hlog and the report, runs the gate (never warm outlives it), rewrites the verdict. */
async function writeMirror(results: ResultsFile, gate: GateOptions, o: MirrorOpts, run: { dir: string; resultsPath: string; hlogPath: string }, neverWarm: boolean): Promise<{ resultsPath: string; hlogPath: string; htmlPath: string | null; text: string; exitCode: number }> {
  const { dir, resultsPath, hlogPath } = run;
  // latency.hlog was appended interval by interval during the run
  await writeResultsFile(resultsPath, results);
  const htmlPath = o.html !== false ? await renderHtml(resultsPath, o.png !== false) : null;
  gate.reportDir = dir;
  const g = await runGate(results, gate);
  if (neverWarm && g.verdict.status === 'pass') {
    // never warm is the cut-over gate failing: it outlives the gate's own recomputation
    failVerdict(g.verdict, null);
    g.exitCode = g.verdict.exitCode;
    g.text = g.text.replace(/verdict:[\s\S]*$/, formatVerdict(g.verdict));
  }
  if (g.verdict.status !== results.verdict.status || g.verdict.checks.length > 0) {
    results.verdict = g.verdict;
    await writeResultsFile(resultsPath, results);
  }
  return { resultsPath, hlogPath, htmlPath, text: g.text, exitCode: g.exitCode };
}

/** Runs the mirror verb; returns the exit code. */
export async function mirrorAction(capture: string | undefined, o: MirrorOpts): Promise<number> {
  const { setup, limits, pollNs, sample } = buildSetup(o, capture);
  const delayNs = parseDurationNs(o.delay, '--delay');
  if (delayNs < 0 || delayNs > 60e9) throw new McError('--delay must be from 0 to 60s', 'MCR_ERR_BAD_OPTION');
  const backlog = { requests: intOption(o.maxBacklog, '--max-backlog', 1, 100_000_000), bytes: parseBytes(o.maxBacklogBytes, '--max-backlog-bytes') };
  if (backlog.bytes <= 0) backlog.bytes = DEFAULT_BACKLOG_BYTES;
  const gate: GateOptions = { checks: parseChecks(o.threshold ?? []), baseline: null, maxRegression: [], force: false, junit: null, summary: null, benchJson: null };
  preflightGate(gate);
  const showProgress = o.progress !== false;
  const say = (s: string): void => {
    if (showProgress) process.stderr.write(`${s}\n`);
  };

  const warmRule = o.untilWarm === undefined ? null : parseUntilWarm(o.untilWarm);
  const targetNames = targetAddresses(setup.targets).map(formatHostPort);
  // an interval's paired answers are complete once every request intended in it was answered or timed out
  const settleNs = delayNs + setup.timeoutNs;
  const metrics = o.metrics === undefined ? null : createLiveMetrics(targetNames.join(','), { settleNs, warmWindowNs: warmRule?.windowNs ?? null });
  let capturedDelta: (() => NonNullable<Interval['captured']>) | null = null;
  setup.onCaptured = (v) => {
    capturedDelta = capturedSince(v);
    metrics?.setCaptured(v);
  };
  // the run's directory is fixed up front: results.json and latency.hlog grow there as it runs
  let tcpdumpRef: Tcpdump | null = null;
  let sourceName = o.interface === undefined ? 'standard input' : `tcpdump -i ${o.interface}`;
  let warm: WarmthTracker | null = null;
  const run = await mirrorRun({ out: o.out, setup, limits, mirror: () => ({ source: sourceName, delayNs, sample, backlog, warmRule, warm, tcpdump: tcpdumpRef }) });
  const metricsServer: MetricsServer | null = metrics === null ? null : await serveMetrics(o.metrics!, metrics);
  const input = await openInput(o, setup).catch(async (e: unknown) => {
    await metricsServer?.close();
    await rm(run.dir, { recursive: true, force: true });
    throw e;
  });
  tcpdumpRef = input.tcpdump;
  sourceName = input.name;
  const live: LiveInput = { chunks: input.chunks, name: input.name, delayNs, backlog, sampler: mirrorFilter(sample, o.writesOnly === true), cancel: input.cancel };
  setup.live = live;

  setup.onStart = (_clock, _auth, early) => {
    for (const w of early) process.stderr.write(`mcreplay: warning: ${w}\n`);
    if (metricsServer !== null) say(`mcreplay: metrics on http://${metricsServer.address}/metrics (no authentication)`);
    say(`mcreplay: mirroring ${input.name} -> ${targetNames.join(', ')}, ${fmtNs(delayNs)} after capture${sample !== null ? `, ${(sample * 100).toFixed(3).replace(/\.?0+$/, '')}% of the keys` : ''}${setup.durationNs ? ` for ${fmtNs(setup.durationNs)}` : ''}`);
  };
  const session = createSession(setup, {
    targetNames,
    pollNs,
    onSignal: (s) => say(`mcreplay: ${s}: stopping the mirror, writing the results ...`),
    secondSignalExit: () => 0,
  });
  warm = warmRule === null ? null : createWarmthTracker(warmRule, setup.intervalNs, settleNs, (atNs) => {
    say(`mcreplay: --until-warm held over ${fmtNs(warmRule.windowNs)} at ${fmtNs(atNs)} (judged at ${fmtNs(warm?.decidedAtNs ?? atNs)}, once every answer was in): ${warm?.last ?? ''}; stopping`);
    // the requests already sent are answered (or time out) before the results are written
    session.stop({ drain: true });
  });
  let lastLine = 0;
  setup.onInterval = (iv, p) => {
    if (capturedDelta !== null) iv.captured = capturedDelta();
    run.sink.interval(iv);
    if (metrics !== null) {
      // tcpdump prints its counters on SIGUSR1 (read at the next interval); the targets' latest stats
      input.tcpdump?.poll();
      if (input.tcpdump !== null) setTcpdumpCounts(metrics, o.interface!, input.tcpdump.counts());
      setTargetStats(metrics, session.latestStats());
    }
    metrics?.add(iv);
    warm?.add(iv);
    if (!showProgress || iv.endNs - lastLine < 5e9) return;
    lastLine = iv.endNs;
    process.stderr.write(`${mirrorProgressLine(iv, p)}\n`);
  };

  let ran;
  let td: { died: boolean; end: TcpdumpEnd } | null = null;
  try {
    ran = await session.run();
  } finally {
    await run.sink.stop();
    // a run that never started leaves no empty run directory behind
    if (ran === undefined && run.sink.written === 0) await rm(run.dir, { recursive: true, force: true });
    await metricsServer?.close();
    if (input.tcpdump !== null) td = await endTcpdump(input.tcpdump, ran?.out);
  }
  const { out, targetStats } = ran;
  const signal = session.signal();
  // a stream cut mid-record (its producer died) is said, never taken for a clean end
  const quality = captureQuality(out.extract?.capture ?? null, out.extract?.extract ?? null, out.capture.requests, out.capture.replayable);
  if (quality.cutShort) out.warnings.push(quality.findings[0]!);
  mirrorWarnings(out, td);
  const tcpdumpDied = td?.died === true;
  const verdict = mirrorVerdict(engineVerdict(out, setup, limits, null), out.stopReason, signal, warmRule, warm, tcpdumpDied);
  const warmAtNs = warm?.heldAtNs ?? null;
  const warmEnd = warmRule === null ? null : { rule: warmRule.text, heldAtNs: warmAtNs, decidedAtNs: warm!.decidedAtNs, settleNs: warm!.settleNs, last: warm!.last };
  const results: ResultsFile = run.resultsOf(out, verdict, { signal, streamEnded: out.stopReason === 'complete', tcpdump: td === null ? null : { exitCode: td.end.code, signal: td.end.signal, diedDuringRun: tcpdumpDied, ...td.end.counts } }, targetStats);
  const w = await writeMirror(results, gate, o, run, warmRule !== null && warmAtNs === null && signal === null);
  if (tcpdumpDied) process.stderr.write(`mcreplay: tcpdump exited during the mirror; results written to ${w.resultsPath}\n`);
  const end: MirrorEnd = { source: input.name, delayNs, stopReason: out.stopReason, heldBack: out.heldBack, clock: out.liveClock ?? null, warm: warmEnd, tcpdump: td?.end.counts ?? null, warnings: out.warnings };
  const paths = { runId: run.id, results: w.resultsPath, hlog: w.hlogPath, html: w.htmlPath };
  if (o.json) process.stdout.write(`${JSON.stringify(mirrorJson(results, end, paths), null, 2)}\n`);
  else process.stdout.write(`${mirrorText(results, end, paths)}\n${w.text}\n`);
  return w.exitCode;
}
