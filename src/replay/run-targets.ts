// The targets stage of a replay run (coordinator): the target addresses, their probe (every target
// must answer, with the right credentials, before any load is sent), the resolution of their
// addresses for the "replaying into the captured server" guard, and the workers' 'init' once the
// probe has said how the targets take credentials.
import { createHasher, type KeyHasher } from '../topology/hashing.js';
import { formatHostPort, targetAddresses, type HostPort, type TargetPlan } from '../topology/targets.js';
import type { Aggregator } from '../metrics/aggregate.js';
import { McError, type ErrorCode } from '../errors.js';
import type { TargetAddr, ToWorker } from './messages.js';
import type { CasTable } from './cas-table.js';
import { senderPriority } from './priority.js';
import { availableParallelism } from 'node:os';
import { probeTargetAuth, resolveAll, workerAuth, type ProbeResult } from './probe.js';
import type { WorkerPool } from './worker-pool.js';
import type { ReplaySetup } from './run-types.js';

type ProbeOutcome = ProbeResult | { why: string; code: ErrorCode };

/** The run's targets, with their probe and address resolution under way. */
export interface RunTargets {
  plan: TargetPlan;
  targets: TargetAddr[];
  targetIndex: Map<string, number>;
  hasher: KeyHasher | null;
  /** Every address each target resolves to, as host:port ([v6]:port). */
  targetEndpoints: Set<string>;
  probing: Promise<ProbeOutcome[]>;
  resolving: Promise<void>;
}

/** Starts probing and resolving the targets of `setup` (awaited by initWorkers and the coordinator). */
export function planTargets(setup: ReplaySetup): RunTargets {
  const plan = setup.targets;
  const addrs: HostPort[] = plan.kind === 'pool' ? plan.members : targetAddresses(plan);
  const targets: TargetAddr[] = addrs.map((hp) => ({ host: hp.host, port: hp.port, name: formatHostPort(hp) }));
  const targetIndex = new Map<string, number>(targets.map((t, i) => [t.name, i]));
  const hasher: KeyHasher | null = plan.kind === 'pool' ? createHasher(plan.hash, plan.members) : null;

  // every target must answer before any load is sent (checked by initWorkers, while the workers start)
  const probing = Promise.all(targets.map((t) => probeTargetAuth(t, 2000, setup.auth).catch((e: Error) => ({ why: `${t.name}: ${e.message}`, code: e instanceof McError ? e.code : ('MCR_ERR_TARGET_UNREACHABLE' as const) }))));
  // addresses of the targets, for the "replaying into the captured server" guard
  const targetEndpoints = new Set<string>();
  const resolving = Promise.all(
    targets.map(async (t) => {
      for (const a of await resolveAll(t.host)) targetEndpoints.add(`${a.includes(':') ? `[${a}]` : a}:${t.port}`);
    }),
  ).then(() => {});
  return { plan, targets, targetIndex, hasher, targetEndpoints, probing, resolving };
}

/** What the workers were initialised with. */
export interface InitResult {
  probed: ProbeResult[];
  auth: ReturnType<typeof workerAuth>;
  /** memcached -S speaks only the binary protocol: text and meta requests sent to it fail. */
  binaryOnly: boolean;
}

/**
 * Waits for the probe; throws McError (exit 3, or auth) after stopping the pool if a target failed.
 * Otherwise sends every worker its 'init': the workers' first connections are made only once the
 * credentials proved right and it is known how the targets take them.
 */
export async function initWorkers(
  setup: ReplaySetup,
  tg: RunTargets,
  pool: WorkerPool,
  agg: Aggregator,
  run: { baseSec: number; maxMode: boolean; casTable: CasTable; warnings: string[] },
): Promise<InitResult> {
  const probed = await tg.probing;
  const bad = probed.filter((p): p is { why: string; code: ErrorCode } => 'why' in p);
  if (bad.length > 0) {
    await pool.terminate();
    agg.destroy();
    const authIssue = bad.some((b) => b.code === 'MCR_ERR_TARGET_AUTH');
    throw new McError(
      `${authIssue ? 'target authentication failed' : 'target unreachable'}, nothing was sent: ${bad.map((b) => b.why).join('; ')}`,
      authIssue ? 'MCR_ERR_TARGET_AUTH' : bad[0]!.code,
      authIssue
        ? "give the target's user with --sasl-user and its password in MCREPLAY_SASL_PASSWORD (binary SASL PLAIN for memcached -S, ascii auth for memcached -Y)"
        : 'check the address and that memcached runs there (--target host:port)',
    );
  }
  const auth = workerAuth(setup.auth, probed as ProbeResult[], run.warnings);
  const nWorkers = pool.nWorkers;
  const prio = senderPriority(setup.priority ?? 'auto', { maxMode: run.maxMode, live: setup.live !== undefined, workers: nWorkers, cpus: availableParallelism() });
  if (prio.warning !== null) run.warnings.push(prio.warning);
  const { targets } = tg;
  pool.workers.forEach((worker, w) => {
    if (pool.done[w]) return;
    worker.postMessage({
      t: 'init',
      init: { worker: w, baseSec: run.baseSec, targets, timeoutNs: setup.timeoutNs, maxMode: run.maxMode, intervalNs: setup.intervalNs, auth, eventLoop: setup.eventLoop ?? true, casTable: run.casTable.buffer, priority: prio.mode },
    } satisfies ToWorker);
  });
  return { probed: probed as ProbeResult[], auth, binaryOnly: auth?.mech === 'sasl' };
}
