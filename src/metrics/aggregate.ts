// Main-thread aggregation: merges the interval snapshots of all workers exactly (bucket sums, by
// interval index), tags warm-up intervals and ramp steps, and builds the results' Interval[],
// Summary (the sum of the non-warm-up intervals) and StepSummary[].
import { arrayStore, type IntervalStore } from './rollup.js';
import { createPairBook, type PairBook } from './warm-pairs.js';
import {
  ERROR_CLASSES,
  type CommandInterval,
  type CommandSummary,
  type Counters,
  type Interval,
  type ResultsFile,
  type StepSummary,
  type Summary,
} from './results-types.js';
import { addEncoded, addHistogram, createHistogram, emptyPercentiles, encodeHistogram, percentiles, type EncodedHist, type Histogram } from './histogram.js';
import type { IntervalSnapshot } from './recorder.js';
import { addCounters, emptyCounters, totalErrors } from './counters.js';

/** Rate configuration as in results.json. */
export type RateConfig = ResultsFile['config']['rate'];

/** Ramp step and rate factor in force for an interval. */
export interface StepInfo {
  step: number | null;
  rateFactor: number | null;
}

/** Options of an Aggregator. */
export interface AggregatorOptions {
  /** Number of workers; an interval is complete once every live worker posted its snapshot. */
  workers: number;
  /** Interval length, ns (default 1e9). Must equal the workers' boundary spacing. */
  intervalNs?: number;
  rate: RateConfig;
  /** Warm-up: intervals starting before `ns`, and intervals until `requests` requests were sent, are tagged warm-up. */
  warmup?: { ns: number | null; requests: number | null };
  /** Overrides the step/rate of an interval (default: derived from `rate`; ramp steps by start time). */
  stepOf?: (startNs: number, index: number) => StepInfo;
  /** Called with each interval once it is complete, in index order (for live progress). */
  onInterval?: (iv: Interval) => void;
  /** Where closed intervals are kept (default: all of them; rollup.ts rolls old ones up for long runs). */
  store?: IntervalStore;
}

/** What the aggregation contributes to results.json. */
export interface AggregateResult {
  intervalNs: number;
  /** Every command seen, sorted. */
  commands: string[];
  intervals: Interval[];
  summary: Summary;
  steps: StepSummary[];
}

/** Cumulative figures over all completed intervals (warm-up included), for a progress line. */
export interface Progress {
  /** Index of the last completed interval, -1 before the first. */
  lastIndex: number;
  total: Counters;
  errors: number;
  responseP99Ns: number;
  lagP99Ns: number;
  eventLoopMaxNs: number;
}

interface PendingCommand {
  counters: Counters;
  response: EncodedHist[];
  service: EncodedHist[];
}
interface Pending {
  from: Set<number>;
  perCommand: Map<string, PendingCommand>;
  lag: EncodedHist[];
  eventLoopMaxNs: number;
}

interface Acc {
  counters: Counters;
  response: Histogram;
  service: Histogram;
}

function cloneCounters(c: Counters): Counters {
  const out = emptyCounters();
  addCounters(out, c);
  return out;
}

/**
 * Per-command summary from counters and histograms over `durationNs`. Rates are per second;
 * hitRatio = hits / (hits + misses) (null without reads); errorRate = errors / sent (0 when nothing sent).
 */
export function commandSummary(counters: Counters, response: Histogram, service: Histogram, durationNs: number): CommandSummary {
  const secs = durationNs / 1e9;
  const lookups = counters.hits + counters.misses;
  return {
    counters,
    response: percentiles(response),
    service: percentiles(service),
    responseHist: encodeHistogram(response),
    serviceHist: encodeHistogram(service),
    intendedRate: secs > 0 ? counters.intended / secs : 0,
    achievedRate: secs > 0 ? counters.completed / secs : 0,
    hitRatio: lookups > 0 ? counters.hits / lookups : null,
    errorRate: counters.sent > 0 ? totalErrors(counters) / counters.sent : 0,
  };
}

/** Step and rate factor of an interval, derived from the rate configuration. */
export function defaultStepOf(rate: RateConfig): (startNs: number) => StepInfo {
  if (rate.mode === 'factor') return () => ({ step: null, rateFactor: rate.factor });
  if (rate.mode === 'max') return () => ({ step: null, rateFactor: null });
  const last = rate.step > 0 ? Math.max(0, Math.floor((rate.to - rate.from) / rate.step + 1e-9)) : 0;
  return (startNs) => {
    const s = rate.stepDurationNs > 0 ? Math.min(last, Math.floor(startNs / rate.stepDurationNs)) : 0;
    return { step: s, rateFactor: rate.from + s * rate.step };
  };
}

