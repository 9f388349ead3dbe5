// Accumulates what `inspect` reports about a workload, in bounded memory: counts, HdrHistograms of
// sizes and captured latency, per-second request counts, and a distinct-key estimate.
import { createRequire } from 'node:module';
import type { Histogram } from 'hdr-histogram-js';
import type { CloseReason } from '../capture/types.js';
import type { CapturedOutcome, WorkloadConnection, WorkloadRequest, WorkloadSink } from './model.js';
import { DistinctCounter } from './distinct.js';

/** Percentiles of a distribution; values in the distribution's unit (ns for latency, bytes for sizes). */
export interface Distribution {
  count: number;
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

export interface CommandTally {
  count: number;
  byProto: Record<string, number>;
  quiet: number;
  keys: number;
  hits: number;
  misses: number;
  errors: { ERROR: number; CLIENT_ERROR: number; SERVER_ERROR: number };
  unanswered: number;
  destructive: boolean;
  cls: string;
}

interface CommandAcc {
  tally: CommandTally;
  latency: HistogramCounter;
}

// Loading hdr-histogram-js takes 50-150 ms (it decodes its WebAssembly build): inspect's own
// tallies do without it, so it is only loaded when an hdr Histogram is asked for.
let hdrLib: typeof import('hdr-histogram-js') | undefined;

/** Builds a histogram that auto-resizes; plain JS so it needs no async WebAssembly start-up. */
export function newHistogram(): Histogram {
  hdrLib ??= createRequire(import.meta.url)('hdr-histogram-js') as typeof import('hdr-histogram-js');
  return hdrLib.build({ lowestDiscernibleValue: 1, numberOfSignificantValueDigits: 3, autoResize: true, bitBucketSize: 64 });
}

// newHistogram()'s bucket layout: 3 significant digits give 2048 sub-buckets, the upper half of
// them per power of two above 2048.
const SUB_BUCKETS = 2048;
const HALF_MAGNITUDE = 10;

/** Index of a non-negative integer in newHistogram()'s counts array (hdr's countsArrayIndex). */
function countsIndex(v: number): number {
  if (v < SUB_BUCKETS) return v;
  if (v < 4294967296) {
    const b = 31 - Math.clz32(v) - HALF_MAGNITUDE;
    return (b << HALF_MAGNITUDE) + (v >>> b);
  }
  // the same float arithmetic hdr uses, so huge values land where hdr would put them
  const b = Math.floor(Math.log2(v)) - HALF_MAGNITUDE;
  return b * (SUB_BUCKETS / 2) + Math.floor(v / 2 ** b);
}

/** Lowest value of the bucket at a counts index (hdr's valueFromIndex). */
function valueAt(i: number): number {
  let b = Math.floor(i / (SUB_BUCKETS / 2)) - 1;
  let sub = (i % (SUB_BUCKETS / 2)) + SUB_BUCKETS / 2;
  if (b < 0) {
    sub -= SUB_BUCKETS / 2;
    b = 0;
  }
  return sub * 2 ** b;
}

// hdr's equivalent-value arithmetic for newHistogram()'s layout, float for float, so percentiles
// and means come out exactly as hdr-histogram-js computes them.
function hdrBucket(v: number): number {
  return Math.max(Math.floor(Math.log2(v)) - HALF_MAGNITUDE, 0);
}
function hdrLowest(v: number): number {
  const b = hdrBucket(v);
  return Math.floor(v / 2 ** b) * 2 ** b;
}
function hdrSize(v: number): number {
  const b = hdrBucket(v);
  return 2 ** (Math.floor(v / 2 ** b) >= SUB_BUCKETS ? b + 1 : b);
}
function hdrHighest(v: number): number {
  return hdrLowest(v) + hdrSize(v) - 1;
}
function hdrMedian(v: number): number {
  return hdrLowest(v) + Math.floor(hdrSize(v) / 2);
}

/**
 * Counts integer values in newHistogram()'s buckets with integer math only: hdr-histogram-js spends
 * ~130 ns per recordValue on Math.pow and Math.log2, several times per request. distribution() and
 * toHistogram() give what recording every value in an hdr histogram would have given.
 */
export class HistogramCounter {
  private counts = new Float64Array(SUB_BUCKETS);
  totalCount = 0;
  private max = 0;
  private minNonZero = Infinity;

  /** Records one non-negative integer value. */
  record(v: number): void {
    const i = countsIndex(v);
    if (i >= this.counts.length) this.grow(i);
    this.counts[i]++;
    this.totalCount++;
    if (v > this.max) this.max = v;
    if (v !== 0 && v < this.minNonZero) this.minNonZero = v;
  }

  private grow(i: number): void {
    let n = this.counts.length * 2;
    while (n <= i) n *= 2;
    const c = new Float64Array(n);
    c.set(this.counts);
    this.counts = c;
  }

