// The parts of a worker's wake-up (issue 10, bench/README "Session 8", "The wake-up path"), measured
// apart: how late a timed Atomics.wait (the waker's futex sleep) ends, how long a postMessage from a
// blocked thread takes to reach an idle event loop, and how late the replay's own waker thread
// (dist/replay/waker.js) delivers a wake-up asked for 2–3 ms ahead. Prints p10/p50/p90/p99 in µs.
// Run it as started and under `chrt -f 2` (the worker's SCHED_FIFO priority) to compare.
// Usage: node bench/wake-path.js [--n 300]   (needs dist/: npx tsc -p .)
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

const N = Number(process.argv[process.argv.indexOf('--n') + 1] || 300) || 300;
const hr = () => Number(process.hrtime.bigint());
const q = (a) => {
  const s = [...a].sort((x, y) => x - y);
  const at = (p) => Math.round(s[Math.min(s.length - 1, Math.floor(p * s.length))] / 1e3);
  return `p10 ${at(0.1)} p50 ${at(0.5)} p90 ${at(0.9)} p99 ${at(0.99)} µs`;
};

if (!isMainThread && workerData?.part === 'futex') {
  // the sleeping side: a timed wait, then a message stamped with hrtime (one clock for both threads)
  const ia = new Int32Array(new SharedArrayBuffer(4));
  const late = [];
  for (let i = 0; i < N; i++) {
    const want = 2 + Math.random();
    const a = hr();
    Atomics.wait(ia, 0, 0, want);
    late.push(hr() - a - want * 1e6);
    parentPort.postMessage({ sent: hr() });
  }
  parentPort.postMessage({ late });
} else if (isMainThread) {
  const delivery = [];
  const futexLate = await new Promise((resolve) => {
    const w = new Worker(new URL(import.meta.url), { workerData: { part: 'futex' } });
    w.on('message', (m) => {
      if (m.late) {
        w.terminate();
        resolve(m.late);
      } else delivery.push(hr() - m.sent);
    });
  });
  console.log(`timed Atomics.wait (2-3 ms) ends late: ${q(futexLate)}`);
  console.log(`postMessage from a blocked thread to an idle event loop: ${q(delivery)}`);
  const { startWaker } = await import('../dist/replay/waker.js');
  const baseSec = process.hrtime()[0];
  const now = () => {
    const h = process.hrtime();
    return (h[0] - baseSec) * 1e9 + h[1];
  };
  const lates = [];
  let target = 0;
  await new Promise((resolve) => {
    const waker = startWaker(baseSec, () => {
      lates.push(now() - target);
      if (lates.length >= N) {
        waker.close();
        resolve();
      } else arm();
    });
    const arm = () => {
      target = now() + 2e6 + Math.random() * 1e6;
      waker.at(target);
    };
    setTimeout(arm, 200);
  });
  console.log(`the replay's waker, wake-up at the worker late: ${q(lates)}`);
}