/** Merges worker snapshots into intervals, a summary and ramp-step summaries. Free it with `destroy()` (or it is freed by `finish()`). */
export class Aggregator {
  readonly intervalNs: number;
  /** A mirror's warmth pairs (src/metrics/warm-pairs.ts): the captured answers go in here too. */
  readonly pairs: PairBook;
  private readonly live = new Set<number>();
  private readonly pending = new Map<number, Pending>();
  private nextIndex = 0;
  private readonly store: IntervalStore;
  private readonly commands = new Set<string>();
  private readonly stepOf: (startNs: number, index: number) => StepInfo;
  private sentSoFar = 0;
  /** Counters of the warm-up intervals per command, until the first summarised interval carries their requests in flight. */
  private warmCounters: Map<string, Counters> | null = new Map();
  private emptyHist = '';

  // summary (non-warm-up) accumulators
  private readonly sumCmd = new Map<string, Acc>();
  private readonly sumTotal: Acc;
  private readonly sumLag: Histogram;
  private sumEventLoopMax = 0;
  // ramp steps (non-warm-up)
  private readonly stepAcc = new Map<number, { acc: Acc; lag: Histogram; rateFactor: number; intervals: Interval[] }>();
  // progress (everything)
  private readonly allTotal: Counters = emptyCounters();
  private readonly allResponse: Histogram;
  private readonly allLag: Histogram;
  private allEventLoopMax = 0;
  private finished = false;
  private freed = false;

  /** Requires `await initMetrics()` in this thread first. */
  constructor(private readonly opts: AggregatorOptions) {
    this.intervalNs = opts.intervalNs ?? 1e9;
    this.pairs = createPairBook(this.intervalNs);
    this.store = opts.store ?? arrayStore();
    for (let w = 0; w < opts.workers; w++) this.live.add(w);
    this.stepOf = opts.stepOf ?? defaultStepOf(opts.rate);
    this.sumTotal = newAcc();
    this.sumLag = createHistogram(true);
    this.allResponse = createHistogram(true);
    this.allLag = createHistogram(true);
  }

  /** Adds one worker's snapshot. Workers must post every index from 0 on, in order (empty ones too). */
  add(snap: IntervalSnapshot): void {
    if (this.finished) throw new Error('Aggregator.add after finish()');
    if (snap.index < this.nextIndex) throw new Error(`snapshot for interval ${snap.index} of worker ${snap.worker} arrived after that interval was closed`);
    let p = this.pending.get(snap.index);
    if (!p) {
      p = { from: new Set(), perCommand: new Map(), lag: [], eventLoopMaxNs: 0 };
      this.pending.set(snap.index, p);
    }
    if (p.from.has(snap.worker)) throw new Error(`duplicate snapshot for interval ${snap.index} from worker ${snap.worker}`);
    p.from.add(snap.worker);
    for (const [cmd, cs] of Object.entries(snap.perCommand)) {
      let pc = p.perCommand.get(cmd);
      if (!pc) {
        pc = { counters: emptyCounters(), response: [], service: [] };
        p.perCommand.set(cmd, pc);
      }
      addCounters(pc.counters, cs.counters);
      if (cs.response) pc.response.push(cs.response);
      if (cs.service) pc.service.push(cs.service);
    }
    if (snap.lag) p.lag.push(snap.lag);
    if (snap.eventLoopMaxNs > p.eventLoopMaxNs) p.eventLoopMaxNs = snap.eventLoopMaxNs;
    if (snap.warm) for (const w of snap.warm) this.pairs.replayed(w.index, w.cmd, w.hits, w.misses);
    this.drain(false);
  }

  /** A worker finished (or died): later intervals no longer wait for it. */
  workerDone(worker: number): void {
    this.live.delete(worker);
    this.drain(false);
  }

  /** Cumulative figures for a progress line. */
  progress(): Progress {
    return {
      lastIndex: this.nextIndex - 1,
      total: cloneCounters(this.allTotal),
      errors: totalErrors(this.allTotal),
      responseP99Ns: this.allResponse.totalCount > 0 ? this.allResponse.getValueAtPercentile(99) : 0,
      lagP99Ns: this.allLag.totalCount > 0 ? this.allLag.getValueAtPercentile(99) : 0,
      eventLoopMaxNs: this.allEventLoopMax,
    };
  }

