// The collection a worker runs just before t0 (src/replay/full-gc.ts) must leave the young
// generation empty: objects that are still referenced (a look-ahead) move out of it, so the run's
// first scavenge has nothing of them to copy. Checked on V8's own heap-space statistics, in a
// worker thread as the replay runs it.
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');

const SCRIPT = `
import { getHeapSpaceStatistics } from 'node:v8';
import { parentPort } from 'node:worker_threads';
const { fullGc } = await import(${JSON.stringify(join(ROOT, 'dist', 'replay', 'full-gc.js'))});
const young = () => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_used_size;
// a look-ahead stand-in: 200k small live objects; a scavenge may have just emptied the young
// generation when the loop ends (it did on a loaded CI run: 145 KiB left), so more are made until
// it holds over 512 KiB, which the collection must then move out
const live = [];
for (let i = 0; i < 200_000; i++) live.push({ at: i, conn: i % 64, key: 'k' + (i % 1000) });
for (let i = 0; young() <= 512 * 1024 && i < 1_000_000; i++) live.push({ at: i, conn: i % 64, key: 'k' + (i % 1000) });
const before = young();
const ok = fullGc();
const after = young();
parentPort.postMessage({ ok, before, after, kept: live.length });
`;

describe('fullGc', () => {
  it('empties the young generation of a worker thread and keeps what is live', async () => {
    const w = new Worker(SCRIPT, { eval: true });
    const r = await new Promise<{ ok: boolean; before: number; after: number; kept: number }>((res, rej) => {
      w.once('message', res);
      w.once('error', rej);
    });
    await w.terminate();
    expect(r.ok).toBe(true);
    expect(r.kept).toBeGreaterThanOrEqual(200_000);
    expect(r.before, JSON.stringify(r)).toBeGreaterThan(512 * 1024);
    expect(r.after, JSON.stringify(r)).toBeLessThan(r.before / 10);
  });
});
