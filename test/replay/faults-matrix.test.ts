// The fault-injection matrix: every misbehaving target (a scripted proxy in front of a real memcached,
// or the memcached itself killed, stopped, restarted or out of connection slots) against a replay at
// 2x and at --rate max. Each run must end within its schedule + the timeout + the drain bound, keep
// the accounting identities exact and class its errors. With MCREPLAY_FAULT_TABLE=<file> the rows
// are written there (scripts/fault-matrix.sh prints them as the README table); with
// MCREPLAY_FAULT_DEBUG=1 each run's intervals (sent, completed, errors) are printed.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, memcachedBinary, startMemcached } from '../helpers/memcached.js';
import { FAULTS, startFaultProxy, type Fault } from '../helpers/fault-proxy.js';
import { QUIET, accounted, collect, errorSum, mcStats, spawnReplay, started, tempDir, waitVersion, writeCapture, type ConvSpec, type Step } from './helpers.js';
import type { ErrorClass } from '../../src/metrics/results-types.js';

const tmp = tempDir();
const rows: Row[] = [];
afterAll(() => {
  tmp.cleanup();
  const out = process.env.MCREPLAY_FAULT_TABLE;
  if (out) writeFileSync(out, JSON.stringify(rows, null, 1));
});

interface Row {
  fault: string;
  mode: string;
  code: number | null;
  /** The run clock at its end (results: end of the last interval), s. */
  runS: number;
  /**
   * From the fault's start to the run's end on the run clock, s (null: the fault was there from the
   * start). The run's start is when its start line reached the test, which is late if anything, so
   * this errs long.
   */
  afterFaultS: number | null;
  /** Open loop: the worst lag (a late last request delays the drain's start), s. */
  lagS: number;
  /** The bound asserted (without the lag), s, and what it measures. */
  boundS: number;
  bound: 'run' | 'after fault';
  sent: number;
  completed: number;
  errors: Partial<Record<ErrorClass, number>>;
  reconnects: number;
}

const CONNS = 4;
const SECONDS = 2;
const EVERY_MS = 5;
const TIMEOUT_S = 1;
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

/** 4 connections, each alternating `set`/`get` of its own keys every 5 ms for 2 s (1,600 requests). */
function workload(): ConvSpec[] {
  const out: ConvSpec[] = [];
  for (let c = 0; c < CONNS; c++) {
    const steps: Step[] = [];
    let i = 0;
    for (let t = c * 0.37; t < SECONDS * 1000; t += EVERY_MS, i++) {
      const k = `k${c}-${i >> 1}`;
      if (i % 2 === 0) {
        steps.push({ t, dir: 0, data: `set ${k} 0 0 16\r\n${'v'.repeat(16)}\r\n` });
        steps.push({ t: t + 0.1, dir: 1, data: 'STORED\r\n' });
      } else {
        steps.push({ t, dir: 0, data: `get ${k}\r\n` });
        steps.push({ t: t + 0.1, dir: 1, data: `VALUE ${k} 0 16\r\n${'v'.repeat(16)}\r\nEND\r\n` });
      }
    }
    out.push({ cport: 43000 + c, steps });
  }
  return out;
}
const TOTAL = (CONNS * SECONDS * 1000) / EVERY_MS;
/** Request bytes of the whole capture, roughly (set 39 + get 12 per pair): the faults start a third in. */
const TRIGGER_BYTES = Math.round(((TOTAL / 2) * (39 + 14)) / 3);

const cap = writeCapture(tmp.dir, 'matrix.pcap', workload());

const MODES = [
  { name: '2x', args: ['--rate', '2x'], scheduleS: SECONDS / 2 },
  { name: 'max', args: ['--rate', 'max'], scheduleS: 0 },
] as const;

/**
 * Which error classes each fault may produce (anything else is misclassified). The proxy runs in
 * the test process, so on a loaded machine it may accept a connection later than the timeout: a
 * connect that hangs is a `timeout` whatever the fault.
 */
