// Schedule fidelity on captures of real clients (issue 10), in one command:
//  1. every fixture capture (captures/fixtures/*, captures/sample.pcap; the bursty ones are
//     memcslap-burst, memaslap-64conns, pymemcache-50conns) replayed at 1x and 4x against a local
//     memcached started here: schedule lag p50/p99, service time p50, worst event-loop delay,
//     verdict. Goals: lag p99 < 1 ms, service p50 < 150 µs, no run saturated;
//  2. the same for the bursty captures with a CPU hog beside the replay (one process burning a core);
//  3. --rate max on the bursty text captures, repeated into bigger ones (64 and 50 connections per
//     copy), through bench/replay.js --only max: req/s and CPU per request against the plain client.
// Every run gets a fresh memcached; children are bounded (60 s). `uptime` is printed with the table.
// Two independent truths for the service time (issue 10: is a service p50 over 150 µs the target's
// or the replay's?), each a column of the table:
//   --wire   tcpdump on the target's port during each replay; `mcreplay inspect` of that recording
//            gives the target's own time per request as the wire saw it (first request byte to last
//            answer byte), without the replay's read delays;
//   --plain  bench/plain-client.js --mode schedule on the same capture at the same rate, against its
//            own fresh memcached: the plainest pipelined Node client's lag p99 and service p50.
// --prealloc starts memcached with -L (its item memory allocated up front): a fresh memcached takes
// 3–10 ms for the first set into each slab class (it faults in a 1 MB page), and on the short
// fixtures every request pipelined behind such a set waits for it; -L leaves the generator's own
// delays in the service time.
// Usage: node bench/fidelity.js [--runs 1] [--only table,hog,max] [--rates 1,4] [--captures a,b]
//          [--wire] [--plain] [--prealloc] [--json out.json]
// Needs dist/ (npx tsc -p .) and memcached.
import { spawn, execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, basename } from 'node:path';
import { cliArgs } from './args.js';

const args = process.argv.slice(2);
const { opt, flag } = cliArgs(args);
const runs = Number(opt('--runs', '1'));
const only = new Set(opt('--only', 'table,hog,max').split(','));
const rates = opt('--rates', '1,4').split(',').map(Number);
const pick = opt('--captures', null)?.split(',') ?? null;
const jsonOut = opt('--json', null);
const wire = flag('--wire');
const plain = flag('--plain');
const prealloc = flag('--prealloc');
const BURSTY = ['memcslap-burst', 'memaslap-64conns', 'pymemcache-50conns'];
const CHILD_LIMIT_MS = 60_000;
// bench/replay.js runs three clients per capture, each bounded by its own 60 s
const MAX_BENCH_LIMIT_MS = 300_000;

if (!existsSync('dist/replay/worker.js')) {
  console.error('dist/ is missing: npx tsc -p .');
  process.exit(2);
}
const work = mkdtempSync(join(tmpdir(), 'mcreplay-fidelity-'));

// ---- captures ---------------------------------------------------------------------------------------
/** Every fixture capture with the servers its truth file names (UDP ones are not replayed over TCP). */
function captures() {
  const out = [];
  const add = (dir, truthFile) => {
    const t = JSON.parse(readFileSync(join(dir, truthFile), 'utf8'));
    if (t.transport === 'udp') return;
    const name = t.capture.replace(/\.(pcapng|pcap)$/, '');
    if (pick !== null && !pick.includes(name)) return;
    // the plain client reads text answers only (its line scanner)
    const binary = Object.keys(t.tshark?.binaryRequestsPerOpcode ?? {}).length > 0;
    out.push({ name, path: join(dir, t.capture), servers: t.servers, binary });
  };
  const fx = 'captures/fixtures';
  for (const f of readdirSync(fx).sort()) if (f.endsWith('.truth.json')) add(fx, f);
  if (existsSync('captures/sample.truth.json')) add('captures', 'sample.truth.json');
  return out;
}

