// The machine's own floor under a replay's lag (issue 10): how late would a thread that does nothing
// but wait for a due time be, on this machine, now? A thread spins reading the clock (2 ms on, 2 ms
// asleep, so a real-time spinner stays far below the kernel's real-time throttle of 95 % a second)
// and records every gap between two reads over 20 µs: the time it was not running (interrupts,
// other threads, the hypervisor). A request due at a random moment inside a gap of g waits the rest
// of it, so the delay a perfect replayer would see is time-weighted: P(delay > x) = Σ max(0, g − x) / T.
// Prints that delay's p50/p99/p99.9 and the gaps per second, as one JSON line.
// Usage: node bench/hiccup.js [--seconds 5] [--fifo 2]   (--fifo N: run at SCHED_FIFO N via chrt, as
// the replay's worker does under --priority auto; 0 = as started)
import { spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { cliArgs } from './args.js';

const args = process.argv.slice(2);
const { opt } = cliArgs(args);
const seconds = Number(opt('--seconds', '5'));
const fifo = Number(opt('--fifo', '0'));

if (fifo > 0 && process.env.MCREPLAY_HICCUP_CHILD !== '1') {
  const r = spawnSync('chrt', ['-f', String(fifo), process.execPath, new URL(import.meta.url).pathname, '--seconds', String(seconds)], {
    env: { ...process.env, MCREPLAY_HICCUP_CHILD: '1' },
    encoding: 'utf8',
  });
  if (r.status === 0) {
    const j = JSON.parse(r.stdout);
    j.priority = `SCHED_FIFO ${fifo}`;
    console.log(JSON.stringify(j));
    process.exit(0);
  }
  // not permitted (no root or CAP_SYS_NICE): measure as started, and say so
}

const GAP_NS = 20e3;
const ON_NS = 2e6;
const sleep = new Int32Array(new SharedArrayBuffer(4));
const gaps = [];
let spun = 0;
// performance.now() (a double, in ms): the clock read allocates nothing, so no collection runs
// inside the measurement (hrtime.bigint() allocates, and its scavenges showed up as gaps)
const now = () => performance.now() * 1e6;
const end = now() + seconds * 1e9;
for (;;) {
  const start = now();
  if (start >= end) break;
  let prev = start;
  for (;;) {
    const t = now();
    const d = t - prev;
    if (d > GAP_NS) gaps.push(d);
    prev = t;
    if (t - start >= ON_NS) break;
  }
  spun += prev - start;
  Atomics.wait(sleep, 0, 0, ON_NS / 1e6);
}
gaps.sort((a, b) => a - b);
/** Time-weighted delay of a moment picked at random: the x with Σ max(0, g − x) = q·T. */
function delayAt(q) {
  const target = (1 - q) * spun;
  // walk x down from the largest gap; tail(x) = Σ_{g > x} (g − x) grows as x falls
  let tail = 0;
  for (let i = gaps.length - 1; i >= 0; i--) {
    const next = i > 0 ? Math.max(gaps[i - 1], 0) : 0;
    const k = gaps.length - i; // gaps above the current x
    // between gaps[i-1] and gaps[i], tail(x) = tail(gaps[i]) + k·(gaps[i] − x)
    const atNext = tail + k * (gaps[i] - next);
    if (atNext >= target) return gaps[i] - (target - tail) / k;
    tail = atNext;
  }
  return 0;
}
const lost = gaps.reduce((a, g) => a + g, 0);
const us = (ns) => Math.round(ns / 100) / 10;
console.log(
  JSON.stringify({
    seconds: spun / 1e9,
    priority: fifo > 0 && process.env.MCREPLAY_HICCUP_CHILD === '1' ? `SCHED_FIFO ${fifo}` : 'as started',
    gapsPerS: Math.round(gaps.length / (spun / 1e9)),
    over100usPerS: Math.round(gaps.filter((g) => g > 100e3).length / (spun / 1e9)),
    maxUs: us(gaps.at(-1) ?? 0),
    lostPct: Math.round((1000 * lost) / spun) / 10,
    delayUs: { p50: us(delayAt(0.5)), p99: us(delayAt(0.99)), p999: us(delayAt(0.999)) },
  }),
);
