// `diff` on real servers prepared with known differences, and a capture tcpdump recorded of a real
// client (pymemcache) reading them: the counts must be exact, identical setups must give zero.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { startMemcached, type Memcached } from '../helpers/memcached.js';
import { haveTcpdump, record } from '../helpers/tcpdump.js';
import { tempDir } from '../replay/helpers.js';
import type { DiffResult } from '../../src/migrate/diff.js';
import { fetchStats } from '../../src/metrics/stats-poller.js';
import { waitFor } from '../helpers/wait.js';

const ROOT = join(import.meta.dirname, '..', '..');
const CLI = join(ROOT, 'bin', 'mcreplay.js');
const havePymemcache = existsSync('/usr/lib/python3/dist-packages/pymemcache/__init__.py');
const tmp = tempDir();

/** Sends text commands (noreply where they allow it) and waits for the closing `version` answer. */
async function send(mc: Memcached, commands: string[]): Promise<void> {
  const s = connect({ host: mc.host, port: mc.port });
  await new Promise<void>((res, rej) => s.once('connect', res).once('error', rej));
  let got = '';
  const done = new Promise<void>((res) => s.on('data', (d) => ((got += d.toString('latin1')), got.includes('VERSION') && res())));
  s.write(commands.join('') + 'version\r\n');
  await done;
  s.destroy();
  expect(got.replace(/VERSION [^\r]*\r\n/, '')).toBe('');
}

const set = (k: string, v: string, flags: number): string => `set ${k} ${flags} 0 ${Buffer.byteLength(v)} noreply\r\n${v}\r\n`;
const value = (i: number): string => `value-${i}-${'x'.repeat(i % 37)}`;

// The client: pymemcache reads every key singly, one multi-get of k0..k49, reads x0..x4 (absent on
// the primary), then sets w0..w4 and reads them back. It logs each read request's keys.
const CLIENT = `
import json, sys
from pymemcache.client.base import Client
c = Client(('127.0.0.1', int(sys.argv[1])))
log = []
for i in range(200):
    c.get('k%d' % i); log.append(['k%d' % i])
keys = ['k%d' % i for i in range(50)]
c.get_many(keys); log.append(keys)
for i in range(5):
    c.get('x%d' % i); log.append(['x%d' % i])
for i in range(5):
    c.set('w%d' % i, b'written-%d' % i)
for i in range(5):
    c.get('w%d' % i); log.append(['w%d' % i])
c.close()
print(json.dumps(log))
`;