// ---- memcached --------------------------------------------------------------------------------------
function freePort() {
  return new Promise((res) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => res(p));
    });
  });
}
async function startMemcached() {
  const port = await freePort();
  const user = process.getuid?.() === 0 ? ['-u', 'root'] : [];
  // -I 2m: pymemcache-mix stores a 500 KB value
  const p = spawn('memcached', ['-l', '127.0.0.1', '-p', String(port), '-U', '0', '-m', '256', '-c', '4096', '-t', '1', '-I', '2m', ...(prealloc ? ['-L'] : []), ...user], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise((res) => {
      const s = connect({ host: '127.0.0.1', port }, () => (s.destroy(), res(true)));
      s.on('error', () => res(false));
    });
    if (ok) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return { addr: `127.0.0.1:${port}`, stop: () => p.kill('SIGTERM') };
}

// ---- one replay -------------------------------------------------------------------------------------
function run(cmd, argv, limitMs = CHILD_LIMIT_MS) {
  return new Promise((res) => {
    const p = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    const kill = setTimeout(() => p.kill('SIGKILL'), limitMs);
    p.on('close', (code) => {
      clearTimeout(kill);
      res({ code, out, err });
    });
  });
}

/** tcpdump on the targets' ports until stopped; stop() gives the target's time per request on the wire (p50, ns) or null. */
async function startWire(mcs, tag) {
  const file = join(work, `wire-${tag}.pcap`);
  const ports = mcs.map((m) => m.addr.split(':')[1]);
  const td = spawn('tcpdump', ['-i', 'lo', '-s', '0', '-B', '65536', '-w', file, ports.map((p) => `tcp port ${p}`).join(' or ')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  td.stderr.on('data', (d) => (err += d));
  for (let i = 0; i < 100 && !/listening/.test(err); i++) await new Promise((r) => setTimeout(r, 50));
  let stopped = false;
  return async () => {
    if (stopped) return null;
    stopped = true;
    // the last answers are on the wire: let tcpdump write them, then stop it
    await new Promise((r) => setTimeout(r, 200));
    await new Promise((r) => (td.once('close', r), td.kill('SIGINT')));
    const r = await run(process.execPath, ['bin/mcreplay.js', 'inspect', file, '--port', ports.join(','), '--json']);
    rmSync(file, { force: true });
    try {
      return JSON.parse(r.out).latencyNs?.p50 ?? null;
    } catch {
      return null;
    }
  };
}

/** bench/plain-client.js on the capture's schedule at `rate`, against its own fresh memcached (single-server captures). */
async function plainOnce(cap, rate) {
  if (cap.servers.length !== 1 || cap.binary) return { error: 'plain: single-server text captures only' };
  const mc = await startMemcached();
  const stopWire = wire ? await startWire([mc], `plain-${cap.name}-${rate}`) : null;
  try {
    const port = cap.servers[0].split(':').pop();
    const r = await run(process.execPath, ['bench/plain-client.js', cap.path, '--port', port, '--target', mc.addr, '--mode', 'schedule', '--speed', String(rate)]);
    const j = JSON.parse(r.out.trim().split('\n').pop());
    return { lagP99: j.lagNs?.p99 ?? null, serviceP50: j.serviceNs?.p50 ?? null, wireP50: stopWire ? await stopWire() : null };
  } catch (e) {
    return { error: String(e) };
  } finally {
    await stopWire?.();
    mc.stop();
  }
}

async function replayOnce(cap, rate) {
  const mcs = [];
  for (const _ of cap.servers) mcs.push(await startMemcached());
  const stopWire = wire ? await startWire(mcs, `${cap.name}-${rate}`) : null;
  try {
    const targets = cap.servers.flatMap((ep, i) => ['--target', cap.servers.length === 1 ? mcs[i].addr : `${ep}=${mcs[i].addr}`]);
    // what a CI job would do: the defaults, plus --allow for the destructive commands some fixtures hold
    const r = await run(process.execPath, ['bin/mcreplay.js', 'replay', cap.path, ...targets, '--rate', `${rate}x`, '--allow', 'flush_all,flush,flushq,verbosity', '--json', '--no-progress', '--no-html', '--out', work]);
    const wireP50 = stopWire ? await stopWire() : null;
    let res = null;
    try {
      res = JSON.parse(readFileSync(JSON.parse(r.out).results, 'utf8'));
    } catch {
      return { error: (r.err || r.out).trim().split('\n').slice(-2).join(' ') };
    }
    const s = res.summary;
    return {
      lagP50: s.lag.p50,
      lagP99: s.lag.p99,
      serviceP50: s.total.service?.p50 ?? null,
      eventLoopMax: s.eventLoopMaxNs,
      status: res.verdict?.status ?? (r.code === 0 ? 'pass' : `exit ${r.code}`),
      preopened: res.config.options.preopened ?? 0,
      requests: s.total.counters.sent,
      wireP50,
    };
  } finally {
    await stopWire?.();
    for (const m of mcs) m.stop();
  }
}

const median = (xs) => {
  const a = xs.filter((x) => x !== null && x !== undefined).sort((x, y) => x - y);
  return a.length === 0 ? null : a[Math.floor((a.length - 1) / 2)];
};
const us = (ns) => (ns === null ? '-' : ns < 1e6 ? `${(ns / 1e3).toFixed(0)} µs` : `${(ns / 1e6).toFixed(2)} ms`);

/** The machine's floor (bench/hiccup.js): how late a thread at the worker's priority that only waits would be. */
function hiccup() {
  try {
    const j = JSON.parse(execFileSync(process.execPath, ['bench/hiccup.js', '--seconds', '4', '--fifo', '2']).toString());
    return { ...j, line: `machine floor (bench/hiccup.js: a thread at ${j.priority} that only waits, ${j.seconds.toFixed(1)} s): delay p99 ${j.delayUs.p99} µs, p99.9 ${j.delayUs.p999} µs; ${j.gapsPerS} gaps/s over 20 µs (${j.over100usPerS} over 100 µs), longest ${j.maxUs} µs, ${j.lostPct} % of the time not running` };
  } catch (e) {
    return { line: `machine floor: bench/hiccup.js failed (${e.message})` };
  }
}

const floors = {};
async function table(caps, label) {
  const before = hiccup();
  const rows = [];
  for (const cap of caps) {
    for (const rate of rates) {
      const rs = [];
      const ps = [];
      for (let i = 0; i < runs; i++) {
        rs.push(await replayOnce(cap, rate));
        if (plain) ps.push(await plainOnce(cap, rate));
      }
      const ok = rs.filter((r) => !r.error);
      const pok = ps.filter((r) => !r.error);
      const row = {
        capture: cap.name,
        rate,
        lagP50: median(ok.map((r) => r.lagP50)),
        lagP99: median(ok.map((r) => r.lagP99)),
        serviceP50: median(ok.map((r) => r.serviceP50)),
        eventLoopMax: median(ok.map((r) => r.eventLoopMax)),
        status: rs.map((r) => r.error ?? r.status).join('/'),
        preopened: ok[0]?.preopened ?? 0,
        requests: ok[0]?.requests ?? 0,
        wireP50: median(ok.map((r) => r.wireP50)),
        plainLagP99: median(pok.map((r) => r.lagP99)),
        plainServiceP50: median(pok.map((r) => r.serviceP50)),
        plainWireP50: median(pok.map((r) => r.wireP50)),
      };
      row.goals = row.lagP99 !== null && row.lagP99 < 1e6 && row.serviceP50 !== null && row.serviceP50 < 150e3 && !/saturated/.test(row.status);
      rows.push(row);
      console.error(`${label} ${cap.name} ${rate}x: lag p99 ${us(row.lagP99)}, service p50 ${us(row.serviceP50)}, ${row.status}`);
    }
  }
  console.log(`\n### ${label} (median of ${runs}; ${uptime()})\n`);
  const extra = (r) => (wire ? ` ${us(r.wireP50)} |` : '') + (plain ? ` ${us(r.plainLagP99)} | ${us(r.plainServiceP50)} |` + (wire ? ` ${us(r.plainWireP50)} |` : '') : '');
  const extraHead = (wire ? ' target on the wire p50 |' : '') + (plain ? ' plain client lag p99 | plain service p50 |' + (wire ? ' plain: wire p50 |' : '') : '');
  const n = 10 + (wire ? 1 : 0) + (plain ? (wire ? 3 : 2) : 0);
  console.log(`| capture | rate | requests | lag p50 | lag p99 | service p50 |${extraHead} worst ELD | pre-opened | verdict | goals |`);
  console.log(`|${'---|'.repeat(n)}`);
  for (const r of rows)
    console.log(`| ${r.capture} | ${r.rate}x | ${r.requests} | ${us(r.lagP50)} | ${us(r.lagP99)} | ${us(r.serviceP50)} |${extra(r)} ${us(r.eventLoopMax)} | ${r.preopened} | ${r.status} | ${r.goals ? 'met' : 'missed'} |`);
  const after = hiccup();
  console.log(`\nbefore the table, ${before.line}\nafter it, ${after.line}`);
  floors[label] = { before, after };
  return rows;
}

function uptime() {
  return `uptime: ${execFileSync('uptime').toString().trim()}`;
}

/** A process burning one core for as long as it lives (the busy neighbour of a CI runner). */
function startHog() {
  return spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
}

// ---- main -------------------------------------------------------------------------------------------
const out = { uptime: uptime(), results: {}, machineFloor: floors };
console.log(`# bench/fidelity.js, ${new Date().toISOString()}, ${uptime()}${prealloc ? ", memcached -L (item memory allocated up front)" : ""}`);
const all = captures();
if (only.has('table')) out.results.table = await table(all, 'every fixture capture');
if (only.has('hog')) {
  const hog = startHog();
  try {
    out.results.hog = await table(all.filter((c) => BURSTY.includes(c.name)), 'bursty captures, one process burning a core beside the replay');
  } finally {
    hog.kill('SIGKILL');
  }
}
if (only.has('max')) {
  // --rate max needs thousands of requests: the bursty text captures repeated (each copy its own connections)
  out.results.max = [];
  for (const name of ['memaslap-64conns', 'pymemcache-50conns']) {
    const src = `captures/fixtures/${name}.pcap`;
    if (!existsSync(src)) continue;
    const big = join(work, `${name}-x40.pcap`);
    spawnSync(process.execPath, ['bench/repeat-pcap.js', src, big, '40', '11211'], { stdio: 'inherit' });
    const r = await run(process.execPath, ['bench/replay.js', '--only', 'max', '--capture', big, '--runs', String(Math.max(1, runs)), '--threads', '1', '--quiet-wait', '0', '--plain-open', 'captured', '--plain-depth', 'captured'], MAX_BENCH_LIMIT_MS);
    console.log(`\n### --rate max, ${name} x40 (bench/replay.js --only max; ${uptime()})\n`);
    // bench/replay.js prints its tables on stderr (progress lines before them)
    const text = `${r.out}${r.err}`;
    const from = text.indexOf('machine:');
    console.log('```\n' + (from >= 0 ? text.slice(from) : text).trim() + '\n```');
    out.results.max.push({ capture: name, output: text });
  }
}
if (jsonOut) writeFileSync(jsonOut, JSON.stringify(out, null, 2));
rmSync(work, { recursive: true, force: true });
