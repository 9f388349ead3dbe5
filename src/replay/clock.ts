// The run clock shared by the coordinator and every worker thread. process.hrtime() reads the same
// monotonic clock in every thread of a process, so a base second handed to each worker makes their
// clocks agree to the nanosecond without bigint arithmetic on the hot path.

/** A clock reading "ns since the run's t0" (negative before t0). */
export type RunClock = () => number;

/** Whole seconds of process.hrtime() to subtract before converting to a double (keeps ns exact). */
export function clockBaseSec(): number {
  return process.hrtime()[0];
}

/** ns elapsed on the monotonic clock since `baseSec` (exact integer below 2^53, i.e. 104 days). */
export function monoNs(baseSec: number): number {
  const t = process.hrtime();
  return (t[0] - baseSec) * 1e9 + t[1];
}

/** A run clock: ns since `t0Ns`, where t0Ns is a monoNs(baseSec) reading. */
export function runClock(baseSec: number, t0Ns: number): RunClock {
  return () => {
    const t = process.hrtime();
    return (t[0] - baseSec) * 1e9 + t[1] - t0Ns;
  };
}
