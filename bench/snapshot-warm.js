// What the first interval snapshot of a run costs a worker, with and without the warm-up's
// throwaway snapshots (src/replay/warmup.ts warmSnapshots): the snapshot (every command's histograms
// encoded and posted) runs inside the schedule at each interval boundary, and its first runs are
// cold code. Each mode runs in a fresh process (V8 compiles per isolate); prints µs per snapshot.
// Usage: node bench/snapshot-warm.js [--commands 3] [--runs 5]   (needs dist/: npx tsc -p .)
import { execFileSync } from 'node:child_process';
import { cliArgs } from './args.js';

const args = process.argv.slice(2);
const { opt } = cliArgs(args);
const commands = Number(opt('--commands', '3'));
const runs = Number(opt('--runs', '5'));
const child = (mode) => `
import { IntervalRecorder } from './dist/metrics/recorder.js';
import { initMetrics } from './dist/metrics/histogram.js';
import { warmSnapshots } from './dist/replay/warmup.js';
await initMetrics();
if (${JSON.stringify(mode)} === 'warm') {
  const w = new IntervalRecorder({ worker: 0, eventLoop: false });
  warmSnapshots(w);
  w.destroy();
}
const rec = new IntervalRecorder({ worker: 0, eventLoop: false });
const out = [];
for (let round = 0; round < 3; round++) {
  for (let c = 0; c < ${commands}; c++) for (let k = 0; k < 300; k++) rec.record('cmd' + c, 20000 + k * 1000 * (c + 1), 10000 + k * 500);
  for (let k = 0; k < 900; k++) rec.recordLag(1000 + k * 100);
  const t = process.hrtime.bigint();
  rec.snapshot(round);
  out.push(Number(process.hrtime.bigint() - t) / 1e3);
}
console.log(JSON.stringify(out));
`;
const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const res = { cold: [[], [], []], warm: [[], [], []] };
for (let i = 0; i < runs; i++) {
  for (const mode of ['cold', 'warm']) {
    const r = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', child(mode)], { encoding: 'utf8' }));
    r.forEach((v, k) => res[mode][k].push(v));
  }
}
console.log(`first three interval snapshots of a run, ${commands} commands, median of ${runs} processes each:`);
for (let k = 0; k < 3; k++) console.log(`  snapshot ${k + 1}: cold ${med(res.cold[k]).toFixed(0)} µs, after the warm-up ${med(res.warm[k]).toFixed(0)} µs (${(med(res.cold[k]) / med(res.warm[k])).toFixed(1)}x)`);
