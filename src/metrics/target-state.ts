// Each target's `stats` just before the load and just after it: a target that already held data
// (a reused memcached) changes the hit ratio the replay measures, and the targets' own counters give
// the per-target split of a --pool or mapped run as the targets counted it.
import { fetchStats, type PollAuth } from './stats-poller.js';
import type { TargetState } from './results-types.js';

/** Stats of one target, trying the credentials' mechanisms in turn when the target wants some. */
async function readOne(target: string, auth: { user: string; password: string } | null, timeoutMs: number): Promise<{ stats: Record<string, number> | null; error?: string }> {
  const tries: (PollAuth | null)[] = auth === null ? [null] : [null, { ...auth, mech: 'ascii' }, { ...auth, mech: 'sasl' }];
  let last = '';
  for (const a of tries) {
    try {
      const stats = await fetchStats(target, timeoutMs, a);
      // memcached -Y answers an unauthenticated `stats` with an error, -S closes: both throw
      return { stats };
    } catch (err) {
      last = (err as Error).message;
    }
  }
  return { stats: null, error: last };
}

/** Reads `stats` of every target (in parallel); a target that cannot be read gets null and the reason. */
export async function readTargetStats(targets: readonly string[], auth: { user: string; password: string } | null, timeoutMs = 1000): Promise<{ target: string; stats: Record<string, number> | null; error?: string }[]> {
  return Promise.all(targets.map(async (target) => ({ target, ...(await readOne(target, auth, timeoutMs)) })));
}

/** Joins the before and after reads into the results' targetState. */
export function targetState(before: Awaited<ReturnType<typeof readTargetStats>>, after: Awaited<ReturnType<typeof readTargetStats>>): TargetState[] {
  return before.map((b, i) => {
    const a = after[i];
    const error = b.error ?? a?.error;
    return { target: b.target, before: b.stats, after: a?.stats ?? null, ...(error ? { error } : {}) };
  });
}

/** Targets that held items before the load, as "host:port (N items, B bytes)". */
export function nonEmptyTargets(state: readonly TargetState[]): string[] {
  return state.filter((t) => (t.before?.curr_items ?? 0) > 0).map((t) => `${t.target} (${(t.before!.curr_items ?? 0).toLocaleString('en-US')} items, ${(t.before!.bytes ?? 0).toLocaleString('en-US')} bytes)`);
}
