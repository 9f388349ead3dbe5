// Replay speed, as ratios measured in one run against memcached on loopback started here:
//  1. --rate max: requests/s and client CPU per request of `mcreplay replay` (default workers, and
//     --workers 2) vs bench/plain-client.js (same connections, same pipeline depth), with memcached
//     -t 1 and -t 2;
//  2. schedule accuracy at 1x: |actual − intended| send time (results.json summary.lag), with the
//     plain client's own lag on the same schedule as the floor;
//  3. overhead of measuring: mcreplay's p50 service time vs the plain client's at the same fixed rate.
// Every child is bounded (60 s), every run gets a fresh memcached; runs of the two clients alternate
// and the median of --runs is reported. CPU of a child = user+sys of its whole process (all threads)
// read at exit through a tiny --import probe; mcreplay's main thread (capture reading, shaping,
// merging) is split out from /proc/self/task/<pid>/stat.
// Usage: node bench/replay.js [--capture bench/data/small-100m.pcap] [--fixed bench/data/fixed-20k.pcap]
//          [--runs 3] [--threads 1,2] [--only max,accuracy,overhead] [--json out.json]
// Captures: bash bench/make-bench-capture.sh; bash bench/make-replay-capture.sh
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync, rmSync, mkdtempSync, statSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir, cpus, loadavg, hostname } from 'node:os';
import { join } from 'node:path';
import { cliArgs } from './args.js';

const args = process.argv.slice(2);
const { opt } = cliArgs(args);
const capture = opt('--capture', 'bench/data/small-100m.pcap');
const fixed = opt('--fixed', 'bench/data/fixed-20k.pcap');
const runs = Number(opt('--runs', '3'));
const threadsList = opt('--threads', '1,2').split(',').map(Number);
const only = new Set(opt('--only', 'max,accuracy,overhead').split(','));
const jsonOut = opt('--json', null);
// the plain client's connections in --rate max: 'all' open before its clock starts (fine for captures
// whose connections all live the whole time), 'captured' opened and closed in-run by mcreplay's rule
// (the fair baseline for captures of many short connections); with 'captured' an 'all' run is added
// as the upper bound of a client that ignores the capture's connection concurrency
const plainOpen = opt('--plain-open', 'all');
// the plain client's pipelining in --rate max: 'capture' (a window of the capture's deepest pipeline
// on every connection: it pipelines requests the capture sent one at a time, so it makes fewer writes
// and round trips than mcreplay, which pipelines as captured), or 'captured' (mcreplay's rule: the
// same writes and round trips; then a window run is added as a reference line)
const plainDepth = opt('--plain-depth', 'capture');
// others share this machine: before each run wait (up to --quiet-wait s) until the CPU busy of
// everything else drops below --quiet-below; what it was is recorded with the run either way
const quietBelow = Number(opt('--quiet-below', '0.5'));
const quietWaitS = Number(opt('--quiet-wait', '20'));
const CHILD_LIMIT_MS = 60_000;

for (const f of [capture, ...(only.has('overhead') ? [fixed] : [])]) {
  if (!existsSync(f)) {
    console.error(`${f} is missing: run bash bench/make-bench-capture.sh and bash bench/make-replay-capture.sh`);
    process.exit(2);
  }
}
if (!existsSync('dist/replay/worker.js')) {
  console.error('dist/ is missing: npx tsc -p .');
  process.exit(2);
}

const work = mkdtempSync(join(tmpdir(), 'mcreplay-bench-'));
// CPU probe, preloaded into each child: whole-process rusage (threads that already exited included)
// and the main thread's own ticks, written at exit.
const probe = join(work, 'cpu-probe.mjs');
writeFileSync(
  probe,
  `import { isMainThread } from 'node:worker_threads';
import { readFileSync, writeFileSync } from 'node:fs';
if (isMainThread && process.env.BENCH_CPU_OUT) {
  process.on('exit', () => {
    const ru = process.resourceUsage();
    let main = null;
    try {
      const s = readFileSync('/proc/self/task/' + process.pid + '/stat', 'utf8');
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      main = { userUs: Number(f[11]) * 1e4, sysUs: Number(f[12]) * 1e4 };
    } catch {}
    writeFileSync(process.env.BENCH_CPU_OUT, JSON.stringify({ userUs: ru.userCPUTime, sysUs: ru.systemCPUTime, maxRssKiB: ru.maxRSS, main }));
  });
}
`,
);