  /** Percentiles as distributionOf() computes them from the equivalent hdr histogram; null when empty. */
  distribution(): Distribution | null {
    const total = this.totalCount;
    if (total === 0) return null;
    const c = this.counts;
    const last = countsIndex(this.max);
    // hdr's mean: bucket medians weighted by count, summed in bucket order
    let sum = 0;
    for (let i = 0; i <= last; i++) if (c[i] !== 0) sum += hdrMedian(hdrHighest(valueAt(i))) * c[i]!;
    return {
      count: total,
      min: this.minNonZero === Infinity ? 0 : this.minNonZero,
      mean: Math.round(sum / total),
      p50: this.percentile(50, last),
      p90: this.percentile(90, last),
      p99: this.percentile(99, last),
      p999: this.percentile(99.9, last),
      max: this.max,
    };
  }

  /** hdr's getValueAtPercentile for p > 0. */
  private percentile(p: number, last: number): number {
    const fp = (Math.min(p, 100) / 100) * this.totalCount;
    const want = Math.max(Math.ceil(fp - 2 ** (Math.floor(Math.log2(fp)) - 52)), 1);
    let seen = 0;
    for (let i = 0; i <= last; i++) {
      seen += this.counts[i]!;
      if (seen >= want) return hdrHighest(valueAt(i));
    }
    return 0;
  }

  /** The equivalent hdr histogram (bucket values, with the exact min and max recorded as themselves). */
  toHistogram(): Histogram {
    const h = newHistogram();
    if (this.totalCount === 0) return h;
    const c = this.counts;
    const minI = this.minNonZero === Infinity ? -1 : countsIndex(this.minNonZero);
    const maxI = countsIndex(this.max);
    for (let i = 0; i <= maxI; i++) {
      let n = c[i]!;
      if (n === 0) continue;
      if (i === maxI) {
        h.recordValueWithCount(this.max, 1);
        if (--n === 0) continue;
      }
      h.recordValueWithCount(i === minI ? this.minNonZero : valueAt(i), n);
    }
    return h;
  }
}

/** Percentiles of a histogram, or null when it is empty. */
export function distributionOf(hist: Histogram | HistogramCounter): Distribution | null {
  if (hist instanceof HistogramCounter) return hist.distribution();
  const h = hist;
  if (h.totalCount === 0) return null;
  return {
    count: h.totalCount,
    min: h.minNonZeroValue === Number.MAX_SAFE_INTEGER ? 0 : h.minNonZeroValue,
    mean: Math.round(h.mean),
    p50: h.getValueAtPercentile(50),
    p90: h.getValueAtPercentile(90),
    p99: h.getValueAtPercentile(99),
    p999: h.getValueAtPercentile(99.9),
    max: h.maxValue,
  };
}

/**
 * Requests per whole second of capture time, in memory bounded by the number of distinct seconds
 * kept (not by the span of time): seconds are counted in a map; when it holds more than `cap`
 * seconds, the oldest half is folded into the running peak and dropped. Requests arrive in
 * capture order, so a folded second rarely gets more requests; if one does, it restarts its count
 * (the peak can only be under-stated, by requests reordered more than cap/2 seconds).
 */
export class RateTable {
  private readonly counts = new Map<number, number>();
  private peak = 0;
  private peakSec: number | null = null;
  private lastSec = -1;
  private lastN = 0;

  constructor(private readonly cap = 4096) {}

  /** Counts one request at ns since capture start. */
  add(tsNs: number): void {
    const sec = tsNs > 0 ? Math.floor(tsNs / 1e9) : 0;
    if (sec === this.lastSec) {
      this.lastN++;
      return;
    }
    // the current second lives in lastSec/lastN; the map holds the others
    if (this.lastSec >= 0) this.counts.set(this.lastSec, this.lastN);
    const n = this.counts.get(sec);
    if (n === undefined && this.counts.size >= this.cap) this.fold();
    this.counts.delete(sec);
    this.lastSec = sec;
    this.lastN = (n ?? 0) + 1;
  }

  private fold(): void {
    const secs = [...this.counts.keys()].sort((a, b) => a - b);
    for (const sec of secs.slice(0, secs.length >> 1)) {
      this.consider(sec, this.counts.get(sec)!);
      this.counts.delete(sec);
    }
  }

  private consider(sec: number, n: number): void {
    if (n > this.peak || (n === this.peak && this.peakSec !== null && sec < this.peakSec)) {
      this.peak = n;
      this.peakSec = sec;
    }
  }

  /** Seconds held right now (at most the cap + 1). */
  get size(): number {
    return this.counts.size + (this.lastSec >= 0 ? 1 : 0);
  }