const CLASSES: Record<string, ErrorClass[]> = {
  blackhole: ['timeout'],
  // random bytes: whatever they happen to spell, or a line that never ends (timeout)
  garbage: ['desync', 'timeout', 'reset', 'error', 'client_error', 'server_error'],
  reset: ['reset', 'timeout'],
  halfclose: ['reset', 'timeout'],
  slow: ['timeout', 'reset'],
  noread: ['timeout'],
  close: ['reset', 'timeout'],
  kill: ['reset', 'refused'],
  sigstop: ['timeout'],
  // a memcached just restarted on a loaded machine may not answer its first requests in time
  restart: ['reset', 'refused', 'timeout'],
  // refused when its "ERROR Too many open connections" is read; reset when memcached's close with
  // our unread requests turned into an RST that discarded it
  maxconns: ['refused', 'reset'],
};

/** A memcached on a fixed port (so it can be restarted on the same address). */
function memcachedOn(port: number, extra: string[] = []): ChildProcess {
  const args = ['-l', '127.0.0.1', '-p', String(port), '-U', '0', '-t', '1', '-m', '16', ...extra];
  if (process.getuid?.() === 0) args.push('-u', 'root');
  return spawn(memcachedBinary(), args, { stdio: 'ignore' });
}

/** Most connection attempts one connection can make in `s` seconds under the backoff (50 ms doubling to 1 s), after its first redial. */
function attemptsWithin(s: number): number {
  let n = 2;
  for (let t = 0, b = 0.05; t <= s; t += b, b = Math.min(1, b * 2)) n++;
  return n;
}

/** Resolves once memcached at `address` has seen `n` commands (get + set), polling with a deadline. */
async function untilCommands(address: string, n: number, ms = 20000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    try {
      const s = await mcStats(address);
      if ((s.cmd_get ?? 0) + (s.cmd_set ?? 0) >= n) return;
    } catch {
      /* retry */
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`memcached ${address} never saw ${n} commands`);
}

/** A target with its fault; `faultAt()` is Date.now() when the fault started (null: from the start or never). */
type Setup = { target: string; during?: (p: ChildProcess) => Promise<void>; faultAt(): number | null; stop(): Promise<void> };

async function setupFor(fault: string): Promise<Setup> {
  if ((FAULTS as readonly string[]).includes(fault)) {
    const mc = await startMemcached();
    // slow: one byte every 150 ms, so every answer takes longer than the timeout (STORED: 1.2 s)
    const px = await startFaultProxy(mc.address, fault as Fault, { afterBytes: TRIGGER_BYTES, slowMs: 150 });
    return { target: px.address, faultAt: () => px.triggeredAt(), stop: async () => (await px.stop(), await mc.stop()) };
  }
  const port = await freePort();
  let proc = memcachedOn(port, fault === 'maxconns' ? ['-c', '14'] : []);
  await waitVersion(port);
  const address = `127.0.0.1:${port}`;
  let at: number | null = null;
  const stop = async (): Promise<void> => {
    proc.kill('SIGCONT');
    proc.kill('SIGKILL');
  };
  if (fault === 'maxconns') return { target: address, faultAt: () => null, stop };
  return {
    target: address,
    stop,
    faultAt: () => at,
    during: async (p) => {
      await started(p);
      await untilCommands(address, TOTAL / 3);
      at = Date.now();
      if (fault === 'sigstop') {
        proc.kill('SIGSTOP');
        return;
      }
      proc.kill('SIGKILL');
      if (fault === 'restart') {
        await new Promise((r) => proc.once('exit', r));
        proc = memcachedOn(port);
      }
    },
  };
}

const FAULT_NAMES = [...FAULTS, 'kill', 'sigstop', 'restart', 'maxconns'];

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
    if (setup.during) await setup.during(p);
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
const PARALLEL = 3;
let running = 0;
const waiting: (() => void)[] = [];
async function slot<T>(f: () => Promise<T>): Promise<T> {
  if (running >= PARALLEL) await new Promise<void>((r) => waiting.push(r));
  running++;
  try {
    return await f();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

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
