// mcreplay merge on real shard runs: refusals (another capture, a missing shard, a shard twice),
// --force, a shard whose t0 is 300 ms after the others' (its intervals go to the merged interval
// containing their start), a shard that started after --start-at (it says so and keeps the common
// t0), and thresholds and --baseline applied to the merged run.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMemcached, type Memcached } from '../helpers/memcached.js';
import { mcreplay, resultsIn, root, secondsAhead, type Ran } from './helpers.js';

const MANY = join(root, 'captures', 'fixtures', 'pymemcache-50conns.pcap');
const OTHER = join(root, 'captures', 'fixtures', 'memaslap-64conns.pcap');

let server: Memcached;
let work = '';

function shard(capture: string, spec: string, out: string, startAt: string): Promise<Ran> {
  return mcreplay(['replay', capture, '--target', server.address, '--shard', spec, '--start-at', startAt, '--out', join(work, out), '--no-html', '--no-progress', '--json'], 90_000);
}
const path = (out: string): string => resultsIn(join(work, out)).path;

beforeAll(async () => {
  server = await startMemcached({ memoryMb: 64 });
  work = mkdtempSync(join(tmpdir(), 'mcreplay-merge-'));
  const t = Date.now() + 8000;
  const at = (ms: number): string => new Date(t + ms).toISOString();
  // shards 1 and 2 of 2 on a common t0; shard 2 again with its t0 300 ms later; shard 2 of another capture
  const runs = await Promise.all([
    shard(MANY, '1/2', 's1', at(0)),
    shard(MANY, '2/2', 's2', at(0)),
    shard(MANY, '2/2', 's2-late', at(300)),
    shard(OTHER, '2/2', 'other', at(0)),
  ]);
  for (const r of runs) expect([0, 4], r.stderr).toContain(r.code);
}, 180_000);

