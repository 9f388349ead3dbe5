// The jobs of a `diff` run (one per read or forwarded write): started in capture order, at most
// `inFlight` at once, each at its own turn under a rate; a user's stop drops those not started yet
// and wakes those waiting for their turn.

/** The job queue of one diff run. */
export interface JobQueue {
  /** The jobs started and not finished. */
  readonly inflight: ReadonlySet<Promise<void>>;
  enqueue(job: () => Promise<void>): void;
  /** Resolves once every queued job has started: the capture reader's backpressure. */
  started(): Promise<void>;
  /** Resolves at `at` (performance.now() ms), or at once when the run is stopped. */
  until(at: number): Promise<void>;
  /** Drops the jobs not started and wakes the waiting ones; returns how many were dropped. */
  stop(): number;
  /** Resolves once no job runs. */
  idle(): Promise<void>;
}

/** A job queue running at most `inFlight` jobs at once. */
export function createJobQueue(inFlight: number): JobQueue {
  const inflight = new Set<Promise<void>>();
  const queued: (() => Promise<void>)[] = [];
  // jobs waiting for their turn, woken at once by a stop
  const sleepers = new Set<() => void>();
  let drained: (() => void) | null = null;
  let stopped = false;
  const pump = (): void => {
    while (inflight.size < inFlight && queued.length > 0) {
      const p = queued.shift()!();
      inflight.add(p);
      void p.finally(() => {
        inflight.delete(p);
        pump();
      });
    }
    if (queued.length === 0 && drained !== null) {
      drained();
      drained = null;
    }
  };
  return {
    inflight,
    enqueue(job) {
      queued.push(job);
      pump();
    },
    async started() {
      if (queued.length > 0) await new Promise<void>((res) => (drained = res));
    },
    async until(at) {
      const wait = at - performance.now();
      if (wait <= 1 || stopped) return;
      await new Promise<void>((res) => {
        const wake = (): void => {
          clearTimeout(timer);
          sleepers.delete(wake);
          res();
        };
        const timer = setTimeout(wake, wait);
        sleepers.add(wake);
      });
    },
    stop() {
      stopped = true;
      const dropped = queued.length;
      queued.length = 0;
      for (const wake of [...sleepers]) wake();
      pump();
      return dropped;
    },
    async idle() {
      while (inflight.size > 0) await Promise.all(inflight);
    },
  };
}
