// The coordinator thread gives way to the sending workers while a replay runs (src/replay/priority.ts):
// on Linux only the calling thread is lowered, threads started before keep their priority.
import { readdirSync, readFileSync } from 'node:fs';
import { getPriority } from 'node:os';
import { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import { startMemcached } from '../helpers/memcached.js';
import { COORDINATOR_NICE, WORKER_BOOST, lowerThreadPriority } from '../../src/replay/priority.js';
import { QUIET, collect, spawnReplay, started, steadyGets, tempDir, writeCapture } from './helpers.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

/** Nice value of each thread of process `pid`, by thread name (comm). */
function threadNices(pid: number): { tid: number; comm: string; nice: number }[] {
  const out: { tid: number; comm: string; nice: number }[] = [];
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    try {
      const s = readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8');
      const comm = s.slice(s.indexOf('(') + 1, s.lastIndexOf(')'));
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      out.push({ tid: Number(t), comm, nice: Number(f[16]) });
    } catch {
      /* the thread ended meanwhile */
    }
  }
  return out;
}

/** Runs `body` (a function source) in a fresh thread and returns what it posts. */
function inThread<T>(body: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const w = new Worker(`const { parentPort } = require('node:worker_threads'); const os = require('node:os'); (${body})(parentPort);`, { eval: true });
    w.once('message', (m: T) => {
      resolve(m);
      void w.terminate();
    });
    w.once('error', reject);
  });
}

describe.runIf(process.platform === 'linux')('lowerThreadPriority', () => {
  it('lowers the calling thread only, and puts it back', async () => {
    const mine = getPriority(0);
    // a thread started before the lowering keeps its priority: it reads it when asked
    const w = new Worker(`const { parentPort } = require('node:worker_threads'); const os = require('node:os'); parentPort.on('message', () => parentPort.postMessage(os.getPriority(0)));`, { eval: true });
    try {
      await new Promise((r) => w.once('online', r));
      const restore = lowerThreadPriority();
      const lowered = getPriority(0);
      expect(lowered).toBe(Math.min(19, mine + COORDINATOR_NICE));
      const other = await new Promise<number>((r) => {
        w.once('message', r);
        w.postMessage(0);
      });
      expect(other).toBe(mine);
      restore();
      // raising a priority back needs CAP_SYS_NICE unless it stays within RLIMIT_NICE: as root it returns
      if (process.getuid?.() === 0) expect(getPriority(0)).toBe(mine);
      else expect(getPriority(0)).toBeGreaterThanOrEqual(mine);
    } finally {
      await w.terminate();
    }
  });

  it('a thread started after the lowering inherits it (so the workers are started first)', async () => {
    const seen = await inThread<{ before: number; child: number }>(`async (port) => {
      const { Worker } = require('node:worker_threads');
      const before = os.getPriority(0);
      os.setPriority(0, Math.min(19, before + 3));
      const child = await new Promise((r) => {
        const c = new Worker("require('node:worker_threads').parentPort.postMessage(require('node:os').getPriority(0))", { eval: true });
        c.once('message', (m) => { r(m); c.terminate(); });
      });
      port.postMessage({ before, child });
    }`);
    expect(seen.child).toBe(Math.min(19, seen.before + 3));
  });

  it('during a replay the main thread runs below the replay workers', async () => {
    const mc = await startMemcached();
    try {
      const cap = writeCapture(tmp.dir, 'prio.pcap', steadyGets(2, 2, 10));
      // progress on (started() needs its start line), results into the temp dir
      const p = spawnReplay([cap, '--target', mc.address, ...QUIET.filter((a) => a !== '--no-progress'), '--out', tmp.dir]);
      const done = collect(p);
      await started(p);
      const threads = threadNices(p.pid!);
      const main = threads.find((t) => t.tid === p.pid)!;
      // V8's and libuv's helpers keep the process's priority; the replay worker and its waker (the
      // waker inherits the worker's) run WORKER_BOOST above it when that is permitted (root here)
      const others = threads.filter((t) => t.tid !== p.pid);
      expect(others.length, JSON.stringify(threads)).toBeGreaterThan(2);
      const base = Math.max(...others.map((t) => t.nice));
      const boosted = others.filter((t) => t.nice !== base);
      if (process.getuid?.() === 0) {
        expect(boosted.length, JSON.stringify(threads)).toBe(2);
        for (const t of boosted) expect(t.nice, JSON.stringify(threads)).toBe(Math.max(-20, base - WORKER_BOOST));
      } else expect(boosted.length, JSON.stringify(threads)).toBe(0);
      expect(main.nice, JSON.stringify(threads)).toBe(Math.min(19, base + COORDINATOR_NICE));
      expect((await done).code).toBe(0);
    } finally {
      await mc.stop();
    }
  });
});