  /**
   * Closes every pending interval (missing workers count as empty), trims the last interval to
   * `runEndNs` (ns since run start) and builds the result. Drops the histograms.
   */
  finish(runEndNs?: number): AggregateResult {
    if (this.finished) throw new Error('Aggregator.finish called twice');
    this.drain(true);
    if (runEndNs !== undefined) {
      const last = Math.max(this.nextIndex, Math.ceil(runEndNs / this.intervalNs));
      while (this.nextIndex < last) this.close(this.nextIndex, undefined);
      for (const iv of this.store.all()) if (iv.endNs > runEndNs) iv.endNs = Math.max(iv.startNs, runEndNs);
    }
    this.finished = true;
    try {
      return this.build();
    } finally {
      this.destroy();
    }
  }

  /** Drops every histogram (idempotent). */
  destroy(): void {
    this.finished = true;
    if (this.freed) return;
    this.freed = true;
    for (const a of this.sumCmd.values()) freeAcc(a);
    this.sumCmd.clear();
    for (const s of this.stepAcc.values()) {
      freeAcc(s.acc);
      s.lag.destroy();
    }
    this.stepAcc.clear();
    freeAcc(this.sumTotal);
    this.sumLag.destroy();
    this.allResponse.destroy();
    this.allLag.destroy();
  }

  private drain(force: boolean): void {
    for (;;) {
      const p = this.pending.get(this.nextIndex);
      if (force) {
        if (this.pending.size === 0) return;
        this.close(this.nextIndex, p);
        continue;
      }
      if (!p) return;
      for (const w of this.live) if (!p.from.has(w)) return;
      this.close(this.nextIndex, p);
    }
  }

  private empty(): string {
    if (this.emptyHist === '') {
      const h = createHistogram();
      this.emptyHist = encodeHistogram(h);
      h.destroy();
    }
    return this.emptyHist;
  }

  private close(index: number, p: Pending | undefined): void {
    this.pending.delete(index);
    this.nextIndex = index + 1;
    const startNs = index * this.intervalNs;
    const endNs = startNs + this.intervalNs;
    const si = this.stepOf(startNs, index);

    const perCommand: Record<string, CommandInterval> = {};
    const total = emptyCounters();
    const totalResp = createHistogram(true);
    const totalSvc = createHistogram(true);
    const lagH = createHistogram(true);
    try {
      const cmdHists: [string, Counters, Histogram, Histogram][] = [];
      const names = p ? [...p.perCommand.keys()].sort() : [];
      for (const cmd of names) {
        const pc = p!.perCommand.get(cmd)!;
        this.commands.add(cmd);
        const r = createHistogram(true);
        const s = createHistogram(true);
        for (const e of pc.response) addEncoded(r, e);
        for (const e of pc.service) addEncoded(s, e);
        addHistogram(totalResp, r);
        addHistogram(totalSvc, s);
        addCounters(total, pc.counters);
        perCommand[cmd] = { counters: pc.counters, response: encodeHistogram(r), service: encodeHistogram(s) };
        cmdHists.push([cmd, pc.counters, r, s]);
      }
      if (p) for (const e of p.lag) addEncoded(lagH, e);
      const eventLoopMaxNs = p?.eventLoopMaxNs ?? 0;

      // warm-up is decided on what was sent before this interval, so the summary starts at a boundary
      const w = this.opts.warmup;
      const warmup = (w?.ns != null && startNs < w.ns) || (w?.requests != null && this.sentSoFar < w.requests);
      this.sentSoFar += total.sent;

      const iv: Interval = {
        index,
        startNs,
        endNs,
        warmup,
        step: si.step,
        rateFactor: si.rateFactor,
        perCommand,
        total: { counters: total, response: totalResp.totalCount > 0 ? encodeHistogram(totalResp) : this.empty(), service: totalSvc.totalCount > 0 ? encodeHistogram(totalSvc) : this.empty() },
        lag: lagH.totalCount > 0 ? encodeHistogram(lagH) : this.empty(),
        eventLoopMaxNs,
      };

      addCounters(this.allTotal, total);
      addHistogram(this.allResponse, totalResp);
      addHistogram(this.allLag, lagH);
      if (eventLoopMaxNs > this.allEventLoopMax) this.allEventLoopMax = eventLoopMaxNs;

      if (warmup && this.warmCounters !== null) {
        for (const [cmd, c] of cmdHists) {
          let w = this.warmCounters.get(cmd);
          if (!w) this.warmCounters.set(cmd, (w = emptyCounters()));
          addCounters(w, c);
        }
      }
      if (!warmup) {
        if (this.warmCounters !== null) {
          carryInFlight(this.warmCounters, this.sumCmd, this.sumTotal.counters);
          this.warmCounters = null;
        }
        for (const [cmd, c, r, s] of cmdHists) {
          let a = this.sumCmd.get(cmd);
          if (!a) {
            a = newAcc();
            this.sumCmd.set(cmd, a);
          }
          addCounters(a.counters, c);
          addHistogram(a.response, r);
          addHistogram(a.service, s);
        }
        addCounters(this.sumTotal.counters, total);
        addHistogram(this.sumTotal.response, totalResp);
        addHistogram(this.sumTotal.service, totalSvc);
        addHistogram(this.sumLag, lagH);
        if (eventLoopMaxNs > this.sumEventLoopMax) this.sumEventLoopMax = eventLoopMaxNs;
        if (si.step !== null) {
          let st = this.stepAcc.get(si.step);
          if (!st) {
            st = { acc: newAcc(), lag: createHistogram(true), rateFactor: si.rateFactor ?? 0, intervals: [] };
            this.stepAcc.set(si.step, st);
          }
          addCounters(st.acc.counters, total);
          addHistogram(st.acc.response, totalResp);
          addHistogram(st.acc.service, totalSvc);
          addHistogram(st.lag, lagH);
          st.intervals.push(iv);
        }
      }
      for (const [, , r, s] of cmdHists) {
        r.destroy();
        s.destroy();
      }
      const paired = this.pairs.closed(iv.index);
      if (paired !== undefined) iv.paired = paired;
      // the callback may annotate the interval (a mirror's captured answers) before it is stored
      this.opts.onInterval?.(iv);
      this.store.push(iv);
    } finally {
      totalResp.destroy();
      totalSvc.destroy();
      lagH.destroy();
    }
  }

