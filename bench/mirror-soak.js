// Soak bench of `mcreplay mirror`: a steady open-loop load (default 10,000 requests/s: sets, gets,
// deletes over partitioned keys) against a source memcached on loopback, mirrored with
// `--interface lo` onto a target memcached for --minutes (default 30). Every minute it records the
// mirror's RSS (/proc/<pid>/status VmRSS) and its peak within that minute (sampled every 2 s) and
// since the start (VmHWM), its CPU (utime+stime) and the requests it sent (from its own /metrics),
// the machine's load average, and the age of the run's results.json (rewritten every minute while
// it runs). During minute 2 a second tcpdump records
// --file-seconds of the same traffic to a file; after the mirror, `mcreplay replay` of that file
// onto the same target at 1x gives the baseline of CPU per request (both from results.json
// run.replayCpu: the process's CPU from t0 to the end, over requests sent). At the end: CPU per
// request, lag p99, and the drops at each stage: the kernel's (tcpdump's "dropped by kernel"),
// requests the source answered that the mirror never read (the source's own `stats` against the
// requests in the mirror's capture: lost in the kernel, tcpdump or reassembly), the mirror's own
// (held back as backlog-full), and requests the mirror sent that the target never counted (the
// target's `stats`); then one line "nothing dropped: held" or "nothing dropped: NOT held (...)".
// One JSON line on stdout; one line per minute and the closing lines on stderr.
//
// Usage (root, tcpdump and memcached installed; `npm run build` first; the machine is shared):
//   nice -n 10 node bench/mirror-soak.js [--minutes 30] [--rps 10000] [--conns 20] [--keys 100000] [--file-seconds 30] [--out /tmp/mirror-soak]
// Record the figure in bench/README.md with `uptime` beside it.
import { spawn } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { readFileSync, mkdirSync, statSync, readdirSync, rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { cliArgs } from './args.js';

const args = process.argv.slice(2);
const { opt } = cliArgs(args);
const minutes = Number(opt('--minutes', '30'));
const rps = Number(opt('--rps', '10000'));
const nConns = Number(opt('--conns', '20'));
const nKeys = Number(opt('--keys', '100000'));
const fileSeconds = Number(opt('--file-seconds', '30'));
const out = opt('--out', '/tmp/mirror-soak');
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const root = new URL('..', import.meta.url).pathname;

const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function memcached() {
  const port = await freePort();
  const p = spawn('memcached', ['-l', '127.0.0.1', '-p', String(port), '-U', '0', '-m', '1024', '-t', '2', '-c', '4096', '-u', 'root'], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise((res) => {
      const s = connect(port, '127.0.0.1', () => (s.destroy(), res(true)));
      s.on('error', () => res(false));
    });
    if (ok) return { port, proc: p };
    await sleep(50);
  }
  throw new Error('memcached did not start');
}

/** memcached `stats` as numbers (what a server itself counted). */
function mcStats(port) {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.write('stats\r\n'));
    let acc = '';
    const t = setTimeout(() => (s.destroy(), reject(new Error(`no stats from 127.0.0.1:${port}`))), 10_000);
    s.on('data', (d) => {
      acc += d.toString('latin1');
      if (!acc.endsWith('END\r\n')) return;
      clearTimeout(t);
      s.destroy();
      const o = {};
      for (const m of acc.matchAll(/^STAT (\S+) (\d+)\r$/gm)) o[m[1]] = Number(m[2]);
      resolve(o);
    });
    s.on('error', (e) => (clearTimeout(t), reject(e)));
  });
}
/** Requests a memcached received of what the load sends (set, get, delete). */
const received = (st) => st.cmd_set + st.cmd_get + st.delete_hits + st.delete_misses;

const procStat = (pid) => {
  const st = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(st)?.[1] ?? 0);
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  const tick = 100; // USER_HZ
  return { rssMb: kb('VmRSS') / 1024, peakMb: kb('VmHWM') / 1024, cpuS: (Number(f[11]) + Number(f[12])) / tick };
};

