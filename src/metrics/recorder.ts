// Per-worker interval recorder: latency histograms and counters per command for the current 1 s
// interval of the run clock. The replay worker records into it on the hot path (no allocation once a
// command has been seen). At every interval boundary it calls `rotate(i)`, which only swaps the
// interval's storage for a clean second set (microseconds: the boundary falls inside the dispatch
// loop, among the requests due then), and later, when it has time, `takeClosed()`, which encodes the
// closed interval into a plain structured-clone-safe snapshot that the worker posts to the main
// thread (see aggregate.ts) and cleans its storage for the next rotation. `snapshot(i)` does both at once.
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

/** What a command recorded in one interval: the live one (in its CommandSlot) or the closed one (`closed`). */
interface SlotHalf {
  response: CountsHistogram;
  service: CountsHistogram;
  /** counters by FIELD_INDEX then errors by ERROR_INDEX */
  n: Float64Array;
  heldBack: Record<string, number> | null;
  active: boolean;
  /** Hits and misses by interval index of the intended send time (usually one or two entries). */
  warm: Map<number, [number, number]> | null;
}

/**
 * Live per-command state; the replay engine may keep a slot per request to skip the name lookup.
 * Fields are internal: use the recorder's methods or `recordSlot`. The live fields are the slot's
 * own (one property load on the hot path); `rotate` swaps them with `closed`'s.
 */
export interface CommandSlot extends SlotHalf {
  readonly cmd: string;
  /** The closed interval's half, until `takeClosed` encodes and cleans it (then it is the next rotation's clean storage). */
  readonly closed: SlotHalf;
}

/** Clean storage for one interval of one command. */
function emptyHalf(): SlotHalf {
  return { response: new CountsHistogram(), service: new CountsHistogram(), n: new Float64Array(N_SLOTS), heldBack: null, active: false, warm: null };
}

/** Records latencies and counters per command for the current interval of one worker. */
export class IntervalRecorder {
  readonly worker: number;
  private readonly slots = new Map<string, CommandSlot>();
  /** The slots in creation order (the Map's order): rotate walks it without an iterator object. */
  private readonly order: CommandSlot[] = [];
  private lastCmd = '';
  private lastSlot: CommandSlot | null = null;
  private lag = new CountsHistogram();
  private lagActive = false;
  /** The closed interval's lag, swapped with `lag` by rotate. */
  private closedLag = new CountsHistogram();
  private closedLagActive = false;
  /** Index of the interval rotate closed and takeClosed has not taken yet; -1 when none. */
  private closedIndex = -1;
  private closedEventLoopNs = 0;
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

