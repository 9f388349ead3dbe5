// `mcreplay merge`: the shards of one run (replay --shard i/N) merged into the result one process
// would have measured. Exact, never averaged: interval histograms are added bucket by bucket per
// wall-clock interval, counters summed; the summary is the sum of the shards' summaries (each the
// sum of its non-warm-up intervals); figures of the capture itself (connections, requests, span)
// are the same in every shard and taken once. The verdict is decided again on the merged run.
import { ExitCode, McError } from '../errors.js';
import { commandSummary } from '../metrics/aggregate.js';
import { addCounters, emptyCounters } from '../metrics/counters.js';
import { addEncoded, createHistogram, encodeHistogram, percentiles, emptyPercentiles, type Histogram } from '../metrics/histogram.js';
import type { CapturedCommand, CommandInterval, CommandSummary, Counters, Interval, ResultsFile, StepSummary, Verdict } from '../metrics/results-types.js';
import { RESULTS_SCHEMA } from '../metrics/results-types.js';
import { VERSION } from '../version.js';

/** One shard's results file. */
export interface ShardInput {
  path: string;
  results: ResultsFile;
}

/** What is wrong with a set of shards (empty: they make one run). */
export function shardProblems(inputs: readonly ShardInput[]): string[] {
  const out: string[] = [];
  if (inputs.length === 0) return ['no results files given'];
  const first = inputs[0]!;
  const sha = first.results.capture.sha256;
  const rate = JSON.stringify(first.results.config.rate);
  const count = first.results.config.shard?.count ?? null;
  const seen = new Map<number, string>();
  for (const s of inputs) {
    const r = s.results;
    if (r.capture.sha256 !== sha) out.push(`${s.path} replayed another capture (sha256 ${r.capture.sha256.slice(0, 12)}… vs ${sha.slice(0, 12)}… in ${first.path})`);
    if (JSON.stringify(r.config.rate) !== rate) out.push(`${s.path} ran at another rate (${JSON.stringify(r.config.rate)} vs ${rate} in ${first.path})`);
    if (r.intervalNs !== first.results.intervalNs) out.push(`${s.path} has another interval length (${r.intervalNs} ns vs ${first.results.intervalNs} ns)`);
    const sh = r.config.shard;
    if (sh === undefined) {
      out.push(`${s.path} is not a shard (it was not run with --shard i/N)`);
      continue;
    }
    if (sh.count !== count) out.push(`${s.path} is shard ${sh.index}/${sh.count}, but ${first.path} is one of ${count ?? '(no shard)'}`);
    const prev = seen.get(sh.index);
    if (prev !== undefined) out.push(`shard ${sh.index}/${sh.count} is given twice: ${prev} and ${s.path}`);
    else seen.set(sh.index, s.path);
  }
  if (count !== null) {
    const missing: number[] = [];
    for (let i = 1; i <= count; i++) if (!seen.has(i)) missing.push(i);
    if (missing.length > 0) out.push(`missing shard${missing.length > 1 ? 's' : ''} ${missing.map((i) => `${i}/${count}`).join(', ')}`);
  }
  return out;
}

/** Refuses (exit 2) shards that do not make one run, unless `force`; returns the problems let through. */
export function checkShards(inputs: readonly ShardInput[], force: boolean): string[] {
  const problems = shardProblems(inputs);
  if (problems.length > 0 && !force) {
    throw new McError(`these results do not make one sharded run: ${problems.join('; ')}`, 'MCR_ERR_NOT_COMPARABLE', 'give every shard of one run exactly once (same capture, rate and N); --force merges them anyway');
  }
  return problems;
}

/** A shard's t0 on the wall clock, epoch ns (run.t0; older files: run.startedAt, ms precision). */
export function shardT0Ns(r: ResultsFile): bigint {
  if (r.run.t0 !== undefined) return BigInt(r.run.t0.epochNs);
  return BigInt(Date.parse(r.run.startedAt)) * 1_000_000n;
}

type Acc = { counters: Counters; response: Histogram; service: Histogram };
const newAcc = (): Acc => ({ counters: emptyCounters(), response: createHistogram(true), service: createHistogram(true) });
function addInto(a: Acc, c: { counters: Counters; response: string; service: string }): void {
  addCounters(a.counters, c.counters);
  addEncoded(a.response, c.response);
  addEncoded(a.service, c.service);
}
function freeAcc(a: Acc): void {
  a.response.destroy();
  a.service.destroy();
}
const ivOut = (a: Acc): CommandInterval => ({ counters: a.counters, response: encodeHistogram(a.response), service: encodeHistogram(a.service) });