async function sentSoFar(mport) {
  try {
    // bounded: a mirror far behind answers late, and the minute's sample must not wait for it
    const t = await (await fetch(`http://127.0.0.1:${mport}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
    let n = 0;
    for (const m of t.matchAll(/^mcreplay_requests_sent_total\{[^}]*\} (\d+)/gm)) n += Number(m[1]);
    return n;
  } catch {
    return null;
  }
}

const src = await memcached();
const tgt = await memcached();
const mport = await freePort();
const mirror = spawn(process.execPath, [join(root, 'bin/mcreplay.js'), 'mirror', '--interface', 'lo', '--port', String(src.port), '--target', `127.0.0.1:${tgt.port}`, '--metrics', `127.0.0.1:${mport}`, '--out', out, '--json', '--no-html'], { stdio: ['ignore', 'pipe', 'pipe'] });
let mOut = '';
let mErr = '';
mirror.stdout.on('data', (d) => (mOut += d));
mirror.stderr.on('data', (d) => (mErr += d));
// the load starts once the mirror says it mirrors (its tcpdump is capturing): requests sent before
// that are not the mirror's to lose (bounded wait)
for (let i = 0; i < 600 && !/mirroring/.test(mErr); i++) await sleep(100);
if (!/mirroring/.test(mErr)) throw new Error(`the mirror did not start within 60 s: ${mErr.slice(-500)}`);

// ---- the load: open loop, rps/nConns per connection, answers counted by a line scanner --------
let sent = 0;
let answered = 0;
const conns = [];
for (let c = 0; c < nConns; c++) {
  const s = connect(src.port, '127.0.0.1');
  s.setNoDelay(true);
  let buf = '';
  s.on('data', (d) => {
    buf += d.toString('latin1');
    let i;
    while ((i = buf.indexOf('\r\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 2);
      if (line.startsWith('VALUE ')) {
        const len = Number(line.split(' ')[3]);
        buf = buf.slice(len + 2);
        continue;
      }
      answered++;
    }
  });
  conns.push(s);
}
const t0 = Date.now();
const endAt = t0 + minutes * 60_000;
let rng = 12345;
const rnd = () => ((rng = (rng * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
const timer = setInterval(() => {
  // the load ends at --minutes even when this process is starved and samples late
  const due = Math.floor(((Math.min(Date.now(), endAt) - t0) / 1000) * rps);
  while (sent < due) {
    const c = sent % nConns;
    const key = `k${Math.floor(rnd() * (nKeys / nConns)) * nConns + c}`;
    const r = rnd();
    const s = conns[c];
    if (r < 0.3) {
      const v = 'x'.repeat(20 + Math.floor(rnd() * 200));
      s.write(`set ${key} ${Math.floor(rnd() * 65536)} 0 ${v.length}\r\n${v}\r\n`);
    } else if (r < 0.9) s.write(`get ${key}\r\n`);
    else s.write(`delete ${key}\r\n`);
    sent++;
  }
}, 5);

/** Age of the mirror's results.json (rewritten every minute while it runs), s; null before the first. */
function resultsAgeS() {
  try {
    const runs = readdirSync(out).filter((d) => d.includes('mirror'));
    const st = statSync(join(out, runs[0], 'results.json'));
    JSON.parse(readFileSync(join(out, runs[0], 'results.json'), 'utf8'));
    return Math.round((Date.now() - st.mtimeMs) / 1000);
  } catch {
    return null;
  }
}

// the baseline's traffic: the same load recorded to a file for a while (minute 2)
const pcap = join(out, 'sample.pcap');
let recorder = null;
setTimeout(() => {
  recorder = spawn('tcpdump', ['-i', 'lo', '-s', '0', '-U', '-n', '-w', pcap, `tcp port ${src.port}`], { stdio: 'ignore' });
  setTimeout(() => recorder.kill('SIGINT'), fileSeconds * 1000);
}, 60_000);

// RSS every 2 s: the peak within each minute (VmHWM alone only says the peak since the start)
let minutePeakMb = 0;
const rssTimer = setInterval(() => {
  try {
    minutePeakMb = Math.max(minutePeakMb, procStat(mirror.pid).rssMb);
  } catch {
    /* the mirror is gone: the end says why */
  }
}, 2000);
const samples = [];
for (let m = 1; m <= minutes; m++) {
  await sleep(Math.max(0, t0 + m * 60_000 - Date.now()));
  const p = procStat(mirror.pid);
  const peakInMinuteMb = Math.max(minutePeakMb, p.rssMb);
  minutePeakMb = 0;
  samples.push({ minute: m, ...p, peakInMinuteMb, load1: Number(loadavg()[0].toFixed(2)), clientSent: sent, clientAnswered: answered, mirrorSent: await sentSoFar(mport), resultsAgeS: resultsAgeS() });
  const x = samples.at(-1);
  process.stderr.write(`minute ${m}: RSS ${x.rssMb.toFixed(0)} MB, peak in the minute ${x.peakInMinuteMb.toFixed(0)} MB, peak since start ${x.peakMb.toFixed(0)} MB, CPU ${x.cpuS.toFixed(1)} s, load ${x.load1}, client sent ${x.clientSent}, mirror sent ${x.mirrorSent ?? '?'}, results.json age ${x.resultsAgeS ?? '-'} s\n`);
}
clearInterval(timer);
clearInterval(rssTimer);
// the source answers what is in flight (bounded), then the mirror drains what it read (bounded): its
// sent count stops moving, or reaches what the client sent (the source's `stats` is read only after
// the mirror ends: the mirror would see that request too)
for (let i = 0; i < 300 && answered < sent; i++) await sleep(100);
let lastSent = -1;
for (let still = 0, i = 0; i < 120 && still < 5; i++) {
  await sleep(1000);
  const n = await sentSoFar(mport);
  if (n !== null && n >= sent) break;
  still = n === lastSent ? still + 1 : 0;
  lastSent = n;
}
const last = procStat(mirror.pid);
mirror.kill('SIGTERM');
await new Promise((r) => mirror.once('close', r));
for (const c of conns) c.destroy();
let summary = null;
try {
  summary = JSON.parse(mOut);
} catch {
  summary = { error: mErr.slice(-500) };
}
const mirroredSent = summary?.counters?.sent ?? null;
const srcReceived = received(await mcStats(src.port));
// what the target counted of the mirror, before the baseline replay adds its own requests
const tgtReceived = received(await mcStats(tgt.port).catch(() => ({ cmd_set: NaN, cmd_get: NaN, delete_hits: NaN, delete_misses: NaN })));
const cpuPerReq = (resultsPath) => {
  try {
    const r = JSON.parse(readFileSync(resultsPath, 'utf8'));
    const cpu = r.run.replayCpu;
    return { sent: r.summary.total.counters.sent, cpuUsPerRequest: cpu ? (cpu.userUs + cpu.sysUs) / r.summary.total.counters.sent : null, lagP99Ms: r.summary.lag.p99 / 1e6 };
  } catch (e) {
    return { error: String(e) };
  }
};
const mirrorCpu = summary?.results ? cpuPerReq(summary.results) : null;
// the baseline: replay of the recorded file at captured speed onto the same target
const rep = spawn(process.execPath, [join(root, 'bin/mcreplay.js'), 'replay', pcap, '--port', String(src.port), '--target', `127.0.0.1:${tgt.port}`, '--out', out, '--json', '--no-html', '--no-progress'], { stdio: ['ignore', 'pipe', 'pipe'] });
let rOut = '';
let rErr = '';
rep.stdout.on('data', (d) => (rOut += d));
rep.stderr.on('data', (d) => (rErr += d));
await new Promise((r) => rep.once('close', r));
let replayCpu = null;
try {
  replayCpu = cpuPerReq(JSON.parse(rOut).results);
} catch {
  replayCpu = { error: (rErr || rOut).slice(-300) };
}
src.proc.kill();
tgt.proc.kill();
// the drops at each stage, each against an independent count
let mirrorResults = null;
try {
  mirrorResults = JSON.parse(readFileSync(summary.results, 'utf8'));
} catch {
  /* no results: the summary's error says why */
}
const mirrorRead = mirrorResults?.capture?.requests ?? null;
const drops = {
  kernel: summary?.tcpdump?.droppedByKernel ?? null,
  // requests the source answered that never reached the mirror (kernel, tcpdump, reassembly)
  notRead: mirrorRead === null ? null : srcReceived - mirrorRead,
  // the mirror's own: held back because its backlog was full
  backlogFull: summary?.heldBack?.['backlog-full'] ?? 0,
  heldBackOther: Object.entries(summary?.heldBack ?? {}).filter(([k]) => k !== 'backlog-full').reduce((n, [, v]) => n + v, 0),
  // sent by the mirror but not counted by the target
  targetShort: mirroredSent === null ? null : mirroredSent - tgtReceived,
};
const nothingDropped = drops.kernel === 0 && drops.notRead === 0 && drops.backlogFull === 0 && drops.targetShort === 0 && mirroredSent === srcReceived;
const cpuRatio = mirrorCpu?.cpuUsPerRequest && replayCpu?.cpuUsPerRequest ? mirrorCpu.cpuUsPerRequest / replayCpu.cpuUsPerRequest : null;
process.stderr.write(
  [
    `peak RSS by minute (MB): ${samples.map((x) => x.peakInMinuteMb.toFixed(0)).join(', ')}; peak since start ${last.peakMb.toFixed(0)} MB`,
    `CPU per request: mirror ${mirrorCpu?.cpuUsPerRequest?.toFixed(1) ?? '?'} µs, replay of the same traffic from a file ${replayCpu?.cpuUsPerRequest?.toFixed(1) ?? '?'} µs${cpuRatio !== null ? ` (${cpuRatio.toFixed(2)}x)` : ''}`,
    `lag p99: ${summary?.lag?.p99 !== undefined ? (summary.lag.p99 / 1e6).toFixed(2) : '?'} ms`,
    `source received ${srcReceived}, mirror read ${mirrorRead ?? '?'}, mirror sent ${mirroredSent ?? '?'}, target received ${tgtReceived}`,
    `drops: kernel ${drops.kernel ?? '?'}, not read by the mirror ${drops.notRead ?? '?'}, mirror backlog-full ${drops.backlogFull}${drops.heldBackOther ? ` (other held back ${drops.heldBackOther})` : ''}, target short ${drops.targetShort ?? '?'}`,
    nothingDropped ? 'nothing dropped: held' : `nothing dropped: NOT held (kernel ${drops.kernel ?? '?'}, not read ${drops.notRead ?? '?'}, backlog-full ${drops.backlogFull}, target short ${drops.targetShort ?? '?'})`,
  ].join('\n') + '\n',
);
process.stdout.write(
  `${JSON.stringify({
    minutes,
    rps,
    clientSent: sent,
    mirroredSent,
    cpuUsPerRequestProc: mirroredSent ? (last.cpuS * 1e6) / mirroredSent : null,
    mirrorCpu,
    replayFileCpu: replayCpu,
    peakRssMb: last.peakMb,
    rssMbFirstLastMinute: [samples[0]?.rssMb, samples.at(-1)?.rssMb].map((x) => (x === undefined ? null : Math.round(x))),
    // [minute, RSS, peak RSS within the minute, peak since start (VmHWM), load1, results.json age s]
    rssByMinute: samples.map((s) => [s.minute, Math.round(s.rssMb), Math.round(s.peakInMinuteMb), Math.round(s.peakMb), s.load1, s.resultsAgeS]),
    lagP99Ms: summary?.lag?.p99 !== undefined ? summary.lag.p99 / 1e6 : null,
    heldBack: summary?.heldBack ?? null,
    tcpdump: summary?.tcpdump ?? null,
    verdict: summary?.verdict?.status ?? null,
    sourceReceived: srcReceived,
    mirrorRead,
    targetReceived: tgtReceived,
    drops,
    cpuRatio,
    nothingDropped,
  })}\n`,
);
