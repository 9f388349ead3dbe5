// The run's start and stop (a coordinator stage): fixes t0 once every worker holds the start of the
// schedule, arms the duration / ramp-end stop, and stops the run (workers, capture reading) on
// whichever reason comes first. Its fields are read by the coordinator when it assembles the outcome.
import { monoNs } from './clock.js';
import { fixT0, waitForStartAt } from './start-at.js';
import type { Schedule } from './schedule.js';
import type { ProbeResult } from './probe.js';
import type { WorkerPool } from './worker-pool.js';
import type { FeedState } from './feed.js';
import type { ReplaySetup, StopReason } from './run-types.js';

/**
 * t0 is fixed only once every worker is started, warmed up, holds the first part of the schedule and
 * has its mid-way connections up; the margin covers the 'start' message reaching them.
 */
const START_MARGIN_NS = 20e6;
const INTERRUPT_GRACE_NS = 250e6;

/** The abort reason of a stop on purpose that lets the answers in flight come in (the whole timeout), as --duration does. */
export const STOP_DRAIN = 'mcreplay:drain';

/** The run's clock and stop state. */
export interface RunControl {
  t0: number | null;
  /** t0 on the wall clock (epoch ms) and how late this process fixed it after --start-at (ns). */
  t0Wall: { ms: number; lateNs: number } | undefined;
  /** This process's CPU at t0 (the run's CPU is counted from there). */
  cpuAtT0: NodeJS.CpuUsage | null;
  stopReason: StopReason | null;
  /** After a stop without loop: the capture is read on only to count the rest as unsent. */
  counting: boolean;
  /** False once a stop cut the reading of the capture short (interrupt, loop, live). */
  captureFullyRead: boolean;
  durationTimer: NodeJS.Timeout | null;
  /** Aborts the reading of the capture. */
  readonly extractAbort: AbortController;
  /** Run clock: ns since t0 (0 before it). */
  runNow(): number;
  /** Fixes t0 once every worker holds the start of the schedule (idempotent). */
  start(): Promise<void>;
  /** Stops the run; `drain`: the answers in flight get the whole timeout (not the interrupt's short grace). */
  stopRun(reason: StopReason, drain?: boolean): void;
  /**
   * The workers drained a schedule that the run's end (--duration, a ramp's end) had cut, before the
   * stop timer went off: the run stopped there all the same. The timer is this thread's, and a
   * worker that sent the last request due before the end drains without waiting for it: on a
   * loaded machine (or when nothing of the schedule is queued past the end) that came first, and
   * the run was taken for one that had run its whole workload ('complete').
   */
  reachedCutoff(): void;
}

/** What the run control needs of the coordinator. */
export interface RunControlDeps {
  setup: ReplaySetup;
  pool: WorkerPool;
  schedule: Schedule;
  baseSec: number;
  st: FeedState;
  probed: ProbeResult[];
  warnings: string[];
}

/** The run control of one run; nothing starts until start() or stopRun(). */
export function createRunControl(d: RunControlDeps): RunControl {
  const { setup, pool, schedule, baseSec, st, probed, warnings } = d;
  const nWorkers = pool.nWorkers;
  let startP: Promise<void> | null = null;
  let drain = false;
  const rc: RunControl = {
    t0: null,
    t0Wall: undefined,
    cpuAtT0: null,
    stopReason: null,
    counting: false,
    captureFullyRead: true,
    durationTimer: null,
    extractAbort: new AbortController(),
    runNow: () => (rc.t0 === null ? 0 : monoNs(baseSec) - rc.t0),
    start() {
      startP ??= begin();
      return startP;
    },
    stopRun,
    reachedCutoff() {
      if (rc.stopReason !== null) return;
      rc.stopReason = cutoffReason();
      if (rc.durationTimer) clearTimeout(rc.durationTimer);
      if (setup.loop || setup.live) rc.captureFullyRead = false;
    },
  };

  /** Why the run ends at its cutoff: --duration when it comes first, else the ramp's end. */
  function cutoffReason(): StopReason {
    return setup.durationNs !== null && setup.durationNs <= (schedule.endNs ?? Infinity) ? 'duration' : 'ramp-end';
  }

  async function begin(): Promise<void> {
    pool.flushAll();
    await pool.sync();
    const startAt = setup.startAtMs ?? null;
    const cut = startAt !== null && (await waitForStartAt(startAt, START_MARGIN_NS, setup.signal));
    rc.cpuAtT0 = process.cpuUsage();
    // nothing between the clock reading and the post: 2–23 ms spent there (the await, the capture
    // stream's callbacks, this thread losing its core) made the workers get 'start' after t0
    const fix = fixT0(cut ? null : startAt, baseSec, START_MARGIN_NS);
    for (let w = 0; w < nWorkers; w++) pool.send(w, { t: 'start', t0Ns: fix.t0 });
    rc.t0 = fix.t0;
    rc.t0Wall = { ms: fix.wallMs, lateNs: fix.lateNs };
    pool.flushAll();
    const early: string[] = [];
    if (fix.lateNs > 0) {
      const w = `started ${(fix.lateNs / 1e6).toFixed(1)} ms after --start-at ${new Date(fix.wallMs).toISOString()}: t0 stays the common one, so the first requests are late by up to that much (see the lag)`;
      warnings.push(w);
      early.push(w);
    }
    if (st.textToBinaryOnly > 0) {
      early.push(
        `${st.textToBinaryOnly} of the first ${st.shapedRequests} requests are text/meta for targets that take binary SASL (memcached -S), which speak only the binary protocol: they will fail (reset, timeout); replay such a capture against a target without -S`,
      );
    }
    setup.onStart?.(
      rc.runNow,
      probed.map((p) => (setup.auth !== null && (p.auth === 'sasl' || p.auth === 'ascii') ? { ...setup.auth, mech: p.auth } : null)),
      early,
    );
    const cutoff = Math.min(setup.durationNs ?? Infinity, schedule.endNs ?? Infinity);
    if (Number.isFinite(cutoff)) {
      const arm = (): void => {
        const left = cutoff - rc.runNow();
        if (left <= 0) stopRun(cutoffReason());
        else rc.durationTimer = setTimeout(arm, Math.min(2 ** 31 - 1, Math.ceil(left / 1e6)));
      };
      if (rc.stopReason === null) arm();
    }
    if (rc.stopReason !== null) sendStop();
  }

  function sendStop(): void {
    pool.flushAll();
    const grace = rc.stopReason === 'interrupted' && !drain ? INTERRUPT_GRACE_NS : setup.timeoutNs;
    for (let w = 0; w < nWorkers; w++) pool.send(w, { t: 'stop', graceNs: grace });
  }

  function stopRun(reason: StopReason, drainAnswers = false): void {
    if (rc.stopReason !== null) return;
    rc.stopReason = reason;
    drain = drainAnswers;
    if (rc.durationTimer) clearTimeout(rc.durationTimer);
    // before t0 the stop goes out right after the start
    if (rc.t0 !== null) sendStop();
    else void rc.start();
    if (reason === 'interrupted' || setup.loop || setup.live) {
      rc.captureFullyRead = false;
      rc.extractAbort.abort();
    } else {
      rc.counting = true;
    }
    pool.wakeProgress();
  }

  return rc;
}
