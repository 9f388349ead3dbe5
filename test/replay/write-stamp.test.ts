// A request's write time is read when its connection writes, right before the syscall, not when the
// turn dispatched it: in between the turn may dispatch and write other connections (a burst), and
// that wait is the replay's delay, so it belongs in the schedule lag (actual − intended send), not in
// the service time (completion − actual write; DESIGN.md, rules of measurement). Run in this thread
// (runWorker) against a real memcached, with every write held back by a fixed spin before it.
import { beforeAll, describe, expect, it } from 'vitest';
import { runWorker } from '../../src/replay/worker.js';
import { ReplayConn } from '../../src/replay/conn.js';
import { BatchWriter } from '../../src/replay/batch.js';
import { IntervalRecorder } from '../../src/metrics/recorder.js';
import { initMetrics } from '../../src/metrics/histogram.js';
import { useMemcached } from '../helpers/memcached.js';
import { runToDone, startInThread, syncSchedule, wrap } from './in-thread.js';

const REQUESTS = 5;
/** Each write waits this long between the dispatch and the syscall. */
const HOLD_NS = 30e6;
const DUE_NS = 20e6;
/** More than HOLD_NS: each answer is read before the next write spins. */
const STEP_NS = 60e6;

beforeAll(async () => {
  await initMetrics();
});
const mc = useMemcached();

describe('replay worker: when a request counts as written', () => {
  it('reads the write time at the write: the time before it is lag, not service', async () => {
    const lags: number[] = [];
    const services: number[] = [];
    const w = await startInThread(runWorker, mc, { timeoutNs: 5e9, eventLoop: false });
    const b = new BatchWriter(4 * REQUESTS);
    b.open(0, 0, 0, false);
    for (let i = 0; i < REQUESTS; i++) {
      b.req({ at: DUE_NS + i * STEP_NS, conn: 0, proto: 'text', cmd: 'get', expect: 'values', quiet: false, opaque: 0, keys: [''], metaFlags: [], raw: Buffer.from(`get stamp:${i}\r\n`, 'latin1'), absExpSec: null, cas: false, pipelined: false });
    }
    b.close(DUE_NS + REQUESTS * STEP_NS, 0);
    await syncSchedule(w, { t: 'batch', b: b.take().batch });
    // after the rehearsal (it runs the same functions): from here every write is held back
    const proto = ReplayConn.prototype as unknown as { flush(this: ReplayConn): void };
    const flush = proto.flush;
    proto.flush = function (this: ReplayConn): void {
      const until = process.hrtime.bigint() + BigInt(HOLD_NS);
      while (process.hrtime.bigint() < until);
      flush.call(this);
    };
    const undo = [
      () => (proto.flush = flush),
      wrap(IntervalRecorder.prototype, 'recordLag', (_s, args) => lags.push(args[0] as number)),
      wrap(IntervalRecorder.prototype, 'recordSlot', (_s, args) => services.push(args[2] as number)),
    ];
    try {
      await runToDone(w, 0);
    } finally {
      for (const u of undo) u();
    }
    expect(w.got.filter((m) => m.t === 'fatal')).toEqual([]);
    const done = w.got.find((m) => m.t === 'done');
    expect(done?.t === 'done' ? done.totals.completed : -1).toBe(REQUESTS);
    // every request waited HOLD_NS between its dispatch and its write: all of it is lag
    expect(lags.length).toBe(REQUESTS);
    for (const l of lags) expect(l).toBeGreaterThanOrEqual(HOLD_NS);
    // and none of it is service time (memcached on loopback answers a get in well under HOLD_NS)
    expect(services.length).toBe(REQUESTS);
    const sorted = [...services].sort((x, y) => x - y);
    expect(sorted[Math.floor(REQUESTS / 2)]!).toBeLessThan(HOLD_NS);
  });
});
