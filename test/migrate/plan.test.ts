// `plan` against independent truths: pymemcache's own placement in a real two-server capture, the
// theory of modulo vs consistent hashing on uniform keys, and hand-counted reads and bytes.
import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LINKTYPE, TcpConv, ethernet, pcapFile, type PcapRecord } from '../helpers/pcap-writer.js';
import { tempDir } from '../replay/helpers.js';
import { planCapture, type PlanResult } from '../../src/migrate/plan.js';
import { parseMemberList } from '../../src/topology/targets.js';
import type { HashKind } from '../../src/topology/hashing.js';

const ROOT = join(import.meta.dirname, '..', '..');
const CLI = join(ROOT, 'bin', 'mcreplay.js');
const FIX = join(ROOT, 'captures', 'fixtures');
const tmp = tempDir();
afterAll(() => tmp.cleanup());

/** A one-connection text capture: each op is a request and its answer, 1 ms apart. */
function capture(name: string, ops: [string, string][]): string {
  const conv = new TcpConv('10.0.0.2', 40000, '10.0.0.1', 11211);
  const recs: PcapRecord[] = [];
  let us = 0;
  const at = (b: Buffer): void => {
    recs.push({ sec: 1_700_000_000 + Math.floor(us / 1e6), frac: us % 1e6, data: ethernet(b) });
    us += 500;
  };
  for (const p of conv.handshake()) at(p);
  for (const [req, res] of ops) {
    at(conv.send(0, Buffer.from(req, 'latin1')));
    at(conv.send(1, Buffer.from(res, 'latin1')));
  }
  const path = join(tmp.dir, name);
  writeFileSync(path, pcapFile({ linkType: LINKTYPE.EN10MB }, recs));
  return path;
}

async function plan(path: string, from: string, to: string, hashes: HashKind[], keyLimit?: number): Promise<PlanResult> {
  return planCapture({ capture: path, ingest: { serverPorts: [11211] }, from: parseMemberList(from, '--from'), to: parseMemberList(to, '--to'), hashes, keyLimit });
}

