// Builds realistic ResultsFile fixtures for report tests and the report bench: real HdrHistograms
// (hdr-histogram-js, via src/metrics/histogram.ts) filled from a synthetic latency model of a
// loopback memcached (tens of µs service time, queueing that grows with load, a tail, a stall in
// the middle of the run), a warm-up, optional ramp steps, polled target stats and threshold checks.
import {
  createHistogram,
  encodeHistogram,
  addEncoded,
  percentiles,
  initMetrics,
  recordNs,
  freeHistogram,
  type Histogram,
} from '../../src/metrics/histogram.js';
import {
  ERROR_CLASSES,
  RESULTS_SCHEMA,
  type CapturedCommand,
  type CommandInterval,
  type CommandSummary,
  type Counters,
  type ErrorClass,
  type Interval,
  type ResultsFile,
  type StepSummary,
  type TargetStatsSample,
  type VerdictStatus,
} from '../../src/metrics/results-types.js';
import { rng } from '../helpers/rng.js';

export interface FixtureOptions {
  /** Number of intervals (default 120). */
  intervals?: number;
  intervalNs?: number;
  /** Commands replayed (default 6 common ones). */
  commands?: string[];
  warmupIntervals?: number;
  /** Ramp: rate factors of the steps; intervals are split evenly between them. */
  ramp?: number[];
  /** Requests per second of the whole capture at 1x (default 5000). */
  baseRps?: number;
  /** Distinct latency samples drawn per command and interval (each carries a weight). */
  samplesPerInterval?: number;
  targets?: string[];
  status?: VerdictStatus;
  /** A target stall in the middle of the run (default true). */
  stall?: boolean;
  /** Add a held-back flush_all command (default true). */
  heldBack?: boolean;
  seed?: number;
  /** Extra argv entries (to test redaction). */
  argv?: string[];
  filters?: Record<string, unknown>;
}

const MODEL: Record<string, { weight: number; baseUs: number; read: boolean }> = {
  get: { weight: 50, baseUs: 24, read: true },
  set: { weight: 15, baseUs: 31, read: false },
  gets: { weight: 6, baseUs: 26, read: true },
  mg: { weight: 10, baseUs: 22, read: true },
  ms: { weight: 5, baseUs: 30, read: false },
  delete: { weight: 4, baseUs: 21, read: false },
  incr: { weight: 3, baseUs: 20, read: false },
  touch: { weight: 2, baseUs: 19, read: false },
  cas: { weight: 2, baseUs: 33, read: false },
  md: { weight: 1, baseUs: 21, read: false },
  add: { weight: 1, baseUs: 30, read: false },
  append: { weight: 1, baseUs: 32, read: false },
};

function emptyCounters(): Counters {
  return {
    intended: 0,
    sent: 0,
    completed: 0,
    hits: 0,
    misses: 0,
    errors: Object.fromEntries(ERROR_CLASSES.map((c) => [c, 0])) as Record<ErrorClass, number>,
    heldBack: {},
    unsent: 0,
    bytesOut: 0,
    bytesIn: 0,
  };
}

function addCounters(into: Counters, c: Counters): void {
  into.intended += c.intended;
  into.sent += c.sent;
  into.completed += c.completed;
  into.hits += c.hits;
  into.misses += c.misses;
  into.unsent += c.unsent;
  into.bytesOut += c.bytesOut;
  into.bytesIn += c.bytesIn;
  for (const k of ERROR_CLASSES) into.errors[k] += c.errors[k];
  for (const [k, v] of Object.entries(c.heldBack)) into.heldBack[k] = (into.heldBack[k] ?? 0) + v;
}

function mergeAll(encoded: string[]): { enc: string; h: Histogram } {
  const h = createHistogram(true);
  for (const e of encoded) addEncoded(h, e);
  return { enc: encodeHistogram(h), h };
}