  /**
   * The slot of a command, created on first use: allocates four histograms (4 x 135 KB), the live and
   * the closed interval's, once per command, so that a rotation never allocates.
   */
  slot(cmd: string): CommandSlot {
    if (cmd === this.lastCmd && this.lastSlot !== null) return this.lastSlot;
    let s = this.slots.get(cmd);
    if (s === undefined) {
      if (this.destroyed) throw new Error('IntervalRecorder used after destroy()');
      s = { cmd, response: new CountsHistogram(), service: new CountsHistogram(), n: new Float64Array(N_SLOTS), heldBack: null, active: false, warm: null, closed: emptyHalf() };
      this.slots.set(cmd, s);
      this.order.push(s);
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

  /** True while an interval closed by `rotate` waits for `takeClosed`. */
  get pending(): boolean {
    return this.closedIndex >= 0;
  }

  /**
   * Closes interval `index`: its data becomes the closed interval and recording goes on into clean
   * storage. Call it as soon as the run clock passes the interval's end, before recording anything
   * that happened after it. Only swaps references (no encoding, no allocation); the closed interval
   * before it must have been taken.
   */
  rotate(index: number): void {
    if (this.closedIndex >= 0) throw new Error(`IntervalRecorder: interval ${this.closedIndex} was closed and not taken before interval ${index} closed`);
    const order = this.order;
    for (let i = 0; i < order.length; i++) {
      const s = order[i]!;
      if (!s.active) continue; // its live storage is clean: nothing to hand over
      const c = s.closed;
      const response = c.response;
      c.response = s.response;
      s.response = response;
      const service = c.service;
      c.service = s.service;
      s.service = service;
      const n = c.n;
      c.n = s.n;
      s.n = n;
      c.heldBack = s.heldBack; // taken (null) since the last rotation
      s.heldBack = null;
      const warm = c.warm;
      c.warm = s.warm;
      s.warm = warm;
      c.active = true;
      s.active = false;
    }
    const lag = this.closedLag;
    this.closedLag = this.lag;
    this.lag = lag;
    this.closedLagActive = this.lagActive;
    this.lagActive = false;
    // the delay measured so far belongs to the interval closing now, not to the one its encoding falls in
    this.closedEventLoopNs = this.eld !== null ? this.eld.take() : 0;
    this.closedIndex = index;
  }

  /** Encodes the interval `rotate` closed into its snapshot, and cleans its storage for the next rotation. */
  takeClosed(): IntervalSnapshot {
    const index = this.closedIndex;
    if (index < 0) throw new Error('IntervalRecorder: no closed interval to take');
    const perCommand: Record<string, CommandSnapshot> = {};
    let warm: IntervalSnapshot['warm'];
    const order = this.order;
    for (let i = 0; i < order.length; i++) {
      const s = order[i]!;
      const c = s.closed;
      if (!c.active) continue;
      if (c.warm !== null && c.warm.size > 0) {
        for (const [index, [hits, misses]] of c.warm) (warm ??= []).push({ index, cmd: s.cmd, hits, misses });
        c.warm.clear();
      }
      perCommand[s.cmd] = {
        counters: countersOf(c.n, c.heldBack),
        response: c.response.totalCount > 0 ? c.response.encode() : '',
        service: c.service.totalCount > 0 ? c.service.encode() : '',
      };
      c.response.reset();
      c.service.reset();
      c.n.fill(0);
      c.heldBack = null;
      c.active = false;
    }
    const lag = this.closedLagActive ? this.closedLag.encode() : '';
    this.closedLag.reset();
    this.closedLagActive = false;
    const eventLoopMaxNs = this.closedEventLoopNs;
    this.closedIndex = -1;
    return { kind: 'interval-snapshot', worker: this.worker, index, perCommand, lag, eventLoopMaxNs, ...(warm ? { warm } : {}) };
  }

  /** Ends interval `index` and returns its data at once: `rotate` then `takeClosed`. */
  snapshot(index: number): IntervalSnapshot {
    this.rotate(index);
    return this.takeClosed();
  }

  /** Forgets the event-loop delay sampled so far (the run's clock starts now). */
  resetEventLoop(): void {
    this.eld?.reset();
  }

  /** The loop was held on purpose for `ns` (the worker slept in its own thread until a due time): no stall. */
  excuseEventLoop(ns: number): void {
    this.eld?.excuse(ns);
  }

  /** Stops event-loop sampling and drops the histograms. The recorder cannot be used afterwards. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.eld?.stop();
    this.slots.clear();
    this.order.length = 0;
    this.lastSlot = null;
    this.lastCmd = '';
  }
}

/** The Counters of one command's interval from its counter array. */
function countersOf(n: Float64Array, heldBack: Record<string, number> | null): Counters {
  const counters = emptyCounters();
  counters.intended = n[0]!;
  counters.sent = n[1]!;
  counters.completed = n[2]!;
  counters.hits = n[3]!;
  counters.misses = n[4]!;
  counters.unsent = n[5]!;
  counters.bytesOut = n[6]!;
  counters.bytesIn = n[7]!;
  for (const c of ERROR_CLASSES) counters.errors[c] = n[ERROR_INDEX[c]]!;
  if (heldBack) counters.heldBack = heldBack;
  return counters;
}

/**
 * Event-loop delay as a timer-drift probe: a timer due every `resolutionMs` notes how much later than
 * due it ran. perf_hooks' monitorEventLoopDelay is not used: it records whole sampling periods (an
 * idle loop read 10–14 ms at 10 ms resolution, which reports showed as a "worst event-loop delay"
 * that never happened), and its reset() drops the first sample after it, so a stall that began at an
 * interval's snapshot went uncounted. Here the stall counts in the interval whose rotation follows it.
 */
class EventLoopProbe {
  private readonly periodNs: number;
  private readonly timer: NodeJS.Timeout;
  private last: number;
  private max = 0;
  /** Time the loop was held on purpose since the timer last ran (excuse()). */
  private excused = 0;

  constructor(resolutionMs: number) {
    this.periodNs = resolutionMs * 1e6;
    this.last = hrNs();
    // setInterval re-arms from the callback's start: the gap between two runs is period + delay
    this.timer = setInterval(() => {
      const t = hrNs();
      const d = t - this.last - this.periodNs - this.excused;
      if (d > this.max) this.max = d;
      this.last = t;
      this.excused = 0;
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
    this.excused = 0;
    this.last = hrNs();
  }

  /** The loop was held on purpose for `ns`: the timer's next delay is that much less a stall. */
  excuse(ns: number): void {
    this.excused += ns;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

function hrNs(): number {
  const t = process.hrtime();
  return t[0] * 1e9 + t[1];
}
