// The report's chart data: everything the charts draw, precomputed from a results file into compact
// arrays (percentile series per time point, ~100-point percentile spectra, a heatmap matrix) so the
// HTML embeds a few hundred KB of JSON instead of tens of MB of histograms. The same object feeds
// the chart specs in the page and for the PNGs.
import { ERROR_CLASSES, type Interval, type ResultsFile } from '../metrics/results-types.js';
import { stripUserinfo } from './redact.js';
import { fmtDuration } from './format.js';
import { warmRuleOf, warmthSeries, type WarmthSeries } from './warmth-series.js';
import { copySparse, decodeSparse, emptySparse, maxOf, mergeSparse, sumSparse, totalOf, valuesAt, valuesAtSum, type Sparse } from './hist.js';

/** Percentile series over time, ns. */
export interface LatencySeries {
  p50: number[];
  p90: number[];
  p99: number[];
  p999: number[];
  max: number[];
  /** Service time p50/p99 (completion − actual write); total only (empty for commands). */
  svc50: number[];
  svc99: number[];
}

/** A spectrum: [x = 1/(1−p), value ns] pairs, x ascending. */
export type Spectrum = [number, number][];

export interface TargetSeries {
  target: string;
  t: number[];
  items: (number | null)[];
  bytes: (number | null)[];
  /** Evictions per second between samples. */
  evictions: (number | null)[];
  /** get_hits / (get_hits + get_misses) between samples. */
  hitRatio: (number | null)[];
  conns: (number | null)[];
}

export interface KneePoint {
  step: number;
  rate: number;
  intended: number;
  achieved: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  svc99: number;
  lag99: number;
}

/** What the charts draw. Times in s since the run start; latencies in ns; rates per second. */
export interface ReportData {
  /** Intervals merged into one time point (exactly: histograms are summed). */
  per: number;
  /** Seconds one time point spans. */
  stepS: number;
  /** Start of each time point. */
  t: number[];
  /** End of each time point (points of a long run are of mixed widths: older intervals rolled up). */
  tEnd?: number[];
  endS: number;
  /** End of the warm-up, or null when there was none. */
  warmupS: number | null;
  steps: { step: number; rate: number; startS: number; endS: number }[];
  /** 'total' first, then every command that has latency data. */
  cmds: string[];
  lat: Record<string, LatencySeries>;
  thr: Record<string, { intended: number[]; achieved: number[] }>;
  /** Errors per second by class (total), only classes that occurred. */
  err: Record<string, number[]>;
  hit: { replayed: (number | null)[]; captured: number | null };
  spectrum: Record<string, { resp: Spectrum; svc: Spectrum; cap: Spectrum | null }>;
  /** Total response time: counts per time point per latency bin; bins are [edges[j], edges[j+1]). */
  heat: { edges: number[]; cells: number[][]; maxCount: number } | null;
  lag: { p50: number[]; p99: number[]; max: number[]; el: number[] };
  targets: TargetSeries[];
  knee: KneePoint[];
  /** A mirror: hit ratio in the capture vs on the target per time point, and when the gap closed. */
  warmth: WarmthSeries | null;
}

/** Time points drawn at most (a 1200 px chart shows no more); longer runs merge neighbouring intervals. */
export const MAX_POINTS = 1200;
const SPECTRUM_POINTS = 100;
const HEAT_BINS_PER_DECADE = 10;
const HEAT_MAX_BINS = 60;

/** Four significant digits: histograms keep three, so nothing is lost and the JSON stays short. */
function r4(x: number): number {
  if (x === 0 || !Number.isFinite(x)) return 0;
  const mag = Math.floor(Math.log10(Math.abs(x)));
  const f = Math.pow(10, 3 - mag);
  return Math.round(x * f) / f;
}

/** Percentile spectrum of a histogram: ~100 points log-spaced in 1/(1−p) up to the sample count. */
export function spectrumOf(h: Sparse): Spectrum {
  if (h.total === 0) return [];
  const xmax = Math.max(10, Math.min(1e7, h.total));
  const xs: number[] = [];
  for (let i = 0; i < SPECTRUM_POINTS; i++) xs.push(Math.pow(xmax, i / (SPECTRUM_POINTS - 1)));
  const ps = xs.map((x) => 100 * (1 - 1 / x));
  const vs = valuesAt(h, ps);
  const out: Spectrum = xs.map((x, i) => [r4(x), r4(vs[i]!)]);
  out[0]![0] = 1;
  return out;
}

