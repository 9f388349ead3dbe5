// Compare on real results: the same capture replayed twice against real memcached shows no
// regression; replayed against the same memcached behind a delaying TCP proxy, the regression is
// flagged (by `mcreplay compare` and by `mcreplay replay --baseline`). Needs the replay engine.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useMemcached } from '../helpers/memcached.js';
import { startDelayProxy, type DelayProxy } from '../helpers/delay-proxy.js';
import { LINKTYPE, TcpConv, pcapFile, type PcapRecord } from '../helpers/pcap-writer.js';
import { ensureBuilt } from './build.js';

const root = resolve(import.meta.dirname, '../..');
const replayReady = existsSync(join(root, 'src/replay/coordinator.ts')) || existsSync(join(root, 'src/replay/index.ts'));
// Big enough to stand out of the noise of a 2-core machine running other tests (load 9 was seen:
// loopback p50 went from 0.4 ms to 2.5 ms between two identical runs), with a 6 ms allowance.
const DELAY_MS = 15;
// This test is about comparison, not saturation: on a loaded 2-core CI machine the generator's
// start-up stall can push lag p99 of a 2 s capture over the 10 ms default, so the limits are relaxed.
const RELAXED = ['--max-lag', '200ms', '--max-stall', '2s'];
const tmp = mkdtempSync(join(tmpdir(), 'mcreplay-e2e-'));

/**
 * A capture of 4 connections, each doing set then get of its own keys every 10 ms for 2 s, with the
 * server's answers, as a raw-IP pcap (µs timestamps).
 */
function writeCapture(path: string): number {
  const recs: { t: number; data: Buffer }[] = [];
  let requests = 0;
  for (let c = 0; c < 4; c++) {
    const conv = new TcpConv('10.9.0.2', 40000 + c, '10.9.0.1', 11211, [1000 + c * 100000, 900000 + c * 100000]);
    let t = 1_000_000 + c * 2500; // µs
    for (const p of conv.handshake()) recs.push({ t: t++, data: p });
    for (let i = 0; i < 200; i++) {
      const key = `k${c}_${Math.floor(i / 2) % 50}`; // each get reads the key set just before: a hit
      const value = `v${i}`.padEnd(32, 'x');
      const isSet = i % 2 === 0;
      const req = isSet ? `set ${key} 0 0 ${value.length}\r\n${value}\r\n` : `get ${key}\r\n`;
      const resp = isSet ? 'STORED\r\n' : `VALUE ${key} 0 ${value.length}\r\n${value}\r\nEND\r\n`;
      t += 10_000;
      recs.push({ t, data: conv.send(0, Buffer.from(req)) });
      recs.push({ t: t + 80, data: conv.send(1, Buffer.from(resp)) });
      requests++;
    }
    t += 10_000;
    recs.push({ t, data: conv.fin(0) });
    recs.push({ t: t + 50, data: conv.fin(1) });
    recs.push({ t: t + 100, data: conv.packet(0, 'A') });
  }
  recs.sort((a, b) => a.t - b.t);
  const pcap: PcapRecord[] = recs.map((r) => ({ sec: Math.floor(r.t / 1e6), frac: r.t % 1e6, data: r.data }));
  writeFileSync(path, pcapFile({ linkType: LINKTYPE.RAW }, pcap));
  return requests;
}

interface Cli {
  code: number | null;
  out: string;
  err: string;
}

function cli(args: string[]): Promise<Cli> {
  return new Promise((resolveP) => {
    const p = spawn(process.execPath, [join(root, 'bin/mcreplay.js'), ...args], { cwd: tmp, env: { ...process.env, GITHUB_STEP_SUMMARY: '' } });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('close', (code) => resolveP({ code, out, err }));
  });
}

async function replayOnce(capture: string, target: string, extra: string[]): Promise<{ cli: Cli; results: string }> {
  const r = await cli(['replay', capture, '--target', target, '--out', join(tmp, 'reports'), '--no-progress', '--json', ...RELAXED, ...extra]);
  let results = '';
  try {
    results = (JSON.parse(r.out) as { results: string }).results;
  } catch {
    /* reported by the caller */
  }
  return { cli: r, results: results && !results.startsWith('/') ? join(tmp, results) : results };
}

/**
 * Replays once. A run the generator declared saturated (exit 4) is not retried: it is a finding
 * (the machine could not keep the schedule), and the test says so rather than hiding it.
 */
