// The coordinator thread reads the capture ahead of the schedule and merges the workers' results:
// nothing it does is due at a given microsecond. On a small machine (2 cores shared with the target)
// its bursts of parsing and garbage collection took the CPU from the sending workers and from
// memcached exactly when they had to run, which showed as schedule lag and as service time. So
// while the replay runs it sits a few nice levels below them. Linux applies setpriority(0) to the
// calling thread only (the workers, started earlier, keep theirs); elsewhere it would lower the
// whole process, so it is left alone there.
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
