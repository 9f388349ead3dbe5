// Behaviour under faults: unreachable targets, a target killed, stopped or restarted mid-run,
// Ctrl-C, and malformed replies that a real memcached never sends (from a scripted raw server).
// Every run must end with a complete, accounted result.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, memcachedBinary, startMemcached } from '../helpers/memcached.js';
import { startDelayProxy } from '../helpers/delay-proxy.js';
import { startFaultProxy } from '../helpers/fault-proxy.js';
import { QUIET, accounted, collect, defaultChecksCode, errorSum, replay, servedGets, spawnReplay, startScriptServer, started, steadyGets, tempDir, waitVersion, writeCapture, type Step } from './helpers.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
// The faults' own lengths (an outage, a stall): chosen durations, not waits for something. Every
// wait for the run itself is on what can be observed (the target's cmd_get counter).
const outage = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A memcached on a fixed port (so it can be restarted on the same address). */
function memcachedOn(port: number) {
  const args = ['-l', '127.0.0.1', '-p', String(port), '-U', '0', '-t', '1', '-m', '16'];
  if (process.getuid?.() === 0) args.push('-u', 'root');
  return spawn(memcachedBinary(), args, { stdio: 'ignore' });
}

describe('faults', () => {
  it('an unreachable target: clear message, exit 3, nothing sent, no results', async () => {
    const cap = writeCapture(tmp.dir, 'unreach.pcap', steadyGets(1, 0.1, 10));
    const port = await freePort();
    const run = await replay([cap, '--target', `127.0.0.1:${port}`, ...QUIET], tmp.dir);
    expect(run.code).toBe(3);
    expect(run.stderr).toMatch(/unreachable.*127\.0\.0\.1:\d+.*refused/);
    expect(run.stdout).toBe('');
  });

  it('a target killed mid-run: errors by class, the run ends with a complete result', async () => {
    const mc = await startMemcached();
    const cap = writeCapture(tmp.dir, 'kill.pcap', steadyGets(2, 2, 10));
    const p = spawnReplay([cap, '--target', mc.address, ...QUIET, '--timeout', '500ms', '--json', '--out', tmp.dir]);
    const done = collect(p);
    await started(p);
    await servedGets(mc.address, 20);
    mc.proc.kill('SIGKILL');
    const run = await done;
    // the requests the dead target refused fail the default checks (README "Default checks")
    expect(run.code).toBe(99);
    expect(run.results!.verdict.checks.filter((c) => !c.pass).map((c) => c.origin)).toContain('default');
    const t = run.results!.summary.total.counters;
    expect(t.completed).toBeGreaterThan(10);
    expect(t.errors.refused + t.errors.reset).toBeGreaterThan(10);
    expect(t.completed + errorSum(t)).toBe(t.sent);
    expect(accounted(t)).toBe(run.results!.config.options.shapedRequests);
    expect(t.sent).toBe(run.results!.capture.requests);
  });

  it('a target restarted mid-run: connections come back and requests succeed again', async () => {
    const port = await freePort();
    let proc = memcachedOn(port);
    await waitVersion(port);
    const cap = writeCapture(tmp.dir, 'restart.pcap', steadyGets(2, 3, 10));
    const p = spawnReplay([cap, '--target', `127.0.0.1:${port}`, ...QUIET, '--timeout', '500ms', '--json', '--out', tmp.dir]);
    const done = collect(p);
    await started(p);
    await servedGets(`127.0.0.1:${port}`, 20);
    proc.kill('SIGKILL');
    await outage(500);
    proc = memcachedOn(port);
    const run = await done;
    proc.kill('SIGKILL');
    expect(run.code).toBe(defaultChecksCode(run.results!.summary.total.counters));
    const r = run.results!;
    const t = r.summary.total.counters;
    expect(errorSum(t)).toBeGreaterThan(0);
    expect(t.completed + errorSum(t)).toBe(t.sent);
    // the last full interval is healthy again
    const last = r.intervals.filter((iv) => iv.total.counters.sent > 0).at(-1)!;
    expect(last.total.counters.completed).toBeGreaterThan(0);
    expect(errorSum(last.total.counters)).toBe(0);
    expect(r.config.options.reconnects).toBeGreaterThan(0);
  });

  it('--rate max: a target restarted within the timeout is redialled, the queued requests go out once it is back', async () => {
    const port = await freePort();
    let proc = memcachedOn(port);
    await waitVersion(port);
    // 10 ms per answer keeps a closed-loop run going for about 3 s (300 requests per connection)
    const proxy = await startDelayProxy(`127.0.0.1:${port}`, 10);
    try {
      const cap = writeCapture(tmp.dir, 'max-restart.pcap', steadyGets(2, 3, 10));
      // the proxy accepts and drops connections while memcached is down (reset, not refused): the
      // queued requests wait for the redial as long as the outage is shorter than the timeout
      const p = spawnReplay([cap, '--target', proxy.address, '--rate', 'max', ...QUIET, '--timeout', '3s', '--json', '--out', tmp.dir]);
      const done = collect(p);
      await started(p);
      await servedGets(`127.0.0.1:${port}`, 40);
      proc.kill('SIGKILL');
      await outage(400);
      proc = memcachedOn(port);
      const run = await done;
      expect(run.code, run.stderr).toBe(defaultChecksCode(run.results!.summary.total.counters));
      const r = run.results!;
      const t = r.summary.total.counters;
      // the head requests of the connection attempts made while it was down failed; nothing else
      expect(errorSum(t)).toBeGreaterThan(0);
      expect(errorSum(t)).toBeLessThan(t.sent / 4);
      expect(t.completed + errorSum(t)).toBe(t.sent);
      expect(t.sent).toBe(r.capture.requests);
      expect(accounted(t)).toBe(r.config.options.shapedRequests);
      expect(r.config.options.reconnects).toBeGreaterThan(0);
      const last = r.intervals.filter((iv) => iv.total.counters.sent > 0).at(-1)!;
      expect(last.total.counters.completed).toBeGreaterThan(0);
      expect(errorSum(last.total.counters)).toBe(0);
    } finally {
      proc.kill('SIGKILL');
      await proxy.stop();
    }
  });

  it('a target that stops answering under cas chains: the run ends within its schedule + the timeout + the drain', async () => {
    // every cas waits for the answer to the gets before it (it needs the replayed token): against a
    // target that reads but never answers, each one used to cost a timeout of its own
    const mc = await startMemcached();
    const proxy = await startFaultProxy(mc.address, 'blackhole', { afterBytes: 2000 });
    try {
      const convs = [0, 1].map((c) => {
        const steps: Step[] = [];
        for (let i = 0, t = c * 0.3; t < 2000; i++, t += 10) {
          steps.push({ t, dir: 0, data: `gets k${c}-${i}\r\n` });
          steps.push({ t: t + 0.1, dir: 1, data: `VALUE k${c}-${i} 0 1 ${i + 1}\r\nx\r\nEND\r\n` });
          steps.push({ t: t + 0.2, dir: 0, data: `cas k${c}-${i} 0 0 1 ${i + 1}\r\ny\r\n` });
          steps.push({ t: t + 0.3, dir: 1, data: 'STORED\r\n' });
        }
        return { cport: 44000 + c, steps };
      });
      const cap = writeCapture(tmp.dir, 'cas-blackhole.pcap', convs);
      const run = await replay([cap, '--target', proxy.address, '--rate', '2x', ...QUIET, '--timeout', '500ms'], tmp.dir);
      // the timeouts fail the default error-rate check: exit 99, as for any run whose target stops answering
      expect(run.code, run.stderr).toBe(defaultChecksCode(run.results!.summary.total.counters));
      const r = run.results!;
      const t = r.summary.total.counters;
      expect(proxy.triggered()).toBe(true);
      // schedule 1 s at 2x, timeout 0.5 s, drain 1 s (README "Faults"), 0.5 s for checks and interval ends
      expect(r.intervals.at(-1)!.endNs / 1e9).toBeLessThan(1 + 0.5 + 1 + 0.5);
      expect(t.sent).toBe(r.capture.requests);
      expect(t.completed + errorSum(t)).toBe(t.sent);
      expect(accounted(t)).toBe(r.config.options.shapedRequests);
      expect(t.errors.timeout).toBeGreaterThan(0);
      expect(errorSum(t)).toBe(t.errors.timeout);
    } finally {
      await proxy.stop();
      await mc.stop();
    }
  });

  it('a stalled target (SIGSTOP): requests time out, the run recovers after SIGCONT', async () => {
    const mc = await startMemcached();
    const cap = writeCapture(tmp.dir, 'stall.pcap', steadyGets(1, 3, 20));
    const p = spawnReplay([cap, '--target', mc.address, ...QUIET, '--timeout', '300ms', '--json', '--out', tmp.dir]);
    const done = collect(p);
    await started(p);
    await servedGets(mc.address, 20);
    mc.proc.kill('SIGSTOP');
    await outage(800);
    mc.proc.kill('SIGCONT');
    const run = await done;
    await mc.stop();
    // the timeouts of the stall fail the default checks
    expect(run.code).toBe(defaultChecksCode(run.results!.summary.total.counters));
    const t = run.results!.summary.total.counters;
    expect(t.errors.timeout).toBeGreaterThan(0);
    expect(t.completed).toBeGreaterThan(50);
    expect(t.completed + errorSum(t)).toBe(t.sent);
    // timed-out requests are in the response-time histogram at their scheduled latency
    expect(run.results!.summary.total.response.max).toBeGreaterThan(300e6);
  });

  it('SIGINT: the workers stop, the partial result is written, exit 130', async () => {
    const mc = await startMemcached();
    const cap = writeCapture(tmp.dir, 'sigint.pcap', steadyGets(2, 20, 20));
    const p = spawnReplay([cap, '--target', mc.address, ...QUIET, '--json', '--out', tmp.dir]);
    const done = collect(p);
    await started(p);
    await servedGets(mc.address, 20);
    p.kill('SIGINT');
    const run = await done;
    await mc.stop();
    expect(run.code).toBe(130);
    const r = run.results!;
    expect(existsSync(run.json!.results as string)).toBe(true);
    expect(r.verdict.status).toBe('interrupted');
    const t = r.summary.total.counters;
    expect(t.completed).toBeGreaterThan(10);
    expect(t.sent).toBeLessThan(r.capture.requests);
    expect(t.unsent).toBeGreaterThan(0);
    expect(accounted(t)).toBe(r.config.options.shapedRequests);
    // reading stopped at the interrupt: the identity covers what was read, and the result says so
    expect(r.config.options.unsentScope).toBe('read');
    expect(r.config.options.captureFullyRead).toBe(false);
  });

  it('malformed and error replies from a scripted server are counted by class', async () => {
    const answers: Record<string, string> = {
      a: 'SERVER_ERROR out of memory\r\n',
      b: 'CLIENT_ERROR bad data chunk\r\n',
      c: 'ERROR\r\n',
      d: 'VALUE d 0 1\r\nx\r\nEND\r\n',
      e: 'THIS IS NOT MEMCACHED\r\n',
      f: 'END\r\n',
    };
    const srv = await startScriptServer((line) => answers[line.split(' ')[1]!] ?? 'END\r\n');
    const steps = Object.keys(answers).flatMap((k, i) => [
      { t: i * 5, dir: 0 as const, data: `get ${k}\r\n` },
      { t: i * 5 + 0.1, dir: 1 as const, data: 'END\r\n' },
    ]);
    const cap = writeCapture(tmp.dir, 'malformed.pcap', [{ cport: 43001, steps }]);
    const run = await replay([cap, '--target', srv.address, ...QUIET, '--timeout', '500ms'], tmp.dir);
    await srv.stop();
    // a desync is the target's failure (and no answer): 1 of 6 fails the default checks; the error
    // answers (SERVER_ERROR, CLIENT_ERROR, ERROR) do not
    expect(run.code).toBe(99);
    expect(run.results!.verdict.checks.filter((c) => !c.pass).map((c) => c.check)).toEqual(['errors{class=timeout|reset|refused|desync}.rate < 1%', 'requests.answered >= 99% sent']);
    const t = run.results!.summary.total.counters;
    expect(t.errors.server_error).toBe(1);
    expect(t.errors.client_error).toBe(1);
    expect(t.errors.error).toBe(1);
    expect(t.errors.desync).toBeGreaterThanOrEqual(1);
    expect(t.hits).toBe(1);
    expect(t.sent).toBe(6);
    // after the desync the connection was re-established: every request reached the server
    expect(srv.arrivals.map((a) => a.line)).toEqual(['get a', 'get b', 'get c', 'get d', 'get e', 'get f']);
    expect(t.completed + errorSum(t)).toBe(t.sent);
  });
});

describe('timing', () => {
  it('2x halves the duration of the schedule, as seen by the target', async () => {
    const srv = await startScriptServer(() => 'END\r\n');
    const cap = writeCapture(tmp.dir, 'timing.pcap', steadyGets(2, 2, 20));
    const span = async (rate: string): Promise<number> => {
      srv.arrivals.length = 0;
      const run = await replay([cap, '--target', srv.address, '--rate', rate, ...QUIET], tmp.dir);
      expect(run.code).toBe(0);
      expect(srv.arrivals.length).toBe(run.results!.capture.requests);
      return srv.arrivals.at(-1)!.t - srv.arrivals[0]!.t;
    };
    const s1 = await span('1x');
    const s2 = await span('2x');
    await srv.stop();
    expect(s1).toBeGreaterThan(1800);
    expect(s1).toBeLessThan(2400);
    expect(s2 / s1).toBeGreaterThan(0.4);
    expect(s2 / s1).toBeLessThan(0.6);
  });
});
