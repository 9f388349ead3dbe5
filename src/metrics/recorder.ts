// Per-worker interval recorder: latency histograms and counters per command for the current 1 s
// interval of the run clock. The replay worker records into it on the hot path (no allocation once a
// command has been seen) and calls `snapshot(i)` at every interval boundary; the snapshot is a plain
// structured-clone-safe object that the worker posts to the main thread (see aggregate.ts).
// Histograms here are plain-JS CountsHistograms, not hdr-histogram-js: a worker thread never loads
// that library or its WebAssembly (100-170 ms of CPU per thread); the snapshots carry the same
// uncompressed encoding WasmHistogram.encode() would give, which the main thread decodes.
import { ERROR_CLASSES, type Counters, type ErrorClass } from './results-types.js';
import { CountsHistogram } from './counts-hist.js';
import { emptyCounters } from './counters.js';
import type { EncodedHist } from './hist-config.js';

/** Counter fields that `IntervalRecorder.count` adds to. */
export type CounterField = 'intended' | 'sent' | 'completed' | 'hits' | 'misses' | 'unsent' | 'bytesOut' | 'bytesIn';

const FIELD_INDEX: Record<CounterField, number> = {
  intended: 0,
  sent: 1,
  completed: 2,
  hits: 3,
  misses: 4,
  unsent: 5,
  bytesOut: 6,
  bytesIn: 7,
};
const N_FIELDS = 8;
const ERROR_INDEX: Record<ErrorClass, number> = Object.fromEntries(ERROR_CLASSES.map((c, i) => [c, N_FIELDS + i])) as Record<ErrorClass, number>;
const N_SLOTS = N_FIELDS + ERROR_CLASSES.length;

/** One command's data for one interval from one worker. Histograms in HdrHistogram's uncompressed encoding; '' when empty. */
export interface CommandSnapshot {
  counters: Counters;
  response: EncodedHist;
  service: EncodedHist;
}

/** What a worker posts to the main thread for one interval. Structured-clone safe. */
export interface IntervalSnapshot {
  kind: 'interval-snapshot';
  worker: number;
  /** Interval index on the run clock: [index * intervalNs, (index + 1) * intervalNs). */
  index: number;
  /** Only commands that had any activity in the interval. */
  perCommand: Record<string, CommandSnapshot>;
  /** Schedule lag (actual − intended send), '' when empty. */
  lag: EncodedHist;
  /**
   * Worst event-loop delay the worker saw in the interval, ns (0 if sampling is off): how much later
   * than due a sampling timer ran (see EventLoopProbe). Accurate to about 1 ms (libuv timers run on
   * a millisecond clock).
   */
  eventLoopMaxNs: number;
  /** The target's hits and misses answered in this interval, by interval index of the requests' intended send time (warmth pairing). */
  warm?: { index: number; cmd: string; hits: number; misses: number }[];
}

/** Options of an IntervalRecorder. */
export interface RecorderOptions {
  /** Worker id put into snapshots (default 0). */
  worker?: number;
  /** Sample the event-loop delay with perf_hooks (default true). */
  eventLoop?: boolean;
  /** Event-loop sampling resolution, ms (default 10). */
  eventLoopResolutionMs?: number;
  /** The run's interval width, ns (default 1 s): lookups are also counted by intended send interval. */
  intervalNs?: number;
}

/**
 * Live per-command state; the replay engine may keep a slot per request to skip the name lookup.
 * Fields are internal: use the recorder's methods or `recordSlot`.
 */
export interface CommandSlot {
  readonly cmd: string;
  readonly response: CountsHistogram;
  readonly service: CountsHistogram;
  /** counters by FIELD_INDEX then errors by ERROR_INDEX */
  readonly n: Float64Array;
  heldBack: Record<string, number> | null;
  active: boolean;
  /** Hits and misses by interval index of the intended send time (usually one or two entries). */
  warm: Map<number, [number, number]> | null;
}

/** Records latencies and counters per command for the current interval of one worker. */
export class IntervalRecorder {
  readonly worker: number;
  private readonly slots = new Map<string, CommandSlot>();
  private lastCmd = '';
  private lastSlot: CommandSlot | null = null;
  private readonly lag = new CountsHistogram();
  private lagActive = false;
  private readonly eld: EventLoopProbe | null;
  private destroyed = false;
  private readonly intervalNs: number;

  /** Needs no `initMetrics()`: it does not use hdr-histogram-js. */
  constructor(opts: RecorderOptions = {}) {
    this.worker = opts.worker ?? 0;
    this.intervalNs = opts.intervalNs ?? 1e9;
    if (opts.eventLoop ?? true) {
      this.eld = new EventLoopProbe(opts.eventLoopResolutionMs ?? 10);
    } else {
      this.eld = null;
    }
  }

  /** The slot of a command, created on first use (allocates two histograms, 2 x 135 KB, once per command). */
  slot(cmd: string): CommandSlot {
    if (cmd === this.lastCmd && this.lastSlot !== null) return this.lastSlot;
    let s = this.slots.get(cmd);
    if (s === undefined) {
      if (this.destroyed) throw new Error('IntervalRecorder used after destroy()');
      s = { cmd, response: new CountsHistogram(), service: new CountsHistogram(), n: new Float64Array(N_SLOTS), heldBack: null, active: false, warm: null };
      this.slots.set(cmd, s);
    }
    this.lastCmd = cmd;
    this.lastSlot = s;
    return s;
  }

  /** Records a completed request: response time (from intended send) and service time (from actual write), ns. */
  record(cmd: string, responseNs: number, serviceNs: number): void {
    const s = this.slot(cmd);
    s.response.record(responseNs);
    s.service.record(serviceNs);
    s.active = true;
  }

