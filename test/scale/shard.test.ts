// Shard arithmetic on real captures (many and few connections): every captured connection is in
// exactly one shard, the shards together hold every request the capture's truth file counts, and
// the greedy assignment keeps the shards within one connection's requests of each other.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { assignShards, countRequestsPerConnection, parseShard, shardFilter } from '../../src/replay/shard.js';
import { parseStartAt } from '../../src/replay/start-at.js';

const root = join(import.meta.dirname, '..', '..');
const CAPTURES = [
  { name: 'many connections', file: 'captures/fixtures/memaslap-64conns' },
  { name: 'many connections, lopsided', file: 'captures/sample' },
  { name: 'few connections', file: 'captures/fixtures/basic' },
];

describe('shard arithmetic', () => {
  for (const c of CAPTURES) {
    it(`${c.name} (${c.file}): every connection in exactly one shard, requests balanced`, async () => {
      const truth = JSON.parse(readFileSync(join(root, `${c.file}.truth.json`), 'utf8')) as { connectionCount: number; requests: number };
      const ing = { input: join(root, `${c.file}.pcap`), serverPorts: [11211], anyPort: false };
      const counts = await countRequestsPerConnection(ing);
      expect(counts.size).toBe(truth.connectionCount);
      expect([...counts.values()].reduce((a, b) => a + b, 0)).toBe(truth.requests);
      const biggest = Math.max(...counts.values());
      for (const n of [1, 2, 3, 5, 8]) {
        const filters = await Promise.all(Array.from({ length: n }, (_, i) => shardFilter(ing, { index: i + 1, count: n })));
        const load = new Array<number>(n).fill(0);
        for (const [id, reqs] of counts) {
          const owners = filters.map((f, i) => (f(id) ? i : -1)).filter((i) => i >= 0);
          expect(owners, `connection ${id} with ${n} shards`).toHaveLength(1);
          load[owners[0]!]! += reqs;
        }
        expect(load.reduce((a, b) => a + b, 0)).toBe(truth.requests);
        // greedy largest-first: no shard is more than one connection's requests above another
        expect(Math.max(...load) - Math.min(...load)).toBeLessThanOrEqual(biggest);
        // and never worse than the best possible by more than that connection either
        expect(Math.max(...load)).toBeLessThanOrEqual(Math.ceil(truth.requests / n) + biggest);
      }
    });
  }

  it('lopsided: one huge connection gets a shard to itself, the small ones fill the others', () => {
    const counts = new Map<number, number>([[1, 1000], ...Array.from({ length: 20 }, (_, i) => [i + 2, 50] as [number, number])]);
    const a = assignShards(counts, 2);
    const big = a.get(1)!;
    const loads = [0, 0];
    for (const [id, n] of counts) loads[a.get(id)!]! += n;
    expect(loads[big]).toBe(1000);
    expect(loads[1 - big]).toBe(1000);
    // a connection-count split would have put 10 small ones beside the big one
    expect([...a.entries()].filter(([id, s]) => id !== 1 && s === big)).toHaveLength(0);
  });

  it('is a pure function of the counts (every pod computes the same split)', () => {
    const counts = new Map<number, number>(Array.from({ length: 100 }, (_, i) => [i + 1, (i * 37) % 11] as [number, number]));
    const shuffled = new Map([...counts.entries()].reverse());
    expect([...assignShards(counts, 7).entries()].sort((x, y) => x[0] - y[0])).toEqual([...assignShards(shuffled, 7).entries()].sort((x, y) => x[0] - y[0]));
  });

  it('parses --shard and --start-at, and refuses bad values', () => {
    expect(parseShard('3/8')).toEqual({ index: 3, count: 8 });
    for (const bad of ['0/3', '4/3', '3', 'a/b', '1/0']) expect(() => parseShard(bad), bad).toThrow(/--shard/);
    expect(parseStartAt('2026-12-07T10:00:00Z')).toBe(Date.UTC(2026, 11, 7, 10, 0, 0));
    expect(parseStartAt('2026-12-07T10:00:00.250+01:00')).toBe(Date.UTC(2026, 11, 7, 9, 0, 0, 250));
    expect(parseStartAt('1796637600')).toBe(1796637600_000);
    for (const bad of ['tomorrow', '2026-12-07T10:00:00', '']) expect(() => parseStartAt(bad), bad).toThrow(/--start-at/);
  });
});
