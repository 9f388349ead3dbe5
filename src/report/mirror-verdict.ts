// The mirror's verdict before the gate: how a mirror ends (a user's stop, --until-warm) is not an
// interruption; a cut-over gate that never held fails it; tcpdump dying makes the run invalid.
import { ExitCode } from '../errors.js';
import type { Verdict } from '../metrics/results-types.js';
import { fmtNs } from './format.js';
import { failVerdict, stoppedOnPurpose } from './gate.js';
import type { WarmRule, WarmthTracker } from './warmth.js';

/** The mirror's verdict before the gate: a user's stop or --until-warm is how a mirror ends; never warm fails; tcpdump dying makes the run invalid. */
export function mirrorVerdict(v: Verdict, stopReason: string, signal: string | null, warmRule: WarmRule | null, warm: WarmthTracker | null, tcpdumpDied: boolean): Verdict {
  const warmAtNs = warm?.heldAtNs ?? null;
  if (stopReason === 'interrupted' && (signal !== null || warmAtNs !== null)) {
    stoppedOnPurpose(v, signal !== null ? `stopped by ${signal}` : `warm: '${warmRule!.text}' held at ${fmtNs(warmAtNs!)} (${warm!.last})`);
  }
  if (warmRule !== null && warmAtNs === null) {
    const why = `never warm: '${warmRule.text}' did not hold over a whole window${warm!.last ? ` (last: ${warm!.last})` : ''}`;
    if (signal === null) failVerdict(v, why);
    else v.reasons.push(why);
  }
  if (tcpdumpDied) {
    v.status = 'error';
    v.exitCode = ExitCode.invalidRun;
    v.reasons.push('the capture ended unexpectedly: tcpdump exited during the mirror');
  }
  return v;
}