// ---- machine --------------------------------------------------------------------------------------
function machineStat() {
  const l = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const idle = l[3] + l[4];
  const total = l.reduce((a, b) => a + b, 0);
  return { idle, total };
}
function busyBetween(a, b) {
  const t = b.total - a.total;
  return t > 0 ? 1 - (b.idle - a.idle) / t : 0;
}
function procCpuUs(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * 1e4;
  } catch {
    return null;
  }
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Fraction of the machine busy over `ms` while nothing of ours runs (the other users' load). */
async function background(ms = 1000) {
  const a = machineStat();
  await sleep(ms);
  return busyBetween(a, machineStat());
}

// ---- memcached ------------------------------------------------------------------------------------
function freePort() {
  return new Promise((res) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => res(p));
    });
  });
}
async function startMemcached(threads) {
  const port = await freePort();
  const user = process.getuid?.() === 0 ? ['-u', 'root'] : [];
  const p = spawn('memcached', ['-l', '127.0.0.1', '-p', String(port), '-U', '0', '-m', '256', '-c', '4096', '-t', String(threads), ...user], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise((res) => {
      const s = connect({ host: '127.0.0.1', port }, () => (s.destroy(), res(true)));
      s.on('error', () => res(false));
    });
    if (ok) break;
    await sleep(20);
  }
  return {
    port,
    pid: p.pid,
    cmd: `memcached -l 127.0.0.1 -p ${port} -U 0 -m 256 -c 4096 -t ${threads}${user.length ? ' -u root' : ''}`,
    stop: () => new Promise((res) => (p.exitCode !== null ? res() : (p.once('exit', res), p.kill()))),
  };
}

// ---- children ---------------------------------------------------------------------------------------
let childN = 0;
/** Runs `node <args>` with the CPU probe; bounded by CHILD_LIMIT_MS. */
function runNode(nodeArgs, watchPid) {
  const cpuFile = join(work, `cpu-${++childN}.json`);
  const m0 = machineStat();
  const s0 = watchPid ? procCpuUs(watchPid) : null;
  const t0 = process.hrtime.bigint();
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--import', probe, ...nodeArgs], { env: { ...process.env, BENCH_CPU_OUT: cpuFile }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    const kill = setTimeout(() => p.kill('SIGKILL'), CHILD_LIMIT_MS);
    p.on('exit', (code, sig) => {
      clearTimeout(kill);
      const wallS = Number(process.hrtime.bigint() - t0) / 1e9;
      const cpu = existsSync(cpuFile) ? JSON.parse(readFileSync(cpuFile, 'utf8')) : null;
      const s1 = watchPid ? procCpuUs(watchPid) : null;
      resolve({ code, sig, out, err, wallS, cpu, machineBusy: busyBetween(m0, machineStat()), serverCpuUs: s0 !== null && s1 !== null ? s1 - s0 : null, cmd: `node ${nodeArgs.join(' ')}` });
    });
  });
}

function parseLastJson(s) {
  const i = s.lastIndexOf('\n{');
  return JSON.parse(i >= 0 ? s.slice(i + 1) : s);
}

const inspected = new Map();
/** The capture's memcached port, request count and mean rate (mcreplay inspect --json). */
function inspectCapture(f) {
  if (!inspected.has(f)) {
    const j = JSON.parse(execFileSync(process.execPath, ['bin/mcreplay.js', 'inspect', f, '--any-port', '--json'], { maxBuffer: 1 << 26 }).toString());
    const requests = j.requests.total;
    inspected.set(f, { path: f, bytes: statSync(f).size, port: Number(j.servers[0].endpoint.split(':').pop()), requests, durationNs: j.durationNs, rps: Math.round(requests / (j.durationNs / 1e9)) });
  }
  return inspected.get(f);
}
const captureServerPort = (f) => inspectCapture(f).port;

