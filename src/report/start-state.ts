// Did two runs' targets start in the same state? A run against a memcached that already held data
// measures other hit ratios (and other latencies) than one against an empty one: `compare` says so.
import type { ResultsFile } from '../metrics/results-types.js';

/** Items each target held before the load, summed over the run's targets; null when not recorded (older files). */
export function startItems(r: Pick<ResultsFile, 'targetState'>): number | null {
  const st = r.targetState;
  if (!st || st.length === 0 || st.some((t) => t.before === null)) return null;
  return st.reduce((n, t) => n + (t.before?.curr_items ?? 0), 0);
}

/** A sentence when the two runs' targets started in different states (one empty, the other not, or item counts 10% apart), else null. */
export function startStateDifference(baseline: Pick<ResultsFile, 'targetState'>, current: Pick<ResultsFile, 'targetState'>): string | null {
  const a = startItems(baseline);
  const b = startItems(current);
  if (a === null || b === null) return a === b ? null : `only the ${a === null ? 'current' : 'baseline'} run recorded what its targets held at the start; the other may have started with data`;
  const differ = (a === 0) !== (b === 0) || Math.abs(a - b) > 0.1 * Math.max(a, b);
  if (!differ) return null;
  return `the targets started in different states: baseline ${a.toLocaleString('en-US')} items, current ${b.toLocaleString('en-US')} items before the load; hit ratios and latencies are not comparable (start both from an empty memcached)`;
}
