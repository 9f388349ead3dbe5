// A worker whose 'start' arrives after t0 (a busy main thread) with MCREPLAY_TRACE on: the trace's
// first record reads the run clock, which closes the intervals it has passed. It used to do so
// before the interval clock was set for the run, so interval 0 was posted twice and the
// coordinator died with "snapshot for interval 0 of worker 0 arrived after that interval was
// closed" (seen on captures/sample.pcap in about one traced run in five).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BatchWriter } from '../../src/replay/batch.js';
import { initMetrics } from '../../src/metrics/histogram.js';
import { useMemcached } from '../helpers/memcached.js';
import { runToDone, startInThread, syncSchedule } from './in-thread.js';

const INTERVAL_NS = 100e6;
const LATE_NS = 30e6;
const END_NS = 350e6;

let dir: string;
beforeAll(async () => {
  await initMetrics();
  dir = mkdtempSync(join(tmpdir(), 'mcreplay-trace-late-'));
});
const mc = useMemcached();
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('replay worker: traced, started after t0', () => {
  it('posts every interval once, in order', async () => {
    // tracing is decided when trace.ts loads: set it first, then load the worker
    process.env['MCREPLAY_TRACE'] = join(dir, 'tr');
    const { runWorker } = await import('../../src/replay/worker.js');
    const { tracing } = await import('../../src/replay/trace.js');
    expect(tracing).toBe(true);
    const iw = await startInThread(runWorker, mc, { intervalNs: INTERVAL_NS });
    const got = iw.got;
    const w = new BatchWriter(256);
    w.open(0, 1, 0, false);
    let n = 0;
    for (let at = 40e6; at < END_NS; at += 10e6, n++) {
      w.req({ at, conn: 1, proto: 'text', cmd: 'get', expect: 'values', quiet: false, opaque: 0, keys: [''], metaFlags: [], raw: Buffer.from(`get k${n}\r\n`, 'latin1'), absExpSec: null, cas: false, pipelined: false });
    }
    w.close(END_NS, 1);
    await syncSchedule(iw, { t: 'batch', b: w.take().batch });
    await runToDone(iw, -LATE_NS);

    expect(got.filter((m) => m.t === 'fatal')).toEqual([]);
    const done = got.find((m) => m.t === 'done')!;
    const last = done.t === 'done' ? Math.floor(done.endNs / INTERVAL_NS) : -1;
    const indexes = got.flatMap((m) => (m.t === 'snap' ? [m.snap.index] : []));
    expect(indexes).toEqual(Array.from({ length: last + 1 }, (_, i) => i));
    expect(last).toBeGreaterThanOrEqual(3);
    expect(done.t === 'done' && done.totals.completed).toBe(n);
    // and the trace was written, starting with the run's start record
    const file = join(dir, 'tr.w0.jsonl');
    expect(existsSync(file)).toBe(true);
    expect(readFileSync(file, 'utf8').split('\n').some((l) => l.includes('"start"'))).toBe(true);
  });
});