/** What one time point contributes to the charts (computed on this thread or in a worker). */
export interface PointStats {
  /** Per command ('total' first): response p50, p90, p99, p99.9, max; zeros when no data. */
  lat: number[][];
  /** Total service time p50, p99. */
  svc: [number, number];
  /** Per command: intended, completed per second. */
  thr: [number, number][];
  /** Errors per second by class, in ERROR_CLASSES order. */
  err: number[];
  hit: number | null;
  /** Schedule lag p50, p99, max. */
  lag: [number, number, number];
  el: number;
  /** Total response histogram of the point (for the heatmap). */
  heat: Sparse;
}

/** The chart numbers of consecutive groups of intervals (each group is one time point). */
export function pointStats(groups: Interval[][], cmds: string[]): PointStats[] {
  return groups.map((g) => {
    const dur = Math.max(1e-9, (g[g.length - 1]!.endNs - g[0]!.startNs) / 1e9);
    const lat: number[][] = [];
    const thr: [number, number][] = [];
    let svcOut: [number, number] = [0, 0];
    let heat: Sparse = emptySparse();
    for (const c of cmds) {
      const parts = g.map((iv) => (c === 'total' ? iv.total : iv.perCommand[c]));
      const resp = parts.map((x) => decodeSparse(x?.response));
      if (totalOf(resp) > 0) {
        const [p50, p90, p99, p999] = valuesAtSum(resp, [50, 90, 99, 99.9]);
        lat.push([r4(p50!), r4(p90!), r4(p99!), r4(p999!), r4(maxOf(resp))]);
      } else lat.push([0, 0, 0, 0, 0]);
      if (c === 'total') {
        // service time over time for the total only: per command it would double the decoding
        // (per-command service percentiles are in the summary table and the spectrum)
        const svc = g.map((iv) => decodeSparse(iv.total.service));
        if (totalOf(svc) > 0) {
          const [s50, s99] = valuesAtSum(svc, [50, 99]);
          svcOut = [r4(s50!), r4(s99!)];
        }
        heat = copySparse(sumSparse(resp));
      }
      let intended = 0;
      let completed = 0;
      for (const x of parts) {
        intended += x?.counters.intended ?? 0;
        completed += x?.counters.completed ?? 0;
      }
      thr.push([r4(intended / dur), r4(completed / dur)]);
    }
    let hits = 0;
    let misses = 0;
    const err = ERROR_CLASSES.map(() => 0);
    for (const iv of g) {
      hits += iv.total.counters.hits;
      misses += iv.total.counters.misses;
      ERROR_CLASSES.forEach((k, i) => (err[i]! += iv.total.counters.errors[k] ?? 0));
    }
    const lh = g.map((iv) => decodeSparse(iv.lag));
    let lag: [number, number, number] = [0, 0, 0];
    if (totalOf(lh) > 0) {
      const [l50, l99] = valuesAtSum(lh, [50, 99]);
      lag = [r4(l50!), r4(l99!), r4(maxOf(lh))];
    }
    return {
      lat,
      svc: svcOut,
      thr,
      err: err.map((e) => r4(e / dur)),
      hit: hits + misses > 0 ? r4(hits / (hits + misses)) : null,
      lag,
      el: Math.max(0, ...g.map((iv) => iv.eventLoopMaxNs || 0)),
      heat,
    };
  });
}

/** Options of buildReportData. */
export interface DataOptions {
  /** Computes the time points with this function instead (the worker-thread pool). */
  points?: PointStats[];
}

/** Groups the intervals into time points: at most MAX_POINTS, each `per` intervals. */
export function groupIntervals(r: ResultsFile): { per: number; groups: Interval[][]; cmds: string[] } {
  const ivs = [...r.intervals].sort((a, b) => a.startNs - b.startNs);
  const per = Math.max(1, Math.ceil(ivs.length / MAX_POINTS));
  const groups: Interval[][] = [];
  for (let i = 0; i < ivs.length; i += per) groups.push(ivs.slice(i, i + per));
  // commands that have latency data anywhere (held-back-only commands have none)
  const cmdsWithData = r.commands.filter(
    (c) => (r.summary.perCommand[c]?.response.count ?? 0) > 0 || ivs.some((iv) => !!iv.perCommand[c]?.response),
  );
  return { per, groups, cmds: ['total', ...cmdsWithData] };
}