/** Merged interval being built. */
interface MergedIv {
  startNs: number;
  endNs: number;
  warmup: boolean;
  step: number | null;
  rateFactor: number | null;
  cmds: Map<string, Acc>;
  total: Acc;
  lag: Histogram;
  eventLoopMaxNs: number;
}

/**
 * The merged intervals. Merged t0 = the earliest shard t0; a shard interval that starts `s` ns after
 * the merged t0 goes, whole, to merged interval floor(s / intervalNs): the one containing its start
 * (shards on a common --start-at line up exactly; one that fixed its own t0 300 ms late lands its
 * intervals in the merged intervals where they began).
 */
function mergeIntervals(inputs: readonly ShardInput[], t0: bigint, intervalNs: number): Interval[] {
  const byIdx = new Map<number, MergedIv>();
  for (const s of inputs) {
    const shift = Number(shardT0Ns(s.results) - t0);
    for (const iv of s.results.intervals) {
      const start = shift + iv.startNs;
      const idx = Math.floor(start / intervalNs);
      let m = byIdx.get(idx);
      if (!m) {
        m = { startNs: idx * intervalNs, endNs: 0, warmup: false, step: iv.step, rateFactor: iv.rateFactor, cmds: new Map(), total: newAcc(), lag: createHistogram(true), eventLoopMaxNs: 0 };
        byIdx.set(idx, m);
      }
      m.endNs = Math.max(m.endNs, Math.min((idx + 1) * intervalNs, shift + iv.endNs));
      // warm-up in any shard keeps the merged interval out of the summary's time
      m.warmup ||= iv.warmup;
      for (const [cmd, c] of Object.entries(iv.perCommand)) {
        let a = m.cmds.get(cmd);
        if (!a) m.cmds.set(cmd, (a = newAcc()));
        addInto(a, c);
      }
      addInto(m.total, iv.total);
      addEncoded(m.lag, iv.lag);
      m.eventLoopMaxNs = Math.max(m.eventLoopMaxNs, iv.eventLoopMaxNs);
    }
  }
  const out: Interval[] = [];
  for (const idx of [...byIdx.keys()].sort((a, b) => a - b)) {
    const m = byIdx.get(idx)!;
    const perCommand: Record<string, CommandInterval> = {};
    for (const cmd of [...m.cmds.keys()].sort()) perCommand[cmd] = ivOut(m.cmds.get(cmd)!);
    out.push({ index: idx, startNs: m.startNs, endNs: Math.max(m.endNs, m.startNs), warmup: m.warmup, step: m.step, rateFactor: m.rateFactor, perCommand, total: ivOut(m.total), lag: encodeHistogram(m.lag), eventLoopMaxNs: m.eventLoopMaxNs });
    for (const a of m.cmds.values()) freeAcc(a);
    freeAcc(m.total);
    m.lag.destroy();
  }
  return out;
}

function summaryOf(parts: readonly { counters: Counters; responseHist: string; serviceHist: string }[], durationNs: number): CommandSummary {
  const a = newAcc();
  try {
    for (const p of parts) addInto(a, { counters: p.counters, response: p.responseHist, service: p.serviceHist });
    return commandSummary(a.counters, a.response, a.service, durationNs);
  } finally {
    freeAcc(a);
  }
}

function hist(encoded: readonly string[]): { p: ReturnType<typeof percentiles>; enc: string } {
  const h = createHistogram(true);
  try {
    for (const e of encoded) addEncoded(h, e);
    return { p: h.totalCount > 0 ? percentiles(h) : emptyPercentiles(), enc: encodeHistogram(h) };
  } finally {
    h.destroy();
  }
}

function mergeCaptured(inputs: readonly ShardInput[]): Record<string, CapturedCommand> {
  const cmds = new Set(inputs.flatMap((s) => Object.keys(s.results.captured)));
  const out: Record<string, CapturedCommand> = {};
  for (const cmd of [...cmds].sort()) {
    const xs = inputs.map((s) => s.results.captured[cmd]).filter((c): c is CapturedCommand => c !== undefined);
    const count = xs.reduce((n, c) => n + c.count, 0);
    const hits = xs.reduce((n, c) => n + c.hits, 0);
    const misses = xs.reduce((n, c) => n + c.misses, 0);
    const lat = xs.map((c) => c.latencyHist).filter((e): e is string => e !== null);
    const h = lat.length > 0 ? hist(lat) : null;
    out[cmd] = { count, hits, misses, hitRatio: hits + misses > 0 ? hits / (hits + misses) : null, latency: h && h.p.count > 0 ? h.p : null, latencyHist: h ? h.enc : null };
  }
  return out;
}