  /** Like `record`, for a slot the caller kept. */
  recordSlot(s: CommandSlot, responseNs: number, serviceNs: number): void {
    s.response.record(responseNs);
    s.service.record(serviceNs);
    s.active = true;
  }

  /** Records schedule lag (actual − intended send time), ns; negative values count as 0. */
  recordLag(ns: number): void {
    this.lag.record(ns);
    this.lagActive = true;
  }

  /** Adds `n` to a counter of a command. */
  count(cmd: string, field: CounterField, n = 1): void {
    const s = this.slot(cmd);
    s.n[FIELD_INDEX[field]] += n;
    s.active = true;
  }

  /** Counts a lookup answer by the interval of the request's intended send time (warmth pairing, src/metrics/warm-pairs.ts). */
  warm(s: CommandSlot, intendedNs: number, hits: number, misses: number): void {
    const index = Math.max(0, Math.floor(intendedNs / this.intervalNs));
    const w = (s.warm ??= new Map());
    const e = w.get(index);
    if (e === undefined) w.set(index, [hits, misses]);
    else {
      e[0] += hits;
      e[1] += misses;
    }
    s.active = true;
  }

  /** Counts an error of class `cls`; with `responseNs` the request also enters the response-time histogram (DESIGN: timeouts and errors still count at their scheduled latency). */
  error(cmd: string, cls: ErrorClass, responseNs?: number): void {
    const s = this.slot(cmd);
    s.n[ERROR_INDEX[cls]] += 1;
    if (responseNs !== undefined) s.response.record(responseNs);
    s.active = true;
  }

  /** Counts requests held back on purpose, by reason (destructive, credentials, filtered, udp ...). */
  heldBack(cmd: string, reason: string, n = 1): void {
    const s = this.slot(cmd);
    const hb = (s.heldBack ??= {});
    hb[reason] = (hb[reason] ?? 0) + n;
    s.active = true;
  }

  /**
   * Ends interval `index`: returns its data and resets the recorder for the next one. Call it as soon
   * as the run clock passes the interval's end, before recording anything that happened after it.
   */
  snapshot(index: number): IntervalSnapshot {
    const perCommand: Record<string, CommandSnapshot> = {};
    let warm: IntervalSnapshot['warm'];
    for (const s of this.slots.values()) {
      if (!s.active) continue;
      if (s.warm !== null && s.warm.size > 0) {
        for (const [index, [hits, misses]] of s.warm) (warm ??= []).push({ index, cmd: s.cmd, hits, misses });
        s.warm.clear();
      }
      const counters = emptyCounters();
      const n = s.n;
      counters.intended = n[0]!;
      counters.sent = n[1]!;
      counters.completed = n[2]!;
      counters.hits = n[3]!;
      counters.misses = n[4]!;
      counters.unsent = n[5]!;
      counters.bytesOut = n[6]!;
      counters.bytesIn = n[7]!;
      for (const c of ERROR_CLASSES) counters.errors[c] = n[ERROR_INDEX[c]]!;
      if (s.heldBack) counters.heldBack = s.heldBack;
      perCommand[s.cmd] = {
        counters,
        response: s.response.totalCount > 0 ? s.response.encode() : '',
        service: s.service.totalCount > 0 ? s.service.encode() : '',
      };
      s.response.reset();
      s.service.reset();
      n.fill(0);
      s.heldBack = null;
      s.active = false;
    }
    const lag = this.lagActive ? this.lag.encode() : '';
    this.lag.reset();
    this.lagActive = false;
    let eventLoopMaxNs = 0;
    if (this.eld) eventLoopMaxNs = this.eld.take();
    return { kind: 'interval-snapshot', worker: this.worker, index, perCommand, lag, eventLoopMaxNs, ...(warm ? { warm } : {}) };
  }

  /** Forgets the event-loop delay sampled so far (the run's clock starts now). */
  resetEventLoop(): void {
    this.eld?.reset();
  }

  /** Stops event-loop sampling and drops the histograms. The recorder cannot be used afterwards. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.eld?.stop();
    this.slots.clear();
    this.lastSlot = null;
    this.lastCmd = '';
  }
}

/**
 * Event-loop delay as a timer-drift probe: a timer due every `resolutionMs` notes how much later than
 * due it ran. perf_hooks' monitorEventLoopDelay is not used: it records whole sampling periods (an
 * idle loop read 10–14 ms at 10 ms resolution, which reports showed as a "worst event-loop delay"
 * that never happened), and its reset() drops the first sample after it, so a stall that began at an
 * interval's snapshot went uncounted. Here the stall counts in the interval whose snapshot follows it.
 */
class EventLoopProbe {
  private readonly periodNs: number;
  private readonly timer: NodeJS.Timeout;
  private last: number;
  private max = 0;

  constructor(resolutionMs: number) {
    this.periodNs = resolutionMs * 1e6;
    this.last = hrNs();
    // setInterval re-arms from the callback's start: the gap between two runs is period + delay
    this.timer = setInterval(() => {
      const t = hrNs();
      const d = t - this.last - this.periodNs;
      if (d > this.max) this.max = d;
      this.last = t;
    }, resolutionMs);
    this.timer.unref();
  }

  /** Worst delay since the last take (or reset), ns; starts the next interval. */
  take(): number {
    const m = this.max;
    this.max = 0;
    return m;
  }

  /** Forgets what was seen so far (the delay counts from now). */
  reset(): void {
    this.max = 0;
    this.last = hrNs();
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

function hrNs(): number {
  const t = process.hrtime();
  return t[0] * 1e9 + t[1];
}
