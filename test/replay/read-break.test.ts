// A replay worker writing a burst (many connections due at once) stops to read the answers that
// have come meanwhile, so their service time is the target's and not the rest of the burst's write
// time; once the schedule is readPolicy.lagCapNs behind, it writes on and reads afterwards. Run in
// this thread (runWorker) against a real memcached, with the policy set so that the outcome does
// not depend on the machine's speed: which callbacks ran in which order is what is checked.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runWorker } from '../../src/replay/worker.js';
import { ReplayConn } from '../../src/replay/conn.js';
import { BatchWriter } from '../../src/replay/batch.js';
import { readPolicy } from '../../src/replay/worker-state.js';
import type { FromWorker } from '../../src/replay/messages.js';
import { initMetrics } from '../../src/metrics/histogram.js';
import { useMemcached } from '../helpers/memcached.js';
import { runToDone, startInThread, syncSchedule, wrap } from './in-thread.js';

const CONNS = 150;
const DUE_NS = 60e6;
/** Due 20 µs apart: more than the 10 µs in which one connection's pipeline is gathered into one write (the turn writes each at once). */
const STEP_NS = 20e3;
const saved = { ...readPolicy };

beforeAll(async () => {
  await initMetrics();
});
const mc = useMemcached();
afterEach(() => {
  Object.assign(readPolicy, saved);
});

/** Replays CONNS connections with one get each, due from DUE_NS on, STEP_NS apart; returns the order of writes ('w') and reads ('r') and the worker's messages. */
async function burst(): Promise<{ events: string; got: FromWorker[] }> {
  const events: string[] = [];
  const undo = [wrap(ReplayConn.prototype, 'flush', () => events.push('w')), wrap(ReplayConn.prototype, 'onRead', () => events.push('r'))];
  let got: FromWorker[] = [];
  try {
    const w = await startInThread(runWorker, mc, { timeoutNs: 5e9, eventLoop: false });
    got = w.got;
    const b = new BatchWriter(4 * CONNS);
    for (let c = 0; c < CONNS; c++) b.open(0, c, 0, false);
    for (let c = 0; c < CONNS; c++) {
      b.req({ at: DUE_NS + c * STEP_NS, conn: c, proto: 'text', cmd: 'get', expect: 'values', quiet: false, opaque: 0, keys: [''], metaFlags: [], raw: Buffer.from(`get burst:${c}\r\n`, 'latin1'), absExpSec: null, cas: false, pipelined: false });
    }
    for (let c = 0; c < CONNS; c++) b.close(DUE_NS + CONNS * STEP_NS + 50e6, c);
    await syncSchedule(w, { t: 'batch', b: b.take().batch });
    events.length = 0; // the rehearsal before t0 runs the same functions
    // t0 is past the whole burst: everything is overdue at the first turn, on any machine, and only
    // the read policy decides whether that turn stops for answers
    await runToDone(w, -(DUE_NS + CONNS * STEP_NS));
  } finally {
    for (const u of undo) u();
  }
  return { events: events.join(''), got };
}

function completed(got: FromWorker[]): number {
  const done = got.find((m) => m.t === 'done');
  return done?.t === 'done' ? done.totals.completed : -1;
}

describe('replay worker: answers read inside a burst', () => {
  it('stops writing a burst to read the answers that came, and goes on', async () => {
    // stop 1 µs after the first awaited write, whatever the lag: every turn writes a little, then reads
    readPolicy.afterNs = 1e3;
    readPolicy.lagCapNs = Infinity;
    const { events, got } = await burst();
    expect(got.filter((m) => m.t === 'fatal')).toEqual([]);
    expect(completed(got)).toBe(CONNS);
    const lastWrite = events.lastIndexOf('w');
    const readsInside = [...events.slice(0, lastWrite)].filter((e) => e === 'r').length;
    // answers were read between the burst's writes, not all after its last one
    expect(readsInside, events).toBeGreaterThan(0);
    expect(events.split('').filter((e) => e === 'w').length).toBe(CONNS);
  });

  it('writes the whole burst first once the schedule is as far behind as the cap', async () => {
    readPolicy.afterNs = 1e3;
    readPolicy.lagCapNs = 0; // always "far behind": sending goes first
    const { events, got } = await burst();
    expect(got.filter((m) => m.t === 'fatal')).toEqual([]);
    expect(completed(got)).toBe(CONNS);
    const firstRead = events.indexOf('r');
    expect(firstRead, events).toBeGreaterThan(events.lastIndexOf('w'));
  });
});
