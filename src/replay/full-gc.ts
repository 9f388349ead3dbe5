// A full garbage collection on demand, for the moment just before t0. The look-ahead a worker holds
// when the clock starts (up to the whole capture of a short run) arrives as young objects; left
// there, the run's first scavenges copy it inside the schedule (with 16 MiB semi-spaces, 10–20 ms
// pauses on the 10k-request sample). Collected before t0, it is in the old generation and the run
// starts with an empty young one. V8 exposes gc() only to contexts created after --expose-gc is
// set, hence the new context.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let gcFn: (() => void) | null | undefined;

/** Runs a full, synchronous garbage collection of this thread's heap; false where V8 refused it. */
export function fullGc(): boolean {
  if (gcFn === undefined) {
    try {
      setFlagsFromString('--expose-gc');
      const f: unknown = runInNewContext('gc');
      gcFn = typeof f === 'function' ? (f as () => void) : null;
    } catch {
      gcFn = null;
    }
  }
  if (gcFn === null) return false;
  gcFn();
  return true;
}
