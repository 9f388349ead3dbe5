// The mirror column of the fault-injection matrix (README "Faults"): every misbehaving target of
// test/replay/faults-matrix.test.ts behind a live `mcreplay mirror -`, fed the matrix workload as a
// pcap stream on stdin in real time (test/helpers/live-pcap.ts: each record written when it is due,
// stamped with this host's clock, as tcpdump -U -w - writes). Each run must end within the input's
// end + the delay + the timeout + the drain bound, keep the accounting identities exact (every
// request read is sent, held back or unsent; every sent one has one outcome) and class its errors.
// With MCREPLAY_MIRROR_FAULT_TABLE=<file> the rows are written there (scripts/fault-matrix.sh).
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLASSES, CONNS, FAULT_NAMES, TIMEOUT_S, TOTAL, attemptsWithin, limiter, setupFor, workload, writeRows, type Row } from '../helpers/fault-matrix.js';
import { produceLive } from '../helpers/live-pcap.js';
import { accounted, buildPcap, errorSum, tempDir } from '../replay/helpers.js';
import type { ErrorClass, ResultsFile } from '../../src/metrics/results-types.js';
import { startMirror } from './helpers.js';

const tmp = tempDir();
const rows: Row[] = [];
afterAll(() => {
  tmp.cleanup();
  writeRows('MCREPLAY_MIRROR_FAULT_TABLE', rows);
});

const CAPTURE = buildPcap(workload());
const DELAY_S = 0.03;
/** As for replay's open loop: once the last request went out (due + lag), the timeout and 1 s more for what is in flight or queued on a redial. */
const DRAIN_S = 1;
/** Slack for the 50 ms checks, interval ends and the stream's last chunk on a shared, loaded 2-core machine. */
const SLACK_S = 0.75;
/** A run that has not ended this long after its input did is hung: it is killed and the case fails. */
const HUNG_MS = 30_000;

/** One mirror of the matrix workload into `fault`; asserts the bound, the identities and the classes. */
async function runCase(fault: string): Promise<void> {
  const setup = await setupFor(fault);
  const out = join(tmp.dir, `${fault}-mirror`);
  mkdirSync(out, { recursive: true });
  let startAt = 0;
  let inputEndAt = 0;
  let exit: { code: number | null; signal: string | null };
  const m = startMirror(['-', '--target', setup.target, '--timeout', `${TIMEOUT_S * 1000}ms`, '--workers', '1', '--max-lag', '10s', '--max-stall', '10s', '--no-html', '--json', '--out', out], 'pipe');
  try {
    m.proc.stdin!.on('error', () => {});
    await m.waitErr(/mcreplay: mirroring/, 30_000);
    startAt = Date.now();
    const prod = produceLive(m.proc.stdin!, CAPTURE);
    if (setup.during) await setup.during(Promise.resolve());
    await prod.done;
    inputEndAt = Date.now();
    const hung = setTimeout(() => m.proc.kill('SIGKILL'), HUNG_MS);
    exit = await m.exit;
    clearTimeout(hung);
  } finally {
    if (m.proc.exitCode === null && m.proc.signalCode === null) m.proc.kill('SIGKILL');
    await setup.stop();
  }
  expect(exit.signal, `${fault}: the mirror hung after its input ended: ${m.stderr()}`).toBeNull();
  const sum = JSON.parse(m.stdout()) as { results: string; stopReason: string; heldBack: Record<string, number> };
  const r = JSON.parse(readFileSync(sum.results, 'utf8')) as ResultsFile;
  const t = r.summary.total.counters;
  const runS = r.intervals.at(-1)!.endNs / 1e9;
  // the start line reached the test after the run clock started: this errs long
  const afterInputS = runS - (inputEndAt - startAt) / 1000;
  const boundS = DELAY_S + TIMEOUT_S + DRAIN_S;
  const errors = Object.fromEntries(Object.entries(t.errors).filter(([, v]) => v > 0)) as Partial<Record<ErrorClass, number>>;
  if (process.env.MCREPLAY_FAULT_DEBUG) console.log('DEBUG', fault, 'mirror', afterInputS.toFixed(2), JSON.stringify(r.intervals.map((iv) => [iv.total.counters.sent, iv.total.counters.completed, iv.total.counters.errors])), JSON.stringify(r.config.options.warnings));
  const lagS = r.summary.lag.max / 1e9;
  const heldBack = Object.fromEntries(Object.entries(sum.heldBack).filter(([, v]) => v > 0));
  rows.push({ fault, mode: 'mirror', code: exit.code, runS, afterFaultS: afterInputS, lagS, boundS, bound: 'after input', sent: t.sent, completed: t.completed, errors, reconnects: r.config.options.reconnects as number, heldBack });
  expect(sum.stopReason, m.stderr()).toBe('complete');
  // bounded: the input's end, its last request's delay, how late the mirror sent it (its lag: a
  // loaded machine reads the stream late), the timeout, the drain
  expect(afterInputS, `${fault} mirror: input end to run end (lag ${lagS} s)`).toBeLessThan(boundS + lagS + SLACK_S);
  // accounted: every request of the stream was read and sent, or counted held back / unsent; every
  // sent one has one outcome, none abandoned
  expect(accounted(t)).toBe(TOTAL);
  expect(r.config.options.shapedRequests).toBe(TOTAL);
  expect(t.completed + errorSum(t)).toBe(t.sent);
  expect(r.config.options.abandoned).toBe(0);
  // nothing dropped: 1,600 requests are far below the backlog bound (test/mirror/backlog.test.ts)
  expect(heldBack).toEqual({});
  expect(t.sent).toBe(TOTAL);
  if (fault === 'reset' || fault === 'close' || fault === 'maxconns') expect(r.config.options.reconnects).toBeLessThanOrEqual(CONNS * attemptsWithin(runS));
  // classified: the fault shows, in its classes only
  expect(errorSum(t)).toBeGreaterThan(0);
  for (const cls of Object.keys(errors)) expect(CLASSES[fault], `${fault} mirror: ${cls}`).toContain(cls);
}

const slot = limiter(3);

describe.concurrent('fault matrix, mirror column', () => {
  it.each(FAULT_NAMES)(
    '%s under a live mirror: bounded, counted, classified',
    async (fault) => {
      await slot(() => runCase(fault));
    },
    120_000,
  );
});
