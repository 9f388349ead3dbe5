// With --warmup, requests in flight when the warm-up ends are sent in a warm-up interval and
// answered in a summarised one. The summary must still add up (sent = completed + errors +
// abandoned), as the whole run does: it once said "11,091 sent, 11,092 answered". A delaying proxy
// in front of a real memcached keeps requests in flight across the boundary.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useMemcached } from '../helpers/memcached.js';
import { startDelayProxy, type DelayProxy } from '../helpers/delay-proxy.js';
import { ERROR_CLASSES, type Counters, type ResultsFile } from '../../src/metrics/results-types.js';

const root = join(import.meta.dirname, '..', '..');
const mc = useMemcached({ memoryMb: 128 });
let proxy: DelayProxy;
const out = mkdtempSync(join(tmpdir(), 'mcreplay-warmup-'));

beforeAll(async () => {
  proxy = await startDelayProxy(mc.address, 2);
});
afterAll(async () => {
  await proxy.stop();
  rmSync(out, { recursive: true, force: true });
});

const done = (c: Counters): number => c.completed + ERROR_CLASSES.reduce((n, k) => n + c.errors[k], 0);

describe('--warmup', () => {
  it('counts requests in flight at the end of the warm-up as sent in the summary', async () => {
    const args = [join(root, 'bin', 'mcreplay.js'), 'replay', join(root, 'captures', 'sample.pcap'), '--target', proxy.address, '--warmup', '1s', '--duration', '3s', '--no-html', '--no-progress', '--out', out, '--json'];
    const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const p = spawn('node', args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      p.on('close', (code) => resolve({ code, stdout, stderr }));
    });
    // a busy machine may saturate or fail no check: the counts must add up either way
    expect([0, 4], r.stderr).toContain(r.code);
    const j = JSON.parse(r.stdout) as { results: string; abandoned: number };
    const res = JSON.parse(readFileSync(j.results, 'utf8')) as ResultsFile;
    const warm = res.intervals.filter((iv) => iv.warmup);
    expect(warm.length).toBe(1);
    // the truth: over all intervals, every request sent was answered, failed or abandoned
    const all = res.intervals.reduce((a, iv) => ({ sent: a.sent + iv.total.counters.sent, done: a.done + done(iv.total.counters) }), { sent: 0, done: 0 });
    expect(all.sent).toBe(all.done + j.abandoned);
    // in flight at the boundary: sent in the warm-up, answered after it
    const inFlight = warm[0]!.total.counters.sent - done(warm[0]!.total.counters);
    const s = res.summary.total.counters;
    expect(s.sent).toBe(done(s) + j.abandoned);
    expect(s.sent).toBe(all.sent - warm[0]!.total.counters.sent + inFlight);
    for (const [cmd, c] of Object.entries(res.summary.perCommand)) expect(c.counters.sent, cmd).toBeGreaterThanOrEqual(done(c.counters));
  }, 120_000);
});
