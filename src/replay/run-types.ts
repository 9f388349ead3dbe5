// The types of a replay run: what it needs (ReplaySetup), why it ended (StopReason) and what it
// produced (ReplayOutcome). Apart from the coordinator so that its stages (run-control.ts,
// run-outcome.ts) can use them without importing it; coordinator.ts re-exports them.
import type { ExtractResult } from '../workload/extract.js';
import type { ShapeOptions } from '../workload/shape.js';
import type { TargetPlan } from '../topology/targets.js';
import type { AggregateResult, Progress } from '../metrics/aggregate.js';
import type { CapturedCommand, Interval } from '../metrics/results-types.js';
import type { IntervalStore } from '../metrics/rollup.js';
import type { ShardSpec } from './shard.js';
import type { RateSpec } from './parse.js';
import type { TargetAddr, WorkerTotals } from './messages.js';
import type { PriorityMode } from './priority.js';
import type { AuthCred, AuthMech } from '../protocol/auth.js';
import type { LiveInput } from './live-source.js';
import type { LiveClockStats } from './live-schedule.js';

/** Everything a replay run needs, already parsed and validated. */
export interface ReplaySetup {
  input: string;
  targets: TargetPlan;
  rate: RateSpec;
  shape: ShapeOptions;
  clone: number;
  cloneKeys: boolean;
  loop: boolean;
  durationNs: number | null;
  /** TTL compression; null = follow the rate in force. */
  ttlScale: number | null;
  workers: number;
  timeoutNs: number;
  serverPorts: number[];
  anyPort: boolean;
  /** --ascii-auth: the captured servers ran with -Y (each connection's first `set` is credentials). */
  asciiAuth?: boolean;
  auth: { user: string; password: string } | null;
  allowSourceTarget: boolean;
  intervalNs: number;
  /** --connect-ahead: a connection the capture opens during the run is connected this long before its captured open (timed modes; default CONNECT_AHEAD_NS in feed.ts). */
  connectAheadNs?: number;
  /** How far ahead of the schedule the workload is read, ns (Infinity: as far as the look-ahead bound of requests and bytes allows). */
  lookAheadNs: number;
  warmup: { ns: number | null; requests: number | null };
  /** Sample worker event-loop delay (default true). */
  eventLoop?: boolean;
  /** --priority: how the sending threads ask for the CPU (default 'auto', priority.ts). */
  priority?: PriorityMode;
  /** --shard i/N: replay only this shard's captured connections (src/replay/shard.ts). */
  shard?: ShardSpec | null;
  /** --start-at: t0 at this wall-clock time, epoch ms (src/replay/start-at.ts). */
  startAtMs?: number | null;
  /** A live mirror: the requests come from this stream on the live clock (input, rate, loop unused). */
  live?: LiveInput;
  /** Interrupt: the run stops, workers abandon in-flight requests after a short grace. */
  signal?: AbortSignal;
  /** Called once the run state exists, with a live view of what the capture answered per command (--metrics). */
  onCaptured?(byCmd: ReadonlyMap<string, { count: number; hits: number; misses: number }>): void;
  /** Called once per completed interval (all workers), in order. */
  onInterval?(iv: Interval, p: Progress): void;
  /** Where the run keeps its closed intervals (default: all; a long run rolls old ones up, src/metrics/rollup.ts). */
  intervalStore?: IntervalStore;
  /** Called once the run is under way with a function that returns the outcome so far (periodic results.json of a long run). */
  onCheckpoint?(soFar: () => ReplayOutcome): void;
  /**
   * Called once the schedule's t0 is fixed, with a run clock (ns since t0); per target (in the
   * order of targetAddresses), how it takes the credentials: what a stats poller needs to log in;
   * and warnings about the run that the look-ahead read before t0 already shows.
   */
  onStart?(clock: () => number, targetAuth: ((AuthCred & { mech: AuthMech }) | null)[], warnings: string[]): void;
}

/** Why the run ended. */
export type StopReason = 'complete' | 'duration' | 'ramp-end' | 'interrupted';

/** What a replay run produced, for the results file. */
export interface ReplayOutcome {
  /** t0 on the wall clock (epoch ms) and how late this process fixed it after --start-at (ns). */
  t0Wall?: { ms: number; lateNs: number };
  startedAt: Date;
  endedAt: Date;
  stopReason: StopReason;
  aggregate: AggregateResult;
  extract: ExtractResult | null;
  captured: Record<string, CapturedCommand>;
  capture: { connections: number; requests: number; replayable: number };
  totals: WorkerTotals;
  /** Requests in the shaped workload (after clone/pool split): sent + held back + unsent. */
  shapedRequests: number;
  heldBack: Record<string, number>;
  passes: number;
  /** False when the run stopped before the whole capture was read (interrupt, loop). */
  captureFullyRead: boolean;
  targets: TargetAddr[];
  runEndNs: number;
  squeezedNs: number;
  warnings: string[];
  /** CPU of this process (every thread) from t0 until the last worker finished, µs; null if the run never started. */
  replayCpu: { userUs: number; sysUs: number } | null;
  /** A live mirror: what its clock saw of the capture host's clock. */
  liveClock?: LiveClockStats;
  /** What each worker thread ran at ('SCHED_FIFO 1', 'nice -10', 'unchanged'). */
  senderPriority: string[];
}
