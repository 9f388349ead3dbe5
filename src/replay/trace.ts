// Optional timeline of a worker's send path (MCREPLAY_TRACE=<file prefix>): what woke the worker,
// how late after the head item's due time, how much one turn sent, when the bytes were handed to
// the socket and when answers were read. Written as JSON lines at the worker's end; off, every hook
// is a single branch on a constant. Used to find where time goes on bursty captures (README,
// "Design notes": schedule fidelity).
import { writeFileSync } from 'node:fs';
import { PerformanceObserver, performance } from 'node:perf_hooks';

/** Kinds of trace events (the second column of a record). Encode: a closed interval's snapshot, a = its ns of CPU, b = its index. */
export const Ev = { Start: 0, WakeWaker: 1, WakeTimer: 2, WakeSpin: 3, Batch: 4, PumpEnd: 5, Flush: 6, Read: 7, Connect: 8, Connected: 9, Submit: 10, Gc: 11, ReadEnd: 12, Dispatched: 13, WakeRead: 14, Encode: 15, WakeSleep: 16 } as const;
export type Ev = (typeof Ev)[keyof typeof Ev];

const NAMES = ['start', 'wake-waker', 'wake-timer', 'wake-spin', 'batch', 'pump-end', 'flush', 'read', 'connect', 'connected', 'submit', 'gc', 'read-end', 'dispatched', 'wake-read', 'encode', 'wake-sleep'];
const CAP = 1 << 20;

const prefix = process.env['MCREPLAY_TRACE'] ?? '';
/** True when tracing is on (MCREPLAY_TRACE set). */
export const tracing = prefix !== '';
let buf: Float64Array | null = null;
let n = 0;

/** Records event `ev` at run-clock `t` with two numbers of its own (lateness, counts, bytes). */
export function trace(ev: Ev, t: number, a = 0, b = 0): void {
  if (!tracing) return;
  buf ??= new Float64Array(CAP * 4);
  if (n >= CAP) return;
  const o = n * 4;
  buf[o] = t;
  buf[o + 1] = ev;
  buf[o + 2] = a;
  buf[o + 3] = b;
  n++;
}

/** Writes the trace of worker `w` to <prefix>.w<w>.jsonl (one [tNs, event, a, b] per line). */
export function writeTrace(w: number): void {
  if (!tracing || buf === null) return;
  const lines: string[] = [];
  for (let i = 0; i < n; i++) lines.push(JSON.stringify([buf[i * 4], NAMES[buf[i * 4 + 1]!], buf[i * 4 + 2], buf[i * 4 + 3]]));
  writeFileSync(`${prefix}.w${w}.jsonl`, lines.join('\n') + '\n');
  n = 0;
}

/** Forgets what was traced so far (the rehearsal before t0 runs on a clock of its own). */
export function dropTrace(): void {
  n = 0;
}

/**
 * Records the start of the schedule (`queued` items waiting) and traces this thread's
 * garbage-collection pauses (start on the run clock, duration, kind) from then on; `now` is the
 * worker's run clock. The observer reports after the fact, so each pause is placed back by how long
 * ago it started.
 */
export function traceGc(now: () => number, queued: number): void {
  if (!tracing) return;
  trace(Ev.Start, now(), queued);
  const obs = new PerformanceObserver((list) => {
    const t = now();
    const p = performance.now();
    for (const e of list.getEntries()) {
      const kind = ((e as unknown as { detail?: { kind?: number } }).detail?.kind) ?? 0;
      trace(Ev.Gc, t - (p - e.startTime) * 1e6, e.duration * 1e6, kind);
    }
  });
  obs.observe({ entryTypes: ['gc'] });
}