/** Builds the chart data from a results file. */
export function buildReportData(r: ResultsFile, opts: DataOptions = {}): ReportData {
  const { per, groups, cmds } = groupIntervals(r);
  const ivs = groups.flat();
  const t = groups.map((g) => r4(g[0]!.startNs / 1e9));
  const stepS = (r.intervalNs * per) / 1e9;
  // a long run's rolled-up intervals are wider than r.intervalNs: each point spans [t, tEnd)
  const tEnd = groups.map((g) => r4(g[g.length - 1]!.endNs / 1e9));
  const endS = ivs.length ? ivs[ivs.length - 1]!.endNs / 1e9 : 0;
  const lastWarm = ivs.filter((iv) => iv.warmup).reduce((m, iv) => Math.max(m, iv.endNs), -1);
  const warmupS = lastWarm > 0 ? lastWarm / 1e9 : null;
  const steps = r.steps.map((s) => ({ step: s.step, rate: s.rateFactor, startS: s.startNs / 1e9, endS: s.endNs / 1e9 }));

  const points = opts.points ?? pointStats(groups, cmds);
  const lat: Record<string, LatencySeries> = {};
  const thr: Record<string, { intended: number[]; achieved: number[] }> = {};
  cmds.forEach((c, ci) => {
    const L: LatencySeries = { p50: [], p90: [], p99: [], p999: [], max: [], svc50: [], svc99: [] };
    for (const p of points) {
      const v = p.lat[ci]!;
      L.p50.push(v[0]!);
      L.p90.push(v[1]!);
      L.p99.push(v[2]!);
      L.p999.push(v[3]!);
      L.max.push(v[4]!);
      if (c === 'total') {
        L.svc50.push(p.svc[0]);
        L.svc99.push(p.svc[1]);
      }
    }
    lat[c] = L;
    thr[c] = { intended: points.map((p) => p.thr[ci]![0]), achieved: points.map((p) => p.thr[ci]![1]) };
  });
  const err: Record<string, number[]> = {};
  ERROR_CLASSES.forEach((k, i) => {
    if (points.some((p) => p.err[i]! > 0)) err[k] = points.map((p) => p.err[i]!);
  });
  const lag = { p50: points.map((p) => p.lag[0]), p99: points.map((p) => p.lag[1]), max: points.map((p) => p.lag[2]), el: points.map((p) => p.el) };

  let capHits = 0;
  let capMisses = 0;
  for (const c of Object.values(r.captured)) {
    capHits += c.hits;
    capMisses += c.misses;
  }

  const spectrum: ReportData['spectrum'] = {};
  for (const c of cmds) {
    const s = c === 'total' ? r.summary.total : r.summary.perCommand[c];
    let cap: Spectrum | null = null;
    if (c === 'total') {
      const caps = Object.values(r.captured).filter((x) => x.latencyHist);
      if (caps.length) cap = spectrumOf(mergeSparse(caps.map((x) => decodeSparse(x.latencyHist))));
    } else if (r.captured[c]?.latencyHist) {
      cap = spectrumOf(decodeSparse(r.captured[c]!.latencyHist));
    }
    spectrum[c] = {
      resp: s ? spectrumOf(decodeSparse(s.responseHist)) : [],
      svc: s ? spectrumOf(decodeSparse(s.serviceHist)) : [],
      cap: cap && cap.length ? cap : null,
    };
  }

  return {
    per,
    stepS,
    t,
    tEnd,
    endS,
    warmupS,
    steps,
    cmds,
    lat,
    thr,
    err,
    hit: { replayed: points.map((p) => p.hit), captured: capHits + capMisses > 0 ? r4(capHits / (capHits + capMisses)) : null },
    warmth: warmthOf(r, groups, endS),
    spectrum,
    heat: heatmapOf(points.map((p) => p.heat)),
    lag,
    targets: targetSeries(r),
    knee: r.steps.map((s) => ({
      step: s.step,
      rate: s.rateFactor,
      intended: r4(s.total.intendedRate),
      achieved: r4(s.total.achievedRate),
      p50: s.total.response.p50,
      p90: s.total.response.p90,
      p99: s.total.response.p99,
      p999: s.total.response.p999,
      max: s.total.response.max,
      svc99: s.total.service.p99,
      lag99: s.lag.p99,
    })),
  };
}

