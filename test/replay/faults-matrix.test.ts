// The fault-injection matrix: every misbehaving target (a scripted proxy in front of a real memcached,
// or the memcached itself killed, stopped, restarted or out of connection slots) against a replay at
// 2x and at --rate max. Each run must end within its schedule + the timeout + the drain bound, keep
// the accounting identities exact and class its errors. With MCREPLAY_FAULT_TABLE=<file> the rows
// are written there (scripts/fault-matrix.sh prints them as the README table); with
// MCREPLAY_FAULT_DEBUG=1 each run's intervals (sent, completed, errors) are printed. The mirror
// column is test/mirror/faults-matrix.test.ts; what both share is test/helpers/fault-matrix.ts.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLASSES, CONNS, FAULT_NAMES, SECONDS, TIMEOUT_S, TOTAL, attemptsWithin, limiter, setupFor, workload, writeRows, type Row } from '../helpers/fault-matrix.js';
import { QUIET, accounted, collect, errorSum, spawnReplay, started, tempDir, writeCapture } from './helpers.js';
import type { ErrorClass } from '../../src/metrics/results-types.js';

const tmp = tempDir();
const rows: Row[] = [];
afterAll(() => {
  tmp.cleanup();
  writeRows('MCREPLAY_FAULT_TABLE', rows);
});

/**
 * The documented bounds (README "Faults"). Open loop: once the last request went out (the schedule,
 * plus how late the replay was: its lag), the timeout and 1 s more for what is still in flight or
 * queued on a redial. Max mode: from the fault, a connection fails
 * twice (a timeout each at worst) before it backs off and fails what it holds, plus the 1 s backoff.
 */
const OPEN_DRAIN_S = 1;
const MAX_AFTER_FAULT_S = 2 * TIMEOUT_S + 1;
/** Slack for the 50 ms checks and interval ends on a shared, loaded 2-core machine. */
const SLACK_S = 0.5;
/** Slack of the after-fault bound (the start line's delivery, 50 ms checks, interval ends). */
const END_S = 0.5;

const cap = writeCapture(tmp.dir, 'matrix.pcap', workload());

const MODES = [
  { name: '2x', args: ['--rate', '2x'], scheduleS: SECONDS / 2 },
  { name: 'max', args: ['--rate', 'max'], scheduleS: 0 },
] as const;

/** One replay of the matrix capture against `fault` in `mode`; asserts the bound, the identities and the classes. */
async function runCase(fault: string, mode: (typeof MODES)[number]): Promise<void> {
  const setup = await setupFor(fault);
  let run;
  let startAt = 0;
  try {
    // each run its own --out: concurrent runs must not share a results file
    const out = join(tmp.dir, `${fault}-${mode.name}`);
    mkdirSync(out, { recursive: true });
    const p = spawnReplay([cap, '--target', setup.target, ...mode.args, ...QUIET, '--timeout', `${TIMEOUT_S * 1000}ms`, '--json', '--out', out]);
    const done = collect(p);
    const start = started(p).then(() => (startAt = Date.now()));
    if (setup.during) await setup.during(started(p));
    await start;
    run = await done;
  } finally {
    await setup.stop();
  }
  expect(run.results, `${run.code} ${run.stderr}`).not.toBeNull();
  const r = run.results!;
  const t = r.summary.total.counters;
  const runS = r.intervals.at(-1)!.endNs / 1e9;
  const faultAt = setup.faultAt();
  const afterFaultS = faultAt === null ? null : runS - (faultAt - startAt) / 1000;
  // open loop: the run clock; max mode: from the fault to the end (a closed loop's healthy part
  // takes what the target needs); max mode with the fault from the start: the open-loop bound
  const byRun = mode.name === '2x' || afterFaultS === null;
  const boundS = byRun ? (mode.name === '2x' ? mode.scheduleS : SECONDS / 2) + TIMEOUT_S + OPEN_DRAIN_S : MAX_AFTER_FAULT_S;
  const errors = Object.fromEntries(Object.entries(t.errors).filter(([, v]) => v > 0)) as Partial<Record<ErrorClass, number>>;
  if (process.env.MCREPLAY_FAULT_DEBUG) console.log('DEBUG', fault, mode.name, JSON.stringify(r.intervals.map((iv) => [iv.total.counters.sent, iv.total.counters.completed, iv.total.counters.errors])), JSON.stringify(r.config.options.warnings));
  const lagS = r.summary.lag.max / 1e9;
  rows.push({ fault, mode: mode.name, code: run.code, runS, afterFaultS, lagS, boundS, bound: byRun ? 'run' : 'after fault', sent: t.sent, completed: t.completed, errors, reconnects: r.config.options.reconnects as number });
  if (byRun) expect(runS, `${fault} ${mode.name}: run clock (lag ${lagS} s)`).toBeLessThan(boundS + (mode.name === '2x' ? lagS : 0) + SLACK_S);
  else expect(afterFaultS!, `${fault} ${mode.name}: fault to end`).toBeLessThan(boundS + END_S);
  // accounted: every request sent or counted unsent/held back, every sent one has one outcome
  expect(accounted(t)).toBe(r.config.options.shapedRequests);
  expect(t.sent).toBe(TOTAL);
  expect(t.completed + errorSum(t)).toBe(t.sent);
  expect(r.config.options.abandoned).toBe(0);
  // backed off: a target that accepts and drops (or refuses at its limit) is not redialled in a loop
  if (fault === 'reset' || fault === 'close' || fault === 'maxconns') expect(r.config.options.reconnects).toBeLessThanOrEqual(CONNS * attemptsWithin(runS));
  // classified: the fault shows, in its classes only
  expect(errorSum(t)).toBeGreaterThan(0);
  for (const cls of Object.keys(errors)) expect(CLASSES[fault], `${fault} ${mode.name}: ${cls}`).toContain(cls);
}

/** At most this many cases run at once: the suite itself must not starve the runs it times. */
const slot = limiter(3);

// one test per fault, both modes in turn, PARALLEL faults at a time
describe.concurrent('fault matrix', () => {
  it.each(FAULT_NAMES)(
    '%s at 2x and at --rate max: bounded, counted, classified',
    async (fault) => {
      await slot(async () => {
        for (const mode of MODES) await runCase(fault, mode);
      });
    },
    300_000,
  );
});
