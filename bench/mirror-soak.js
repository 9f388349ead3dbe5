// Soak bench of `mcreplay mirror`: a steady open-loop load (default 10,000 requests/s: sets, gets,
// deletes over partitioned keys) against a source memcached on loopback, mirrored with
// `--interface lo` onto a target memcached for --minutes (default 30). Every minute it records the
// mirror's RSS and peak RSS (/proc/<pid>/status VmRSS, VmHWM), its CPU (utime+stime) and the
// requests it sent (from its own /metrics), the machine's load average, and the age of the run's
// results.json (rewritten every minute while it runs). During minute 2 a second tcpdump records
// --file-seconds of the same traffic to a file; after the mirror, `mcreplay replay` of that file
// onto the same target at 1x gives the baseline of CPU per request (both from results.json
// run.replayCpu: the process's CPU from t0 to the end, over requests sent). At the end: CPU per
// request, lag p99, drops (held back `backlog-full`, tcpdump's kernel drops) from the mirror's JSON
// summary. One JSON line on stdout; one line per minute on stderr.
//
// Usage (root, tcpdump and memcached installed; `npm run build` first; the machine is shared):
//   nice -n 10 node bench/mirror-soak.js [--minutes 30] [--rps 10000] [--conns 20] [--keys 100000] [--file-seconds 30] [--out /tmp/mirror-soak]
// Record the figure in bench/README.md with `uptime` beside it.
import { spawn } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { readFileSync, mkdirSync, statSync, readdirSync, rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
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

const procStat = (pid) => {
  const st = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(st)?.[1] ?? 0);
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  const tick = 100; // USER_HZ
  return { rssMb: kb('VmRSS') / 1024, peakMb: kb('VmHWM') / 1024, cpuS: (Number(f[11]) + Number(f[12])) / tick };
};

async function sentSoFar(mport) {
  try {
    const t = await (await fetch(`http://127.0.0.1:${mport}/metrics`)).text();
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
const mirror = spawn(process.execPath, [join(root, 'bin/mcreplay.js'), 'mirror', '--interface', 'lo', '--port', String(src.port), '--target', `127.0.0.1:${tgt.port}`, '--metrics', `127.0.0.1:${mport}`, '--out', out, '--json', '--no-html', '--no-progress'], { stdio: ['ignore', 'pipe', 'pipe'] });
let mOut = '';
let mErr = '';
mirror.stdout.on('data', (d) => (mOut += d));
mirror.stderr.on('data', (d) => (mErr += d));
for (let i = 0; i < 200 && (await sentSoFar(mport)) === null; i++) await sleep(100);

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
  const due = Math.floor(((Date.now() - t0) / 1000) * rps);
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

const samples = [];
for (let m = 1; Date.now() < endAt; m++) {
  await sleep(Math.max(0, t0 + m * 60_000 - Date.now()));
  const p = procStat(mirror.pid);
  samples.push({ minute: m, ...p, load1: Number(loadavg()[0].toFixed(2)), clientSent: sent, clientAnswered: answered, mirrorSent: await sentSoFar(mport), resultsAgeS: resultsAgeS() });
  process.stderr.write(`${JSON.stringify(samples.at(-1))}\n`);
}
clearInterval(timer);
await sleep(3000);
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
    rssByMinute: samples.map((s) => [s.minute, Math.round(s.rssMb), Math.round(s.peakMb), s.load1, s.resultsAgeS]),
    lagP99Ms: summary?.lag?.p99 !== undefined ? summary.lag.p99 / 1e6 : null,
    heldBack: summary?.heldBack ?? null,
    tcpdump: summary?.tcpdump ?? null,
    verdict: summary?.verdict?.status ?? null,
  })}\n`,
);