describe('plan', () => {
  it('agrees with the placement pymemcache HashClient made in a real two-server capture (rendezvous), and not by chance with the others', async () => {
    const truth = JSON.parse(readFileSync(join(FIX, 'pool-two-servers.truth.json'), 'utf8'));
    const out = execFileSync(process.execPath, [CLI, 'plan', join(FIX, 'pool-two-servers.pcap'), '--port', '11211,11212', '--from', '127.0.0.1:11211,127.0.0.1:11212', '--to', '127.0.0.1:11211,127.0.0.1:11212,127.0.0.1:11213', '--hash', 'rendezvous,modulo,ketama', '--json']).toString();
    const p = JSON.parse(out) as PlanResult;
    expect(p.schema).toBe('mcreplay.plan/1');
    expect(p.keys.total).toBe(truth.distinctKeys);
    expect(p.requests.total).toBe(truth.readKeys.hits + truth.readKeys.misses);
    const rv = p.schemes.find((s) => s.hash === 'rendezvous')!;
    expect(rv.placementCheck.comparable).toBe(p.requests.total);
    expect(rv.placementCheck.agree).toBe(rv.placementCheck.comparable);
    for (const h of ['modulo', 'ketama']) {
      const s = p.schemes.find((x) => x.hash === h)!;
      expect(s.placementCheck.agree).toBeLessThan(s.placementCheck.comparable * 0.8);
    }
    // adding a server under rendezvous only moves keys onto the new one
    for (const v of rv.servers) if (v.before) expect(v.after!.keys).toBeLessThanOrEqual(v.before.keys);
    expect(rv.servers.find((v) => v.server === '127.0.0.1:11213')!.after!.keys).toBe(rv.keys.moved);
  });

  it('matches the theory on uniform keys: 3 -> 4 servers, modulo and crc32 move 3/4, ketama, consistent and rendezvous about 1/4, only onto the new server', async () => {
    const n = 12_000;
    const path = capture('uniform.pcap', Array.from({ length: n }, (_, i): [string, string] => [`get user:${i}:profile\r\n`, 'END\r\n']));
    const p = await plan(path, 'a:11211,b:11211,c:11211', 'a:11211,b:11211,c:11211,d:11211', ['modulo', 'crc32', 'ketama', 'consistent', 'rendezvous']);
    const share = (h: string): number => p.schemes.find((s) => s.hash === h)!.keys.share;
    expect(p.keys.total).toBe(n);
    expect(share('modulo')).toBeGreaterThan(0.72);
    expect(share('modulo')).toBeLessThan(0.78);
    expect(share('crc32')).toBeGreaterThan(0.72);
    expect(share('crc32')).toBeLessThan(0.78);
    expect(share('rendezvous')).toBeGreaterThan(0.22);
    expect(share('rendezvous')).toBeLessThan(0.28);
    // a continuum of 100-160 points per server gives each server a share within ~±35% of 1/n
    for (const h of ['ketama', 'consistent']) {
      expect(share(h)).toBeGreaterThan(0.15);
      expect(share(h)).toBeLessThan(0.35);
    }
    for (const h of ['ketama', 'consistent', 'rendezvous']) {
      const s = p.schemes.find((x) => x.hash === h)!;
      for (const v of s.servers) if (v.before) expect(v.after!.keys, `${h} ${v.server}`).toBeLessThanOrEqual(v.before.keys);
      expect(s.servers.find((v) => v.server === 'd:11211')!.after!.keys).toBe(s.keys.moved);
    }
    // every key is read once, at once: every moved key is one cold miss
    for (const s of p.schemes) {
      expect(s.requests.moved).toBe(s.keys.moved);
      expect(s.coldMisses.total).toBe(s.keys.moved);
    }
    // removing d again is the mirror image
    const back = await plan(path, 'a:11211,b:11211,c:11211,d:11211', 'a:11211,b:11211,c:11211', ['rendezvous']);
    expect(back.keys.moved).toBe(p.schemes.find((s) => s.hash === 'rendezvous')!.keys.moved);
  });

  it('weights reads by how often a key is read and bytes by the value size the capture shows', async () => {
    const ops: [string, string][] = [];
    // hot: 100 reads of one key with a 1000-byte value; cold: 50 keys read once, 10-byte values
    ops.push(['set hot 0 0 1000\r\n' + 'x'.repeat(1000) + '\r\n', 'STORED\r\n']);
    for (let i = 0; i < 100; i++) ops.push(['get hot\r\n', `VALUE hot 0 1000\r\n${'x'.repeat(1000)}\r\nEND\r\n`]);
    for (let i = 0; i < 50; i++) ops.push([`get cold${i}\r\n`, `VALUE cold${i} 0 10\r\n${'y'.repeat(10)}\r\nEND\r\n`]);
    const path = capture('weights.pcap', ops);
    const p = await plan(path, 'a,b', 'a,b,c', ['modulo']);
    expect(p.keys.total).toBe(51);
    expect(p.requests.total).toBe(150);
    expect(p.bytes.total).toBe(1000 + 50 * 10);
    const hotMoves = p.schemes[0]!.servers; // where "hot" went is what the truth is computed from
    expect(hotMoves.length).toBe(3);
    // independent recount from the key placement: moved reads = 100 × [hot moved] + cold keys moved
    const { createHasher } = await import('../../src/topology/hashing.js');
    const a = createHasher('modulo', parseMemberList('a,b', 'x').members);
    const b = createHasher('modulo', parseMemberList('a,b,c', 'x').members);
    const names = ['a', 'b', 'c'];
    const moves = (k: string): boolean => names[a.place(k)] !== names[b.place(k)];
    const coldMoved = Array.from({ length: 50 }, (_, i) => `cold${i}`).filter(moves).length;
    expect(p.requests.moved).toBe((moves('hot') ? 100 : 0) + coldMoved);
    expect(p.bytes.moved).toBe((moves('hot') ? 1000 : 0) + coldMoved * 10);
    expect(p.keys.moved).toBe((moves('hot') ? 1 : 0) + coldMoved);
  });

  it('past the key limit, read figures stay exact and the result says the key figures are partial', async () => {
    const path = capture('limit.pcap', Array.from({ length: 400 }, (_, i): [string, string] => [`get k${i}\r\n`, 'END\r\n']));
    const full = await plan(path, 'a,b,c', 'a,b,c,d', ['modulo']);
    const cut = await plan(path, 'a,b,c', 'a,b,c,d', ['modulo'], 100);
    expect(full.keysExact).toBe(true);
    expect(cut.keysExact).toBe(false);
    expect(cut.keysTracked).toBe(100);
    expect(cut.requests.total).toBe(400);
    expect(cut.requests.moved).toBe(full.requests.moved);
  });

  it('compares replacing a server in place with removing it and appending the new one', async () => {
    const path = capture('replace.pcap', Array.from({ length: 3000 }, (_, i): [string, string] => [`get r${i}\r\n`, 'END\r\n']));
    const p = await plan(path, 'a,b,c,d', 'a,e,c,d', ['modulo', 'ketama', 'rendezvous']);
    expect(p.replace).not.toBeNull();
    expect(p.replace!.removed).toBe('b:11211');
    expect(p.replace!.added).toBe('e:11211');
    expect(p.replace!.given).toBe('in-place');
    const mod = p.replace!.perScheme.find((s) => s.hash === 'modulo')!;
    // modulo in place moves only b's keys (~1/4); remove + append reshuffles positions (most keys)
    expect(mod.inPlace.share).toBeGreaterThan(0.2);
    expect(mod.inPlace.share).toBeLessThan(0.3);
    expect(mod.append.share).toBeGreaterThan(0.5);
    expect(mod.cheaper).toBe('in-place');
    // ketama and rendezvous place by name, not position: the order does not matter
    for (const h of ['ketama', 'rendezvous']) expect(p.replace!.perScheme.find((s) => s.hash === h)!.cheaper).toBe('same');
    expect(mod.inPlace.moved).toBe(p.schemes.find((s) => s.hash === 'modulo')!.requests.moved);
  });

  it('refuses bad usage with exit 2 and a capture without keyed requests with exit 4', () => {
    const path = capture('empty.pcap', [['version\r\n', 'VERSION 1.6.18\r\n']]);
    const run = (...a: string[]) => spawnSync(process.execPath, [CLI, 'plan', ...a], { encoding: 'utf8' });
    let r = run(path, '--from', 'a,b', '--to', 'a,b,c', '--hash', 'nope');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/unknown hashing scheme/);
    r = run(path, '--from', 'a:11211:2,b', '--to', 'a,b,c', '--hash', 'modulo');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/weights/);
    r = run(path, '--from', 'a,a', '--to', 'a,b');
    expect(r.status).toBe(2);
    r = run(path, '--from', 'a,b', '--to', 'a,b,c');
    expect(r.status).toBe(4);
    expect(r.stderr).toMatch(/no keyed memcached requests/);
    r = run(join(tmp.dir, 'missing.pcap'), '--from', 'a,b', '--to', 'a,b,c');
    expect(r.status).toBe(2);
  });
});
