// Shards of a pooled, cloned replay: a captured connection's per-member connections and clones are
// made from it, so they go with it; the shards together send exactly what one process sends.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startMemcached, type Memcached } from '../helpers/memcached.js';
import type { ResultsFile } from '../../src/metrics/results-types.js';
import { mcreplay, resultsIn, root } from './helpers.js';

const CAPTURE = join(root, 'captures', 'fixtures', 'memaslap-64conns.pcap');
let servers: Memcached[] = [];
let work = '';

beforeAll(async () => {
  servers = await Promise.all([startMemcached({ memoryMb: 64 }), startMemcached({ memoryMb: 64 })]);
  work = mkdtempSync(join(tmpdir(), 'mcreplay-pool-shard-'));
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  if (work) rmSync(work, { recursive: true, force: true });
});

it('--pool --clone 2 in 3 shards sends per command what one process sends', async () => {
  const pool = servers.map((s) => s.address).join(',');
  const args = (out: string, extra: string[]): string[] => ['replay', CAPTURE, '--pool', pool, '--hash', 'modulo', '--clone', '2', '--clone-keys', '--rate', 'max', '--out', join(work, out), '--no-html', '--no-progress', '--json', ...extra];
  const runs = await Promise.all([1, 2, 3].map((i) => mcreplay(args(`s${i}`, ['--shard', `${i}/3`]), 90_000)));
  for (const r of runs) expect(r.code, r.stderr).toBe(0);
  const one = await mcreplay(args('one', []), 90_000);
  expect(one.code, one.stderr).toBe(0);
  const shards = [1, 2, 3].map((i) => resultsIn(join(work, `s${i}`)).results);
  const single = resultsIn(join(work, 'one')).results;
  const sent = (rs: ResultsFile[]): Record<string, number> => {
    const out: Record<string, number> = {};
    for (const r of rs) for (const [cmd, c] of Object.entries(r.summary.perCommand)) out[cmd] = (out[cmd] ?? 0) + c.counters.sent;
    return out;
  };
  expect(sent(shards)).toEqual(sent([single]));
  // 384 captured requests, twice (clones); multi-gets split per member only add, never lose
  expect(Object.values(sent([single])).reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(768);
  expect(shards.reduce((n, r) => n + Number(r.config.options.shapedRequests), 0)).toBe(Number(single.config.options.shapedRequests));
  // every shard is busy: the split is by requests
  for (const r of shards) expect(r.summary.total.counters.sent).toBeGreaterThan(0);
}, 240_000);
