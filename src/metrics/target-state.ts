// Each target's `stats` just before the load and just after it: a target that already held data
// (a reused memcached) changes the hit ratio the replay measures, and the targets' own counters give
// the per-target split of a --pool or mapped run as the targets counted it.
import { fetchStats } from './stats-poller.js';
import type { TargetState } from './results-types.js';

/** Stats of one target over a fresh connection, or why not. */
async function readOne(target: string, timeoutMs: number): Promise<{ stats: Record<string, number> | null; error?: string }> {
  try {
    return { stats: await fetchStats(target, timeoutMs, null) };
  } catch (err) {
    return { stats: null, error: (err as Error).message };
  }
}

/**
 * Reads `stats` of every target (in parallel); a target that cannot be read gets null and the reason.
 * With credentials (--sasl-user) nothing is read: the credentials go only where the replay's probe
 * found the target takes them, and only over the replay's own and the --poll-stats connections.
 */
export async function readTargetStats(targets: readonly string[], auth: { user: string; password: string } | null, timeoutMs = 1000): Promise<{ target: string; stats: Record<string, number> | null; error?: string }[]> {
  if (auth !== null) return targets.map((target) => ({ target, stats: null, error: 'not read with --sasl-user (use --poll-stats to follow the items of targets that need credentials)' }));
  return Promise.all(targets.map(async (target) => ({ target, ...(await readOne(target, timeoutMs)) })));
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
