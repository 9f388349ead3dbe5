// The results sink of a run, beside the Aggregator (which merges the workers' interval snapshots):
// what the capture itself answered for the requests that were replayed (per command: hits, misses,
// latency), and the run-wide totals and warnings, assembled once the workers are done.
import type { WorkloadRequest, CapturedOutcome } from '../workload/model.js';
import { createHistogram, encodeHistogram, percentiles, recordNs, type Histogram } from '../metrics/histogram.js';
import type { CapturedCommand } from '../metrics/results-types.js';
import type { PairBook } from '../metrics/warm-pairs.js';
import type { WorkerTotals } from './messages.js';
import { addTotals, emptyTotals } from './totals.js';

interface CapturedAcc {
  count: number;
  hits: number;
  misses: number;
  latency: Histogram;
}

/** What the capture answered, per command, for the replayed requests. */
export interface CapturedSink {
  /**
   * Replayed requests whose captured answer is still to come, with their intended send time (run
   * ns) (a WeakMap cost noticeably more in garbage collection at 40k requests/s).
   */
  readonly pending: Map<WorkloadRequest, number>;
  /** The captured answer of a request (counted only when it was replayed: in `pending`). */
  outcome(r: WorkloadRequest, o: CapturedOutcome): void;
  /** Per command so far (live views): count, hits, misses. */
  readonly byCmd: ReadonlyMap<string, { count: number; hits: number; misses: number }>;
  /** The results.json `captured` object; frees the histograms. */
  finish(): Record<string, CapturedCommand>;
  /** The results.json `captured` object so far (a long run's checkpoint); keeps counting. */
  snapshot(): Record<string, CapturedCommand>;
  destroy(): void;
}

/** A new, empty captured-answers sink; with `pairs` (a mirror) each answer is also paired by its request's intended send interval. */
export function createCapturedSink(pairs: Pick<PairBook, 'captured'> | null = null): CapturedSink {
  const captured = new Map<string, CapturedAcc>();
  const pending = new Map<WorkloadRequest, number>();

  function capturedRecord(r: WorkloadRequest, o: CapturedOutcome): void {
    let c = captured.get(r.cmd);
    if (c === undefined) {
      c = { count: 0, hits: 0, misses: 0, latency: createHistogram(true) };
      captured.set(r.cmd, c);
    }
    c.count++;
    c.hits += o.hits;
    c.misses += o.misses;
    if (o.latencyNs !== null) recordNs(c.latency, o.latencyNs);
  }

  return {
    pending,
    byCmd: captured,
    outcome(r, o) {
      const at = pending.get(r);
      if (at === undefined) return;
      pending.delete(r);
      capturedRecord(r, o);
      pairs?.captured(at, r.cmd, o.hits, o.misses);
    },
    snapshot: () => capturedObject(false),
    finish: () => capturedObject(true),
    destroy() {
      for (const c of captured.values()) c.latency.destroy();
      captured.clear();
    },
  };

  function capturedObject(free: boolean): Record<string, CapturedCommand> {
      const capturedOut: Record<string, CapturedCommand> = {};
      for (const [cmd, c] of [...captured].sort((a, b) => a[0].localeCompare(b[0]))) {
        const lookups = c.hits + c.misses;
        capturedOut[cmd] = {
          count: c.count,
          hits: c.hits,
          misses: c.misses,
          hitRatio: lookups > 0 ? c.hits / lookups : null,
          latency: c.latency.totalCount > 0 ? percentiles(c.latency) : null,
          latencyHist: c.latency.totalCount > 0 ? encodeHistogram(c.latency) : null,
        };
        if (free) c.latency.destroy();
      }
      if (free) captured.clear();
      return capturedOut;
  }
}

/** The workers' totals summed, and the warnings they call for. */
export function runTotals(workerTotals: WorkerTotals[], textToBinaryOnly: number, warnings: string[]): WorkerTotals {
  const totals = emptyTotals();
  for (const t of workerTotals) addTotals(totals, t);
  if (totals.unexpectedBytes > 0) warnings.push(`${totals.unexpectedBytes} bytes from the target answered no request (counted as desync)`);
  if (textToBinaryOnly > 0) {
    warnings.push(
      `${textToBinaryOnly} text/meta request(s) went to targets that take binary SASL (memcached -S), which speak only the binary protocol: they fail (reset, timeout); replay such a capture against a target without -S`,
    );
  }
  if (totals.authRefused > 0) {
    warnings.push(`the target refused authentication on ${totals.authRefused} connection attempt(s) after the start-up check had passed; their requests failed as client_error (check --sasl-user / MCREPLAY_SASL_PASSWORD and the target's auth setup)`);
  }
  return totals;
}

/** What the capture answered since the previous call, per command (a mirror's per-interval warmth). */
export function capturedSince(byCmd: ReadonlyMap<string, { count: number; hits: number; misses: number }>): () => Record<string, { count: number; hits: number; misses: number }> {
  const prev = new Map<string, { count: number; hits: number; misses: number }>();
  return () => {
    const out: Record<string, { count: number; hits: number; misses: number }> = {};
    for (const [cmd, c] of byCmd) {
      const p = prev.get(cmd) ?? { count: 0, hits: 0, misses: 0 };
      if (c.count !== p.count) out[cmd] = { count: c.count - p.count, hits: c.hits - p.hits, misses: c.misses - p.misses };
      prev.set(cmd, { count: c.count, hits: c.hits, misses: c.misses });
    }
    return out;
  };
}
