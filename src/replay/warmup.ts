// The worker's warm-up before the schedule starts: every target dialled once through the replay's
// own connection code, and that code run a few thousand times against the in-process target, so the
// first scheduled requests do not pay for lazy compilation and socket set-up.
import { IntervalRecorder } from '../metrics/recorder.js';
import { monoNs } from './clock.js';
import { ReplayConn, type ConnCtx } from './conn.js';
import { CasTable } from './cas-table.js';
import { emptyTotals } from './totals.js';
import { binaryFrame, OP_VERSION } from '../protocol/auth.js';
import { startWarmTarget, type WarmTarget } from './warm-target.js';
import type { ReqItem, TargetAddr, WorkerInit } from './messages.js';

/** The receive buffer all of a worker's sockets share (net's default read size). */
export const READ_BUF_BYTES = 64 * 1024;
const WARMUP_TIMEOUT_MS = 2000;
/** Warm-up sends only `version`: its private CAS table needs no room. */
const WARMUP_CAS_ENTRIES = 4;
/**
 * Warm-up traffic to the in-process target (warm-target.ts): WARMUP_ROUNDS pipelines of WARMUP_DEPTH
 * `version` requests. V8 compiles a function after it has run often enough;
 * until then the first requests of a capture ran the send and answer path in the interpreter and
 * paid for compiling it on a 2-core machine (the first ~0.5 s of a run showed lag p99 3–8 ms).
 */
const WARMUP_ROUNDS = 5;
const WARMUP_DEPTH = 400;
/**
 * Interval snapshots taken of the warm-up's throwaway recorder: the first snapshot of a run (the
 * end of its first second) ran the histogram encoding cold, 3–9 ms of the worker on a capture of
 * many commands (memccapable-binary: its requests due then were 9.7 ms late). The encoding now runs
 * when the worker is idle (worker-state.ts advance), but cold it would still hold up what comes
 * due while it runs.
 */
const WARMUP_SNAPSHOTS = 20;

/** A `version` request, used to warm the connection code up before the schedule starts. */
function versionItem(binary: boolean, pipelined = false): ReqItem {
  // a SASL target (memcached -S) speaks only binary: a text version would wait for its timeout
  const raw = binary ? binaryFrame(OP_VERSION) : Buffer.from('version\r\n', 'latin1');
  return {
    k: 'req',
    at: 0,
    conn: -1,
    proto: binary ? 'binary' : 'text',
    cmd: 'version',
    expect: binary ? 'binary' : 'line',
    quiet: false,
    opaque: 0,
    keys: [],
    metaFlags: [],
    raw,
    absExpSec: null,
    casKey: null,
    pipelined,
  };
}

/**
 * Dials every target once through the replay's own connection code (connect, authentication,
 * write, response matching, recording into a throwaway recorder), and runs that code a few
 * thousand times against the in-process target (warm-target.ts): the first scheduled requests must
 * not pay for lazy compilation and socket set-up, which cost several ms in a fresh thread.
 */
export async function warmUp(init: WorkerInit): Promise<void> {
  const rec = new IntervalRecorder({ worker: init.worker, eventLoop: false });
  const totals = emptyTotals();
  // one receive buffer for all of them, as in the run (reads are handled one at a time)
  const readBuf = Buffer.allocUnsafe(READ_BUF_BYTES);
  const dial = (t: TargetAddr, id: number, auth: WorkerInit['auth'], rounds: number, depth: number): Promise<void> =>
    new Promise<void>((resolve) => {
      let c: ReplayConn | null = null;
      const timer = setTimeout(() => c?.abandon(), WARMUP_TIMEOUT_MS);
      const ctx: ConnCtx = {
        rec,
        now: () => monoNs(init.baseSec),
        timeoutNs: WARMUP_TIMEOUT_MS * 1e6,
        maxMode: true,
        cas: CasTable.create(WARMUP_CAS_ENTRIES),
        totals,
        auth,
        finished: () => {
          clearTimeout(timer);
          resolve();
        },
        dirty: (d) => process.nextTick(() => d.flush()),
        readBuf,
        reading: false,
        flushDirty: () => {},
        sendDue: () => {},
        inflight: 0,
        noneInFlight: () => {},
        lastWriteNs: 0,
        dialling: 0,
        backlog: [],
        queued: 0,
        drained: () => {},
      };
      c = new ReplayConn(id, 0, t, ctx);
      // each round waits for the answers of the one before (its head is not pipelined)
      const binary = auth?.mech === 'sasl';
      for (let r = 0; r < rounds; r++) for (let k = 0; k < depth; k++) c.enqueue(versionItem(binary, k > 0));
      c.requestClose();
    });
  let echo: WarmTarget | null = null;
  try {
    // --rate max keeps no schedule: compiling while it runs costs it the same CPU as before it,
    // and its CPU per request is a figure of its own, so it only dials its targets
    if (!init.maxMode) echo = await startWarmTarget().catch(() => null); // without it: the real dial only
    await Promise.all([
      ...init.targets.map((t, i) => dial(t, -1 - i, init.auth, 1, 1)),
      ...(echo !== null ? [dial(echo.target, -1 - init.targets.length, null, WARMUP_ROUNDS, WARMUP_DEPTH)] : []),
    ]);
    if (!init.maxMode) warmSnapshots(rec);
  } finally {
    await echo?.close();
    rec.destroy();
  }
}

/** Runs the interval snapshot (the worker's histogram encoding) on the throwaway recorder, with values in it each time. */
export function warmSnapshots(rec: IntervalRecorder): void {
  for (let i = 0; i < WARMUP_SNAPSHOTS; i++) {
    for (let k = 1; k <= 64; k++) {
      const ns = k * 7919 * (i + 1);
      rec.record(`warm${i % 4}`, ns, ns >> 1);
      rec.recordLag(ns);
    }
    rec.snapshot(i);
  }
}
