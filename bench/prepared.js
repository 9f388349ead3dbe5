// A prepared workload (mcreplay prepare, .mcw) vs the capture it was made from, measured in one run
// against memcached on loopback started here (a fresh one for every replay):
//  1. prepare itself: wall time and the file's size against the capture's;
//  2. reading alone: CPU to read the workload into a sink that does nothing (capture: parse and
//     reassemble; prepared: decode the blocks), in this process, best of --runs each;
//  3. replay start-up: wall time from the process start to t0 (the "replaying ..." line, printed
//     once the look-ahead is read and the workers hold the start of the schedule), whole and as
//     --shard 1/4 (a shard first counts every connection's requests: a pass over the whole capture,
//     or the prepared file's trailer);
//  4. --rate max: requests/s (results.json summary.total.achievedRate) and the CPU of the whole
//     process per request: the requests/s per process that sizes N in README "Running on
//     Kubernetes".
// Runs of the two inputs alternate; the median of --runs is reported with the ratio mcw/pcap of
// the same run. The machine is shared: its load (uptime) is printed before and after.
// Usage: node bench/prepared.js [--capture bench/data/small-100m.pcap] [--runs 3] [--json out.json]
// Capture: bash bench/make-bench-capture.sh small
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliArgs } from './args.js';

const args = process.argv.slice(2);
const { opt } = cliArgs(args);
const capture = opt('--capture', 'bench/data/small-100m.pcap');
const runs = Number(opt('--runs', '3'));
const jsonOut = opt('--json', null);
const CHILD_LIMIT_MS = 180_000;
const cli = 'bin/mcreplay.js';

if (!existsSync(capture)) {
  console.error(`${capture} is missing: run bash bench/make-bench-capture.sh small`);
  process.exit(2);
}
if (!existsSync('dist/commands/prepare.js')) {
  console.error('dist/ is missing: npm run build');
  process.exit(2);
}
const work = mkdtempSync(join(tmpdir(), 'mcreplay-bench-prepared-'));
const uptime = () => execFileSync('uptime').toString().trim();

function freePort() {
  return new Promise((res) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

async function startMemcached() {
  const port = await freePort();
  const p = spawn('memcached', ['-l', '127.0.0.1', '-p', String(port), '-U', '0', '-m', '512', '-t', '1', ...(process.getuid?.() === 0 ? ['-u', 'root'] : [])], { stdio: 'ignore' });
  // wait until it accepts (bounded)
  const { connect } = await import('node:net');
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise((r) => {
      const s = connect({ host: '127.0.0.1', port }, () => {
        s.destroy();
        r(true);
      }).on('error', () => r(false));
    });
    if (ok) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return { address: `127.0.0.1:${port}`, stop: () => new Promise((r) => (p.exitCode !== null ? r() : (p.once('exit', r), p.kill()))) };
}

/** Runs a child (bounded); returns wall ms, the ms at which `mark` first appeared on stderr, stdout. */
function child(argv, mark) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const cpuOut = join(work, `cpu-${Math.random().toString(36).slice(2)}.json`);
    const p = spawn(process.execPath, ['--import', probe, ...argv], { env: { ...process.env, BENCH_CPU_OUT: cpuOut }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let markMs = null;
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => {
      err += d;
      if (markMs === null && mark !== undefined && err.includes(mark)) markMs = Number(process.hrtime.bigint() - t0) / 1e6;
    });
    const timer = setTimeout(() => p.kill('SIGKILL'), CHILD_LIMIT_MS);
    p.on('close', (code) => {
      clearTimeout(timer);
      const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
      if (code !== 0 && code !== 4 && code !== 99) return reject(new Error(`${argv.join(' ')}: exit ${code}\n${err.slice(-2000)}`));
      let cpu = null;
      try {
        cpu = JSON.parse(readFileSync(cpuOut, 'utf8'));
      } catch {}
      resolve({ code, wallMs, markMs, out, err, cpu });
    });
  });
}

// whole-process CPU of a child (all threads), written at exit
const probe = join(work, 'cpu-probe.mjs');
writeFileSync(
  probe,
  `import { isMainThread } from 'node:worker_threads';
import { writeFileSync } from 'node:fs';
if (isMainThread && process.env.BENCH_CPU_OUT) process.on('exit', () => {
  const ru = process.resourceUsage();
  writeFileSync(process.env.BENCH_CPU_OUT, JSON.stringify({ userUs: ru.userCPUTime, sysUs: ru.systemCPUTime, maxRssKiB: ru.maxRSS }));
});
`,
);

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function replayOnce(input, extra, tag) {
  const mc = await startMemcached();
  const out = join(work, `r-${tag}-${Math.random().toString(36).slice(2)}`);
  try {
    const r = await child([cli, 'replay', input, '--target', mc.address, '--out', out, '--no-html', '--json', ...extra], 'mcreplay: replaying ');
    const summary = JSON.parse(r.out);
    const results = JSON.parse(readFileSync(summary.results, 'utf8'));
    const t = results.summary.total;
    const cpuUs = r.cpu ? r.cpu.userUs + r.cpu.sysUs : null;
    return {
      startupMs: r.markMs,
      wallMs: r.wallMs,
      reqPerSec: t.achievedRate,
      sent: t.counters.sent,
      cpuUsPerReq: cpuUs !== null && t.counters.sent > 0 ? cpuUs / t.counters.sent : null,
      maxRssMiB: r.cpu ? r.cpu.maxRssKiB / 1024 : null,
      code: r.code,
    };
  } finally {
    await mc.stop();
    rmSync(out, { recursive: true, force: true });
  }
}

