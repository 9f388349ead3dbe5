// A worker with nothing in flight sleeps the last part of a short wait in its own thread
// (Atomics.wait: one futex wake-up instead of the waker's and then its message to the event loop),
// and never while an answer is awaited or a socket still holds bytes for the kernel: an answer that
// came in during such a sleep would be timestamped late, as the target's time, and held bytes
// would reach the target late. Run in this thread (runWorker) against a real memcached, or a
// server that never answers (a hung target); Atomics.wait, flush and onRead are watched in the
// order they run.
import { connect, createServer, type Server, type Socket } from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import { runWorker } from '../../src/replay/worker.js';
import { ReplayConn } from '../../src/replay/conn.js';
import { BatchWriter } from '../../src/replay/batch.js';
import { initMetrics } from '../../src/metrics/histogram.js';
import { useMemcached, type Memcached } from '../helpers/memcached.js';
import { runToDone, startInThread, syncSchedule, wrap, type InThreadWorker } from './in-thread.js';

const REQUESTS = 15;
const DUE_NS = 20e6;
/** Longer than the worker spins for an answer (1 ms at normal priority), under its 2 ms bound for sleeping in the thread. */
const STEP_NS = 3e6;

beforeAll(async () => {
  await initMetrics();
});
const mc = useMemcached();

/** Watches Atomics.wait (calls `f` at each) until the returned undo runs. */
function watchWaits(f: () => void): () => void {
  const atomics = Atomics as unknown as Record<string, unknown>;
  const realWait = Atomics.wait;
  atomics['wait'] = function (...args: unknown[]): unknown {
    f();
    return (realWait as (...a: unknown[]) => unknown).apply(Atomics, args);
  };
  return () => (atomics['wait'] = realWait);
}

/** REQUESTS gets on one connection, STEP_NS apart. */
function gets(): BatchWriter {
  const b = new BatchWriter(4 * REQUESTS);
  b.open(0, 0, 0, false);
  for (let i = 0; i < REQUESTS; i++) {
    b.req({ at: DUE_NS + i * STEP_NS, conn: 0, proto: 'text', cmd: 'get', expect: 'values', quiet: false, opaque: 0, keys: [''], metaFlags: [], raw: Buffer.from(`get sleep:${i}\r\n`, 'latin1'), absExpSec: null, cas: false, pipelined: false });
  }
  b.close(DUE_NS + REQUESTS * STEP_NS, 0);
  return b;
}

/** Runs `b` on `w` from now, recording 'w' (flush), 'r' (onRead) and 's' (a sleep in the thread) in order. */
async function watched(w: InThreadWorker, b: BatchWriter): Promise<string> {
  const events: string[] = [];
  await syncSchedule(w, { t: 'batch', b: b.take().batch });
  // after the rehearsal, which runs the same functions
  const undo = [watchWaits(() => events.push('s')), wrap(ReplayConn.prototype, 'flush', () => events.push('w')), wrap(ReplayConn.prototype, 'onRead', () => events.push('r'))];
  try {
    await runToDone(w, 0);
  } finally {
    for (const u of undo) u();
  }
  expect(w.got.filter((m) => m.t === 'fatal')).toEqual([]);
  return events.join('');
}

const count = (seq: string, e: string): number => seq.split('').filter((x) => x === e).length;

