// Ingest speed, as ratios measured in one run: our ingest vs pcap-parser's bare frame loop vs a
// raw file read, and vs tshark's memcache dissector; plus peak RSS on a 100 MB and a 1 GB capture.
// Usage: node bench/ingest.js [capture] [--big capture-1g] [--runs 3]
// Make the captures first with: bash bench/make-bench-capture.sh
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { cliArgs } from './args.js';

const args = process.argv.slice(2);
const { opt } = cliArgs(args);
const runs = Number(opt('--runs', 3));
const big = opt('--big', 'bench/data/small-1g.pcap');
const file = args[0] ?? 'bench/data/small-100m.pcap';
if (!existsSync(file)) {
  console.error(`${file} is missing: run bash bench/make-bench-capture.sh`);
  process.exit(2);
}
// the bench capture's memcached port is whatever make-bench-capture chose: find it from the file
const port = findPort(file);

function findPort(f) {
  const out = execFileSync('node', ['bin/mcreplay.js', 'inspect', f, '--any-port', '--json'], { maxBuffer: 1 << 26 }).toString();
  const servers = JSON.parse(out).servers;
  return Number(servers[0].endpoint.split(':').pop());
}

function one(mode, f) {
  const r = spawnSync('node', ['bench/ingest-one.js', mode, f, String(port)], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`${mode} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

function best(mode, f) {
  let b = null;
  for (let i = 0; i < runs; i++) {
    const r = one(mode, f);
    if (b === null || r.seconds < b.seconds) b = { ...r, maxRssMiB: Math.max(r.maxRssMiB, b?.maxRssMiB ?? 0) };
  }
  return b;
}

const results = {};
for (const mode of ['raw', 'pcap-parser', 'capture', 'ingest', 'inspect']) results[mode] = best(mode, file);
const packets = results.ingest.packets;
results.raw.packets = packets;
const tshark = spawnSync('which', ['tshark']).status === 0;
if (tshark) {
  const t0 = Date.now();
  const r = spawnSync('tshark', ['-r', file, '-d', `tcp.port==${port},memcache`, '-Y', 'memcache', '-T', 'fields', '-e', 'frame.number'], { maxBuffer: 1 << 30 });
  const seconds = (Date.now() - t0) / 1000;
  if (r.status === 0) results.tshark = { mode: 'tshark', packets, seconds, packetsPerSec: packets / seconds, mbPerSec: statSync(file).size / 1e6 / seconds, maxRssMiB: null };
}
const base = results['pcap-parser'];
console.log(`capture ${file}: ${(statSync(file).size / 1e6).toFixed(1)} MB, ${packets} packets, best of ${runs}`);
console.log('mode          packets/s     MB/s   peak RSS   vs pcap-parser');
for (const r of Object.values(results)) {
  const pps = r.mode === 'raw' ? packets / r.seconds : r.packetsPerSec;
  console.log(`${r.mode.padEnd(12)} ${(pps / 1e6).toFixed(2).padStart(7)} M ${r.mbPerSec.toFixed(0).padStart(8)} ${r.maxRssMiB === null ? '      -' : `${r.maxRssMiB.toFixed(0).padStart(5)} MiB`}   ${(pps / base.packetsPerSec).toFixed(2)}x`);
}
if (results.tshark) console.log(`ingest vs tshark: ${(results.ingest.packetsPerSec / results.tshark.packetsPerSec).toFixed(1)}x`);
if (existsSync(big)) {
  const b = one('inspect', big);
  console.log(`peak RSS of inspect: ${results.inspect.maxRssMiB.toFixed(0)} MiB on ${(statSync(file).size / 1e6).toFixed(0)} MB vs ${b.maxRssMiB.toFixed(0)} MiB on ${(statSync(big).size / 1e6).toFixed(0)} MB (${(b.packetsPerSec / 1e6).toFixed(2)} M packets/s)`);
} else {
  console.log(`(${big} missing: run bash bench/make-bench-capture.sh for the RSS check)`);
}
