// The checks every run gets unless the user switches them off (--no-default-checks): a run whose
// requests failed, were never sent or never answered is not a pass, whether or not the user wrote a
// threshold. A user check on the same quantity replaces the default one (the user's limit wins).
// `replay` applies them to its run, `compare` to the current run; a future `merge` (several results
// files into one) should apply them to the merged totals, and the mirror's verdict to each rolling
// window's totals, through the same defaultChecksFor().
import type { ResultsFile } from '../metrics/results-types.js';
import { parseCheck } from './check-grammar.js';
import type { Check } from './check-types.js';

/** One default check: its name (what the verdict calls it), its text, and when it applies. */
export interface DefaultCheck {
  name: 'errors' | 'unsent' | 'answered';
  text: string;
  /** Why it exists, for the README and --help. */
  why: string;
}

/** The default checks, in the order the verdict lists them. */
export const DEFAULT_CHECKS: readonly DefaultCheck[] = [
  // the target's failures only: ERROR / CLIENT_ERROR / SERVER_ERROR answers may be the capture's
  // own (its server gave them too), so they are left to the user's thresholds
  { name: 'errors', text: 'errors{class=timeout|reset|refused|desync}.rate < 1%', why: 'requests the target failed: no answer in time, a reset or refused connection, a garbled answer' },
  { name: 'unsent', text: 'unsent.count == 0', why: 'requests left unsent though the run was not cut by --duration, a ramp end or a signal' },
  { name: 'answered', text: 'requests.answered >= 99% sent', why: 'requests sent but never answered (an error line counts as an answer)' },
];

/**
 * Does a user check already cover what this default check measures? Any check on errors or unsent
 * (any aggregate or tags) replaces that default; a requests check replaces 'answered' when it is
 * about completed or answered requests.
 */
function covers(user: Check, def: Check): boolean {
  if (user.metric !== def.metric) return false;
  return def.metric !== 'requests' || user.aggregate === 'completed' || user.aggregate === 'answered';
}

/**
 * The default checks that apply to a run: all unless `enabled` is false; `unsent` only when the run
 * ran its whole capture (stop reason 'complete', not --duration, a ramp end or an interrupt); a
 * default check the user's own checks cover is left out.
 */
export function defaultChecksFor(results: Pick<ResultsFile, 'config'>, userChecks: readonly Check[], enabled = true): Check[] {
  if (!enabled) return [];
  const stop = results.config?.options?.stopReason;
  const out: Check[] = [];
  for (const d of DEFAULT_CHECKS) {
    if (d.name === 'unsent' && stop !== undefined && stop !== 'complete') continue;
    const c = parseCheck(d.text);
    if (userChecks.some((u) => covers(u, c))) continue;
    out.push(c);
  }
  return out;
}

/** The default checks as one line of text (for --help and the verdict). */
export function describeDefaultChecks(): string {
  return DEFAULT_CHECKS.map((d) => `'${d.text}'`).join(', ');
}
