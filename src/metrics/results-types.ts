// The results file (reports/<run-id>/results.json), schema "mcreplay.results/1". The replay writes
// it; report, thresholds and compare read it. Everything a report needs is here; histograms are
// HdrHistogram compressed base64 (the .hlog encoding) with values in integer nanoseconds.
import type { Paired } from './warm-pairs.js';

export const RESULTS_SCHEMA = 'mcreplay.results/1';

/** Error classes counted per request. */
export const ERROR_CLASSES = [
  'timeout',
  'reset',
  'refused',
  'server_error',
  'client_error',
  'error', // plain "ERROR" (unknown command on the target)
  'desync',
] as const;
export type ErrorClass = (typeof ERROR_CLASSES)[number];

/** Counters for one command (or the total) over one interval or the whole run. */
export interface Counters {
  /** Requests whose intended send time fell in the interval. */
  intended: number;
  sent: number;
  completed: number;
  hits: number;
  misses: number;
  errors: Record<ErrorClass, number>;
  /** Requests not sent on purpose, by reason (destructive, credentials, filtered, udp, ...). */
  heldBack: Record<string, number>;
  /** Requests left unsent when the run stopped (interrupted, duration over). */
  unsent: number;
  bytesOut: number;
  bytesIn: number;
}

export interface Percentiles {
  count: number;
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  p9999: number;
  max: number;
}

export interface CommandInterval {
  counters: Counters;
  /** completion − intended send time (coordinated-omission free). */
  response: string;
  /** completion − actual write. */
  service: string;
}

export interface Interval {
  index: number;
  /** ns since the run's start (t0 of the schedule). */
  startNs: number;
  endNs: number;
  warmup: boolean;
  /** Ramp step index, or null outside a ramp. */
  step: number | null;
  /** Rate factor in force (1 = captured speed), null for max. */
  rateFactor: number | null;
  perCommand: Record<string, CommandInterval>;
  total: CommandInterval;
  /** actual − intended send time. */
  lag: string;
  /** Worst event-loop delay seen by any worker in the interval, ns. */
  eventLoopMaxNs: number;
  /** A mirror: what the source answered in the capture during the interval, per command (warmth). */
  captured?: Record<string, { count: number; hits: number; misses: number }>;
  /**
   * A mirror: per command, the lookups of the requests intended in this interval, the capture's
   * answers beside the target's answers to the same requests (src/metrics/warm-pairs.ts). Answers
   * that come back after the interval closed are added to it later (seen at the next checkpoint).
   */
  paired?: Paired;
  /** A long run: how many of the run's own intervals this one sums exactly (rolled up as it aged). */
  rolledFrom?: number;
}

export interface CommandSummary {
  counters: Counters;
  response: Percentiles;
  service: Percentiles;
  responseHist: string;
  serviceHist: string;
  /** Throughput over the summarised (non-warm-up) time, requests/s. */
  intendedRate: number;
  achievedRate: number;
  hitRatio: number | null;
  errorRate: number;
}

export interface Summary {
  /** Summarised time, ns (warm-up intervals excluded). */
  durationNs: number;
  perCommand: Record<string, CommandSummary>;
  total: CommandSummary;
  lag: Percentiles;
  lagHist: string;
  eventLoopMaxNs: number;
}

export interface StepSummary {
  step: number;
  rateFactor: number;
  startNs: number;
  endNs: number;
  total: CommandSummary;
  lag: Percentiles;
}

/** What the capture said about a command, for side-by-side comparison. */
export interface CapturedCommand {
  count: number;
  hits: number;
  misses: number;
  hitRatio: number | null;
  latency: Percentiles | null;
  latencyHist: string | null;
}

export interface TargetStatsSample {
  /** ns since run start */
  tNs: number;
  values: Record<string, number>; // curr_items, bytes, evictions, get_hits, get_misses, curr_connections, ...
}

export interface TargetDesc {
  /** "host:port" of the target. */
  target: string;
  /** Captured server endpoints mapped to it ("*" for all). */
  from: string[];
}

export type VerdictStatus = 'pass' | 'fail' | 'saturated' | 'interrupted' | 'error';

export interface CheckResult {
  /** The check as written by the user. */
  check: string;
  metric: string;
  observed: number | null;
  limit: number;
  unit: string;
  pass: boolean;
  /** For windowed checks: the first failing interval index. */
  failedInterval?: number | null;
  message: string;
  /** 'default' for a check every run gets (src/report/default-checks.ts); absent for the user's own. */
  origin?: 'default' | 'user';
}

