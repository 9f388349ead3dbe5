// A rehearsal that overruns its time limit is abandoned (src/replay/rehearsal.ts): the run must not
// wait on it, and nothing of it may stay behind in the worker's thread (sockets, the in-process
// target, timers) to run inside the real schedule. Run in this thread, with the limit shortened.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { rehearsalLimits, rehearse } from '../../src/replay/rehearsal.js';
import { configureWorker, newWorkerState } from '../../src/replay/worker-setup.js';
import { testInit } from './in-thread.js';
import type { ReqItem } from '../../src/replay/messages.js';
import type { WorkerState } from '../../src/replay/worker-state.js';
import { initMetrics } from '../../src/metrics/histogram.js';
import { waitFor } from '../helpers/wait.js';

const saved = { ...rehearsalLimits };
beforeAll(async () => {
  await initMetrics();
});
afterEach(() => {
  Object.assign(rehearsalLimits, saved);
});

/** A text request sample of the kind RunQueue.startInfo hands to the rehearsal. */
function sample(cmd: string, raw: string, expect: ReqItem['expect']): ReqItem {
  return { k: 'req', at: 0, conn: 0, proto: 'text', cmd, expect, quiet: false, opaque: 0, keys: [''], metaFlags: [], raw: Buffer.from(raw, 'latin1'), absExpSec: null, casKey: null, pipelined: false };
}
const SAMPLES = [sample('set', 'set k 0 0 3\r\nabc\r\n', 'line'), sample('get', 'get k\r\n', 'values')];

/** A worker state as 'init' leaves it (no target is dialled: the rehearsal has its own). */
function realWorker(): WorkerState {
  const s = newWorkerState({ postMessage: () => {}, on: () => {} });
  configureWorker(s, testInit({ host: '127.0.0.1', port: 9, name: 'unused:9' }, { eventLoop: false }));
  return s;
}

/** Sockets, servers and timers this thread holds, by kind. */
function handles(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of process.getActiveResourcesInfo()) if (/TCP|Timeout|Immediate/.test(k)) out[k] = (out[k] ?? 0) + 1;
  return out;
}

describe('the rehearsal, abandoned', () => {
  it('ends at its time limit, counts what it did, and leaves no socket, server or timer behind', async () => {
    const before = handles();
    rehearsalLimits.timeoutMs = 1; // the first requests are due 2 ms after its connections open
    const s = realWorker();
    const t = Date.now();
    await rehearse(s, SAMPLES);
    expect(Date.now() - t).toBeLessThan(5_000);
    expect(s.totals.rehearsalRequests).toBeGreaterThan(0);
    expect(s.totals.rehearsed).toBeLessThan(s.totals.rehearsalRequests);
    expect(s.totals.rehearsalKinds).toBe(2);
    // none more of any kind than before it (the test runner's own may have ended meanwhile)
    const left = (): boolean => Object.entries(handles()).every(([k, n]) => n <= (before[k] ?? 0));
    await waitFor(() => `the thread's handles back to ${JSON.stringify(before)}: ${JSON.stringify(handles())}`, left, 5_000);
  });

  it('does not keep the next rehearsal in the same thread from finishing', async () => {
    rehearsalLimits.timeoutMs = 1;
    await rehearse(realWorker(), SAMPLES);
    Object.assign(rehearsalLimits, saved);
    const s = realWorker();
    await rehearse(s, SAMPLES);
    expect(s.totals.rehearsalRequests).toBeGreaterThan(0);
    expect(s.totals.rehearsed).toBe(s.totals.rehearsalRequests);
  });
});