async function replay(capture: string, target: string, extra: string[] = []): Promise<{ cli: Cli; results: string }> {
  const r = await replayOnce(capture, target, extra);
  if (r.cli.code === 4) throw new Error(`the replay was saturated (exit 4), a finding, not retried: ${r.cli.err}`);
  return r;
}

describe.skipIf(!replayReady)('baseline comparison on real runs (memcached, delaying proxy)', () => {
  const mc = useMemcached();
  let proxy: DelayProxy;
  let capture: string;
  let runs = false;
  let why = '';

  beforeAll(async () => {
    await ensureBuilt(root);
    proxy = await startDelayProxy(mc.address, DELAY_MS);
    capture = join(tmp, 'gate-sample.pcap');
    writeCapture(capture);
    const probe = await replay(capture, mc.address);
    runs = (probe.cli.code === 0 || probe.cli.code === 4) && probe.results !== '' && existsSync(probe.results);
    why = `replay exited ${probe.cli.code}: ${probe.cli.err.slice(0, 800)} ${probe.cli.out.slice(0, 300)}`;
    if (!runs) console.warn(`SKIP (replay engine not working yet): ${why}`);
  }, 120_000);

  afterAll(async () => {
    await proxy?.stop();
  });

  it('same capture twice: no regression; behind the delaying proxy: regression flagged', async (ctx) => {
    if (!runs) ctx.skip();
    const rules = ['--max-regression', 'latency.p50=6ms', '--max-regression', 'latency{cmd=get}.p50=6ms'];
    const a = await replay(capture, mc.address);
    const b = await replay(capture, mc.address);
    expect(a.cli.code, a.cli.err).toBe(0);
    expect(b.cli.code, b.cli.err).toBe(0);
    const ra = JSON.parse(readFileSync(a.results, 'utf8'));
    expect(ra.summary.total.counters.sent).toBe(800); // every captured request replayed

    const same = await cli(['compare', a.results, b.results, ...rules]);
    expect(same.code, same.out + same.err).toBe(0);

    const before = proxy.delayedChunks();
    const slow = await replay(capture, proxy.address);
    expect(slow.cli.code, slow.cli.err).toBe(0);
    expect(proxy.delayedChunks() - before).toBeGreaterThan(0); // the traffic really went through the proxy
    const rs = JSON.parse(readFileSync(slow.results, 'utf8'));
    // the proxy adds DELAY_MS to every answer: the median response time shows it
    expect(rs.summary.total.response.p50).toBeGreaterThan(DELAY_MS * 1e6 * 0.9);

    const flagged = await cli(['compare', a.results, slow.results, ...rules, '--json']);
    expect(flagged.code, flagged.err).toBe(99);
    const j = JSON.parse(flagged.out);
    expect(j.regressions.map((r: { pass: boolean }) => r.pass)).toEqual([false, false]);
  }, 120_000);

  it('replay --baseline and --threshold gate the run itself', async (ctx) => {
    if (!runs) ctx.skip();
    const base = await replay(capture, mc.address);
    expect(base.cli.code, base.cli.err).toBe(0);
    const junit = join(tmp, 'gate.xml');
    const slow = await replay(capture, proxy.address, ['--baseline', base.results, '--max-regression', 'latency.p50=6ms', '--threshold', 'errors.count == 0', '--threshold', 'requests.sent >= 100% intended', '--junit', junit]);
    expect(slow.cli.code, slow.cli.err + slow.cli.out).toBe(99);
    const xml = readFileSync(junit, 'utf8');
    expect(xml).toContain('latency.p50=6ms');
    expect(xml).toMatch(/<testcase name="errors.count == 0"[^>]*>\s*<system-out>/); // passed: no failure element
    const ok = await replay(capture, mc.address, ['--threshold', 'errors.count == 0', '--threshold', 'latency.p50 < 50ms', '--threshold', 'unsent.count == 0']);
    expect(ok.cli.code, ok.cli.err + ok.cli.out).toBe(0);
    const bad = await replay(capture, mc.address, ['--threshold', 'latncy.p50 < 3ms']);
    expect(bad.cli.code).toBe(2);
    expect(bad.cli.err).toMatch(/unknown metric 'latncy'/);
  }, 120_000);
});

it.skipIf(replayReady)('baseline comparison on real runs: SKIPPED until src/replay exists', () => {
  console.warn('SKIP: src/replay is not there yet; the real-run comparison test needs the replay engine');
});
