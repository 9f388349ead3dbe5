// The coordinator thread gives way to the sending workers while a replay runs (src/replay/priority.ts):
// on Linux only the calling thread is lowered, threads started before keep their priority.
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism, getPriority } from 'node:os';
import { spawnSync } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import { startMemcached } from '../helpers/memcached.js';
import { COORDINATOR_NICE, HELPER_PRIORITY, REALTIME_PRIORITY, WORKER_BOOST, lowerThreadPriority, realtimeRefusal, senderPriority } from '../../src/replay/priority.js';
import { QUIET, type CliRun, collect, spawnReplay, started, steadyGets, tempDir, writeCapture } from './helpers.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const SCHED_OTHER = 0;
const SCHED_FIFO = 1;

/** Nice value, scheduling policy and real-time priority of each thread of process `pid` (proc(5): stat fields 19, 41, 40). */
function threadSched(pid: number): { tid: number; comm: string; nice: number; policy: number; rtPriority: number }[] {
  const out: { tid: number; comm: string; nice: number; policy: number; rtPriority: number }[] = [];
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    try {
      const s = readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8');
      const comm = s.slice(s.indexOf('(') + 1, s.lastIndexOf(')'));
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      out.push({ tid: Number(t), comm, nice: Number(f[16]), rtPriority: Number(f[37]), policy: Number(f[38]) });
    } catch {
      /* the thread ended meanwhile */
    }
  }
  return out;
}

/** Whether this machine lets us put a thread under SCHED_FIFO (tried on a throwaway process). */
function fifoPermitted(): boolean {
  const r = spawnSync('chrt', ['-f', '1', 'true'], { stdio: 'ignore' });
  return r.status === 0;
}

/** results.json config.options.senderPriority of a run started with --json. */
function senderPriorityOf(r: CliRun): string[] {
  expect(r.results, r.stderr).not.toBeNull();
  return (r.results!.config.options as { senderPriority: string[] }).senderPriority;
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

  it('--priority nice: the worker and its waker run WORKER_BOOST above the rest, the main thread below', async () => {
    const mc = await startMemcached();
    try {
      const cap = writeCapture(tmp.dir, 'prio.pcap', steadyGets(2, 2, 10));
      // progress on (started() needs its start line), results into the temp dir
      const p = spawnReplay([cap, '--target', mc.address, '--priority', 'nice', '--json', ...QUIET.filter((a) => a !== '--no-progress'), '--out', tmp.dir]);
      const done = collect(p);
      await started(p);
      const threads = threadSched(p.pid!);
      const main = threads.find((t) => t.tid === p.pid)!;
      // V8's and libuv's helpers keep the process's priority; the replay worker and its waker (the
      // waker inherits the worker's) run WORKER_BOOST above it when that is permitted (root here)
      const others = threads.filter((t) => t.tid !== p.pid);
      expect(others.length, JSON.stringify(threads)).toBeGreaterThan(2);
      expect(threads.every((t) => t.policy === SCHED_OTHER), JSON.stringify(threads)).toBe(true);
      const base = Math.max(...others.map((t) => t.nice));
      const boosted = others.filter((t) => t.nice !== base);
      if (process.getuid?.() === 0) {
        expect(boosted.length, JSON.stringify(threads)).toBe(2);
        for (const t of boosted) expect(t.nice, JSON.stringify(threads)).toBe(Math.max(-20, base - WORKER_BOOST));
      } else expect(boosted.length, JSON.stringify(threads)).toBe(0);
      expect(main.nice, JSON.stringify(threads)).toBe(Math.min(19, base + COORDINATOR_NICE));
      const r = await done;
      expect(r.code).toBe(0);
      expect(senderPriorityOf(r)).toEqual([process.getuid?.() === 0 ? `nice ${Math.max(-20, base - WORKER_BOOST)}` : 'unchanged (not permitted)']);
    } finally {
      await mc.stop();
    }
  });

  it('default (auto) on a timed replay: the worker and its waker run SCHED_FIFO where permitted; helpers and the main thread do not', async () => {
    const mc = await startMemcached();
    try {
      const cap = writeCapture(tmp.dir, 'prio-rt.pcap', steadyGets(2, 2, 10));
      const p = spawnReplay([cap, '--target', mc.address, '--json', ...QUIET.filter((a) => a !== '--no-progress'), '--out', tmp.dir]);
      const done = collect(p);
      await started(p);
      const threads = threadSched(p.pid!);
      const main = threads.find((t) => t.tid === p.pid)!;
      const r = await done;
      expect(r.code).toBe(0);
      const got = senderPriorityOf(r);
      const expectRt = fifoPermitted() && realtimeRefusal(1, availableParallelism()) === null;
      expect(main.policy, JSON.stringify(threads)).toBe(SCHED_OTHER);
      if (expectRt) {
        expect(got).toEqual([`SCHED_FIFO ${REALTIME_PRIORITY}`]);
        const rt = threads.filter((t) => t.policy === SCHED_FIFO);
        expect(rt.length, JSON.stringify(threads)).toBe(2);
        for (const t of rt) expect(t.rtPriority, JSON.stringify(threads)).toBe(REALTIME_PRIORITY);
      } else {
        expect(got[0], r.stdout).not.toMatch(/FIFO/);
        expect(threads.every((t) => t.policy === SCHED_OTHER), JSON.stringify(threads)).toBe(true);
      }
    } finally {
      await mc.stop();
    }
  });

  it('--priority realtime: the helper threads too, one real-time level below the worker and its waker', async () => {
    const mc = await startMemcached();
    try {
      const cap = writeCapture(tmp.dir, 'prio-rt-all.pcap', steadyGets(2, 2, 10));
      const p = spawnReplay([cap, '--target', mc.address, '--priority', 'realtime', '--json', ...QUIET.filter((a) => a !== '--no-progress'), '--out', tmp.dir]);
      const done = collect(p);
      await started(p);
      const threads = threadSched(p.pid!);
      const r = await done;
      expect(r.code).toBe(0);
      const got = senderPriorityOf(r);
      expect(threads.find((t) => t.tid === p.pid)!.policy, JSON.stringify(threads)).toBe(SCHED_OTHER);
      if (fifoPermitted() && realtimeRefusal(0, availableParallelism()) === null) {
        expect(got).toEqual([`SCHED_FIFO ${REALTIME_PRIORITY} (helpers too)`]);
        for (const t of threads.filter((x) => x.tid !== p.pid)) expect(t.policy, JSON.stringify(threads)).toBe(SCHED_FIFO);
        expect(threads.filter((t) => t.rtPriority === REALTIME_PRIORITY).length, JSON.stringify(threads)).toBe(2);
        expect(threads.filter((t) => t.rtPriority === HELPER_PRIORITY).length, JSON.stringify(threads)).toBe(threads.length - 3);
      } else expect(got[0]).not.toMatch(/FIFO/);
    } finally {
      await mc.stop();
    }
  });

  it('--rate max and --priority normal never take SCHED_FIFO', async () => {
    const mc = await startMemcached();
    try {
      const cap = writeCapture(tmp.dir, 'prio-max.pcap', steadyGets(2, 1, 10));
      for (const extra of [['--rate', 'max'], ['--priority', 'normal']]) {
        const r = await collect(spawnReplay([cap, '--target', mc.address, ...extra, '--json', '--no-progress', ...QUIET, '--out', tmp.dir]));
        expect(r.code, r.stderr).toBe(0);
        const got = senderPriorityOf(r);
        expect(got.length).toBe(1);
        expect(got[0], extra.join(' ')).not.toMatch(/FIFO/);
        if (extra[0] === '--priority') expect(got).toEqual(['unchanged']);
      }
    } finally {
      await mc.stop();
    }
  });
});