let reading = null;
async function main() {
  const before = uptime();
  console.log(`bench prepared: ${capture} (${(statSync(capture).size / 1e6).toFixed(1)} MB), ${runs} runs, ${cpus().length} cores`);
  console.log(`  load before: ${before}`);
  // the bench captures' server port is whatever memcached got: the server inspect finds
  const port = JSON.parse(execFileSync(process.execPath, [cli, 'inspect', capture, '--any-port', '--json']).toString()).servers[0].endpoint.split(':').pop();
  const mcw = join(work, 'bench.mcw');
  const prep = await child([cli, 'prepare', capture, '--port', port, '--out', mcw, '--json']);
  const pj = JSON.parse(prep.out);
  console.log(`  prepare: ${(prep.wallMs / 1000).toFixed(2)} s wall, ${pj.requests} requests of ${pj.connections} connections; ${(pj.bytes / 1e6).toFixed(1)} MB (${((100 * pj.bytes) / statSync(capture).size).toFixed(0)}% of the capture)`);

  const { extractWorkload } = await import('../dist/workload/extract.js');
  const { openPrepared, readPrepared } = await import('../dist/workload/prepared-read.js');
  const { VERSION } = await import('../dist/version.js');
  const sink = { connection() {}, request() {}, outcome() {}, close() {} };
  const cpuMs = async (f) => {
    const c = process.cpuUsage();
    await f();
    const u = process.cpuUsage(c);
    return (u.user + u.system) / 1000;
  };
  const readPcap = [];
  const readMcw = [];
  for (let i = 0; i < Math.max(3, runs); i++) {
    readPcap.push(await cpuMs(() => extractWorkload(capture, { serverPorts: [Number(port)], rawView: true }, sink)));
    readMcw.push(await cpuMs(() => readPrepared(openPrepared(mcw, VERSION), sink)));
  }
  reading = { pcapCpuMs: Math.min(...readPcap), mcwCpuMs: Math.min(...readMcw) };
  console.log(`  reading alone (CPU, best of ${readPcap.length}): pcap ${reading.pcapCpuMs.toFixed(0)} ms, mcw ${reading.mcwCpuMs.toFixed(0)} ms, ratio ${(reading.mcwCpuMs / reading.pcapCpuMs).toFixed(2)} (${((1e3 * reading.pcapCpuMs) / pj.requests).toFixed(2)} vs ${((1e3 * reading.mcwCpuMs) / pj.requests).toFixed(2)} µs a request)`);

  const kinds = [
    { name: 'whole, --rate max', extra: ['--rate', 'max'] },
    { name: '--shard 1/4, --rate max', extra: ['--rate', 'max', '--shard', '1/4'] },
  ];
  const results = [];
  for (const k of kinds) {
    const per = { pcap: [], mcw: [] };
    for (let i = 0; i < runs; i++) {
      // alternate which goes first, so a drift of the machine's load hits both alike
      const order = i % 2 === 0 ? ['pcap', 'mcw'] : ['mcw', 'pcap'];
      for (const which of order) per[which].push(await replayOnce(which === 'pcap' ? capture : mcw, which === 'pcap' ? [...k.extra, '--port', port] : k.extra, which));
    }
    const m = (which, f) => median(per[which].map((r) => r[f]).filter((x) => x !== null));
    const row = { kind: k.name, pcap: {}, mcw: {}, ratio: {} };
    for (const f of ['startupMs', 'wallMs', 'reqPerSec', 'cpuUsPerReq', 'maxRssMiB']) {
      row.pcap[f] = m('pcap', f);
      row.mcw[f] = m('mcw', f);
      row.ratio[f] = row.mcw[f] / row.pcap[f];
    }
    row.sent = { pcap: per.pcap.map((r) => r.sent), mcw: per.mcw.map((r) => r.sent) };
    row.codes = { pcap: per.pcap.map((r) => r.code), mcw: per.mcw.map((r) => r.code) };
    results.push(row);
    console.log(`\n  ${k.name} (median of ${runs}; ratio = mcw / pcap, same run)`);
    console.log(`    ${'figure'.padEnd(26)} ${'pcap'.padStart(10)} ${'mcw'.padStart(10)} ${'ratio'.padStart(8)}`);
    const line = (label, f, fmt) => console.log(`    ${label.padEnd(26)} ${fmt(row.pcap[f]).padStart(10)} ${fmt(row.mcw[f]).padStart(10)} ${row.ratio[f].toFixed(2).padStart(8)}`);
    line('start-up to t0 (ms)', 'startupMs', (x) => x.toFixed(0));
    line('whole run, wall (ms)', 'wallMs', (x) => x.toFixed(0));
    line('requests/s (achieved)', 'reqPerSec', (x) => x.toFixed(0));
    line('CPU µs per request', 'cpuUsPerReq', (x) => x.toFixed(1));
    line('peak RSS (MiB)', 'maxRssMiB', (x) => x.toFixed(0));
    console.log(`    sent per run: pcap ${row.sent.pcap.join(', ')}; mcw ${row.sent.mcw.join(', ')}; exit codes pcap ${row.codes.pcap.join(',')} mcw ${row.codes.mcw.join(',')}`);
  }
  const after = uptime();
  console.log(`\n  load after: ${after}`);
  if (jsonOut) writeFileSync(jsonOut, JSON.stringify({ capture, runs, prepare: { wallMs: prep.wallMs, bytes: pj.bytes, requests: pj.requests }, reading, results, load: { before, after } }, null, 2));
}

try {
  await main();
} finally {
  rmSync(work, { recursive: true, force: true });
}
