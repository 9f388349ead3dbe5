// Bench of `mcreplay keys` on large servers: time and peak RSS to compare two servers of N keys,
// against the baseline of listing one server (`mcreplay keys old`: metadump read and counted, no
// sort, no join) measured in the same run. The new server lacks 1% of the old keys and holds 0.5%
// extra ones; the counts are checked, so a fast wrong answer cannot pass.
//
// Usage: node bench/keys.js --keys 1000000 [--run-size 100000]
// Needs memcached; starts two on free loopback ports with enough memory (-m), stops them after.
// Prints one JSON line on stdout and a table row on stderr.
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { cliArgs } from './args.js';

const args = process.argv.slice(2);
const { opt } = cliArgs(args);
const N = Number(opt('--keys', '1000000'));
const runSize = opt('--run-size', '100000');
const cli = join(import.meta.dirname, '..', 'bin', 'mcreplay.js');

const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });

async function memcached(mb) {
  const port = await freePort();
  const p = spawn('memcached', ['-l', '127.0.0.1', '-p', String(port), '-U', '0', '-m', String(mb), '-t', '2', '-c', '1024', ...(process.getuid() === 0 ? ['-u', 'root'] : [])], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise((res) => {
      const s = connect({ host: '127.0.0.1', port }, () => (s.destroy(), res(true)));
      s.on('error', () => res(false));
    });
    if (ok) return { port, addr: `127.0.0.1:${port}`, stop: () => p.kill('SIGTERM') };
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('memcached did not start');
}

/** Stores the keys i in [0, N) for which keep(i) holds, plus `extra` keys; quiet meta sets, a sync every 50k. */
async function fill(port, keep, extra) {
  const s = connect({ host: '127.0.0.1', port });
  await new Promise((r) => s.once('connect', r));
  let waiting = null;
  let tail = '';
  s.on('data', (d) => {
    tail = (tail + d.toString('latin1')).slice(-4);
    if (tail === 'MN\r\n' && waiting) {
      const w = waiting;
      waiting = null;
      tail = '';
      w();
    }
  });
  const sync = () => new Promise((r) => ((waiting = r), s.write('mn\r\n')));
  let batch = [];
  const put = async (k) => {
    batch.push(`ms ${k} 10 T0 q\r\n0123456789\r\n`);
    if (batch.length === 50_000) {
      s.write(batch.join(''));
      batch = [];
      await sync();
    }
  };
  for (let i = 0; i < N; i++) if (keep(i)) await put(`bench:key:${i}`);
  for (let i = 0; i < extra; i++) await put(`bench:extra:${i}`);
  s.write(batch.join(''));
  await sync();
  s.destroy();
}

/** Runs the CLI under /usr/bin/time: its JSON output, wall seconds and peak RSS (bytes, from time's %M in KiB). */
function spawnSyncTime(cliArgs) {
  const t0 = performance.now();
  const r = spawnSync('/usr/bin/time', ['-f', '%M', 'node', cli, ...cliArgs], { maxBuffer: 1 << 26 });
  const wall = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`mcreplay ${cliArgs.join(' ')}: exit ${r.status}: ${r.stderr}`);
  const lines = r.stderr.toString().trim().split('\n');
  return { json: JSON.parse(r.stdout.toString()), wall, peakRss: Number(lines[lines.length - 1]) * 1024 };
}

// item ~ 50 B header + 20 B key + 12 B value: slab class 96 B; x2 headroom for slab rounding
const mb = Math.ceil((N * 96 * 1.1) / 2 ** 20) + 64;
const [old, nu] = await Promise.all([memcached(mb), memcached(mb)]);
try {
  const t0 = performance.now();
  const missing = (i) => i % 100 === 7; // 1% only on old
  const extra = Math.floor(N / 200); // 0.5% only on new
  await Promise.all([fill(old.port, () => true, 0), fill(nu.port, (i) => !missing(i), extra)]);
  const fillS = (performance.now() - t0) / 1000;
  // a listing taken while memcached's LRU maintainer still moves the fresh items between its
  // segments misses a few (measured: 10 of 300k right after a bulk load); list until it settles
  const settle = [];
  for (let i = 0; i < 5; i++) {
    const n = spawnSyncTime(['keys', old.addr, '--json']).json.old.keys;
    settle.push(n);
    if (n === N) break;
  }
  const base = spawnSyncTime(['keys', old.addr, '--json']);
  const cmp = spawnSyncTime(['keys', old.addr, nu.addr, '--json', '--run-size', runSize]);
  const onlyOld = Math.floor((N + 92) / 100);
  const ok = base.json.old.keys === N && cmp.json.onlyOld === onlyOld && cmp.json.onlyNew === extra && cmp.json.both === N - onlyOld;
  const result = {
    keys: N,
    runSize: Number(runSize),
    memcachedMb: mb,
    fillS: +fillS.toFixed(1),
    listOneS: +base.wall.toFixed(2),
    listOnePeakRssMiB: +(base.peakRss / 2 ** 20).toFixed(0),
    compareS: +cmp.wall.toFixed(2),
    comparePeakRssMiB: +(cmp.peakRss / 2 ** 20).toFixed(0),
    ratio: +(cmp.wall / base.wall).toFixed(2),
    countsExact: ok,
    listedBeforeSettled: settle,
    listed: base.json.old.keys,
    counts: { both: cmp.json.both, onlyOld: cmp.json.onlyOld, onlyNew: cmp.json.onlyNew },
    load: execFileSync('uptime').toString().trim(),
  };
  process.stdout.write(JSON.stringify(result) + '\n');
  process.stderr.write(`| ${N.toLocaleString('en-US')} | ${result.listOneS} s | ${result.compareS} s | ${result.ratio} | ${result.comparePeakRssMiB} MiB | ${ok ? 'exact' : 'WRONG'} |\n`);
  if (!ok) process.exitCode = 1;
} finally {
  old.stop();
  nu.stop();
}
