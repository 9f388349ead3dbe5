// Ingest speed as whole processes (issue 10, "Ingest speed, whole process"): `mcreplay inspect
// --json` against pcap-parser's bare frame loop and a raw read of the same file, each a fresh node
// process timed from spawn to exit (start-up, module loading, reading, printing included), rounds
// interleaved so that each round's ratio is taken under the same machine load. Peak RSS of each
// process (getrusage of the child, via /usr/bin/time), and inspect's peak RSS on a 5x bigger file.
// Usage: node bench/inspect-whole.js [capture] [--big capture] [--runs 3] [--before other/bin/mcreplay.js]
//   --before: also time another build's inspect in the same rounds (e.g. a checkout of the previous
//   commit, built), so before and after are measured under the same machine load; CPU (user+sys) is
//   printed beside wall time, and with --before the same-round CPU ratio (less sensitive to the load)
// Make the captures first: bash bench/make-bench-capture.sh mc32
import { spawnSync, execFileSync } from 'node:child_process';
import { existsSync, statSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { cliArgs } from './args.js';

const args = process.argv.slice(2);
const { opt } = cliArgs(args);
const runs = Number(opt('--runs', 3));
const big = opt('--big', 'bench/data/mc32-1g.pcap');
const before = opt('--before', null);
const file = args[0] ?? 'bench/data/mc32-223m.pcap';
if (!existsSync(file)) {
  console.error(`${file} is missing: run bash bench/make-bench-capture.sh mc32`);
  process.exit(2);
}
if (!existsSync('/usr/bin/time')) {
  console.error('/usr/bin/time is missing (Debian package "time"): it reports the child processes\' peak RSS');
  process.exit(2);
}
const port = JSON.parse(execFileSync('node', ['bin/mcreplay.js', 'inspect', file, '--any-port', '--json'], { maxBuffer: 1 << 26 }).toString())
  .servers[0].endpoint.split(':').pop();

const commands = {
  raw: ['node', 'bench/ingest-one.js', 'raw', file, port],
  'pcap-parser': ['node', 'bench/ingest-one.js', 'pcap-parser', file, port],
  inspect: ['node', 'bin/mcreplay.js', 'inspect', file, '--port', port, '--json'],
};
if (before !== null) commands['inspect (before)'] = ['node', before, 'inspect', file, '--port', port, '--json'];

/** Runs one command under /usr/bin/time; wall seconds, CPU seconds (user+sys) and peak RSS (MiB) of the child. */
function timed(cmd) {
  const r = spawnSync('/usr/bin/time', ['-f', '%e %U %S %M', '-o', '/tmp/inspect-whole.time', ...cmd], { stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`${cmd.join(' ')} failed (${r.status}): ${r.stderr}`);
  const [sec, user, sys, kb] = readFileSync('/tmp/inspect-whole.time', 'utf8').trim().split(/\s+/).slice(-4).map(Number);
  return { seconds: sec, cpu: user + sys, rssMiB: kb / 1024 };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const res = Object.fromEntries(Object.keys(commands).map((m) => [m, []]));
const ratios = { 'pcap-parser': [], raw: [], before: [], cpuVsBefore: [] };
const loads = [];
for (let i = 0; i < runs; i++) {
  loads.push(loadavg()[0]);
  for (const m of Object.keys(commands)) res[m].push(timed(commands[m]));
  ratios['pcap-parser'].push(res['pcap-parser'][i].seconds / res.inspect[i].seconds);
  ratios.raw.push(res.raw[i].seconds / res.inspect[i].seconds);
  if (before !== null) ratios.before.push(res['pcap-parser'][i].seconds / res['inspect (before)'][i].seconds);
  if (before !== null) ratios.cpuVsBefore.push(res.inspect[i].cpu / res['inspect (before)'][i].cpu);
}
const mb = statSync(file).size / 1e6;
console.log(`capture ${file}: ${mb.toFixed(1)} MB; ${runs} interleaved rounds; load average (1 min) at each round: ${loads.map((l) => l.toFixed(1)).join(' ')}`);
console.log('process            wall s (median)  all rounds                peak RSS   MB/s  CPU s (median)  all rounds');
for (const [m, rs] of Object.entries(res)) {
  const s = median(rs.map((r) => r.seconds));
  console.log(`${m.padEnd(18)} ${s.toFixed(2).padStart(8)}         ${rs.map((r) => r.seconds.toFixed(2)).join(' ').padEnd(24)} ${Math.max(...rs.map((r) => r.rssMiB)).toFixed(0).padStart(5)} MiB ${(mb / s).toFixed(0).padStart(6)}  ${median(rs.map((r) => r.cpu)).toFixed(2).padStart(8)}        ${rs.map((r) => r.cpu.toFixed(2)).join(' ')}`);
}
console.log(`inspect speed vs pcap-parser (same-round ratio, median): ${median(ratios['pcap-parser']).toFixed(2)}x  (rounds: ${ratios['pcap-parser'].map((r) => r.toFixed(2)).join(' ')}; goal >= 1.00x)`);
if (before !== null) console.log(`inspect (before) vs pcap-parser (same-round ratio, median): ${median(ratios.before).toFixed(2)}x  (rounds: ${ratios.before.map((r) => r.toFixed(2)).join(' ')})`);
if (before !== null) console.log(`inspect CPU vs inspect (before) CPU (same-round ratio, median): ${median(ratios.cpuVsBefore).toFixed(2)}x  (rounds: ${ratios.cpuVsBefore.map((r) => r.toFixed(2)).join(' ')}; < 1 is less CPU now)`);
console.log(`inspect speed vs raw read    (same-round ratio, median): ${median(ratios.raw).toFixed(2)}x  (rounds: ${ratios.raw.map((r) => r.toFixed(2)).join(' ')})`);
if (existsSync(big)) {
  const b = timed(['node', 'bin/mcreplay.js', 'inspect', big, '--port', port, '--json']);
  const small = Math.max(...res.inspect.map((r) => r.rssMiB));
  console.log(`peak RSS of inspect: ${small.toFixed(0)} MiB on ${mb.toFixed(0)} MB vs ${b.rssMiB.toFixed(0)} MiB on ${(statSync(big).size / 1e6).toFixed(0)} MB (${b.seconds.toFixed(2)} s)`);
} else console.log(`(${big} missing: bash bench/make-bench-capture.sh mc32 makes it, for the RSS check)`);
