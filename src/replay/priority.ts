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