/** The warmth curves of a mirror, judged by its --until-warm rule (or the default one). */
function warmthOf(r: ResultsFile, groups: Interval[][], endS: number): WarmthSeries | null {
  const warm = (r.config.options as { mirror?: { warm?: { rule?: string; windowNs?: number } | null } }).mirror?.warm ?? null;
  const rule = warmRuleOf(warm?.rule ?? null, warm?.windowNs ?? null, endS);
  return warmthSeries(groups, rule, (sec) => fmtDuration(sec * 1e9));
}

/** Counts of each time point's histogram in log-spaced latency bins spanning the run's range. */
function heatmapOf(hists: Sparse[]): ReportData['heat'] {
  let lo = Infinity;
  let hi = 0;
  for (const h of hists) {
    if (h.total === 0) continue;
    lo = Math.min(lo, Math.max(1, h.lo[0]!));
    hi = Math.max(hi, h.hi[h.hi.length - 1]!);
  }
  if (hi === 0) return null;
  let l0 = Math.floor(Math.log10(lo) * 2) / 2;
  let l1 = Math.ceil(Math.log10(hi + 1) * 2) / 2;
  if (l1 - l0 < 1) l1 = l0 + 1;
  let perDecade = HEAT_BINS_PER_DECADE;
  while ((l1 - l0) * perDecade > HEAT_MAX_BINS && perDecade > 2) perDecade--;
  const nb = Math.ceil((l1 - l0) * perDecade);
  l0 = l1 - nb / perDecade;
  const exact: number[] = [];
  for (let j = 0; j <= nb; j++) exact.push(Math.pow(10, l0 + j / perDecade));
  let maxCount = 0;
  const cells = hists.map((h) => {
    const row = new Array<number>(nb).fill(0);
    // buckets are sorted, so the bin only moves up
    let j = 0;
    for (let i = 0; i < h.lo.length; i++) {
      const mid = (h.lo[i]! + h.hi[i]!) / 2;
      while (j < nb - 1 && mid >= exact[j + 1]!) j++;
      row[j] += h.n[i]!;
    }
    for (const v of row) if (v > maxCount) maxCount = v;
    return row;
  });
  return { edges: exact.map(r4), cells, maxCount };
}

function targetSeries(r: ResultsFile): TargetSeries[] {
  return r.targetStats
    .filter((ts) => ts.samples.length > 0)
    .map((ts) => {
      const all = [...ts.samples].sort((a, b) => a.tNs - b.tNs);
      const stride = Math.max(1, Math.ceil(all.length / MAX_POINTS));
      const s = all.filter((_, i) => i % stride === 0 || i === all.length - 1);
      const num = (v: number | undefined) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
      const out: TargetSeries = { target: stripUserinfo(ts.target), t: [], items: [], bytes: [], evictions: [], hitRatio: [], conns: [] };
      s.forEach((x, i) => {
        out.t.push(r4(x.tNs / 1e9));
        out.items.push(num(x.values.curr_items));
        out.bytes.push(num(x.values.bytes));
        out.conns.push(num(x.values.curr_connections));
        const prev = i > 0 ? s[i - 1]! : null;
        const dt = prev ? (x.tNs - prev.tNs) / 1e9 : 0;
        const ev = num(x.values.evictions);
        const pev = prev ? num(prev.values.evictions) : null;
        out.evictions.push(prev && dt > 0 && ev !== null && pev !== null ? r4(Math.max(0, ev - pev) / dt) : null);
        const h = num(x.values.get_hits);
        const m = num(x.values.get_misses);
        const ph = prev ? num(prev.values.get_hits) : null;
        const pm = prev ? num(prev.values.get_misses) : null;
        if (h !== null && m !== null && ph !== null && pm !== null && h - ph + (m - pm) > 0) {
          out.hitRatio.push(r4((h - ph) / (h - ph + (m - pm))));
        } else out.hitRatio.push(null);
      });
      return out;
    });
}
