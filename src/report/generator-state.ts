// The generator's own state after a run: clean, degraded or saturated. Saturated (the schedule could
// not be kept: lag p99 above --max-lag, or a stall above --max-stall) makes the run invalid (exit 4)
// and is decided by the engine; degraded is the band below it where the run is valid but the
// generator visibly added to the latency it measured, so the summary says how much of the response
// time it can explain. The figures come from results.json only, so a better event-loop measure
// (a p99 beside the worst delay) is picked up here without touching the replay.
import type { GeneratorState, ResultsFile } from '../metrics/results-types.js';

/** Lag p99 at or above this share of --max-lag is degraded (default 10 ms → 2.5 ms). */
const LAG_DEGRADED_SHARE = 0.25;
/** A worst event-loop delay at or above this share of --max-stall is degraded (250 ms → 25 ms). */
const STALL_DEGRADED_SHARE = 0.1;
/** The generator explaining at least this share of the response p99 is degraded ... */
const EXPLAINED_DEGRADED_SHARE = 0.2;
/** ... once the lag itself is large enough to matter (below this it is timer granularity). */
const LAG_FLOOR_NS = 200e3;

const ms = (ns: number): string => (ns >= 1e6 ? `${(ns / 1e6).toFixed(ns >= 1e7 ? 0 : 1)} ms` : `${Math.round(ns / 1e3)} µs`);

/** Event-loop delay p99 if the results carry one (newer writers), else null. */
function eventLoopP99(r: Pick<ResultsFile, 'summary'>): number | null {
  const s = r.summary as unknown as { eventLoopP99Ns?: unknown; eventLoop?: { p99?: unknown } };
  const v = typeof s.eventLoopP99Ns === 'number' ? s.eventLoopP99Ns : typeof s.eventLoop?.p99 === 'number' ? s.eventLoop.p99 : null;
  return v !== null && Number.isFinite(v) ? v : null;
}

/** Classifies the generator of a run from its results (saturation limits from config.options, defaults 10 ms / 250 ms). */
export function generatorState(r: Pick<ResultsFile, 'summary' | 'config' | 'verdict'>): GeneratorState {
  const s = r.summary;
  const opts = r.config.options ?? {};
  const maxLagNs = typeof opts.maxLagNs === 'number' ? opts.maxLagNs : 10e6;
  const maxStallNs = typeof opts.maxStallNs === 'number' ? opts.maxStallNs : 250e6;
  const closed = r.config.rate.mode === 'max';
  const lagP99 = !closed && s.lag.count > 0 ? s.lag.p99 : 0;
  const loopMax = s.eventLoopMaxNs ?? 0;
  const loopP99 = eventLoopP99(r);
  const respP99 = s.total.response.count > 0 ? s.total.response.p99 : 0;
  const servP99 = s.total.service.count > 0 ? s.total.service.p99 : 0;
  const explainedNs = Math.max(lagP99, loopP99 ?? 0);
  const explainedShare = respP99 > 0 ? Math.min(1, explainedNs / respP99) : 0;
  const evidence: string[] = [];
  const saturated = r.verdict?.saturated === true || r.verdict?.status === 'saturated';
  if (!closed && lagP99 >= maxLagNs * LAG_DEGRADED_SHARE) evidence.push(`schedule lag p99 ${ms(lagP99)} (saturated at ${ms(maxLagNs)}, --max-lag)`);
  if (loopMax >= maxStallNs * STALL_DEGRADED_SHARE) evidence.push(`worst event-loop delay ${ms(loopMax)}${loopP99 !== null ? ` (p99 ${ms(loopP99)})` : ''} (saturated at ${ms(maxStallNs)}, --max-stall)`);
  if (!closed && evidence.length === 0 && explainedNs >= LAG_FLOOR_NS && explainedShare >= EXPLAINED_DEGRADED_SHARE) {
    evidence.push(`the generator's own delay (${ms(explainedNs)}) is ${Math.round(explainedShare * 100)}% of the response p99 ${ms(respP99)}`);
  }
  const state = saturated ? 'saturated' : evidence.length > 0 ? 'degraded' : 'clean';
  if (saturated) evidence.unshift(...r.verdict.reasons.filter((x) => /saturat/i.test(x)));
  return { state, evidence, lagP99Ns: lagP99, eventLoopMaxNs: loopMax, responseMinusServiceP99Ns: Math.max(0, respP99 - servP99), explainedShare };
}

/** One line for the terminal and the report: the state, its evidence, the share of the latency it explains. */
export function describeGenerator(g: GeneratorState, closed: boolean): string {
  const head = g.state === 'clean' ? 'generator: clean' : g.state === 'degraded' ? 'generator: DEGRADED (the run is valid, but part of the measured latency is mcreplay\'s own)' : 'generator: SATURATED (the run is invalid)';
  const parts = [head];
  if (g.evidence.length && g.state !== 'saturated') parts.push(`  evidence: ${g.evidence.join('; ')}`);
  if (!closed) parts.push(`  the generator can explain ${Math.round(g.explainedShare * 100)}% of the response p99 (schedule lag p99 ${ms(g.lagP99Ns)}; response − service p99 ${ms(g.responseMinusServiceP99Ns)})`);
  return parts.join('\n');
}
