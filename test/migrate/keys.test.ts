// `keys` against two real memcached servers prepared with known differences: keys missing on the
// new one, extra keys on it, changed values, changed flags and TTLs; the counts must be exact.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { freePort, startMemcached, type Memcached } from '../helpers/memcached.js';
import { mcreplay } from './cli.js';
import { fill, type Item } from './mc.js';



const N = 6000; // keys on the old server; above --run-size 1000 so the sort spills and merges runs
const item = (key: string, value: string, flags = 0, ttl = 0): Item => ({ key, value: Buffer.from(value), flags, ttl });

// each test spawns several CLI processes; on a loaded 2-core machine a Node start alone takes seconds
describe('mcreplay keys', { timeout: 240_000 }, () => {
  let old: Memcached;
  let nu: Memcached;
  const onlyOld = new Set<string>();
  const onlyNew = new Set<string>();
  const valueDiff = new Set<string>();
  const flagsDiff = new Set<string>();
  const ttlDiff = new Set<string>();

  beforeAll(async () => {
    [old, nu] = await Promise.all([startMemcached(), startMemcached()]);
    const a: Item[] = [];
    const b: Item[] = [];
    for (let i = 0; i < N; i++) {
      const key = `k:${i}`;
      // TTLs on some keys; both sides get the same unless the key is a TTL difference
      const ttl = i % 5 === 0 ? 3600 : 0;
      a.push(item(key, `value-${i}`, i % 3, ttl));
      if (i % 10 === 1) onlyOld.add(key);
      else if (i % 100 === 2) {
        valueDiff.add(key);
        b.push(item(key, `changed-${i}`, i % 3, ttl));
      } else if (i % 100 === 3) {
        flagsDiff.add(key);
        b.push(item(key, `value-${i}`, 77, ttl));
      } else if (i % 100 === 4) {
        ttlDiff.add(key);
        b.push(item(key, `value-${i}`, i % 3, ttl === 0 ? 600 : 0));
      } else b.push(item(key, `value-${i}`, i % 3, ttl));
    }
    for (let i = 0; i < 250; i++) {
      onlyNew.add(`extra:${i}`);
      b.push(item(`extra:${i}`, 'x'.repeat(i)));
    }
    // a key with bytes metadump has to encode
    a.push(item('odd%key/ü', 'v'));
    b.push(item('odd%key/ü', 'v'));
    await Promise.all([fill(old.port, a), fill(nu.port, b)]);
  }, 240_000);
  afterAll(async () => {
    await Promise.all([old?.stop(), nu?.stop()]);
  });

  test('exact counts of both, only old, only new, TTL drift and sampled values (all of them)', async () => {
    const res = await mcreplay(['keys', old.address, nu.address, '--values', '100%', '--run-size', '1000', '--json']);
    expect(res.code).toBe(0);
    const r = JSON.parse(res.stdout);
    expect(r.schema).toBe('mcreplay.keys/1');
    const both = N + 1 - onlyOld.size;
    expect(r).toMatchObject({ both, onlyOld: onlyOld.size, onlyNew: onlyNew.size, ttlDrift: ttlDiff.size });
    expect(r.old.keys).toBe(N + 1);
    expect(r.new.keys).toBe(both + onlyNew.size);
    expect(r.values).toEqual({ percent: 100, compared: both, different: valueDiff.size, flagsDifferent: flagsDiff.size, vanished: 0 });
    expect(r.bytes.onlyOld + r.bytes.both).toBe(r.old.bytes);
    expect(r.bytes.onlyNew).toBeGreaterThan(0);
    // keys never appear without --show-keys
    expect(res.stdout).not.toContain('k:1');
  });

  test('--show-keys names exactly the differing keys; a 10% value sample compares about a tenth', async () => {
    const res = await mcreplay(['keys', old.address, nu.address, '--show-keys', '--values', '100%']);
    expect(res.code).toBe(0);
    const lines = res.stdout.split('\n').filter((l) => l.includes('\t'));
    const of = (cls: string): Set<string> => new Set(lines.filter((l) => l.startsWith(`${cls}\t`)).map((l) => decodeURIComponent(l.split('\t')[1]!)));
    expect(of('only-old')).toEqual(onlyOld);
    expect(of('only-new')).toEqual(onlyNew);
    expect(of('value-different')).toEqual(valueDiff);
    expect(of('flags-different')).toEqual(flagsDiff);
    expect(of('ttl-drift')).toEqual(ttlDiff);
    expect(res.stdout).toMatch(/only on old\s+600/);
    const sample = JSON.parse((await mcreplay(['keys', old.address, nu.address, '--values', '10%', '--json'])).stdout);
    const both = N + 1 - onlyOld.size;
    expect(sample.values.compared).toBeGreaterThan(both * 0.07);
    expect(sample.values.compared).toBeLessThan(both * 0.13);
  });

  test('--dump lists every key of one server; one server alone is counted', async () => {
    const res = await mcreplay(['keys', old.address, '--dump']);
    expect(res.code).toBe(0);
    const rows = res.stdout.trim().split('\n').map((l) => l.split('\t'));
    expect(rows.length).toBe(N + 1);
    const keys = new Set(rows.map((r) => decodeURIComponent(r[0]!)));
    expect(keys.has('k:0')).toBe(true);
    expect(keys.has('odd%key/ü')).toBe(true);
    expect(rows.every((r) => r.length === 4)).toBe(true);
    const count = JSON.parse((await mcreplay(['keys', old.address, '--json'])).stdout);
    expect(count.old.keys).toBe(N + 1);
    expect(count.new).toBeNull();
  });

  test('an unreachable server is exit 3; bad usage exit 2', async () => {
    const dead = await freePort();
    const r = await mcreplay(['keys', old.address, `127.0.0.1:${dead}`]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`127.0.0.1:${dead}`);
    expect((await mcreplay(['keys', old.address, '--values', '1%'])).code).toBe(2);
    expect((await mcreplay(['keys', old.address, nu.address, '--values', '0'])).code).toBe(2);
  });
});