async function plain(cap, capPort, mc, extra) {
  const r = await runNode(['bench/plain-client.js', cap, '--port', String(capPort), '--target', `127.0.0.1:${mc.port}`, ...extra], mc.pid);
  if (r.code !== 0) throw new Error(`plain client failed (${r.code ?? r.sig}): ${r.err.slice(-2000)}`);
  const j = parseLastJson(r.out);
  return {
    tool: 'plain',
    cmd: r.cmd,
    reqPerSec: j.reqPerSec,
    requests: j.requests,
    // the plain client's own send-phase CPU (its capture loading is not part of sending)
    cpuUsPerReq: j.cpuUsPerReq,
    processCpuUsPerReq: r.cpu ? (r.cpu.userUs + r.cpu.sysUs) / j.requests : null,
    sysShare: (j.cpuSysUs / (j.cpuUserUs + j.cpuSysUs)),
    serviceP50: j.serviceNs?.p50 ?? null,
    serviceP99: j.serviceNs?.p99 ?? null,
    lagP50: j.lagNs?.p50 ?? null,
    lagP99: j.lagNs?.p99 ?? null,
    seconds: j.seconds,
    machineBusy: r.machineBusy,
    serverCpuUsPerReq: r.serverCpuUs !== null ? r.serverCpuUs / j.requests : null,
    depth: j.depth,
    conns: j.conns,
    captureDepth: j.captureDepth,
  };
}

async function mcreplay(cap, capPort, mc, extra) {
  const out = join(work, 'reports');
  const r = await runNode(['bin/mcreplay.js', 'replay', cap, '--port', String(capPort), '--target', `127.0.0.1:${mc.port}`, '--no-html', '--no-progress', '--json', '--out', out, ...extra], mc.pid);
  if (r.code !== 0 && r.code !== 4) throw new Error(`mcreplay failed (${r.code ?? r.sig}): ${r.err.slice(-2000)}`);
  const j = JSON.parse(r.out);
  const res = JSON.parse(readFileSync(j.results, 'utf8'));
  const s = res.summary;
  const sent = s.total.counters.sent;
  const cpuAll = r.cpu ? r.cpu.userUs + r.cpu.sysUs : null;
  const cpuMain = r.cpu?.main ? r.cpu.main.userUs + r.cpu.main.sysUs : null;
  rmSync(join(j.results, '..'), { recursive: true, force: true });
  return {
    tool: 'mcreplay',
    cmd: r.cmd.replace(out, 'reports'),
    exit: r.code,
    verdict: res.verdict.status,
    reasons: res.verdict.reasons,
    reqPerSec: s.total.counters.completed / (s.durationNs / 1e9),
    requests: sent,
    errors: Object.values(s.total.counters.errors).reduce((a, b) => a + b, 0),
    cpuUsPerReq: cpuAll !== null ? cpuAll / sent : null,
    // from t0 to the last worker's end (results.json run.replayCpu): the same window as the plain
    // client's own figure, which starts after it has loaded the capture
    replayCpuUsPerReq: res.run.replayCpu ? (res.run.replayCpu.userUs + res.run.replayCpu.sysUs) / sent : null,
    mainCpuUsPerReq: cpuMain !== null ? cpuMain / sent : null,
    workerCpuUsPerReq: cpuAll !== null && cpuMain !== null ? (cpuAll - cpuMain) / sent : null,
    sysShare: r.cpu ? r.cpu.sysUs / cpuAll : null,
    maxRssMiB: r.cpu ? r.cpu.maxRssKiB / 1024 : null,
    serviceP50: s.total.service.p50,
    serviceP99: s.total.service.p99,
    lagP50: s.lag.count > 0 ? s.lag.p50 : null,
    lagP99: s.lag.count > 0 ? s.lag.p99 : null,
    lagMax: s.lag.count > 0 ? s.lag.max : null,
    eventLoopMaxNs: s.eventLoopMaxNs,
    seconds: s.durationNs / 1e9,
    wallS: r.wallS,
    machineBusy: r.machineBusy,
    serverCpuUsPerReq: r.serverCpuUs !== null ? r.serverCpuUs / sent : null,
    workers: res.config.workers,
  };
}

