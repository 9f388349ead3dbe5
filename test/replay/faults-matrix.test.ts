// The fault-injection matrix: every misbehaving target (a scripted proxy in front of a real memcached,
// or the memcached itself killed, stopped, restarted or out of connection slots) against a replay at
// 2x and at --rate max. Each run must end within its schedule + the timeout + the drain bound, keep
// the accounting identities exact and class its errors. With MCREPLAY_FAULT_TABLE=<file> the rows
// are written there (scripts/fault-matrix.sh prints them as the README table).
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
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
  runS: number;
  boundS: number;
  sent: number;
  completed: number;
  errors: Partial<Record<ErrorClass, number>>;
  reconnects: number;
}

const CONNS = 4;
const SECONDS = 2;
const EVERY_MS = 5;
const TIMEOUT_S = 0.5;
/** The documented drain bound (README "Faults"): two timeouts and the longest backoff. */
const DRAIN_S = 2 * TIMEOUT_S + 1;
/** Scheduling slack on a shared, loaded 2-core machine (checks every 50 ms, interval ends, exit). */
const SLACK_S = 1;

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

/** Which error classes each fault may produce (anything else is misclassified). */
const CLASSES: Record<string, ErrorClass[]> = {
  blackhole: ['timeout'],
  garbage: ['desync', 'timeout', 'reset', 'error', 'client_error', 'server_error'],
  reset: ['reset'],
  halfclose: ['reset', 'timeout'],
  slow: ['timeout', 'reset'],
  noread: ['timeout'],
  close: ['reset'],
  kill: ['reset', 'refused'],
  sigstop: ['timeout'],
  restart: ['reset', 'refused'],
  maxconns: ['refused'],
};

/** A memcached on a fixed port (so it can be restarted on the same address). */
function memcachedOn(port: number, extra: string[] = []): ChildProcess {
  const args = ['-l', '127.0.0.1', '-p', String(port), '-U', '0', '-t', '1', '-m', '16', ...extra];
  if (process.getuid?.() === 0) args.push('-u', 'root');
  return spawn(memcachedBinary(), args, { stdio: 'ignore' });
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

type Setup = { target: string; during?: (p: ChildProcess) => Promise<void>; stop(): Promise<void> };

async function setupFor(fault: string): Promise<Setup> {
  if ((FAULTS as readonly string[]).includes(fault)) {
    const mc = await startMemcached();
    const px = await startFaultProxy(mc.address, fault as Fault, { afterBytes: TRIGGER_BYTES, slowMs: 3 });
    return { target: px.address, stop: async () => (await px.stop(), await mc.stop()) };
  }
  const port = await freePort();
  let proc = memcachedOn(port, fault === 'maxconns' ? ['-c', '14'] : []);
  await waitVersion(port);
  const address = `127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    proc.kill('SIGCONT');
    proc.kill('SIGKILL');
  };
  if (fault === 'maxconns') return { target: address, stop };
  return {
    target: address,
    stop,
    during: async (p) => {
      await started(p);
      await untilCommands(address, TOTAL / 3);
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

const cases = [...FAULTS, 'kill', 'sigstop', 'restart', 'maxconns'].flatMap((fault) => MODES.map((mode) => ({ fault, mode })));

describe.concurrent('fault matrix', () => {
  it.each(cases)('$fault at $mode.name: bounded, counted, classified', async ({ fault, mode }) => {
    const setup = await setupFor(fault);
    let run;
    const t0 = Date.now();
    try {
      const p = spawnReplay([cap, '--target', setup.target, ...mode.args, ...QUIET, '--timeout', `${TIMEOUT_S * 1000}ms`, '--json', '--out', tmp.dir]);
      const done = collect(p);
      if (setup.during) await setup.during(p);
      run = await done;
    } finally {
      await setup.stop();
    }
    const wallS = (Date.now() - t0) / 1000;
    expect(run.results, `${run.code} ${run.stderr}`).not.toBeNull();
    const r = run.results!;
    const t = r.summary.total.counters;
    const runS = r.intervals.at(-1)!.endNs / 1e9;
    const boundS = mode.scheduleS + TIMEOUT_S + DRAIN_S;
    const errors = Object.fromEntries(Object.entries(t.errors).filter(([, v]) => v > 0)) as Partial<Record<ErrorClass, number>>;
    if (process.env.MCREPLAY_FAULT_DEBUG) console.log(fault, mode.name, JSON.stringify(r.intervals.map((iv) => [iv.total.counters.sent, iv.total.counters.completed, errorSum(iv.total.counters)])), run.stderr.slice(-300));
    rows.push({ fault, mode: mode.name, code: run.code, runS, boundS, sent: t.sent, completed: t.completed, errors, reconnects: r.config.options.reconnects as number });
    // bounded: the run clock, and the whole process with start-up
    expect(runS).toBeLessThan(boundS + SLACK_S);
    expect(wallS).toBeLessThan(boundS + SLACK_S + 15);
    // accounted: every request sent or counted unsent/held back, every sent one has one outcome
    expect(accounted(t)).toBe(r.config.options.shapedRequests);
    expect(t.sent).toBe(TOTAL);
    expect(t.completed + errorSum(t)).toBe(t.sent);
    expect(r.config.options.abandoned).toBe(0);
    // classified: the fault shows, in its classes only
    expect(errorSum(t)).toBeGreaterThan(0);
    for (const cls of Object.keys(errors)) expect(CLASSES[fault], `${fault}: ${cls}`).toContain(cls);
  });
});