describe('replay worker: sleeping in its own thread', () => {
  it('sleeps the end of the waits between answered requests in its thread', async () => {
    const w = await startInThread(runWorker, mc, { timeoutNs: 5e9, eventLoop: false });
    const seq = await watched(w, gets());
    const done = w.got.find((m) => m.t === 'done');
    expect(done?.t === 'done' ? done.totals.completed : -1).toBe(REQUESTS);
    expect(count(seq, 'w')).toBe(REQUESTS);
    // after a write, its answer is read before any sleep
    expect(seq, seq).not.toMatch(/w[^r]*s/);
    // some waits were slept in the thread (not necessarily all: an answer later than the gap leaves nothing to sleep)
    expect(count(seq, 's'), seq).toBeGreaterThan(0);
  });

  it('never sleeps in its thread while an answer is awaited (a target that does not answer)', async () => {
    // accepts and reads, never answers: every request stays in flight until its timeout
    const held: Socket[] = [];
    const server: Server = createServer((c) => {
      held.push(c);
      c.on('data', () => {});
      c.on('error', () => {});
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      const silent = { host: '127.0.0.1', port, address: `127.0.0.1:${port}` } as unknown as Memcached;
      const w = await startInThread(runWorker, silent, { timeoutNs: 150e6, eventLoop: false });
      const seq = await watched(w, gets());
      expect(count(seq, 'w')).toBe(REQUESTS);
      expect(count(seq, 'r')).toBe(0);
      expect(seq).not.toContain('s');
      const done = w.got.find((m) => m.t === 'done');
      expect(done?.t === 'done' ? done.totals.byClass.timeout : -1).toBe(REQUESTS);
    } finally {
      for (const c of held) c.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it('does not sleep while a socket still holds bytes for the kernel (a large quiet pipeline)', async () => {
    // the pipeline's target is memcached behind a proxy that reads nothing of a connection for its
    // first STALL_MS (a stalled server): the pipeline's bytes wait in the worker's socket while gets
    // on a second connection, straight to memcached, are answered
    const VALUE = 512 * 1024;
    const SETS = 24; // 12 MB of noreply sets in one write: more than the kernel takes without a reader
    const STALL_MS = 300;
    const held: Socket[] = [];
    const stalled: Server = createServer((c) => {
      held.push(c);
      c.pause();
      c.on('error', () => {});
      setTimeout(() => {
        const up = connect({ host: mc.host, port: mc.port });
        held.push(up);
        up.on('error', () => c.destroy());
        c.pipe(up);
        up.pipe(c);
        c.resume();
      }, STALL_MS).unref();
    });
    await new Promise<void>((r) => stalled.listen(0, '127.0.0.1', r));
    const port = (stalled.address() as { port: number }).port;
    try {
      const w = await startInThread(runWorker, mc, { timeoutNs: 5e9, eventLoop: false, targets: [{ host: mc.host, port: mc.port, name: mc.address }, { host: '127.0.0.1', port, name: `127.0.0.1:${port}` }] });
      const b = new BatchWriter(4 * SETS);
      b.open(0, 0, 1, false);
      const value = Buffer.alloc(VALUE, 0x61);
      for (let i = 0; i < SETS; i++) {
        const raw = Buffer.concat([Buffer.from(`set big:${i} 0 0 ${VALUE} noreply\r\n`, 'latin1'), value, Buffer.from('\r\n', 'latin1')]);
        b.req({ at: DUE_NS, conn: 0, proto: 'text', cmd: 'set', expect: 'none', quiet: false, opaque: 0, keys: [''], metaFlags: [], raw, absExpSec: null, cas: false, pipelined: i > 0 });
      }
      // then gets on the second connection, 1.5 ms apart: waits short enough to be slept in the thread
      b.open(0, 1, 0, false);
      for (let i = 0; i < 40; i++) {
        b.req({ at: DUE_NS + (i + 1) * 1.5e6, conn: 1, proto: 'text', cmd: 'get', expect: 'values', quiet: false, opaque: 0, keys: [''], metaFlags: [], raw: Buffer.from(`get big:${i}\r\n`, 'latin1'), absExpSec: null, cas: false, pipelined: false });
      }
      b.close(DUE_NS + 70e6, 0);
      b.close(DUE_NS + 70e6, 1);
      await syncSchedule(w, { t: 'batch', b: b.take().batch });
      const conns = new Set<ReplayConn>();
      let waits = 0;
      let waitsWithBacklog = 0;
      let backlogSeen = 0;
      const undo = [
        wrap(ReplayConn.prototype, 'flush', (self) => {
          conns.add(self as ReplayConn);
          if (pending(self as ReplayConn) > 0) backlogSeen++;
        }),
        watchWaits(() => {
          waits++;
          for (const c of conns) if (pending(c) > 0) waitsWithBacklog++;
        }),
      ];
      try {
        await runToDone(w, 0);
      } finally {
        for (const u of undo) u();
      }
      expect(w.got.filter((m) => m.t === 'fatal')).toEqual([]);
      // the pipeline did outrun the kernel's buffer (else this test shows nothing)
      expect(backlogSeen).toBeGreaterThan(0);
      expect(waitsWithBacklog, `${waits} waits, ${backlogSeen} writes left bytes behind`).toBe(0);
    } finally {
      for (const c of held) c.destroy();
      await new Promise<void>((r) => stalled.close(() => r()));
    }
  });
});

/** Bytes a connection's socket still holds for the kernel. */
function pending(c: ReplayConn): number {
  return (c as unknown as { sock: { writableLength: number } | null }).sock?.writableLength ?? 0;
}