const median = (xs) => {
  const v = xs.filter((x) => x !== null && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
};
function med(rs) {
  const o = {};
  for (const k of Object.keys(rs[0])) o[k] = typeof rs[0][k] === 'number' ? median(rs.map((r) => r[k])) : rs[0][k];
  o.runs = rs.length;
  return o;
}

/** Waits for the others' CPU use to drop below quietBelow (bounded); returns the last sample. */
async function quieter() {
  const until = Date.now() + quietWaitS * 1000;
  let bg = await background(500);
  while (bg > quietBelow && Date.now() < until) bg = await background(500);
  return bg;
}

/** One fresh memcached per run, so every run starts from the same empty cache. */
async function onFresh(threads, f) {
  const backgroundBusy = await quieter();
  const mc = await startMemcached(threads);
  try {
    return { ...(await f(mc)), backgroundBusy, memcached: mc.cmd.replace(/-p \d+/, '-p PORT') };
  } finally {
    await mc.stop();
  }
}

const fmt = (v, d = 1) => (v === null || v === undefined ? '-' : v.toFixed(d));
const us = (ns) => (ns === null || ns === undefined ? '-' : ns >= 1e6 ? `${(ns / 1e6).toFixed(ns < 1e8 ? 2 : 0)} ms` : `${(ns / 1e3).toFixed(ns < 1e5 ? 1 : 0)} µs`);
const ratio = (a, b) => (a === null || b === null || !b ? '-' : `${(a / b).toFixed(2)}x`);

// ---- the bench ----------------------------------------------------------------------------------
const report = {
  machine: { host: hostname(), nproc: cpus().length, cpu: cpus()[0]?.model, node: process.version, loadavgStart: loadavg() },
  captures: {},
  max: [],
  accuracy: [],
  overhead: [],
};
console.error(`machine: ${report.machine.nproc} cpus (${report.machine.cpu}), load ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
report.machine.backgroundBusyStart = await background();
console.error(`background CPU busy (others, 1 s sample): ${(report.machine.backgroundBusyStart * 100).toFixed(0)}%`);

const capPort = captureServerPort(capture);
report.captures.main = inspectCapture(capture);

if (only.has('max')) {
  for (const t of threadsList) {
    const plains = [];
    const mcrs = [];
    const mcr1 = [];
    const allOpen = [];
    const windowed = [];
    for (let i = 0; i < runs; i++) {
      // alternate which client goes first, so a drift of the background load hits both
      const order = i % 2 === 0 ? ['p', 'm', 'm1'] : ['m1', 'm', 'p'];
      if (plainOpen === 'captured') order.push('pa');
      if (plainDepth === 'captured') order.push('pw');
      for (const who of order) {
        if (who === 'p') plains.push(await onFresh(t, (mc) => plain(capture, capPort, mc, ['--mode', 'max', '--open', plainOpen, '--depth', plainDepth])));
        else if (who === 'pw') windowed.push(await onFresh(t, (mc) => plain(capture, capPort, mc, ['--mode', 'max', '--open', plainOpen])));
        else if (who === 'pa') allOpen.push(await onFresh(t, (mc) => plain(capture, capPort, mc, ['--mode', 'max', '--open', 'all'])));
        else if (who === 'm') mcrs.push(await onFresh(t, (mc) => mcreplay(capture, capPort, mc, ['--rate', 'max'])));
        else mcr1.push(await onFresh(t, (mc) => mcreplay(capture, capPort, mc, ['--rate', 'max', '--workers', '2'])));
        console.error(`max -t ${t} run ${i + 1} ${who}: done`);
      }
    }
    report.max.push({ threads: t, plain: med(plains), mcreplay: med(mcrs), mcreplay1: med(mcr1), plainAll: allOpen.length ? med(allOpen) : null, plainWindow: windowed.length ? med(windowed) : null, all: { plains, mcrs, mcr1, allOpen, windowed } });
  }
}

if (only.has('accuracy')) {
  const caps = [[capture, capPort]];
  if (existsSync(fixed)) caps.push([fixed, captureServerPort(fixed)]);
  for (const [cap, port] of caps) {
    const m = [];
    const p = [];
    for (let i = 0; i < runs; i++) {
      m.push(await onFresh(2, (mc) => mcreplay(cap, port, mc, ['--rate', '1x'])));
      p.push(await onFresh(2, (mc) => plain(cap, port, mc, ['--mode', 'schedule', '--speed', '1'])));
      console.error(`accuracy ${cap} run ${i + 1}: done`);
    }
    report.accuracy.push({ capture: cap, mcreplay: med(m), plain: med(p), all: { m, p } });
  }
}

if (only.has('overhead')) {
  report.captures.fixed = inspectCapture(fixed);
  const { port, rps } = report.captures.fixed;
  const m = [];
  const p = [];
  const ps = [];
  for (let i = 0; i < runs; i++) {
    m.push(await onFresh(2, (mc) => mcreplay(fixed, port, mc, ['--rate', '1x'])));
    p.push(await onFresh(2, (mc) => plain(fixed, port, mc, ['--mode', 'rate', '--rps', String(rps)])));
    ps.push(await onFresh(2, (mc) => plain(fixed, port, mc, ['--mode', 'schedule', '--speed', '1'])));
    console.error(`overhead run ${i + 1}: done`);
  }
  report.overhead.push({ capture: fixed, rps, mcreplay: med(m), plain: med(p), plainSchedule: med(ps), all: { m, p, ps } });
}
report.machine.loadavgEnd = loadavg();
report.machine.backgroundBusyEnd = await background();

// ---- table ----------------------------------------------------------------------------------------
const lines = [];
const say = (s = '') => (lines.push(s), console.log(s));
say(`machine: ${report.machine.nproc} cpus, ${report.machine.cpu}, node ${report.machine.node}; load avg at start ${report.machine.loadavgStart.map((x) => x.toFixed(2)).join(' ')}, at end ${report.machine.loadavgEnd.map((x) => x.toFixed(2)).join(' ')}; others' CPU busy ${(report.machine.backgroundBusyStart * 100).toFixed(0)}% at start, ${(report.machine.backgroundBusyEnd * 100).toFixed(0)}% at end`);
say(`median of ${runs} runs each, fresh memcached per run; nice ${(await import('node:os')).getPriority()}`);
for (const r of report.max) {
  const { plain: p, mcreplay: m, mcreplay1: m1 } = r;
  say();
  say(`1. --rate max, memcached -t ${r.threads}, ${p.conns} connections, pipeline depth ${p.depth} (capture's: ${p.captureDepth})`);
  // CPU µs/req two ways: "sending" = from the first request to the last answer (the plain client
  // after loading its capture, mcreplay from t0: its look-ahead is read before); "process" = the
  // whole process, start-up, capture reading and result writing included
  say('client                    req/s   CPU µs/req sending | process (main / other threads)   vs plain: req/s   CPU sending | process   memcached µs/req  machine busy (others before)');
  say(`plain-client        ${fmt(p.reqPerSec, 0).padStart(11)}   ${fmt(p.cpuUsPerReq, 1).padStart(6)} | ${fmt(p.processCpuUsPerReq, 1).padStart(5)}                                                             ${fmt(p.serverCpuUsPerReq, 1).padStart(8)}     ${(p.machineBusy * 100).toFixed(0)}% (${(p.backgroundBusy * 100).toFixed(0)}%)`);
  for (const [name, x] of [[`mcreplay (default: ${m.workers})`, m], [`mcreplay (--workers ${m1.workers})`, m1]]) {
    say(`${name.padEnd(20)}${fmt(x.reqPerSec, 0).padStart(11)}   ${fmt(x.replayCpuUsPerReq, 1).padStart(6)} | ${fmt(x.cpuUsPerReq, 1).padStart(5)} (${fmt(x.mainCpuUsPerReq)} / ${fmt(x.workerCpuUsPerReq)})                 ${ratio(x.reqPerSec, p.reqPerSec).padStart(6)}     ${ratio(x.replayCpuUsPerReq, p.cpuUsPerReq).padStart(5)} | ${ratio(x.cpuUsPerReq, p.processCpuUsPerReq).padStart(5)}   ${fmt(x.serverCpuUsPerReq, 1).padStart(8)}     ${(x.machineBusy * 100).toFixed(0)}% (${(x.backgroundBusy * 100).toFixed(0)}%)  [${x.verdict}]`);
  }
  if (r.plainAll) {
    const a = r.plainAll;
    say(`plain-client, every connection open before its clock starts (not the capture's concurrency): ${fmt(a.reqPerSec, 0)} req/s, ${fmt(a.cpuUsPerReq, 1)} µs/req sending; mcreplay vs it: ${ratio(m.reqPerSec, a.reqPerSec)} req/s, ${ratio(m.replayCpuUsPerReq, a.cpuUsPerReq)} CPU`);
  }
  if (r.plainWindow) {
    const w = r.plainWindow;
    say(`plain-client, a window of ${w.depth} requests in flight on every connection (pipelines what the capture sent one at a time: fewer writes and round trips): ${fmt(w.reqPerSec, 0)} req/s, ${fmt(w.cpuUsPerReq, 1)} µs/req sending; mcreplay vs it: ${ratio(m.reqPerSec, w.reqPerSec)} req/s, ${ratio(m.replayCpuUsPerReq, w.cpuUsPerReq)} CPU`);
  }
  const ok = (v) => (v ? 'met' : 'MISSED');
  const vs = [plainOpen === 'captured' ? 'connections opened as captured' : null, plainDepth === 'captured' ? 'pipelining as captured' : null].filter(Boolean).join(', ');
  say(`goal${vs ? ` (vs the plain client with ${vs})` : ''}: ≥ 0.90x req/s → ${ok(m.reqPerSec / p.reqPerSec >= 0.9)}; ≤ 1.50x CPU/req → sending ${ok(m.replayCpuUsPerReq / p.cpuUsPerReq <= 1.5)}, whole process ${ok(m.cpuUsPerReq / p.processCpuUsPerReq <= 1.5)}`);
}
for (const r of report.accuracy) {
  const { mcreplay: m, plain: p } = r;
  say();
  say(`2. schedule accuracy at 1x, ${r.capture}, memcached -t 2: |actual − intended| send time`);
  say(`mcreplay      lag p50 ${us(m.lagP50)}  p99 ${us(m.lagP99)}  max ${us(m.lagMax)}  event-loop max ${us(m.eventLoopMaxNs)}  CPU ${fmt(m.cpuUsPerReq)} µs/req  machine busy ${(m.machineBusy * 100).toFixed(0)}% (others before: ${(m.backgroundBusy * 100).toFixed(0)}%)  [${m.verdict}]`);
  say(`plain-client  lag p50 ${us(p.lagP50)}  p99 ${us(p.lagP99)}  CPU ${fmt(p.cpuUsPerReq)} µs/req  machine busy ${(p.machineBusy * 100).toFixed(0)}% (others before: ${(p.backgroundBusy * 100).toFixed(0)}%)`);
  say(`goal: p50 < 100 µs → ${m.lagP50 < 1e5 ? 'met' : 'MISSED'}; p99 < 1 ms → ${m.lagP99 < 1e6 ? 'met' : 'MISSED'}`);
}
for (const r of report.overhead) {
  const { mcreplay: m, plain: p, plainSchedule: ps } = r;
  say();
  say(`3. overhead of measuring: p50 service time (write → answer) at the same fixed rate, ${r.capture} (${r.rps} req/s), memcached -t 2`);
  say(`mcreplay --rate 1x             p50 ${us(m.serviceP50)}  p99 ${us(m.serviceP99)}  lag p99 ${us(m.lagP99)}`);
  say(`plain-client --mode rate       p50 ${us(p.serviceP50)}  p99 ${us(p.serviceP99)}  lag p99 ${us(p.lagP99)}   mcreplay/plain p50 ${ratio(m.serviceP50, p.serviceP50)}`);
  say(`plain-client --mode schedule   p50 ${us(ps.serviceP50)}  p99 ${us(ps.serviceP99)}  lag p99 ${us(ps.lagP99)}   mcreplay/plain p50 ${ratio(m.serviceP50, ps.serviceP50)}`);
  say(`goal: within 20% → ${Math.abs(m.serviceP50 / p.serviceP50 - 1) <= 0.2 ? 'met' : 'MISSED'}`);
}
say();
say('commands (PORT = the fresh memcached of each run):');
const cmds = new Set();
for (const r of report.max) for (const x of [r.plain, r.mcreplay, r.mcreplay1, ...(r.plainAll ? [r.plainAll] : [])]) cmds.add(`${x.memcached}  ;  ${x.cmd.replace(/127\.0\.0\.1:\d+/, '127.0.0.1:PORT')}`);
for (const r of report.accuracy) for (const x of [r.mcreplay, r.plain]) cmds.add(`${x.memcached}  ;  ${x.cmd.replace(/127\.0\.0\.1:\d+/, '127.0.0.1:PORT')}`);
for (const r of report.overhead) for (const x of [r.mcreplay, r.plain, r.plainSchedule]) cmds.add(`${x.memcached}  ;  ${x.cmd.replace(/127\.0\.0\.1:\d+/, '127.0.0.1:PORT')}`);
for (const c of cmds) say(`  ${c.replace(/--import \S+ /, '')}`);
if (jsonOut) writeFileSync(jsonOut, JSON.stringify(report, null, 1));
rmSync(work, { recursive: true, force: true });
