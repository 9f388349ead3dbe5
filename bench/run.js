// `npm run bench`: runs the benchmarks of bench/ one after another (each prints its own figures;
// bench/README.md says which). Captures they need are made first when missing. Benchmarks are not
// tests: nothing here fails on a figure, only on a benchmark that could not run.
// Usage: npm run bench [-- --only ingest,replay,report] [--list]
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const at = (p) => join(root, p);

// name, what it prints, the captures it needs (and the script that makes them), the command
const BENCHES = [
  {
    name: 'ingest',
    prints: 'inspect/ingest speed vs pcap-parser and a raw read, tshark; peak RSS 100 MB vs 1 GB',
    needs: [['bench/data/small-100m.pcap', ['bash', 'bench/make-bench-capture.sh']]],
    cmd: ['node', 'bench/ingest.js'],
  },
  {
    name: 'replay',
    prints: '--rate max req/s and CPU per request vs a plain client; lag at 1x; measuring overhead',
    needs: [
      ['bench/data/small-100m.pcap', ['bash', 'bench/make-bench-capture.sh']],
      ['bench/data/fixed-20k.pcap', ['bash', 'bench/make-replay-capture.sh']],
    ],
    cmd: ['node', 'bench/replay.js'],
  },
  {
    name: 'prepared',
    prints: 'prepared file (.mcw) vs pcap: reading CPU, replay start-up (whole, --shard 1/4), --rate max req/s per process',
    needs: [['bench/data/small-100m.pcap', ['bash', 'bench/make-bench-capture.sh', 'small']]],
    cmd: ['node', 'bench/prepared.js'],
  },
  {
    name: 'fidelity',
    prints: 'schedule lag and service time on the bursty real-client fixtures at 1x and 4x',
    optional: 'bench/fidelity.js',
    cmd: ['node', 'bench/fidelity.js'],
  },
  {
    name: 'report',
    prints: 'time to build the HTML report and PNGs of a 1-hour run; HTML size',
    cmd: ['sh', '-c', 'npx tsc -p bench/tsconfig.report.json && node node_modules/.cache/mcreplay-bench/bench/report.js'],
  },
];

const args = process.argv.slice(2);
const onlyArg = args.indexOf('--only');
const only = onlyArg >= 0 ? new Set(args[onlyArg + 1].split(',')) : null;
const available = BENCHES.filter((b) => !b.optional || existsSync(at(b.optional)));

if (args.includes('--list')) {
  for (const b of available) console.log(`${b.name.padEnd(10)} ${b.prints}`);
  process.exit(0);
}
if (only) {
  const unknown = [...only].filter((n) => !available.some((b) => b.name === n));
  if (unknown.length) {
    console.error(`bench: no benchmark named ${unknown.join(', ')} (have: ${available.map((b) => b.name).join(', ')})`);
    process.exit(2);
  }
}

function run(cmd) {
  console.log(`\n$ ${cmd.join(' ')}`);
  const r = spawnSync(cmd[0], cmd.slice(1), { cwd: root, stdio: 'inherit' });
  return r.status === 0;
}

const failed = [];
for (const b of available) {
  if (only && !only.has(b.name)) continue;
  console.log(`\n== bench ${b.name}: ${b.prints}`);
  let ok = true;
  for (const [file, make] of b.needs ?? []) {
    if (!existsSync(at(file)) && !(ok = run(make))) break;
  }
  if (!ok || !run(b.cmd)) failed.push(b.name);
}
if (failed.length) {
  console.error(`\nbench: ${failed.join(', ')} could not run (see above)`);
  process.exit(1);
}