afterAll(async () => {
  await server.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('merge refuses shards that are not one run', () => {
  it('another capture (exit 2, names the file and the hashes)', async () => {
    const r = await mcreplay(['merge', path('s1'), path('other'), '--out', join(work, 'm-other')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${path('other')} replayed another capture (sha256`);
  });
  it('a missing shard', async () => {
    const r = await mcreplay(['merge', path('s1'), '--out', join(work, 'm-missing')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/missing shard 2\/2/);
  });
  it('a shard given twice', async () => {
    const r = await mcreplay(['merge', path('s1'), path('s2'), path('s2-late'), '--out', join(work, 'm-dup')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/shard 2\/2 is given twice/);
  });
  it('--force merges anyway and records why', async () => {
    const r = await mcreplay(['merge', path('s1'), '--force', '--no-html', '--out', join(work, 'm-force')]);
    expect([0, 4, 99]).toContain(r.code);
    expect(r.stderr).toMatch(/warning: --force: missing shard 2\/2/);
    const m = resultsIn(join(work, 'm-force')).results;
    expect(m.config.options.warnings as string[]).toContain('merged with --force: missing shard 2/2');
  });
});

describe('merge of shards on a common t0, and of a shard 300 ms late', () => {
  it('common t0: the merged intervals are the shards\' intervals added index by index', async () => {
    const r = await mcreplay(['merge', path('s1'), path('s2'), '--no-html', '--out', join(work, 'm'), '--json']);
    expect([0, 4], r.stderr).toContain(r.code);
    const m = resultsIn(join(work, 'm')).results;
    const a = resultsIn(join(work, 's1')).results;
    const b = resultsIn(join(work, 's2')).results;
    expect(m.summary.total.counters.sent).toBe(a.summary.total.counters.sent + b.summary.total.counters.sent);
    expect(m.summary.total.counters.sent).toBe(1500);
    expect(m.run.t0!.epochNs).toBe(a.run.t0!.epochNs);
    for (const iv of m.intervals) {
      const n = [a, b].flatMap((s) => s.intervals.filter((x) => x.index === iv.index)).reduce((k, x) => k + x.total.counters.sent, 0);
      expect(iv.total.counters.sent, `interval ${iv.index}`).toBe(n);
    }
    // the capture's own figures once, not twice
    expect(m.capture.requests).toBe(1500);
    expect(m.capture.connections).toBe(50);
    // what each shard rehearsed before its t0: requests summed, kinds the most of either
    type Rehearsal = { kinds: number; requests: number; answered: number };
    const ra = a.config.options.rehearsal as Rehearsal;
    const rb = b.config.options.rehearsal as Rehearsal;
    expect(m.config.options.rehearsal).toEqual({ kinds: Math.max(ra.kinds, rb.kinds), requests: ra.requests + rb.requests, answered: ra.answered + rb.answered });
    expect(ra.requests).toBeGreaterThan(0);
  });

  it('a shard whose t0 is 300 ms later: each of its intervals lands in the merged interval containing its start', async () => {
    const r = await mcreplay(['merge', path('s1'), path('s2-late'), '--no-html', '--out', join(work, 'm-late')]);
    expect([0, 4], r.stderr).toContain(r.code);
    const m = resultsIn(join(work, 'm-late')).results;
    const a = resultsIn(join(work, 's1')).results;
    const late = resultsIn(join(work, 's2-late')).results;
    const shiftNs = Number(BigInt(late.run.t0!.epochNs) - BigInt(a.run.t0!.epochNs));
    expect(shiftNs).toBe(300e6);
    expect(m.run.t0!.epochNs).toBe(a.run.t0!.epochNs);
    const want = new Map<number, number>();
    for (const iv of a.intervals) want.set(iv.index, (want.get(iv.index) ?? 0) + iv.total.counters.sent);
    for (const iv of late.intervals) {
      const k = Math.floor((shiftNs + iv.startNs) / m.intervalNs);
      want.set(k, (want.get(k) ?? 0) + iv.total.counters.sent);
    }
    expect(new Map(m.intervals.map((iv) => [iv.index, iv.total.counters.sent]))).toEqual(want);
    expect(m.summary.total.counters.sent).toBe(1500);
  });

  it('a shard 1.3 s later moves one merged interval on (the same file with its t0 moved)', async () => {
    const late = resultsIn(join(work, 's2')).results;
    late.run.t0 = { ...late.run.t0!, epochNs: (BigInt(late.run.t0!.epochNs) + 1_300_000_000n).toString() };
    const moved = join(work, 's2-moved.json');
    writeFileSync(moved, JSON.stringify(late));
    const r = await mcreplay(['merge', path('s1'), moved, '--no-html', '--out', join(work, 'm-moved')]);
    expect([0, 4], r.stderr).toContain(r.code);
    const m = resultsIn(join(work, 'm-moved')).results;
    const a = resultsIn(join(work, 's1')).results;
    const want = new Map<number, number>();
    for (const iv of a.intervals) want.set(iv.index, (want.get(iv.index) ?? 0) + iv.total.counters.sent);
    for (const iv of late.intervals) want.set(iv.index + 1, (want.get(iv.index + 1) ?? 0) + iv.total.counters.sent);
    expect(new Map(m.intervals.map((iv) => [iv.index, iv.total.counters.sent]))).toEqual(want);
    expect(Math.max(...m.intervals.map((iv) => iv.index))).toBeGreaterThanOrEqual(1);
  });

  it('thresholds and a baseline are applied to the merged run', async () => {
    const r = await mcreplay(['merge', path('s1'), path('s2'), '--no-html', '--out', join(work, 'm-gate'), '--threshold', 'latency.p99 < 1ns', '--junit', join(work, 'j.xml')]);
    const m = resultsIn(join(work, 'm-gate')).results;
    // a p99 under 1 ns cannot hold: the gate fails (unless the run was saturated, which is exit 4)
    expect(r.code).toBe(m.verdict.saturated ? 4 : 99);
    expect(m.verdict.checks.find((c) => c.check === 'latency.p99 < 1ns')!.pass).toBe(false);

    // baselines made from the merged run with its p99 moved: the merged p99 (not a shard's) is what
    // --max-regression compares, so 50% above the baseline fails and 5% above passes a 10% rule
    const p99 = m.summary.total.response.p99;
    expect(p99).toBeGreaterThan(0);
    const baseline = (name: string, factor: number): string => {
      const b = structuredClone(m);
      b.summary.total.response.p99 = Math.round(p99 / factor);
      const file = join(work, name);
      writeFileSync(file, JSON.stringify(b));
      return file;
    };
    const gated = async (base: string, out: string): Promise<{ code: number | null; reasons: string[]; saturated: boolean }> => {
      const g = await mcreplay(['merge', path('s1'), path('s2'), '--no-html', '--out', join(work, out), '--baseline', base, '--max-regression', 'latency.p99=10%']);
      const res = resultsIn(join(work, out)).results;
      // the merge of the same shards is the same run: the same p99 is compared
      expect(res.summary.total.response.p99).toBe(p99);
      return { code: g.code, reasons: res.verdict.reasons, saturated: res.verdict.saturated };
    };
    const worse = await gated(baseline('base-faster.json', 1.5), 'm-regressed');
    expect(worse.reasons).toEqual(expect.arrayContaining([expect.stringMatching(/^regression: .*p99.*REGRESSION/)]));
    expect(worse.code).toBe(worse.saturated ? 4 : 99);
    const close = await gated(baseline('base-close.json', 1.05), 'm-within');
    expect(close.reasons.filter((x) => x.startsWith('regression:'))).toEqual([]);
    expect(close.code).toBe(close.saturated ? 4 : 0);
  }, 90_000);
});

describe('a shard that starts after --start-at', () => {
  it('says by how much and keeps the common t0', async () => {
    const startAt = secondsAhead(0);
    const r = await shard(MANY, '1/2', 'behind', startAt);
    expect([0, 4], r.stderr).toContain(r.code);
    const res = resultsIn(join(work, 'behind')).results;
    expect(r.stderr).toMatch(/warning: started [\d.]+ ms after --start-at/);
    expect(res.run.t0!.iso).toBe(startAt);
    expect(res.run.t0!.lateNs).toBeGreaterThan(0);
    expect(res.config.options.warnings as string[]).toEqual(expect.arrayContaining([expect.stringMatching(/ms after --start-at/)]));
  }, 90_000);
});
