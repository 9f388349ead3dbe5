// The gate's options as replay and merge take them on the command line (--threshold, --baseline,
// --max-regression, --noise-band, --junit, --summary, --bench-json, --no-default-checks), turned
// into the gate's GateOptions in one place, so both verbs validate them alike (exit 2 when bad).
import { parseNoiseBand } from '../report/compare.js';
import { parseChecks, type GateOptions } from '../report/gate.js';

/** The gate's command-line options, as commander hands them over. */
export interface GateCliOpts {
  threshold?: string[];
  baseline?: string;
  maxRegression?: string[];
  noiseBand?: string;
  junit?: string;
  summary?: string;
  benchJson?: string;
  defaultChecks?: boolean;
}

/** GateOptions from the command line; `force` is the verb's to say (merge's --force means other shards). */
export function gateOptionsOf(o: GateCliOpts, force: boolean): GateOptions {
  return {
    checks: parseChecks(o.threshold ?? []),
    baseline: o.baseline ?? null,
    maxRegression: o.maxRegression ?? [],
    noiseBand: o.noiseBand === undefined ? undefined : parseNoiseBand(o.noiseBand),
    force,
    junit: o.junit ?? null,
    summary: o.summary ?? null,
    benchJson: o.benchJson ?? null,
    defaultChecks: o.defaultChecks !== false,
  };
}