  /** The result so far (a checkpoint of a running run): the summary of the intervals closed until now. */
  snapshot(): AggregateResult {
    if (this.freed) throw new Error('Aggregator.snapshot after finish()');
    // a copy: the summary's counters are the live accumulators, and the run goes on while it is written
    return structuredClone(this.build());
  }

  private build(): AggregateResult {
    const intervals = this.store.all();
    const counted = intervals.filter((iv) => !iv.warmup);
    const durationNs = counted.reduce((d, iv) => d + (iv.endNs - iv.startNs), 0);
    const perCommand: Record<string, CommandSummary> = {};
    for (const cmd of [...this.sumCmd.keys()].sort()) {
      const a = this.sumCmd.get(cmd)!;
      perCommand[cmd] = commandSummary(a.counters, a.response, a.service, durationNs);
    }
    const summary: Summary = {
      durationNs,
      perCommand,
      total: commandSummary(this.sumTotal.counters, this.sumTotal.response, this.sumTotal.service, durationNs),
      lag: this.sumLag.totalCount > 0 ? percentiles(this.sumLag) : emptyPercentiles(),
      lagHist: encodeHistogram(this.sumLag),
      eventLoopMaxNs: this.sumEventLoopMax,
    };
    const steps: StepSummary[] = [];
    for (const step of [...this.stepAcc.keys()].sort((a, b) => a - b)) {
      const st = this.stepAcc.get(step)!;
      const d = st.intervals.reduce((x, iv) => x + (iv.endNs - iv.startNs), 0);
      steps.push({
        step,
        rateFactor: st.rateFactor,
        startNs: st.intervals[0]!.startNs,
        endNs: st.intervals[st.intervals.length - 1]!.endNs,
        total: commandSummary(st.acc.counters, st.acc.response, st.acc.service, d),
        lag: percentiles(st.lag),
      });
    }
    return { intervalNs: this.intervalNs, commands: [...this.commands].sort(), intervals, summary, steps };
  }
}

/**
 * Requests in flight when the warm-up ends were sent (and intended) in a warm-up interval but are
 * answered, or fail, in a summarised one. The summary counts their answers, so it counts them as
 * sent and intended too: `sent = completed + errors (+ abandoned)` then holds for the summary as
 * for the whole run (without this, a run with --warmup said "11,091 sent, 11,092 answered").
 */
function carryInFlight(warm: Map<string, Counters>, sumCmd: Map<string, Acc>, total: Counters): void {
  for (const [cmd, c] of warm) {
    const inFlight = c.sent - c.completed - totalErrors(c);
    if (inFlight <= 0) continue;
    let a = sumCmd.get(cmd);
    if (!a) sumCmd.set(cmd, (a = newAcc()));
    a.counters.sent += inFlight;
    a.counters.intended += inFlight;
    total.sent += inFlight;
    total.intended += inFlight;
  }
}

function newAcc(): Acc {
  return { counters: emptyCounters(), response: createHistogram(true), service: createHistogram(true) };
}
function freeAcc(a: Acc): void {
  a.response.destroy();
  a.service.destroy();
}
