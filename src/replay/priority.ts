// The coordinator thread reads the capture ahead of the schedule and merges the workers' results:
// nothing it does is due at a given microsecond. On a small machine (2 cores shared with the target)
// its bursts of parsing and garbage collection took the CPU from the sending workers and from
// memcached exactly when they had to run, which showed as schedule lag and as service time. So
// while the replay runs it sits a few nice levels below them. Linux applies setpriority(0) to the
// calling thread only (the workers, started earlier, keep theirs); elsewhere it would lower the
// whole process, so it is left alone there.
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';

/** Nice levels the coordinator thread gives way to the workers while a replay runs. */
export const COORDINATOR_NICE = 5;

/** Lowers the calling thread's priority (Linux only); returns what puts it back. */
export function lowerThreadPriority(by = COORDINATOR_NICE): () => void {
  if (process.platform !== 'linux') return () => {};
  let before: number;
  try {
    before = getPriority(0);
    setPriority(0, Math.min(19, before + by));
  } catch {
    return () => {}; // not allowed here (a container policy): run as is
  }
  return () => {
    try {
      setPriority(0, before); // raising back to where it was may need privileges: then it stays lower
    } catch {
      /* the thread keeps the lower priority; it only merges results from here on */
    }
  };
}

/**
 * Nice levels a worker (and its waker) thread asks to be raised by. On 2 cores shared with the target
 * and one other busy process, a worker at the same priority as a CPU hog waited up to a timeslice
 * (several ms) for the CPU after each wake-up; raised, it preempts the hog when its request is due.
 * Raising needs CAP_SYS_NICE (root, or a container granting it): without it the thread runs as is.
 */
export const WORKER_BOOST = 10;

/** Raises the calling thread's priority (Linux only, when permitted); returns the nice level it runs at, or null if unchanged. */
export function raiseThreadPriority(by = WORKER_BOOST): number | null {
  if (process.platform !== 'linux') return null;
  try {
    const before = getPriority(0);
    const want = Math.max(-20, before - by);
    if (want === before) return null;
    setPriority(0, want);
    return want;
  } catch {
    return null; // EACCES: not permitted here
  }
}

/**
 * How a replay's sending threads ask the scheduler for the CPU (`--priority`). Nice levels only
 * weigh a thread against others: on 2 cores with one process burning a core, a boosted worker
 * still waited several ms for a CPU after a wake-up, and a 600-request bursty capture came out
 * with schedule lag p99 10–140 ms (SATURATED). Under SCHED_FIFO the same replays, on the same
 * loaded machine, kept lag p50 ~3 µs and p99 0.6–4.5 ms: a real-time thread preempts every normal
 * one the moment it wakes. 'auto' takes that where it is safe (see realtimeRefusal), else nice.
 */
export type PriorityMode = 'auto' | 'realtime' | 'nice' | 'normal';

/**
 * The SCHED_FIFO priority the workers (and wakers) take, one above the process's helper threads
 * (HELPER_PRIORITY): equal FIFO priorities do not preempt each other, and a helper busy with the
 * main thread's concurrent marking then held a worker off its CPU for 35–100 ms. Both are at the
 * bottom of the real-time range: above every normal thread, below the system's real-time ones.
 */
export const REALTIME_PRIORITY = 2;
/** SCHED_FIFO priority of the helper threads (V8's platform threads, libuv's) under --priority realtime. */
export const HELPER_PRIORITY = 1;

/** Why SCHED_FIFO must not or cannot be used here (null: it may). `spinning` = threads that may spin at that priority. */
export function realtimeRefusal(spinning: number, cpus: number): string | null {
  if (process.platform !== 'linux') return 'SCHED_FIFO is Linux only here';
  let runtime = '';
  try {
    runtime = readFileSync('/proc/sys/kernel/sched_rt_runtime_us', 'utf8').trim();
  } catch {
    return 'cannot read /proc/sys/kernel/sched_rt_runtime_us';
  }
  // -1 = no real-time throttling: a spinning real-time thread could then keep a core from
  // everything else indefinitely; with it, normal threads keep 5% of each second at worst
  if (runtime === '-1') return 'real-time throttling is off (kernel.sched_rt_runtime_us = -1)';
  // a spinning sender holds its core: leave at least one core to the target, the main thread and the kernel
  if (spinning > cpus - 1) return `${spinning} sending thread(s) on ${cpus} CPU(s) would leave none to the rest`;
  return null;
}