  /** The busiest second and its count (earliest on ties); peakSecond null when nothing was counted. */
  peakOf(): { peakPerSec: number; peakSecond: number | null } {
    for (const [sec, n] of this.counts) this.consider(sec, n);
    if (this.lastSec >= 0) this.consider(this.lastSec, this.lastN);
    return { peakPerSec: this.peak, peakSecond: this.peakSec };
  }
}

/** A WorkloadSink that tallies everything `inspect` shows. */
export class WorkloadSummary implements WorkloadSink {
  readonly commands = new Map<string, CommandAcc>();
  readonly servers = new Map<string, { connections: number; requests: number }>();
  readonly connections = { total: 0, tcp: 0, udp: 0, midstream: 0, closed: { fin: 0, rst: 0, end: 0, reused: 0, idle: 0 } as Record<CloseReason, number> };
  readonly keySizes = new HistogramCounter();
  readonly valuesWritten = new HistogramCounter();
  readonly valuesRead = new HistogramCounter();
  readonly latency = new HistogramCounter();
  readonly distinct = new DistinctCounter();
  /** Requests per whole second of capture time, bounded whatever the span. */
  readonly perSecond = new RateTable();
  requests = 0;
  credentials = 0;
  udpRequests = 0;
  /** Requests of UDP clients that replay sends over UDP (all but those carrying credentials). */
  udpReplayable = 0;
  /** Open connections of UDP clients (ids). */
  private readonly udpConns = new Set<number>();
  firstRequestNs: number | null = null;
  lastRequestNs = 0;
  hits = 0;
  misses = 0;
  /** Each open connection's entry in `servers`. */
  private readonly connServer = new Map<number, { connections: number; requests: number }>();
  private readonly destructive: (cmd: string, proto: string) => boolean;
  // The last command's accumulator: most requests repeat the command before them.
  private lastCmd = '';
  private lastAcc: CommandAcc | undefined;
  /** Keys of the coming request already counted by keyBytes. */
  private keysAsBytes = 0;

  constructor(isDestructive: (cmd: string, proto: string) => boolean) {
    this.destructive = isDestructive;
  }

  connection(c: WorkloadConnection): void {
    this.connections.total++;
    if (c.transport === 'udp') {
      this.connections.udp++;
      this.udpConns.add(c.id);
    }
    else this.connections.tcp++;
    if (!c.synSeen) this.connections.midstream++;
    let s = this.servers.get(c.serverKey);
    if (s === undefined) this.servers.set(c.serverKey, (s = { connections: 0, requests: 0 }));
    s.connections++;
    this.connServer.set(c.id, s);
  }

  /** A request's key as bytes (extract calls this before `request`, and makes no key strings). */
  keyBytes(b: Buffer, start: number, end: number): void {
    this.keysAsBytes++;
    this.keySizes.record(end - start);
    this.distinct.addBytes(b, start, end);
  }

  request(r: WorkloadRequest): void {
    this.requests++;
    if (r.credentials) this.credentials++;
    else if (this.udpConns.size !== 0 && this.udpConns.has(r.connId)) this.udpReplayable++;
    if (this.firstRequestNs === null) this.firstRequestNs = r.tsNs;
    if (r.tsNs > this.lastRequestNs) this.lastRequestNs = r.tsNs;
    this.perSecond.add(r.tsNs);
    const server = this.connServer.get(r.connId);
    if (server !== undefined) server.requests++;
    let acc = r.cmd === this.lastCmd ? this.lastAcc : this.commands.get(r.cmd);
    if (acc === undefined) {
      acc = {
        tally: { count: 0, byProto: {}, quiet: 0, keys: 0, hits: 0, misses: 0, errors: { ERROR: 0, CLIENT_ERROR: 0, SERVER_ERROR: 0 }, unanswered: 0, destructive: this.destructive(r.cmd, r.proto), cls: r.cls },
        latency: new HistogramCounter(),
      };
      this.commands.set(r.cmd, acc);
    }
    this.lastCmd = r.cmd;
    this.lastAcc = acc;
    const t = acc.tally;
    t.count++;
    t.byProto[r.proto] = (t.byProto[r.proto] ?? 0) + 1;
    if (r.quiet || r.expect === 'none') t.quiet++; // quit expects no answer either
    t.keys += r.keys.length;
    // keys handed as bytes just before (keyBytes) are counted already; r.keys are placeholders then
    if (this.keysAsBytes === 0) {
      for (const k of r.keys) {
        this.keySizes.record(k.length);
        this.distinct.add(k);
      }
    }
    this.keysAsBytes = 0;
    if (r.valueLen > 0 || r.cls === 'write') this.valuesWritten.record(r.valueLen);
  }

  outcome(r: WorkloadRequest, o: CapturedOutcome): void {
    const acc = r.cmd === this.lastCmd ? this.lastAcc : this.commands.get(r.cmd);
    if (acc === undefined) return;
    const t = acc.tally;
    t.hits += o.hits;
    t.misses += o.misses;
    this.hits += o.hits;
    this.misses += o.misses;
    if (o.error !== null) t.errors[o.error]++;
    if (o.unanswered !== null) t.unanswered++;
    if (o.hits > 0) this.valuesRead.record(Math.round(o.valueBytes / o.hits));
    if (o.latencyNs !== null) {
      acc.latency.record(o.latencyNs);
      this.latency.record(o.latencyNs);
    }
  }

  close(connId: number, _tsNs: number, reason: CloseReason): void {
    this.connServer.delete(connId);
    this.udpConns.delete(connId);
    this.connections.closed[reason]++;
  }
}
