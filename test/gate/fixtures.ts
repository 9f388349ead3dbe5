// Builds results files (schema mcreplay.results/1) from explicit latency samples with real
// hdr-histogram-js histograms (plain JS ones, independent of src/metrics), so tests can compare what
// the gate computes with truths taken from the sorted samples.
import * as hdr from 'hdr-histogram-js';
import { ERROR_CLASSES, type CommandSummary, type Counters, type Percentiles, type ResultsFile, type Interval, type CommandInterval } from '../../src/metrics/results-types.js';

export interface CmdSpec {
  response: number[];
  service?: number[];
  counters?: Partial<Omit<Counters, 'errors' | 'heldBack'>> & { errors?: Partial<Counters['errors']>; heldBack?: Record<string, number> };
}

export interface IntervalSpec {
  warmup?: boolean;
  perCommand: Record<string, CmdSpec>;
  lag?: number[];
}

export interface FixtureOptions {
  intervalNs?: number;
  sha256?: string;
  captureName?: string;
  rate?: ResultsFile['config']['rate'];
  targets?: string[];
  captured?: ResultsFile['captured'];
  saturated?: boolean;
  status?: ResultsFile['verdict']['status'];
  exitCode?: number;
  runId?: string;
  clone?: number;
  /** Length of the last interval (the run ended inside it), ns. */
  lastIntervalNs?: number;
}

function hist(values: number[]): hdr.Histogram {
  const h = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000_000, numberOfSignificantValueDigits: 3, bitBucketSize: 64 });
  for (const v of values) h.recordValue(v);
  return h;
}

export function encode(values: number[]): string {
  if (values.length === 0) return '';
  return hdr.encodeIntoCompressedBase64(hist(values));
}

function pcts(values: number[]): Percentiles {
  if (values.length === 0) return { count: 0, min: 0, mean: 0, p50: 0, p90: 0, p99: 0, p999: 0, p9999: 0, max: 0 };
  const h = hist(values);
  return { count: values.length, min: h.getValueAtPercentile(0), mean: h.mean, p50: h.getValueAtPercentile(50), p90: h.getValueAtPercentile(90), p99: h.getValueAtPercentile(99), p999: h.getValueAtPercentile(99.9), p9999: h.getValueAtPercentile(99.99), max: h.maxValue };
}

/** The true percentile of samples: the smallest value with at least p% of samples at or below it. */
export function truePercentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  // exact rank: p% of n rounded up, without floating-point residue (99.9% of 2000 is 1998, not 1999)
  const rank = Math.max(1, Math.ceil(Math.round((p / 100) * s.length * 1e6) / 1e6));
  return s[rank - 1]!;
}

export function counters(spec: CmdSpec | undefined): Counters {
  const n = spec?.response.length ?? 0;
  const c = spec?.counters ?? {};
  const errors = Object.fromEntries(ERROR_CLASSES.map((k) => [k, c.errors?.[k] ?? 0])) as Counters['errors'];
  return {
    intended: c.intended ?? n,
    sent: c.sent ?? n,
    completed: c.completed ?? n,
    hits: c.hits ?? 0,
    misses: c.misses ?? 0,
    errors,
    heldBack: { ...(c.heldBack ?? {}) },
    unsent: c.unsent ?? 0,
    bytesOut: c.bytesOut ?? 0,
    bytesIn: c.bytesIn ?? 0,
  };
}

function add(a: Counters, b: Counters): Counters {
  const errors = { ...a.errors };
  for (const k of ERROR_CLASSES) errors[k] += b.errors[k];
  const heldBack = { ...a.heldBack };
  for (const [k, v] of Object.entries(b.heldBack)) heldBack[k] = (heldBack[k] ?? 0) + v;
  return { intended: a.intended + b.intended, sent: a.sent + b.sent, completed: a.completed + b.completed, hits: a.hits + b.hits, misses: a.misses + b.misses, errors, heldBack, unsent: a.unsent + b.unsent, bytesOut: a.bytesOut + b.bytesOut, bytesIn: a.bytesIn + b.bytesIn };
}

function cmdSummary(c: Counters, resp: number[], serv: number[], durationNs: number): CommandSummary {
  const errs = Object.values(c.errors).reduce((a, n) => a + n, 0);
  return {
    counters: c,
    response: pcts(resp),
    service: pcts(serv),
    responseHist: encode(resp),
    serviceHist: encode(serv),
    intendedRate: durationNs > 0 ? c.intended / (durationNs / 1e9) : 0,
    achievedRate: durationNs > 0 ? c.completed / (durationNs / 1e9) : 0,
    hitRatio: c.hits + c.misses > 0 ? c.hits / (c.hits + c.misses) : null,
    errorRate: c.sent > 0 ? errs / c.sent : 0,
  };
}