describe.skipIf(!haveTcpdump || !havePymemcache)('diff', () => {
  let primary: Memcached;
  let candidate: Memcached;
  let secondary: Memcached;
  let capture: string;
  let log: string[][];

  beforeAll(async () => {
    [primary, candidate, secondary] = await Promise.all([startMemcached(), startMemcached(), startMemcached()]);
    const base = Array.from({ length: 200 }, (_, i) => set(`k${i}`, value(i), i % 7));
    await Promise.all([send(primary, base), send(candidate, base), send(secondary, base)]);
    // the candidate: 10 keys missing, 7 other values, 4 other flags, 5 keys the primary lacks
    await send(candidate, [
      ...Array.from({ length: 10 }, (_, i) => `delete k${i} noreply\r\n`),
      ...Array.from({ length: 7 }, (_, i) => set(`k${10 + i}`, `changed-${i}`, (10 + i) % 7)),
      ...Array.from({ length: 4 }, (_, i) => set(`k${17 + i}`, value(17 + i), ((17 + i) % 7) + 100)),
      ...Array.from({ length: 5 }, (_, i) => set(`x${i}`, `extra-${i}`, 0)),
    ]);
    // the secondary shares three of the candidate's missing keys: noise, not a difference
    await send(secondary, [`delete k0 noreply\r\n`, `delete k1 noreply\r\n`, `delete k2 noreply\r\n`]);
    capture = join(tmp.dir, 'reads.pcap');
    const rec = await record(capture, `tcp port ${primary.port}`);
    log = JSON.parse(execFileSync('/usr/bin/python3', ['-c', CLIENT, String(primary.port)]).toString());
    await rec.stop();
    // the copies of the written keys exist only where the client wrote: the primary
  }, 120_000);

  afterAll(async () => {
    await Promise.all([primary?.stop(), candidate?.stop(), secondary?.stop()]);
    tmp.cleanup();
  });

  const diff = (...a: string[]) => spawnSync(process.execPath, [CLI, 'diff', capture, '--port', String(primary.port), ...a, '--json'], { encoding: 'utf8' });
  const result = (r: ReturnType<typeof diff>): DiffResult => {
    expect(r.stderr).not.toMatch(/internal error/);
    return JSON.parse(r.stdout) as DiffResult;
  };
  // requests whose keys include one of `keys`, from the client's own log
  const touching = (keys: Set<string>): number => log.filter((ks) => ks.some((k) => keys.has(k))).length;

  it('counts every known difference exactly, by kind, per key and per request', () => {
    const r = diff('--primary', primary.address, '--candidate', candidate.address, '--show-keys');
    expect(r.status).toBe(99);
    const d = result(r);
    expect(d.schema).toBe('mcreplay.diff/1');
    expect(d.requests.compared).toBe(log.length);
    expect(d.keyReads.compared).toBe(log.flat().length);
    const missing = [...Array.from({ length: 10 }, (_, i) => `k${i}`), ...Array.from({ length: 5 }, (_, i) => `w${i}`)];
    const changed = Array.from({ length: 11 }, (_, i) => `k${10 + i}`);
    const extra = Array.from({ length: 5 }, (_, i) => `x${i}`);
    expect(d.byKind).toEqual({ missing: 15, extra: 5, value: 7, flags: 4 });
    expect(d.keys.different).toBe(31);
    expect(d.keys.compared).toBe(new Set(log.flat()).size);
    expect(d.requests.different).toBe(touching(new Set([...missing, ...changed, ...extra])));
    expect(d.requests.skipped.writes).toBe(5);
    expect(d.examples.extra.every((k) => k.startsWith('x'))).toBe(true);
    expect(d.examples.value.length).toBe(5);
  });

  it('finds nothing between identical setups (exit 0)', () => {
    // the secondary differs on k0..k2 and on the w keys only the primary holds: compare it with itself instead
    const r = diff('--primary', candidate.address, '--candidate', candidate.address);
    expect(r.status).toBe(0);
    const d = result(r);
    expect(d.requests.different).toBe(0);
    expect(d.byKind).toEqual({ missing: 0, extra: 0, value: 0, flags: 0 });
    expect(d.requests.compared).toBe(log.length);
  });

  it('a secondary copy of the primary turns differences it shares into noise', () => {
    const d = result(diff('--primary', primary.address, '--candidate', candidate.address, '--secondary', secondary.address));
    // k0..k2 and the w keys are missing on the secondary too
    expect(d.byKind).toEqual({ missing: 7, extra: 5, value: 7, flags: 4 });
    expect(d.noise).toEqual({ missing: 8, extra: 0, value: 0, flags: 0 });
    expect(d.noiseFloor!.keyReads).toBe(log.flat().filter((k) => ['k0', 'k1', 'k2', 'w0', 'w1', 'w2', 'w3', 'w4'].includes(k)).length);
  });

  it('--max-diff lets a share through; the human output names the verdict and never prints values', () => {
    const r = spawnSync(process.execPath, [CLI, 'diff', capture, '--port', String(primary.port), '--primary', primary.address, '--candidate', candidate.address, '--max-diff', '50%'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/verdict: PASS/);
    expect(r.stdout).toMatch(/missing\s+15/);
    expect(r.stdout).not.toMatch(/value-|changed-|extra-/);
    expect(r.stdout).not.toMatch(/"k1/);
  });

  it('--with-writes sends the captured sets to every setup before the reads that follow them; refuses a captured server unless allowed', () => {
    let r = diff('--primary', primary.address, '--candidate', candidate.address, '--with-writes');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/captured servers/);
    r = diff('--primary', primary.address, '--candidate', candidate.address, '--with-writes', '--allow-source-target');
    const d = result(r);
    expect(d.writes).toEqual({ sent: 5, errors: 0 });
    expect(d.byKind).toEqual({ missing: 10, extra: 5, value: 7, flags: 4 });
  });

  /** Starts a paced diff, stops it with `sig` once the primary has served `gets` key reads; its exit code, output, and each server's key reads. */
  async function interrupted(sig: 'SIGINT' | 'SIGTERM', gets: number, ...a: string[]): Promise<{ code: number | null; stdout: string; stderr: string; primaryGets: number; candidateGets: number }> {
    const cmdGet = async (mc: Memcached): Promise<number> => (await fetchStats(mc.address)).cmd_get ?? 0;
    const [p0, c0] = await Promise.all([cmdGet(primary), cmdGet(candidate)]);
    // 40 reads a second: the capture's 211 read requests would take about 5 s
    const p = spawn(process.execPath, [CLI, 'diff', capture, '--port', String(primary.port), '--primary', primary.address, '--candidate', candidate.address, '--rate', '40/s', ...a], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((res) => p.once('exit', (c) => res(c)));
    try {
      await waitFor(`${gets} key reads on the primary`, async () => (await cmdGet(primary)) - p0 >= gets, 20_000, 20);
    } catch (e) {
      p.kill('SIGKILL');
      throw e;
    }
    p.kill(sig);
    const code = await exited;
    const [p1, c1] = await Promise.all([cmdGet(primary), cmdGet(candidate)]);
    return { code, stdout, stderr, primaryGets: p1 - p0, candidateGets: c1 - c0 };
  }

  it('Ctrl-C mid-run: exit 130 and the JSON summary of what was compared, which adds up to what the servers answered', async () => {
    const r = await interrupted('SIGINT', 20, '--json');
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toMatch(/SIGINT: stopping/);
    const d = JSON.parse(r.stdout) as DiffResult;
    expect(d.interrupted).toBe(true);
    const q = d.requests;
    expect(q.compared).toBeGreaterThanOrEqual(20);
    expect(q.compared).toBeLessThan(log.length); // it did stop early
    expect(q.errors).toBe(0);
    // the capture is one chunk: every read request in it was compared or counted as interrupted
    expect(q.compared + q.skipped.interrupted).toBe(log.length);
    expect(q.skipped.writes).toBe(5);
    // read in capture order: the compared requests are the first ones of the client's log
    expect(d.keyReads.compared).toBe(log.slice(0, q.compared).flat().length);
    // each compared key read was asked of both servers once, and nothing else was
    expect(r.primaryGets).toBe(d.keyReads.compared);
    expect(r.candidateGets).toBe(d.keyReads.compared);
    expect(Object.values(d.perCommand).reduce((n, c) => n + c.compared, 0)).toBe(q.compared);
    expect(d.share).toBeCloseTo(q.different / q.compared, 12);
  });

  it('SIGTERM mid-run: exit 143 and the human summary says it was interrupted', async () => {
    const r = await interrupted('SIGTERM', 20);
    expect(r.code, r.stderr).toBe(143);
    expect(r.stdout).toMatch(/^read requests compared: \d+/m);
    expect(r.stdout).toMatch(/not compared: .*\d+ requests read but not sent before the stop \(interrupted\)/);
    expect(r.stdout).toMatch(/^interrupted: /m);
    expect(r.stdout).toMatch(/^verdict: /m);
    const compared = Number(/^read requests compared: (\d+)/m.exec(r.stdout)![1]);
    expect(r.primaryGets).toBe(log.slice(0, compared).flat().length);
  });

  it('a setup that cannot be reached is exit 3, with its name', () => {
    const r = diff('--primary', primary.address, '--candidate', '127.0.0.1:1');
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/candidate: 127\.0\.0\.1:1: connection refused/);
  });
});