/** The calling thread's id (Node has no gettid()); null where /proc/thread-self is missing. */
function threadId(): string | null {
  try {
    const tid = readlinkSync('/proc/thread-self').split('/').pop() ?? '';
    return /^\d+$/.test(tid) ? tid : null;
  } catch {
    return null;
  }
}

/** Puts thread `tid` of this process under SCHED_FIFO (Linux, with CAP_SYS_NICE); false when not permitted. */
function fifo(tid: string, prio: number): boolean {
  return spawnSync('chrt', ['-f', '-p', String(prio), tid], { stdio: 'ignore', timeout: 5000 }).status === 0;
}

/** Whether thread `tid` of this process already runs SCHED_FIFO at `prio` (proc(5) stat: rt_priority, policy). */
function atFifo(tid: string, prio: number): boolean {
  try {
    const st = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
    return f[38] === '1' && f[37] === String(prio);
  } catch {
    return false;
  }
}

/** How a worker asks for the CPU: SCHED_FIFO for itself (and its waker), also for the process's helper threads, a nice boost, or nothing. */
export type SenderMode = 'fifo' | 'fifo-helpers' | 'nice' | 'normal';

/**
 * Puts the calling thread under SCHED_FIFO and, with `helpers`, every other thread of the process
 * but the main (coordinator) one one level below. The helpers matter to the schedule: a worker's
 * garbage collection runs in part on V8's shared helper threads and the worker waits for them (with
 * only the worker real-time a bursty replay on a loaded machine still showed lag p99 4–236 ms, with
 * the helpers 0.7–2 ms). But those threads also compile and collect for the main thread, at
 * real-time priority then: a target on the same machine waited behind them (a test suite's
 * memcached answered in seconds), so only `--priority realtime` asks for it. Threads this one
 * starts later (its waker) inherit the policy. False when not permitted.
 */
export function makeThreadRealtime(helpers: boolean, prio = REALTIME_PRIORITY, helperPrio = HELPER_PRIORITY): boolean {
  const me = threadId();
  if (me === null || !fifo(me, prio)) return false;
  if (!helpers) return true;
  let tids: string[] = [];
  try {
    tids = readdirSync('/proc/self/task');
  } catch {
    return true;
  }
  // threads already at `prio` are other workers and their wakers: they keep it (a worker this
  // lowers to the helpers' level before its own call raises itself back when it makes that call)
  for (const t of tids) if (t !== me && Number(t) !== process.pid && !atFifo(t, prio)) fifo(t, helperPrio);
  return true;
}

/**
 * Sets the calling sending thread's priority (falling back to the nice boost where SCHED_FIFO is
 * not permitted). Returns what it runs at, and whether that is real-time.
 */
export function applySenderPriority(mode: SenderMode): { label: string; realtime: boolean } {
  if (mode === 'normal') return { label: 'unchanged', realtime: false };
  if (mode !== 'nice' && makeThreadRealtime(mode === 'fifo-helpers')) return { label: `SCHED_FIFO ${REALTIME_PRIORITY}${mode === 'fifo-helpers' ? ' (helpers too)' : ''}`, realtime: true };
  const nice = raiseThreadPriority();
  return { label: nice === null ? 'unchanged (not permitted)' : `nice ${nice}`, realtime: false };
}

/** What the sending threads of a run ask for, from `--priority` and the run's kind; with a warning when the user's choice cannot be had. */
export function senderPriority(mode: PriorityMode, run: { maxMode: boolean; live: boolean; workers: number; cpus: number }): { mode: SenderMode; warning: string | null } {
  if (mode === 'normal' || mode === 'nice') return { mode, warning: null };
  if (mode === 'realtime') {
    // asked by name: the CPU count is the user's call, a kernel without throttling is not
    const refusal = realtimeRefusal(0, run.cpus);
    return refusal === null ? { mode: 'fifo-helpers', warning: null } : { mode: 'nice', warning: `--priority realtime: ${refusal}; the senders run with a nice boost instead` };
  }
  // auto: a capacity run has no schedule to keep and would hold its cores at real-time priority;
  // a mirror runs for days beside production, where a real-time spinner is not ours to start
  if (run.maxMode || run.live) return { mode: 'nice', warning: null };
  return { mode: realtimeRefusal(run.workers, run.cpus) === null ? 'fifo' : 'nice', warning: null };
}