describe('senderPriority', () => {
  const timed = { maxMode: false, live: false, workers: 1, cpus: 2 };
  it('auto: real-time for a timed replay only where a core stays free; never for --rate max or a mirror', () => {
    const rtOk = realtimeRefusal(1, 2) === null;
    expect(senderPriority('auto', timed).mode).toBe(rtOk ? 'fifo' : 'nice');
    expect(senderPriority('auto', { ...timed, workers: 2 }).mode).toBe('nice');
    expect(senderPriority('auto', { ...timed, cpus: 1 }).mode).toBe('nice');
    expect(senderPriority('auto', { ...timed, maxMode: true }).mode).toBe('nice');
    expect(senderPriority('auto', { ...timed, live: true }).mode).toBe('nice');
    for (const m of ['auto', 'nice', 'normal'] as const) expect(senderPriority(m, timed).warning).toBeNull();
  });
  it('explicit modes are kept; realtime ignores the core count but says when it cannot be had', () => {
    expect(senderPriority('nice', timed).mode).toBe('nice');
    expect(senderPriority('normal', timed).mode).toBe('normal');
    const rt = senderPriority('realtime', { ...timed, workers: 4, cpus: 1 });
    if (realtimeRefusal(0, 1) === null) expect(rt).toEqual({ mode: 'fifo-helpers', warning: null });
    else expect(rt.warning).toMatch(/--priority realtime/);
  });
  it('refuses real-time when it would leave no core to the rest', () => {
    if (process.platform !== 'linux') return;
    expect(realtimeRefusal(2, 2)).toMatch(/2 sending thread\(s\) on 2 CPU/);
    expect(realtimeRefusal(1, 1)).toMatch(/on 1 CPU/);
  });
});
