// The CAS tokens the captured servers handed out, so extraction can tell a cas request carrying the
// current token from one carrying a stale or made-up token (a client's deliberate or raced cas that
// the capture answered EXISTS). The replay swaps the target's own token into the first kind only:
// swapping it into the second would turn a captured failure into a success (found with Ruby Dalli's
// set_cas/delete_cas, whose stale tokens then stored and deleted).
import type { ParsedResponse } from '../protocol/types.js';
import type { WorkloadRequest } from './model.js';
import { needsCasToken } from './shape.js';

/** Keys whose latest captured token is remembered at most (then the memory starts over). */
const MAX_KEYS = 1 << 16;

/** Matcher options of captured flows whose keys are strings: collect the tokens handed out. */
export const CAS_MATCHER_OPTS = { wantCas: true };

/** The latest token per (server, key): gets/gats VALUE lines, mg c, binary answers. */
export class CasSeen {
  private readonly latest = new Map<string, bigint>();

  /** Remembers the tokens an answer of `serverKey` handed out. */
  answer(serverKey: string, resp: ParsedResponse): void {
    if (resp.casByKey === undefined) return;
    // bounded: a capture of millions of keys read with their tokens starts over (a key whose token
    // was forgotten is "not seen": its cas is translated, as before any token was known)
    if (this.latest.size >= MAX_KEYS) this.latest.clear();
    for (const [k, v] of resp.casByKey) this.latest.set(serverKey + '\n' + k, v);
  }

  /** Marks `r` casStale when it carries a token other than the latest `serverKey` handed out for its key. */
  request(serverKey: string, r: WorkloadRequest): void {
    if (!needsCasToken(r)) return;
    const seen = this.latest.get(serverKey + '\n' + r.keys[0]!);
    if (seen !== undefined && seen !== r.cas) r.casStale = true;
  }
}
