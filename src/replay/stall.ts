// A target that stopped reading: what is written to it waits in this process's socket buffer. A
// request that expects an answer times out and fails its connection, but silent ones (noreply,
// quiet binary) have nothing to time out, so without this check a target that accepts and never
// reads (or a live mirror outpacing one) grows memory by everything written to it. The rule is the
// request timeout's: bytes that wait longer than --timeout without the target taking any fail the
// connection as a timeout (conn.ts check()), which frees them; memory stays within rate x timeout.
import type { Socket } from 'node:net';

/** What a connection last saw of its socket's writes. */
export interface WriteProgress {
  /** Bytes the kernel had taken at the last check. */
  taken: number;
  /** When bytes last moved (or began to wait), ns; -1 = nothing waits. */
  since: number;
}

/** A fresh tracker. */
export function writeProgress(): WriteProgress {
  return { taken: 0, since: -1 };
}

/** True when bytes have waited in `s` longer than `timeoutNs` without the target taking any. */
export function writeStalled(s: Socket | null, p: WriteProgress, now: number, timeoutNs: number): boolean {
  if (s === null || s.writableLength === 0) {
    p.since = -1;
    return false;
  }
  // bytesWritten counts what is still buffered too: the difference is what the kernel took
  const taken = s.bytesWritten - s.writableLength;
  if (p.since < 0 || taken !== p.taken) {
    p.taken = taken;
    p.since = now;
    return false;
  }
  return now - p.since > timeoutNs;
}