/** A complete results file from per-interval samples. */
export function makeResults(specs: IntervalSpec[], o: FixtureOptions = {}): ResultsFile {
  const intervalNs = o.intervalNs ?? 1e9;
  const commands = [...new Set(specs.flatMap((s) => Object.keys(s.perCommand)))].sort();
  const intervals: Interval[] = specs.map((s, i) => {
    const perCommand: Record<string, CommandInterval> = {};
    let total = counters(undefined);
    const allResp: number[] = [];
    const allServ: number[] = [];
    for (const [cmd, spec] of Object.entries(s.perCommand)) {
      const c = counters(spec);
      perCommand[cmd] = { counters: c, response: encode(spec.response), service: encode(spec.service ?? spec.response) };
      total = add(total, c);
      allResp.push(...spec.response);
      allServ.push(...(spec.service ?? spec.response));
    }
    return { index: i, startNs: i * intervalNs, endNs: i === specs.length - 1 && o.lastIntervalNs !== undefined ? i * intervalNs + o.lastIntervalNs : (i + 1) * intervalNs, warmup: s.warmup ?? false, step: null, rateFactor: 1, perCommand, total: { counters: total, response: encode(allResp), service: encode(allServ) }, lag: encode(s.lag ?? []), eventLoopMaxNs: 0 };
  });
  const live = specs.filter((s) => !s.warmup);
  const durationNs = live.length * intervalNs - (o.lastIntervalNs !== undefined ? intervalNs - o.lastIntervalNs : 0);
  const perCommand: Record<string, CommandSummary> = {};
  let total = counters(undefined);
  const tr: number[] = [];
  const ts: number[] = [];
  const lag: number[] = [];
  for (const cmd of commands) {
    let c = counters(undefined);
    const r: number[] = [];
    const sv: number[] = [];
    for (const s of live) {
      const spec = s.perCommand[cmd];
      if (!spec) continue;
      c = add(c, counters(spec));
      r.push(...spec.response);
      sv.push(...(spec.service ?? spec.response));
    }
    if (c.sent + c.intended + r.length === 0) continue;
    perCommand[cmd] = cmdSummary(c, r, sv, durationNs);
    total = add(total, c);
    tr.push(...r);
    ts.push(...sv);
  }
  for (const s of live) lag.push(...(s.lag ?? []));
  const targets = o.targets ?? ['127.0.0.1:11211'];
  return {
    schema: 'mcreplay.results/1',
    tool: { name: 'mcreplay', version: '0.1.0' },
    run: { id: o.runId ?? 'test-run', startedAt: '2024-01-01T00:00:00.000Z', endedAt: '2024-01-01T00:01:00.000Z', host: 'test', platform: 'linux', node: process.version, cpus: 2, argv: [], replayCpu: null },
    config: {
      rate: o.rate ?? { mode: 'factor', factor: 1 },
      targets: targets.map((t) => ({ target: t, from: ['*'] })),
      hash: 'none',
      warmup: { ns: null, requests: null },
      loop: false,
      durationNs: null,
      clone: o.clone ?? 1,
      ttlScale: 1,
      filters: {},
      allow: [],
      workers: 1,
      timeoutNs: 1e9,
      options: {},
    },
    capture: { path: `captures/${o.captureName ?? 'sample.pcap'}`, name: o.captureName ?? 'sample.pcap', sha256: o.sha256 ?? 'a'.repeat(64), bytes: 1000, durationNs: specs.length * intervalNs, connections: 1, requests: 100, replayable: 100 },
    intervalNs,
    commands,
    intervals,
    summary: { durationNs, perCommand, total: cmdSummary(total, tr, ts, durationNs), lag: pcts(lag), lagHist: encode(lag), eventLoopMaxNs: 0 },
    steps: [],
    captured: o.captured ?? {},
    targetStats: [],
    verdict: { status: o.status ?? (o.saturated ? 'saturated' : 'pass'), reasons: o.saturated ? ['lag p99 over the limit: saturated'] : [], saturated: o.saturated ?? false, checks: [], exitCode: o.exitCode ?? (o.saturated ? 4 : 0) },
  };
}

/** Deterministic pseudo-random samples (xorshift), in [lo, hi). */
export function samples(n: number, lo: number, hi: number, seed = 1): number[] {
  let x = seed * 2654435761 >>> 0 || 1;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out.push(Math.floor(lo + ((x % 1_000_000) / 1_000_000) * (hi - lo)));
  }
  return out;
}