export interface Verdict {
  status: VerdictStatus;
  reasons: string[];
  saturated: boolean;
  checks: CheckResult[];
  exitCode: number;
}

export interface ResultsFile {
  schema: typeof RESULTS_SCHEMA;
  tool: { name: 'mcreplay'; version: string };
  run: {
    id: string;
    startedAt: string;
    endedAt: string;
    host: string;
    platform: string;
    node: string;
    cpus: number;
    argv: string[];
    /**
     * CPU time of the mcreplay process, all threads, from the replay's start (t0) until the last
     * worker finished, µs: what sending, receiving and recording cost, without start-up, the capture
     * read before t0 and writing the results. Null when the run never started.
     */
    replayCpu: { userUs: number; sysUs: number } | null;
    /** t0 of the schedule on the wall clock (interval i starts at t0 + i × intervalNs); merge aligns shards by it. */
    t0?: { iso: string; epochNs: string; lateNs: number };
  };
  config: {
    rate: { mode: 'factor'; factor: number } | { mode: 'max' } | { mode: 'ramp'; from: number; to: number; step: number; stepDurationNs: number };
    targets: TargetDesc[];
    /** Pool hashing (src/topology/hashing.ts): modulo = libmemcached default, crc32 = python-memcached, ketama = libmemcached weighted ketama, consistent = libmemcached non-weighted ketama, rendezvous = pymemcache HashClient. */
    hash: 'none' | 'modulo' | 'ketama' | 'crc32' | 'consistent' | 'rendezvous';
    warmup: { ns: number | null; requests: number | null };
    loop: boolean;
    durationNs: number | null;
    clone: number;
    ttlScale: number;
    filters: Record<string, unknown>;
    allow: string[];
    workers: number;
    timeoutNs: number;
    /** --shard i/N (absent: the whole capture). */
    shard?: { index: number; count: number };
    /** --start-at, ISO. */
    startAt?: string;
    /** Any other option, as given. */
    options: Record<string, unknown>;
  };
  capture: {
    path: string;
    name: string;
    sha256: string;
    bytes: number;
    durationNs: number;
    connections: number;
    requests: number;
    replayable: number;
  };
  intervalNs: number;
  commands: string[];
  intervals: Interval[];
  summary: Summary;
  steps: StepSummary[];
  captured: Record<string, CapturedCommand>;
  targetStats: { target: string; samples: TargetStatsSample[] }[];
  verdict: Verdict;
  /** Each target's `stats` just before the load and just after it (absent in files of older versions). */
  targetState?: TargetState[];
  /** What the capture itself lost (absent in files of older versions). */
  captureQuality?: CaptureQuality;
  /** Could the generator keep the schedule, and how much of the latency is its own (absent in older files). */
  generator?: GeneratorState;
}

/** A target's statistics before and after the load, read with `stats` over one extra connection. */
export interface TargetState {
  target: string;
  /** Numeric stats before the load (curr_items, bytes, evictions, cmd_get ...), or null when they could not be read. */
  before: Record<string, number> | null;
  /** The same just after the load. */
  after: Record<string, number> | null;
  /** Why a read failed. */
  error?: string;
}

/** The capture-quality findings `inspect` shows, carried into the replay. */
export interface CaptureQuality {
  /** The file ended in the middle of a record, or reading stopped on an error. */
  cutShort: boolean;
  /** Gaps (bytes the capture lost) and their known size. */
  gaps: number;
  gapBytes: number;
  /** Packets cut by the snap length. */
  truncatedPackets: number;
  /** Requests cut by a gap or the end of the capture (at least). */
  requestsLost: number;
  /** Share of the captured requests that cannot be replayed (credentials, UDP ...), 0–1. */
  unreplayableShare: number;
  /** One sentence per finding, for the summary and the report; empty when the capture is clean. */
  findings: string[];
}

/** The generator's state: clean, degraded (kept the schedule but added latency), saturated (invalid). */
export interface GeneratorState {
  state: 'clean' | 'degraded' | 'saturated';
  /** Why, with numbers. */
  evidence: string[];
  /** Schedule lag p99, ns. */
  lagP99Ns: number;
  /** Worst event-loop delay, ns (as results.summary.eventLoopMaxNs). */
  eventLoopMaxNs: number;
  /** Response p99 − service p99, ns: the part of the tail spent before the request was written. */
  responseMinusServiceP99Ns: number;
  /** Share (0–1) of the response p99 the generator can explain (lag p99, or the event-loop delay, whichever is larger; at most 1). */
  explainedShare: number;

}
