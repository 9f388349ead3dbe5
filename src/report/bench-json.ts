// The JSON that benchmark-tracking actions read (github-action-benchmark's customSmallerIsBetter):
// an array of {name, unit, value} where smaller is better: latencies in µs, error rates in %.
import type { CommandSummary, ResultsFile } from '../metrics/results-types.js';

/** One benchmark entry. */
export interface BenchEntry {
  name: string;
  unit: string;
  value: number;
  /** Extra context shown by the action (count, run id). */
  extra?: string;
}

const us = (ns: number): number => Math.round(ns) / 1000;

function entriesOf(scope: string, s: CommandSummary, runId: string): BenchEntry[] {
  if (s.response.count === 0 && s.counters.sent === 0) return [];
  const extra = `${s.counters.sent} requests, run ${runId}`;
  const errors = Object.values(s.counters.errors).reduce((a, n) => a + n, 0);
  const out: BenchEntry[] = [];
  if (s.response.count > 0) {
    out.push({ name: `${scope} p50 response`, unit: 'us', value: us(s.response.p50), extra });
    out.push({ name: `${scope} p99 response`, unit: 'us', value: us(s.response.p99), extra });
    out.push({ name: `${scope} p99.9 response`, unit: 'us', value: us(s.response.p999), extra });
  }
  if (s.service.count > 0) out.push({ name: `${scope} p99 service`, unit: 'us', value: us(s.service.p99), extra });
  if (s.counters.sent > 0) out.push({ name: `${scope} error rate`, unit: '%', value: Number(((100 * errors) / s.counters.sent).toFixed(4)), extra });
  return out;
}

/** Bench entries for the total and every command, plus schedule lag p99. */
export function toBenchJson(results: ResultsFile): BenchEntry[] {
  const s = results.summary;
  const runId = results.run?.id ?? '?';
  const out = entriesOf('total', s.total, runId);
  for (const cmd of Object.keys(s.perCommand).sort()) out.push(...entriesOf(cmd, s.perCommand[cmd]!, runId));
  if (s.lag.count > 0) out.push({ name: 'schedule lag p99', unit: 'us', value: us(s.lag.p99), extra: `run ${runId}` });
  return out;
}
