// A worker with nothing in flight sleeps the last part of a short wait in its own thread
// (Atomics.wait: one futex wake-up instead of the waker's and then its message to the event loop),
// and never while an answer is awaited: an answer that came in during such a sleep would be
// timestamped late, as the target's time. Run in this thread (runWorker) against a real memcached
// behind a proxy that delays its answers past the worker's spin for them (the worker then waits for
// them asleep, in its event loop); Atomics.wait, flush and onRead are watched in the order they run.
import { beforeAll, describe, expect, it } from 'vitest';
import { runWorker } from '../../src/replay/worker.js';
import { ReplayConn } from '../../src/replay/conn.js';
import { BatchWriter } from '../../src/replay/batch.js';
import { initMetrics } from '../../src/metrics/histogram.js';
import { useMemcached, type Memcached } from '../helpers/memcached.js';
import { startDelayProxy } from '../helpers/delay-proxy.js';
import { runToDone, startInThread, syncSchedule, wrap } from './in-thread.js';

const REQUESTS = 15;
const DUE_NS = 20e6;
/** Each answer comes this late: longer than the worker spins for it (1 ms at normal priority). */
const ANSWER_DELAY_MS = 3;
/** The next request is due 1 ms after the answer: under the worker's 2 ms in-thread sleep bound. */
const STEP_NS = 4e6;

beforeAll(async () => {
  await initMetrics();
});
const mc = useMemcached();

describe('replay worker: sleeping in its own thread', () => {
  it('sleeps between requests only while no answer is awaited', async () => {
    const events: string[] = [];
    const proxy = await startDelayProxy(mc.address, ANSWER_DELAY_MS);
    const w = await startInThread(runWorker, proxy as unknown as Memcached, { timeoutNs: 5e9, eventLoop: false });
    const b = new BatchWriter(4 * REQUESTS);
    b.open(0, 0, 0, false);
    for (let i = 0; i < REQUESTS; i++) {
      b.req({ at: DUE_NS + i * STEP_NS, conn: 0, proto: 'text', cmd: 'get', expect: 'values', quiet: false, opaque: 0, keys: [''], metaFlags: [], raw: Buffer.from(`get sleep:${i}\r\n`, 'latin1'), absExpSec: null, cas: false, pipelined: false });
    }
    b.close(DUE_NS + REQUESTS * STEP_NS, 0);
    await syncSchedule(w, { t: 'batch', b: b.take().batch });
    const atomics = Atomics as unknown as Record<string, unknown>;
    const realWait = Atomics.wait;
    atomics['wait'] = function (...args: unknown[]): unknown {
      events.push('s');
      return (realWait as (...a: unknown[]) => unknown).apply(Atomics, args);
    };
    const undo = [() => (atomics['wait'] = realWait), wrap(ReplayConn.prototype, 'flush', () => events.push('w')), wrap(ReplayConn.prototype, 'onRead', () => events.push('r'))];
    try {
      await runToDone(w, 0);
    } finally {
      for (const u of undo) u();
      await proxy.stop();
    }
    expect(w.got.filter((m) => m.t === 'fatal')).toEqual([]);
    const done = w.got.find((m) => m.t === 'done');
    expect(done?.t === 'done' ? done.totals.completed : -1).toBe(REQUESTS);
    const seq = events.join('');
    // each get is written alone and answered before the next is due: after a write, its answer is
    // read before any sleep, however long it takes
    expect(seq, seq).not.toMatch(/w[^r]*s/);
    expect(seq.split('').filter((e) => e === 'w').length).toBe(REQUESTS);
    // and the waits between were slept in the thread (some, on any machine: an answer that takes
    // longer than the gap leaves nothing to sleep)
    expect(seq.split('').filter((e) => e === 's').length, seq).toBeGreaterThan(0);
  });
});
