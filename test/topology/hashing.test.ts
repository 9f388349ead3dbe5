// Placement must match what real clients do. Truth comes from the clients themselves: pymemcache's
// HashClient and libmemcached (through ctypes, and its memccp tool) store keys on two real memcached
// servers, and each server is then asked which keys it holds.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMemcached, type Memcached } from '../helpers/memcached.js';
import { createHasher, crc32, oneAtATime, type PoolMember } from '../../src/topology/hashing.js';
import { createPool, placeKeys } from '../../src/topology/pool.js';

const PY = '/usr/bin/python3';
const SCRIPT = join(import.meta.dirname, 'real-clients.py');

/** Which of `keys` a server holds, asked with plain text gets. */
async function heldKeys(m: Memcached, keys: string[]): Promise<Set<string>> {
  const held = new Set<string>();
  for (let i = 0; i < keys.length; i += 100) {
    const batch = keys.slice(i, i + 100);
    const text = await new Promise<string>((resolve, reject) => {
      const s = connect({ host: m.host, port: m.port });
      const chunks: Buffer[] = [];
      s.on('error', reject);
      s.on('data', (d) => {
        chunks.push(d);
        if (Buffer.concat(chunks).toString('latin1').endsWith('END\r\n')) {
          s.destroy();
          resolve(Buffer.concat(chunks).toString('latin1'));
        }
      });
      s.write(Buffer.from(`get ${batch.join(' ')}\r\n`, 'latin1'));
    });
    for (const line of text.split('\r\n')) if (line.startsWith('VALUE ')) held.add(line.split(' ')[1]!);
  }
  return held;
}

async function flush(m: Memcached): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const s = connect({ host: m.host, port: m.port }, () => s.write('flush_all\r\n'));
    s.on('error', reject);
    s.on('data', () => {
      s.destroy();
      resolve();
    });
  });
}

const keys: string[] = [];
for (let i = 0; i < 600; i++) keys.push(`key:${i}`);
keys.push('user_1234567', 'a', 'ZZ', 'session-abcdef0123456789', 'x'.repeat(200), 'k\x7f');

let servers: Memcached[] = [];
let dir = '';
let keyFile = '';