/** The engine's verdict of the merged run: saturated if any shard was (or the merged lag says so), interrupted if any shard was. */
function engineVerdict(inputs: readonly ShardInput[], lagP99: number, isMax: boolean): Verdict {
  const reasons: string[] = [];
  let saturated = false;
  let interrupted = false;
  for (const s of inputs) {
    const v = s.results.verdict;
    const name = s.results.config.shard ? `shard ${s.results.config.shard.index}/${s.results.config.shard.count}` : s.path;
    if (v.saturated || v.status === 'saturated') {
      saturated = true;
      reasons.push(`${name} was saturated: ${v.reasons.filter((r) => /saturat/i.test(r)).join('; ') || 'its generator could not keep the schedule'}`);
    }
    if (s.results.config.options.stopReason === 'interrupted') {
      interrupted = true;
      reasons.push(`${name} was interrupted: partial result`);
    }
  }
  const maxLag = Math.min(...inputs.map((s) => Number(s.results.config.options.maxLagNs ?? Infinity)));
  if (!isMax && Number.isFinite(maxLag) && lagP99 > maxLag) {
    saturated = true;
    reasons.push(`saturated: merged schedule lag p99 ${(lagP99 / 1e6).toFixed(2)} ms is above the limit ${(maxLag / 1e6).toFixed(2)} ms (--max-lag)`);
  }
  if (saturated) return { status: 'saturated', reasons, saturated, checks: [], exitCode: ExitCode.invalidRun };
  if (interrupted) return { status: 'interrupted', reasons, saturated, checks: [], exitCode: ExitCode.ok };
  return { status: 'pass', reasons, saturated: false, checks: [], exitCode: ExitCode.ok };
}