function summarise(counters: Counters, resp: string[], svc: string[], durationNs: number): CommandSummary {
  const r = mergeAll(resp);
  const s = mergeAll(svc);
  const secs = durationNs / 1e9;
  const errs = ERROR_CLASSES.reduce((a, k) => a + counters.errors[k], 0);
  const out: CommandSummary = {
    counters,
    response: percentiles(r.h),
    service: percentiles(s.h),
    responseHist: r.enc,
    serviceHist: s.enc,
    intendedRate: secs > 0 ? counters.intended / secs : 0,
    achievedRate: secs > 0 ? counters.completed / secs : 0,
    hitRatio: counters.hits + counters.misses > 0 ? counters.hits / (counters.hits + counters.misses) : null,
    errorRate: counters.sent > 0 ? errs / counters.sent : 0,
  };
  freeHistogram(r.h);
  freeHistogram(s.h);
  return out;
}

/** A realistic results file built from real histograms; deterministic for a given seed. */
export async function makeResults(opts: FixtureOptions = {}): Promise<ResultsFile> {
  await initMetrics();
  const n = opts.intervals ?? 120;
  const intervalNs = opts.intervalNs ?? 1_000_000_000;
  const commands = opts.commands ?? ['get', 'set', 'gets', 'mg', 'delete', 'incr'];
  const warm = opts.warmupIntervals ?? Math.min(10, Math.floor(n / 10));
  const baseRps = opts.baseRps ?? 5000;
  const samples = opts.samplesPerInterval ?? 200;
  const targets = opts.targets ?? ['10.0.3.21:11211', '10.0.3.22:11211'];
  const rand = rng(opts.seed ?? 42);
  const heldBack = opts.heldBack ?? true;
  const allCommands = heldBack ? [...commands, 'flush_all'] : [...commands];
  const totalWeight = commands.reduce((a, c) => a + (MODEL[c]?.weight ?? 1), 0);
  const timeoutNs = 1_000_000_000;

  const gauss = (): number => {
    let u = 0;
    while (u === 0) u = rand();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
  };
  const expo = (mean: number): number => -Math.log(1 - rand()) * mean;

  const ramp = opts.ramp ?? null;
  const stepOf = (i: number): number | null => (ramp ? Math.min(ramp.length - 1, Math.floor((i * ramp.length) / n)) : null);
  const factorOf = (i: number): number => (ramp ? ramp[stepOf(i)!]! : 2);
  // a target stall (GC-like) in the middle of the run makes the tail visible over time
  const stallFrom = opts.stall === false ? -1 : Math.floor(n * 0.55);
  const stallTo = opts.stall === false ? -1 : stallFrom + Math.max(1, Math.floor(n * 0.03));

  const intervals: Interval[] = [];
  const sumResp: Record<string, string[]> = { total: [] };
  const sumSvc: Record<string, string[]> = { total: [] };
  const sumCounters: Record<string, Counters> = { total: emptyCounters() };
  for (const c of allCommands) {
    sumResp[c] = [];
    sumSvc[c] = [];
    sumCounters[c] = emptyCounters();
  }
  const stepResp: string[][] = ramp ? ramp.map(() => []) : [];
  const stepSvc: string[][] = ramp ? ramp.map(() => []) : [];
  const stepLag: string[][] = ramp ? ramp.map(() => []) : [];
  const stepCounters: Counters[] = ramp ? ramp.map(() => emptyCounters()) : [];
  const lagAll: string[] = [];
  let elMaxAll = 0;

  for (let i = 0; i < n; i++) {
    const factor = factorOf(i);
    const stalled = i >= stallFrom && i < stallTo;
    // utilisation of the target: the knee sits around factor 6-8
    const util = Math.min(0.97, factor * 0.11 + (stalled ? 0.5 : 0));
    const secs = intervalNs / 1e9;
    const perCommand: Record<string, CommandInterval> = {};
    const totResp = createHistogram();
    const totSvc = createHistogram();
    const totCounters = emptyCounters();
    const warmth = Math.min(0.95, 0.35 + (0.6 * i) / Math.max(1, n * 0.6));
    for (const c of commands) {
      const m = MODEL[c] ?? { weight: 1, baseUs: 25, read: false };
      const rps = (baseRps * factor * m.weight) / totalWeight;
      const count = Math.max(1, Math.round(rps * secs * (0.95 + 0.1 * rand())));
      const k = Math.min(samples, count);
      const resp = createHistogram();
      const svc = createHistogram();
      const counters = emptyCounters();
      counters.intended = count;
      const achieved = util > 0.9 ? Math.round(count * (1 - (util - 0.9) * 2)) : count;
      counters.sent = achieved;
      counters.unsent = 0;
      let left = achieved;
      for (let s = 0; s < k; s++) {
        const w = s === k - 1 ? left : Math.floor(achieved / k);
        left -= w;
        if (w <= 0) continue;
        let service = m.baseUs * 1000 * Math.exp(0.3 * gauss());
        const u = rand();
        if (u < 0.002) service += expo(300_000);
        else if (u < 0.0023) service += 2_000_000 + expo(3_000_000);
        if (stalled && rand() < 0.3) service += expo(20_000_000);
        const wait = expo((m.baseUs * 1000 * util) / (1 - util));
        let response = service + wait + expo(3000);
        if (stalled && rand() < 0.01) {
          response = timeoutNs;
          counters.errors.timeout += w;
        }
        resp.recordValueWithCount(Math.round(response), w);
        svc.recordValueWithCount(Math.round(service), w);
      }
      const errs = counters.errors.timeout;
      if (rand() < 0.05) counters.errors.server_error += 1;
      counters.completed = achieved - errs;
      if (m.read) {
        counters.hits = Math.round(counters.completed * warmth);
        counters.misses = counters.completed - counters.hits;
      }
      counters.bytesOut = counters.sent * (m.read ? 40 : 420);
      counters.bytesIn = counters.completed * (m.read ? 380 : 8);
      const encR = encodeHistogram(resp);
      const encS = encodeHistogram(svc);
      totResp.add(resp as never);
      totSvc.add(svc as never);
      resp.destroy();
      svc.destroy();
      perCommand[c] = { counters, response: encR, service: encS };
      addCounters(totCounters, counters);
      if (i >= warm) {
        sumResp[c]!.push(encR);
        sumSvc[c]!.push(encS);
        addCounters(sumCounters[c]!, counters);
      }
    }
    if (heldBack && i % 600 === Math.min(n - 1, 30)) {
      const counters = emptyCounters();
      counters.intended = 1;
      counters.heldBack = { destructive: 1 };
      perCommand.flush_all = { counters, response: '', service: '' };
      addCounters(totCounters, counters);
      if (i >= warm) addCounters(sumCounters.flush_all!, counters);
    }
    const lag = createHistogram();
    for (let s = 0; s < 100; s++) {
      let l = 15_000 * Math.exp(0.5 * gauss());
      if (stalled && rand() < 0.2) l += expo(3_000_000);
      if (factor >= 8) l += expo(800_000);
      recordNs(lag, l);
    }
    const lagEnc = encodeHistogram(lag);
    lag.destroy();
    const elMax = Math.round((stalled ? 40_000_000 : factor >= 8 ? 12_000_000 : 1_200_000) * (0.6 + 0.8 * rand()));
    const totR = encodeHistogram(totResp);
    const totS = encodeHistogram(totSvc);
    totResp.destroy();
    totSvc.destroy();
    intervals.push({
      index: i,
      startNs: i * intervalNs,
      endNs: (i + 1) * intervalNs,
      warmup: i < warm,
      step: stepOf(i),
      rateFactor: factor,
      perCommand,
      total: { counters: totCounters, response: totR, service: totS },
      lag: lagEnc,
      eventLoopMaxNs: elMax,
    });
    if (i >= warm) {
      sumResp.total!.push(totR);
      sumSvc.total!.push(totS);
      addCounters(sumCounters.total!, totCounters);
      lagAll.push(lagEnc);
      elMaxAll = Math.max(elMaxAll, elMax);
    }
    const st = stepOf(i);
    if (st !== null) {
      stepResp[st]!.push(totR);
      stepSvc[st]!.push(totS);
      stepLag[st]!.push(lagEnc);
      addCounters(stepCounters[st]!, totCounters);
    }
  }

  const durationNs = (n - warm) * intervalNs;
  const perCommand: Record<string, CommandSummary> = {};
  for (const c of allCommands) perCommand[c] = summarise(sumCounters[c]!, sumResp[c]!, sumSvc[c]!, durationNs);
  const total = summarise(sumCounters.total!, sumResp.total!, sumSvc.total!, durationNs);
  const lagM = mergeAll(lagAll);
  const lagP = percentiles(lagM.h);
  freeHistogram(lagM.h);

  const steps: StepSummary[] = [];
  if (ramp) {
    ramp.forEach((f, s) => {
      const idx = intervals.filter((iv) => iv.step === s);
      const start = idx[0]!.startNs;
      const end = idx[idx.length - 1]!.endNs;
      const lm = mergeAll(stepLag[s]!);
      steps.push({
        step: s,
        rateFactor: f,
        startNs: start,
        endNs: end,
        total: summarise(stepCounters[s]!, stepResp[s]!, stepSvc[s]!, end - start),
        lag: percentiles(lm.h),
      });
      freeHistogram(lm.h);
    });
  }

  const captured: Record<string, CapturedCommand> = {};
  for (const c of allCommands) {
    const m = MODEL[c] ?? { weight: 1, baseUs: 25, read: false };
    const h = createHistogram(true);
    const count = Math.round(sumCounters[c]!.intended / factorOf(n - 1)) || sumCounters[c]!.intended;
    if (c !== 'flush_all') for (let s = 0; s < 500; s++) h.recordValueWithCount(Math.round((m.baseUs * 1000 + 150_000) * Math.exp(0.4 * gauss())), Math.max(1, Math.round(count / 500)));
    const hits = m.read ? Math.round(count * 0.93) : 0;
    const misses = m.read ? count - hits : 0;
    captured[c] = {
      count,
      hits,
      misses,
      hitRatio: m.read ? hits / count : null,
      latency: c === 'flush_all' ? null : percentiles(h),
      latencyHist: c === 'flush_all' ? null : encodeHistogram(h),
    };
    h.destroy();
  }

  const targetStats = targets.map((target, ti) => {
    const samplesOut: TargetStatsSample[] = [];
    let hits = 0;
    let misses = 0;
    let evictions = 0;
    for (let t = 0; t < n; t += 5) {
      const frac = t / n;
      const items = Math.round(2_000_000 * Math.min(1, frac * 1.6) * (1 - 0.02 * ti));
      const rps = (baseRps * factorOf(t)) / targets.length;
      const warmth = Math.min(0.95 - 0.03 * ti, 0.35 + (0.6 * t) / Math.max(1, n * (0.6 + 0.15 * ti)));
      hits += Math.round(rps * 5 * 0.7 * warmth);
      misses += Math.round(rps * 5 * 0.7 * (1 - warmth));
      if (frac > 0.62) evictions += Math.round(120 * (frac - 0.6) * 10 * (1 + ti));
      samplesOut.push({
        tNs: t * intervalNs,
        values: {
          curr_items: items,
          bytes: items * 410,
          evictions,
          get_hits: hits,
          get_misses: misses,
          curr_connections: 40 + Math.round(8 * rand()) + (t < warm * 2 ? Math.round((t * 10) / Math.max(1, warm)) : 20),
          limit_maxbytes: 1024 * 1024 * 1024,
        },
      });
    }
    return { target, samples: samplesOut };
  });

  const p99 = total.response.p99;
  const checks = [
    {
      check: 'p99<2ms',
      metric: 'response.p99',
      observed: p99,
      limit: 2_000_000,
      unit: 'ns',
      pass: p99 < 2_000_000,
      failedInterval: null,
      message: '',
    },
    {
      check: 'error_rate<0.1%',
      metric: 'error_rate',
      observed: total.errorRate,
      limit: 0.001,
      unit: 'ratio',
      pass: total.errorRate < 0.001,
      failedInterval: null,
      message: '',
    },
    {
      check: 'get.hit_ratio>0.7',
      metric: 'get.hit_ratio',
      observed: perCommand.get?.hitRatio ?? null,
      limit: 0.7,
      unit: 'ratio',
      pass: (perCommand.get?.hitRatio ?? 1) > 0.7,
      failedInterval: null,
      message: '',
    },
  ];
  for (const c of checks) c.message = `${c.check}: ${c.pass ? 'ok' : 'failed'}`;
  const status: VerdictStatus = opts.status ?? (checks.every((c) => c.pass) ? 'pass' : 'fail');
  const reasons =
    status === 'pass'
      ? []
      : status === 'fail'
        ? checks.some((c) => !c.pass)
          ? checks.filter((c) => !c.pass).map((c) => `threshold ${c.message}`)
          : [`windowed p99<2ms failed in ${Math.max(1, Math.floor(n / 10))} of ${n} intervals (first: interval ${Math.floor(n * 0.8)})`]
        : status === 'saturated'
          ? ['schedule lag p99 4.2 ms over the 1 ms limit', 'event-loop stall of 48 ms on worker 2']
          : ['interrupted by SIGINT after ' + n + ' s'];

  const startedAt = new Date(Date.UTC(2025, 2, 14, 9, 30, 0));
  return {
    schema: RESULTS_SCHEMA,
    tool: { name: 'mcreplay', version: '0.1.0' },
    run: {
      id: '20250314-093000-prod-sample',
      startedAt: startedAt.toISOString(),
      endedAt: new Date(startedAt.getTime() + (n * intervalNs) / 1e6).toISOString(),
      host: 'loadgen-3',
      platform: 'linux x64',
      node: 'v20.20.2',
      cpus: 8,
      argv: [
        'replay',
        'captures/prod-sample.pcap',
        '--target',
        targets.join(','),
        '--rate',
        ramp ? `ramp:${ramp[0]}x-${ramp[ramp.length - 1]}x` : '2x',
        ...(opts.argv ?? []),
      ],
      replayCpu: null,
    },
    config: {
      rate: ramp
        ? { mode: 'ramp', from: ramp[0]!, to: ramp[ramp.length - 1]!, step: ramp.length > 1 ? ramp[1]! - ramp[0]! : 1, stepDurationNs: Math.floor(n / ramp.length) * intervalNs }
        : { mode: 'factor', factor: 2 },
      targets: targets.map((t, i) => ({ target: t, from: [`10.0.1.${10 + i}:11211`] })),
      hash: 'ketama',
      warmup: { ns: warm * intervalNs, requests: null },
      loop: false,
      durationNs: null,
      clone: 1,
      ttlScale: 1,
      filters: opts.filters ?? {},
      allow: [],
      workers: 4,
      timeoutNs,
      options: {},
    },
    capture: {
      path: 'captures/prod-sample.pcap',
      name: 'prod-sample.pcap',
      sha256: '9f2c4e1b7a0d3c5e8f6a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6',
      bytes: 734_003_200,
      durationNs: n * intervalNs * (ramp ? 1 : 2),
      connections: 412,
      requests: sumCounters.total!.intended,
      replayable: Math.round(sumCounters.total!.intended * 0.998),
    },
    intervalNs,
    commands: allCommands,
    intervals,
    summary: {
      durationNs,
      perCommand,
      total,
      lag: lagP,
      lagHist: lagM.enc,
      eventLoopMaxNs: elMaxAll,
    },
    steps,
    captured,
    targetStats,
    verdict: {
      status,
      reasons,
      saturated: status === 'saturated',
      checks,
      exitCode: status === 'pass' ? 0 : status === 'fail' ? 99 : status === 'saturated' ? 4 : 130,
    },
  };
}