beforeAll(async () => {
  servers = await Promise.all([startMemcached(), startMemcached()]);
  dir = mkdtempSync(join(tmpdir(), 'mcreplay-hash-'));
  keyFile = join(dir, 'keys.txt');
  writeFileSync(keyFile, Buffer.from(keys.join('\n') + '\n', 'latin1'));
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const members = (): PoolMember[] => servers.map((s) => ({ host: s.host, port: s.port }));
const serverList = (): string => servers.map((s) => `${s.host}:${s.port}`).join(',');

/** Where the real client put each key, read back from the servers; every key must be on exactly one. */
async function placementOnServers(): Promise<Map<string, number>> {
  const where = new Map<string, number>();
  for (let i = 0; i < servers.length; i++) {
    for (const k of await heldKeys(servers[i]!, keys)) {
      expect(where.has(k), `${k} on two servers`).toBe(false);
      where.set(k, i);
    }
  }
  expect(where.size).toBe(keys.length);
  return where;
}

describe('placement matches real clients', () => {
  it('rendezvous = pymemcache HashClient (keys set by pymemcache, read back per server)', async () => {
    await Promise.all(servers.map(flush));
    const out = JSON.parse(execFileSync(PY, [SCRIPT, 'pymemcache', serverList(), keyFile]).toString());
    expect(out.hasher).toBe('RendezvousHash');
    const real = await placementOnServers();
    const h = createHasher('rendezvous', members());
    const mismatches = keys.filter((k) => h.place(k) !== real.get(k));
    expect(mismatches).toEqual([]);
    // both members got a fair share, so the comparison is meaningful
    expect([...real.values()].filter((v) => v === 0).length).toBeGreaterThan(keys.length / 4);
  });

  it('ketama = libmemcached MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED (keys set by libmemcached, read back per server)', async () => {
    await Promise.all(servers.map(flush));
    const out = JSON.parse(execFileSync(PY, [SCRIPT, 'libmemcached', 'ketama_weighted', serverList(), keyFile, 'set']).toString());
    expect(out.distribution).toBe('MEMCACHED_DISTRIBUTION_CONSISTENT_WEIGHTED');
    const real = await placementOnServers();
    const h = createHasher('ketama', members());
    expect(keys.filter((k) => h.place(k) !== real.get(k))).toEqual([]);
    expect([...real.values()].filter((v) => v === 0).length).toBeGreaterThan(keys.length / 4);
  });

  it('consistent = libmemcached MEMCACHED_BEHAVIOR_KETAMA (keys set by libmemcached, read back per server)', async () => {
    await Promise.all(servers.map(flush));
    const out = JSON.parse(execFileSync(PY, [SCRIPT, 'libmemcached', 'ketama', serverList(), keyFile, 'set']).toString());
    expect(out.distribution).toBe('MEMCACHED_DISTRIBUTION_CONSISTENT_KETAMA');
    const real = await placementOnServers();
    const h = createHasher('consistent', members());
    expect(keys.filter((k) => h.place(k) !== real.get(k))).toEqual([]);
    expect([...real.values()].filter((v) => v === 0).length).toBeGreaterThan(keys.length / 5);
  });

  it('modulo = libmemcached default, as its memccp tool stores files', async () => {
    await Promise.all(servers.map(flush));
    const fileKeys = keys.filter((k) => /^[A-Za-z0-9_:-]{1,100}$/.test(k));
    const files = fileKeys.map((k) => {
      const p = join(dir, k);
      writeFileSync(p, '1');
      return p;
    });
    for (let i = 0; i < files.length; i += 200) execFileSync('memccp', [`--servers=${serverList()}`, ...files.slice(i, i + 200)]);
    const h = createHasher('modulo', members());
    const where = new Map<string, number>();
    for (let i = 0; i < servers.length; i++) for (const k of await heldKeys(servers[i]!, fileKeys)) where.set(k, i);
    expect(where.size).toBe(fileKeys.length);
    expect(fileKeys.filter((k) => h.place(k) !== where.get(k))).toEqual([]);
  });

  it('ketama, consistent and modulo with libmemcached over 3-5 members, default port 11211 and bytes >= 0x80 (memcached_generate_hash)', () => {
    const odd = ['caf\xe9', '\xff\xfe\x80key', 'K\xe4se:42', ...keys.slice(0, 300)];
    const oddFile = join(dir, 'odd.txt');
    writeFileSync(oddFile, Buffer.from(odd.join('\n') + '\n', 'latin1'));
    const pools: PoolMember[][] = [
      [{ host: '10.0.0.1', port: 11211 }, { host: '10.0.0.2', port: 11211 }, { host: '10.0.0.3', port: 11211 }],
      [{ host: 'cache-a', port: 11211 }, { host: 'cache-b', port: 22122 }, { host: 'cache-c', port: 11211 }, { host: '192.168.1.7', port: 11311 }, { host: 'cache-e', port: 11211 }],
    ];
    for (const pool of pools) {
      const list = pool.map((m) => `${m.host}:${m.port}`).join(',');
      for (const [mode, kind] of [['ketama_weighted', 'ketama'], ['ketama', 'consistent'], ['modula', 'modulo']] as const) {
        const out = JSON.parse(execFileSync(PY, [SCRIPT, 'libmemcached', mode, list, oddFile]).toString()) as { index: Record<string, number> };
        const h = createHasher(kind, pool);
        expect(odd.filter((k) => h.place(k) !== out.index[k]), `${kind} over ${list}`).toEqual([]);
      }
    }
  });

  it('weighted ketama = libmemcached memcached_server_add_with_weight (uneven weights, several pools)', () => {
    const odd = ['caf\xe9', ...keys.slice(0, 2000)];
    const oddFile = join(dir, 'weighted.txt');
    writeFileSync(oddFile, Buffer.from(odd.join('\n') + '\n', 'latin1'));
    const pools: [PoolMember, number][][] = [
      [[{ host: '10.0.0.1', port: 11211 }, 3], [{ host: '10.0.0.2', port: 11211 }, 1], [{ host: 'cache-c', port: 22122 }, 2]],
      [[{ host: 'a', port: 11211 }, 1], [{ host: 'b', port: 11211 }, 7]],
      [[{ host: 'x', port: 11311 }, 5], [{ host: 'y', port: 11311 }, 5], [{ host: 'z', port: 11311 }, 4], [{ host: 'w', port: 11311 }, 1]],
    ];
    for (const pool of pools) {
      const list = pool.map(([m, w]) => `${m.host}:${m.port}:${w}`).join(',');
      const out = JSON.parse(execFileSync(PY, [SCRIPT, 'libmemcached', 'ketama_weighted', list, oddFile]).toString()) as { index: Record<string, number> };
      const h = createHasher('ketama', pool.map(([m]) => m), pool.map(([, w]) => w));
      expect(odd.filter((k) => h.place(k) !== out.index[k]), `weighted ketama over ${list}`).toEqual([]);
      // the heaviest member holds the most keys (the comparison is not vacuous)
      const counts = pool.map((_, i) => odd.filter((k) => out.index[k] === i).length);
      const heaviest = pool.reduce((b, [, w], i) => (w > pool[b]![1] ? i : b), 0);
      expect(Math.max(...counts)).toBe(counts[heaviest]);
    }
  });

  it('crc32 = python-memcached cmemcache_hash (formula checked against Python binascii.crc32)', () => {
    // python-memcached is not installed here; its hash is ((crc32(key) & 0xffffffff) >> 16) & 0x7fff or 1
    const sample = ['a', 'foo', 'key:1', 'caf\xe9', 'x'.repeat(200), ...keys.slice(0, 100)];
    const f = join(dir, 'crc.txt');
    writeFileSync(f, Buffer.from(sample.join('\n') + '\n', 'latin1'));
    const py = `import binascii,json,sys\nks=[l for l in open(sys.argv[1],'rb').read().split(b'\\n') if l]\nprint(json.dumps([[binascii.crc32(k)&0xffffffff, ((((binascii.crc32(k)&0xffffffff)>>16)&0x7fff) or 1) % 3] for k in ks]))`;
    const out = JSON.parse(execFileSync(PY, ['-c', py, f]).toString()) as [number, number][];
    const h = createHasher('crc32', [{ host: 'a', port: 1 }, { host: 'b', port: 1 }, { host: 'c', port: 1 }]);
    sample.forEach((k, i) => {
      expect(crc32(k)).toBe(out[i]![0]);
      expect(h.place(k)).toBe(out[i]![1]);
    });
  });

  it('one_at_a_time matches a published value', () => {
    // Bob Jenkins' one-at-a-time of "a" is 0xca2e9442 (the usual reference value)
    expect(oneAtATime('a')).toBe(0xca2e9442);
  });
});

describe('placeKeys', () => {
  it('groups a multi-get per member, in order of first appearance, keeping key order', () => {
    const pool = createPool(members(), 'ketama');
    const ks = keys.slice(0, 40);
    const groups = placeKeys(ks, pool);
    expect(groups.flatMap((g) => g.keys).sort()).toEqual([...ks].sort());
    for (const g of groups) {
      for (const k of g.keys) expect(pool.hasher.place(k)).toBe(g.member);
      const idx = g.keys.map((k) => ks.indexOf(k));
      expect(idx).toEqual([...idx].sort((a, b) => a - b));
    }
    expect(groups[0]!.member).toBe(pool.hasher.place(ks[0]!));
    expect(new Set(groups.map((g) => g.member)).size).toBe(groups.length);
    // the plain-array form and the cached pool agree
    expect(placeKeys(ks, members(), 'ketama')).toEqual(groups);
  });
});
