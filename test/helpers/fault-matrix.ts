// What the fault-injection matrix's columns share (test/replay/faults-matrix.test.ts: replay at 2x
// and --rate max; test/mirror/faults-matrix.test.ts: a live mirror): the workload, the faulty
// targets (a scripted proxy in front of a real memcached, or that memcached killed, SIGSTOPped,
// restarted, or out of connection slots), the error classes each fault may produce, the rows of
// the README table and a bound on how many cases run at once.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { freePort, memcachedBinary, startMemcached } from './memcached.js';
import { FAULTS, startFaultProxy, type Fault } from './fault-proxy.js';
import { waitFor } from './wait.js';
import { mcStats, waitVersion, type ConvSpec, type Step } from '../replay/helpers.js';
import type { ErrorClass } from '../../src/metrics/results-types.js';

/** One row of the README table. */
export interface Row {
  fault: string;
  mode: string;
  code: number | null;
  /** The run clock at its end (results: end of the last interval), s. */
  runS: number;
  /**
   * From the fault's start to the run's end on the run clock, s (null: the fault was there from the
   * start). The run's start is when its start line reached the test, which is late if anything, so
   * this errs long. Mirror: from the end of the input stream to the run's end, on the wall clock.
   */
  afterFaultS: number | null;
  /** Open loop: the worst lag (a late last request delays the drain's start), s. */
  lagS: number;
  /** The bound asserted (without the lag), s, and what it measures. */
  boundS: number;
  bound: 'run' | 'after fault' | 'after input';
  sent: number;
  completed: number;
  errors: Partial<Record<ErrorClass, number>>;
  reconnects: number;
  /** Mirror: requests dropped or held back (by reason). */
  heldBack?: Record<string, number>;
}

/** Writes the rows to the file named by `env` (if set): scripts/fault-matrix.sh prints them. */
export function writeRows(env: string, rows: Row[]): void {
  const out = process.env[env];
  if (out) writeFileSync(out, JSON.stringify(rows, null, 1));
}

export const CONNS = 4;
export const SECONDS = 2;
export const EVERY_MS = 5;
export const TIMEOUT_S = 1;

/** 4 connections, each alternating `set`/`get` of its own keys every 5 ms for 2 s (1,600 requests). */
export function workload(): ConvSpec[] {
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
export const TOTAL = (CONNS * SECONDS * 1000) / EVERY_MS;
/** Request bytes of the whole capture, roughly (set 39 + get 12 per pair): the faults start a third in. */
export const TRIGGER_BYTES = Math.round(((TOTAL / 2) * (39 + 14)) / 3);

/**
 * Which error classes each fault may produce (anything else is misclassified). The proxy runs in
 * the test process, so on a loaded machine it may accept a connection later than the timeout: a
 * connect that hangs is a `timeout` whatever the fault.
 */
export const CLASSES: Record<string, ErrorClass[]> = {
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

export const FAULT_NAMES = [...FAULTS, 'kill', 'sigstop', 'restart', 'maxconns'];

/** A memcached on a fixed port (so it can be restarted on the same address). */
function memcachedOn(port: number, extra: string[] = []): ChildProcess {
  const args = ['-l', '127.0.0.1', '-p', String(port), '-U', '0', '-t', '1', '-m', '16', ...extra];
  if (process.getuid?.() === 0) args.push('-u', 'root');
  return spawn(memcachedBinary(), args, { stdio: 'ignore' });
}

/** Most connection attempts one connection can make in `s` seconds under the backoff (50 ms doubling to 1 s), after its first redial. */
export function attemptsWithin(s: number): number {
  let n = 2;
  for (let t = 0, b = 0.05; t <= s; t += b, b = Math.min(1, b * 2)) n++;
  return n;
}

/** Resolves once memcached at `address` has seen `n` commands (get + set), polling with a deadline. */
async function untilCommands(address: string, n: number, ms = 20000): Promise<void> {
  const seen = (): Promise<boolean> => mcStats(address).then((s) => (s.cmd_get ?? 0) + (s.cmd_set ?? 0) >= n, () => false);
  await waitFor(`memcached ${address} to see ${n} commands`, seen, ms, 10);
}

/**
 * A target with its fault; `faultAt()` is Date.now() when the fault started (null: from the start or
 * never). `during(started)` injects a process fault (kill, SIGSTOP, restart) once the run started
 * and the target saw a third of the workload.
 */
export type Setup = { target: string; during?: (started: Promise<unknown>) => Promise<void>; faultAt(): number | null; stop(): Promise<void> };

/** Starts the target of `fault`. */
export async function setupFor(fault: string): Promise<Setup> {
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
    during: async (started) => {
      await started;
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

/** A limiter: at most `n` cases at once (the suite itself must not starve the runs it times). */
export function limiter(n: number): <T>(f: () => Promise<T>) => Promise<T> {
  let running = 0;
  const waiting: (() => void)[] = [];
  return async (f) => {
    if (running >= n) await new Promise<void>((r) => waiting.push(r));
    running++;
    try {
      return await f();
    } finally {
      running--;
      waiting.shift()?.();
    }
  };
}
