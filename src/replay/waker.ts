// Sub-millisecond wake-ups for a replay worker. libuv timers have millisecond resolution, so a
// worker that must send at t would otherwise spin on setImmediate for up to 2 ms before every send
// that is not already close, burning a core that memcached shares on small machines. The waker is
// a tiny helper thread that sleeps in Atomics.wait (futex, µs resolution) until the worker's next
// due time and then posts it a message; the worker meanwhile sits in its event loop (no CPU, and
// answers are still timestamped the moment they arrive) and spins only for the last stretch.
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

const NONE = -1n;
/** Shared layout: [0] target (BigInt64, ns on the monoNs(baseSec) clock, NONE = idle); [1] generation (Int32 at byte 8); [2] closed flag. */
const BYTES = 16;

interface WakerData {
  mcreplayWaker: true;
  sab: SharedArrayBuffer;
  baseSec: number;
}

/** Worker-side handle of a waker thread. */
export interface Waker {
  /** Wake the worker (a 'wake' callback) at monoNs(baseSec) time `absNs`; an earlier pending wake-up is kept. */
  at(absNs: number): void;
  /** Stops the thread. */
  close(): void;
}

/** Starts a waker thread that calls `onWake` at the requested times. */
export function startWaker(baseSec: number, onWake: () => void): Waker {
  const sab = new SharedArrayBuffer(BYTES);
  const target = new BigInt64Array(sab, 0, 1);
  const ctl = new Int32Array(sab, 8, 2);
  Atomics.store(target, 0, NONE);
  const w = new Worker(new URL(import.meta.url), { workerData: { mcreplayWaker: true, sab, baseSec } satisfies WakerData });
  w.unref();
  w.on('message', onWake);
  w.on('error', () => {}); // a dead waker leaves the worker on its timer fallback (see worker.ts)
  let armed = Infinity;
  return {
    at(absNs: number): void {
      const cur = Atomics.load(target, 0);
      // keep an earlier wake-up that is still pending: it fires, the worker finds nothing due and re-arms
      if (cur !== NONE && armed <= absNs) return;
      armed = absNs;
      Atomics.store(target, 0, BigInt(Math.round(absNs)));
      Atomics.add(ctl, 0, 1);
      Atomics.notify(ctl, 0);
    },
    close(): void {
      Atomics.store(ctl, 1, 1);
      Atomics.add(ctl, 0, 1);
      Atomics.notify(ctl, 0);
      w.off('message', onWake);
    },
  };
}

/** The waker thread: waits until the target time (or a new target), then posts once. */
function run(d: WakerData): void {
  // (it inherits the priority of the worker that started it, raised already: see worker.ts)
  const target = new BigInt64Array(d.sab, 0, 1);
  const ctl = new Int32Array(d.sab, 8, 2);
  const port = parentPort!;
  for (;;) {
    const gen = Atomics.load(ctl, 0);
    if (Atomics.load(ctl, 1) === 1) return;
    const t = Atomics.load(target, 0);
    if (t === NONE) {
      Atomics.wait(ctl, 0, gen);
      continue;
    }
    const hr = process.hrtime();
    const left = Number(t) - ((hr[0] - d.baseSec) * 1e9 + hr[1]);
    if (left > 0) {
      Atomics.wait(ctl, 0, gen, left / 1e6);
      continue;
    }
    if (Atomics.compareExchange(target, 0, t, NONE) === t) port.postMessage(0);
  }
}

if (!isMainThread && (workerData as Partial<WakerData> | null)?.mcreplayWaker === true) run(workerData as WakerData);