/** Merges the shards (checked by checkShards) into one results file; its verdict is the engine's, before checks. */
export function mergeShards(inputs: readonly ShardInput[], id: string, argv: string[], problems: readonly string[] = []): ResultsFile {
  const sorted = [...inputs].sort((a, b) => (a.results.config.shard?.index ?? 0) - (b.results.config.shard?.index ?? 0));
  const first = sorted[0]!.results;
  const intervalNs = first.intervalNs;
  const t0 = sorted.reduce((m, s) => (shardT0Ns(s.results) < m ? shardT0Ns(s.results) : m), shardT0Ns(first));
  const intervals = mergeIntervals(sorted, t0, intervalNs);
  const durationNs = intervals.filter((iv) => !iv.warmup).reduce((d, iv) => d + (iv.endNs - iv.startNs), 0);
  const cmds = [...new Set(sorted.flatMap((s) => Object.keys(s.results.summary.perCommand)))].sort();
  const perCommand: Record<string, CommandSummary> = {};
  for (const cmd of cmds) perCommand[cmd] = summaryOf(sorted.map((s) => s.results.summary.perCommand[cmd]).filter((c): c is CommandSummary => c !== undefined), durationNs);
  const lag = hist(sorted.map((s) => s.results.summary.lagHist));
  const steps = mergeSteps(sorted);
  const heldBack: Record<string, number> = {};
  let shaped = 0;
  const warnings: string[] = [...problems.map((p) => `merged with --force: ${p}`)];
  for (const s of sorted) {
    const o = s.results.config.options;
    shaped += Number(o.shapedRequests ?? 0);
    for (const [k, v] of Object.entries((o.heldBack ?? {}) as Record<string, number>)) heldBack[k] = (heldBack[k] ?? 0) + v;
    const name = s.results.config.shard ? `shard ${s.results.config.shard.index}` : s.path;
    for (const w of (o.warnings ?? []) as string[]) warnings.push(`${name}: ${w}`);
  }
  const cpu = sorted.every((s) => s.results.run.replayCpu !== null)
    ? { userUs: sorted.reduce((n, s) => n + s.results.run.replayCpu!.userUs, 0), sysUs: sorted.reduce((n, s) => n + s.results.run.replayCpu!.sysUs, 0) }
    : null;
  const t0Ms = Number(t0 / 1_000_000n) + Number(t0 % 1_000_000n) / 1e6;
  const stop = sorted.map((s) => s.results.config.options.stopReason).find((r) => r !== 'complete') ?? 'complete';
  const { shard: _shard, ...config } = first.config;
  const merged: ResultsFile = {
    ...first,
    schema: RESULTS_SCHEMA,
    tool: { name: 'mcreplay', version: VERSION },
    run: {
      ...first.run,
      id,
      argv,
      startedAt: new Date(Math.min(...sorted.map((s) => Date.parse(s.results.run.startedAt)))).toISOString(),
      endedAt: new Date(Math.max(...sorted.map((s) => Date.parse(s.results.run.endedAt)))).toISOString(),
      replayCpu: cpu,
      t0: { iso: new Date(t0Ms).toISOString(), epochNs: t0.toString(), lateNs: Math.max(...sorted.map((s) => s.results.run.t0?.lateNs ?? 0)) },
    },
    config: {
      ...config,
      workers: sorted.reduce((n, s) => n + s.results.config.workers, 0),
      options: {
        ...first.config.options,
        stopReason: stop,
        captureFullyRead: sorted.every((s) => s.results.config.options.captureFullyRead !== false),
        unsentScope: sorted.every((s) => s.results.config.options.unsentScope !== 'read') ? 'capture' : 'read',
        shapedRequests: shaped,
        heldBack,
        abandoned: sorted.reduce((n, s) => n + Number(s.results.config.options.abandoned ?? 0), 0),
        reconnects: sorted.reduce((n, s) => n + Number(s.results.config.options.reconnects ?? 0), 0),
        preopened: sorted.reduce((n, s) => n + Number(s.results.config.options.preopened ?? 0), 0),
        connectWaits: sorted.reduce((n, s) => n + Number(s.results.config.options.connectWaits ?? 0), 0),
        rehearsal: mergedRehearsal(sorted.map((s) => s.results.config.options.rehearsal)),
        warnings,
        merged: sorted.map((s) => ({ path: s.path, runId: s.results.run.id, shard: s.results.config.shard ?? null, host: s.results.run.host, t0: s.results.run.t0?.iso ?? null, lateNs: s.results.run.t0?.lateNs ?? null, verdict: s.results.verdict.status })),
      },
    },
    commands: [...new Set(sorted.flatMap((s) => s.results.commands))].sort(),
    intervals,
    summary: {
      durationNs,
      perCommand,
      total: summaryOf(sorted.map((s) => s.results.summary.total), durationNs),
      lag: lag.p,
      lagHist: lag.enc,
      eventLoopMaxNs: Math.max(...sorted.map((s) => s.results.summary.eventLoopMaxNs)),
    },
    steps,
    captured: mergeCaptured(sorted),
    verdict: engineVerdict(sorted, lag.p.p99, first.config.rate.mode === 'max'),
  };
  delete merged.generator;
  return merged;
}

function mergeSteps(inputs: readonly ShardInput[]): StepSummary[] {
  const steps = new Set(inputs.flatMap((s) => s.results.steps.map((x) => x.step)));
  const out: StepSummary[] = [];
  for (const step of [...steps].sort((a, b) => a - b)) {
    const xs = inputs.map((s) => s.results.steps.find((x) => x.step === step)).filter((x): x is StepSummary => x !== undefined);
    const d = Math.max(...xs.map((x) => x.endNs - x.startNs));
    const lagHists = inputs.flatMap((s) => s.results.intervals.filter((iv) => iv.step === step && !iv.warmup).map((iv) => iv.lag));
    const l = hist(lagHists);
    out.push({ step, rateFactor: xs[0]!.rateFactor, startNs: Math.min(...xs.map((x) => x.startNs)), endNs: Math.max(...xs.map((x) => x.endNs)), total: summaryOf(xs.map((x) => x.total), d), lag: l.p });
  }
  return out;
}

/** The shards' rehearsals as one: requests summed, kinds the most of any shard (each rehearses what its own connections start with). */
function mergedRehearsal(rs: unknown[]): { kinds: number; requests: number; answered: number } {
  const out = { kinds: 0, requests: 0, answered: 0 };
  for (const r of rs) {
    if (typeof r !== 'object' || r === null) continue;
    const o = r as Partial<typeof out>;
    out.kinds = Math.max(out.kinds, Number(o.kinds ?? 0));
    out.requests += Number(o.requests ?? 0);
    out.answered += Number(o.answered ?? 0);
  }
  return out;
}
