// `warm` against real memcached: a real client (pymemcache, scripts/clients/warm_reader.py) reads a
// skewed subset of an old server's keys while tcpdump records it; warm must copy exactly those
// keys (value, flags, TTL), keep what the new server already had, and count every problem.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startMemcached, freePort, type Memcached } from '../helpers/memcached.js';
import { haveTcpdump, record } from '../helpers/tcpdump.js';
import { fetchStats } from '../../src/metrics/stats-poller.js';
import { rng } from '../helpers/rng.js';
import { mcreplay, cli } from './cli.js';
import { fill, read, type Item } from './mc.js';
import { waitFor } from '../helpers/wait.js';

const root = join(import.meta.dirname, '..', '..');
const PY = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const run = promisify(execFile);
const havePymemcache = existsSync('/usr/lib/python3/dist-packages/pymemcache/__init__.py');


const DAY = 86_400;
const TTLS = [0, 600, 3600, 40 * DAY]; // 40 days: beyond 30, memcached reads it as an absolute time

function items(): Item[] {
  const r = rng(14);
  const out: Item[] = [];
  for (let i = 0; i < 300; i++) {
    const size = i % 10 === 0 ? 50_000 : 10 + Math.floor(r() * 2000);
    const value = Buffer.alloc(size, String.fromCharCode(97 + (i % 26)));
    value.write(`w:${i}:`, 0);
    // memcached's T is relative up to 30 days: the 40-day one goes as an absolute time
    const ttl = TTLS[i % 4]! > 30 * DAY ? Math.floor(Date.now() / 1000) + TTLS[i % 4]! : TTLS[i % 4]!;
    out.push({ key: `w:${i}`, value, flags: (i * 7919) % 65536, ttl });
  }
  out.push({ key: 'w:huge', value: Buffer.alloc(2 << 20, 'h'), flags: 9, ttl: 0 });
  return out;
}

/** The reads of the client: hot keys many times, a tail once, multi-gets, gets, meta gets, a missing key. */
function plan(): { ops: [string, string[]][]; reads: Map<string, number> } {
  const r = rng(7);
  const ops: [string, string[]][] = [];
  for (let n = 0; n < 200; n++) ops.push(['get', [`w:${Math.floor(r() ** 3 * 10)}`]]); // skewed to w:0
  for (let i = 10; i < 60; i += 5) ops.push(['get_many', [`w:${i}`, `w:${i + 1}`, `w:${i + 2}`, `w:${i + 3}`, `w:${i + 4}`]]);
  ops.push(['mg', ['w:60']], ['mg', ['w:61']], ['gets', ['w:62']], ['get', ['w:huge']], ['get', ['w:absent']], ['get', ['w:absent']]);
  const reads = new Map<string, number>();
  for (const [, keys] of ops) for (const k of keys) reads.set(k, (reads.get(k) ?? 0) + 1);
  return { ops, reads };
}

// each test spawns several CLI processes; on a loaded 2-core machine a Node start alone takes seconds
describe.skipIf(!haveTcpdump || !havePymemcache)('mcreplay warm', { timeout: 240_000 }, () => {
  let old: Memcached;
  let nu: Memcached;
  let dir: string;
  let cap: string;
  const all = items();
  const { ops, reads } = plan();
  const byKey = new Map(all.map((i) => [i.key, i]));

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mcr-warm-'));
    [old, nu] = await Promise.all([startMemcached({ extraArgs: ['-I', '4m'] }), startMemcached()]);
    await fill(old.port, all);
    // the new server already holds a newer w:5, and a key nobody read
    await fill(nu.port, [
      { key: 'w:5', value: Buffer.from('NEWER'), flags: 1, ttl: 0 },
      { key: 'w:200', value: Buffer.from('mine'), flags: 2, ttl: 0 },
    ]);
    cap = join(dir, 'reads.pcap');
    writeFileSync(join(dir, 'plan.json'), JSON.stringify(ops));
    const dump = await record(cap, `port ${old.port}`);
    await run(PY, [join(root, 'scripts', 'clients', 'warm_reader.py'), String(old.port), join(dir, 'plan.json')]);
    await dump.stop();
  }, 240_000);
  afterAll(async () => {
    await Promise.all([old?.stop(), nu?.stop()]);
    rmSync(dir, { recursive: true, force: true });
  });

  test('copies exactly the keys read, keeps what the new server had, counts the rest', async () => {
    const res = await mcreplay(['warm', cap, '--port', String(old.port), '--from', old.address, '--to', nu.address, '--json']);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    const rep = JSON.parse(res.stdout);
    expect(rep.schema).toBe('mcreplay.warm/1');
    const readKeys = [...reads.keys()];
    expect(rep.keys).toMatchObject({ considered: readKeys.length, copied: readKeys.length - 3, alreadyPresent: 1, missingOld: 1, tooLarge: 1, expired: 0, errors: {} });
    expect(rep.examples['too large for the new server']).toEqual(['w:huge']);
    const [held, src] = await Promise.all([read(nu.port, [...all.map((i) => i.key), 'w:absent']), read(old.port, all.map((i) => i.key))]);
    for (const it of all) {
      const h = held.get(it.key)!;
      if (it.key === 'w:5') expect(h?.value.toString()).toBe('NEWER');
      else if (it.key === 'w:200') expect(h?.value.toString()).toBe('mine');
      else if (!reads.has(it.key) || it.key === 'w:huge') expect(h, it.key).toBeNull();
      else {
        expect(h, it.key).not.toBeNull();
        expect(h!.value.equals(it.value), it.key).toBe(true);
        expect(h!.flags).toBe(it.flags);
        if (it.ttl === 0) expect(h!.ttl).toBe(-1);
        else {
          // the remaining TTL travelled: both servers count down to the same moment
          const want = src.get(it.key)!.ttl;
          expect(want).toBeGreaterThan(0);
          expect(Math.abs(h!.ttl - want), `${it.key} ttl ${h!.ttl} vs ${want}`).toBeLessThanOrEqual(2);
        }
      }
    }
    expect(held.get('w:absent')).toBeNull();
    // coverage from the plan: before, only w:5 was there; after, all but the missing and the too large
    const total = [...reads.values()].reduce((a, b) => a + b, 0);
    const r = (k: string): number => reads.get(k) ?? 0;
    expect(rep.coverage.reads).toBe(total);
    expect(rep.coverage.distinctKeys).toBe(readKeys.length);
    expect(rep.coverage.before.requests).toBeCloseTo(r('w:5') / total, 9);
    expect(rep.coverage.before.keys).toBeCloseTo(1 / readKeys.length, 9);
    expect(rep.coverage.after.requests).toBeCloseTo((total - r('w:absent') - r('w:huge')) / total, 9);
    expect(rep.coverage.after.keys).toBeCloseTo((readKeys.length - 2) / readKeys.length, 9);

    // --resume: keys the new server holds are not fetched from the old one again
    const before = await fetchStats(old.address);
    const again = await mcreplay(['warm', cap, '--port', String(old.port), '--from', old.address, '--to', nu.address, '--resume', '--json']);
    expect(again.code).toBe(0);
    const rep2 = JSON.parse(again.stdout);
    expect(rep2.keys).toMatchObject({ considered: readKeys.length, copied: 0, alreadyPresent: readKeys.length - 2, missingOld: 1, tooLarge: 1 });
    const after = await fetchStats(old.address);
    expect(after.cmd_get! - before.cmd_get!).toBe(2); // w:absent and w:huge only
  });

  test('--all copies every key; an unreachable old server is counted and the rest copied (exit 3)', async () => {
    const fresh = await startMemcached();
    const dead = await freePort();
    try {
      const res = await mcreplay(['warm', '--all', '--from', `${old.address},127.0.0.1:${dead}`, '--to', fresh.address, '--rate', '50k/s', '--json']);
      expect(res.code).toBe(3);
      expect(res.stderr).toContain(`127.0.0.1:${dead}`);
      const rep = JSON.parse(res.stdout);
      expect(rep.mode).toBe('all');
      expect(rep.keys).toMatchObject({ considered: all.length, copied: all.length - 1, tooLarge: 1 });
      expect(rep.keys.errors[`metadump of 127.0.0.1:${dead} failed: unreachable`]).toBe(1);
      const held = await read(fresh.port, all.map((i) => i.key));
      for (const it of all) {
        if (it.key === 'w:huge') expect(held.get(it.key)).toBeNull();
        else expect(held.get(it.key)?.value.equals(it.value), it.key).toBe(true);
      }
    } finally {
      await fresh.stop();
    }
  });

  test('--pool --hash rendezvous: pymemcache HashClient finds every copied key on the member it picks', async () => {
    const [p1, p2] = await Promise.all([startMemcached(), startMemcached()]);
    try {
      const res = await mcreplay(['warm', '--all', '--from', old.address, '--pool', `${p1.address},${p2.address}`, '--hash', 'rendezvous', '--rate', '50k/s', '--json']);
      expect(res.code).toBe(0);
      expect(JSON.parse(res.stdout).keys.copied).toBe(all.length - 1);
      const [s1, s2] = await Promise.all([fetchStats(p1.address), fetchStats(p2.address)]);
      expect(s1.curr_items! + s2.curr_items!).toBe(all.length - 1);
      expect(Math.min(s1.curr_items!, s2.curr_items!)).toBeGreaterThan(50);
      // the real client, hashing on its own, must find every key (a key on the wrong member misses)
      const keys = all.filter((i) => i.key !== 'w:huge').map((i) => i.key);
      writeFileSync(join(dir, 'keys.json'), JSON.stringify(keys));
      const py = `import json,sys\nfrom pymemcache.client.hash import HashClient\nc=HashClient([('127.0.0.1',${p1.port}),('127.0.0.1',${p2.port})])\nks=json.load(open(sys.argv[1]))\nprint(sum(1 for k in ks if c.get(k) is not None))`;
      const found = await run(PY, ['-c', py, join(dir, 'keys.json')]);
      expect(Number(found.stdout.trim())).toBe(keys.length);
    } finally {
      await Promise.all([p1.stop(), p2.stop()]);
    }
  });

  test('--to old=new maps per old server; an old server without a mapping is bad usage', async () => {
    const fresh = await startMemcached();
    try {
      const res = await mcreplay(['warm', cap, '--port', String(old.port), '--from', old.address, '--to', `${old.address}=${fresh.address}`, '--json']);
      expect(res.code).toBe(0);
      const rep = JSON.parse(res.stdout);
      expect(rep.keys).toMatchObject({ considered: reads.size, copied: reads.size - 2, missingOld: 1, tooLarge: 1 });
      expect((await fetchStats(fresh.address)).curr_items).toBe(reads.size - 2);
      const other = await mcreplay(['warm', cap, '--port', String(old.port), '--from', old.address, '--to', `127.0.0.9:1=${fresh.address}`, '--json']);
      expect(other.code).toBe(2);
      expect(other.stderr).toContain(`--to maps no new server for old server(s) ${old.address}`);
    } finally {
      await fresh.stop();
    }
  });

  test('a key with under a second to live is skipped, never copied', async () => {
    const [src, dst] = await Promise.all([startMemcached(), startMemcached()]);
    try {
      await fill(src.port, [
        { key: 'soon', value: Buffer.from('gone'), flags: 0, ttl: 1 },
        { key: 'later', value: Buffer.from('stays'), flags: 0, ttl: 100 },
      ]);
      const rep = JSON.parse((await mcreplay(['warm', '--all', '--from', src.address, '--to', dst.address, '--json'])).stdout);
      expect(rep.keys.copied).toBe(1);
      // listed with its expiry less than a second away (counted), or already gone from the listing
      expect(rep.keys.expired + (2 - rep.keys.considered)).toBe(1);
      const held = await read(dst.port, ['soon', 'later']);
      expect(held.get('soon')).toBeNull();
      expect(held.get('later')?.value.toString()).toBe('stays');
    } finally {
      await Promise.all([src.stop(), dst.stop()]);
    }
  });

  test('a full new server (-m 8 -M): failures counted and named, the run goes on', async () => {
    const big = await startMemcached({ extraArgs: ['-I', '2m'] });
    const full = await startMemcached({ memoryMb: 8, extraArgs: ['-M'] });
    try {
      const many: Item[] = Array.from({ length: 40 }, (_, i) => ({ key: `big:${i}`, value: Buffer.alloc(500_000, 'b'), flags: i, ttl: 0 }));
      await fill(big.port, many);
      const res = await mcreplay(['warm', '--all', '--from', big.address, '--to', full.address, '--json']);
      expect(res.code).toBe(0);
      const rep = JSON.parse(res.stdout);
      const oom = rep.keys.errors['new server out of memory'] ?? 0;
      expect(rep.keys.considered).toBe(40);
      expect(rep.keys.copied).toBeGreaterThan(0);
      expect(oom).toBeGreaterThan(0);
      expect(rep.keys.copied + oom).toBe(40);
      expect(rep.examples['new server out of memory'].length).toBeGreaterThan(0);
      const st = await fetchStats(full.address);
      expect(st.curr_items).toBe(rep.keys.copied);
    } finally {
      await Promise.all([big.stop(), full.stop()]);
    }
  });

  test('SIGINT stops cleanly with a summary (exit 130)', async () => {
    const fresh = await startMemcached();
    try {
      const p = spawn('node', [cli, 'warm', '--all', '--from', old.address, '--to', fresh.address, '--rate', '40/s', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      p.stdout.on('data', (d) => (out += d));
      const exited = new Promise<number>((res) => p.once('exit', (c) => res(c ?? -1)));
      // wait until some keys arrived, then interrupt
      await waitFor('5 keys on the new server', async () => ((await fetchStats(fresh.address)).curr_items ?? 0) >= 5, 20_000, 50).catch((e: unknown) => {
        p.kill();
        throw e;
      });
      p.kill('SIGINT');
      expect(await exited).toBe(130);
      const rep = JSON.parse(out);
      expect(rep.interrupted).toBe(true);
      expect(rep.keys.copied).toBeGreaterThanOrEqual(5);
      expect(rep.keys.copied).toBeLessThan(all.length - 1);
      expect((await fetchStats(fresh.address)).curr_items).toBe(rep.keys.copied);
    } finally {
      await fresh.stop();
    }
  });

  test.skipIf(!existsSync('/usr/bin/tmux'))('a progress bar on a terminal (tmux)', async () => {
    const fresh = await startMemcached();
    const session = `mcr-warm-${process.pid}`;
    execFileSync('tmux', ['new-session', '-d', '-s', session, '-x', '150', '-y', '20', `node ${cli} warm --all --from ${old.address} --to ${fresh.address} --rate 100/s`]);
    try {
      let screen = '';
      let bar: RegExpExecArray | null = null;
      await waitFor(() => `a progress bar past 10 keys on the screen:\n${screen}`, () => {
        screen = execFileSync('tmux', ['capture-pane', '-p', '-t', session]).toString();
        bar = /\[(#*)(\.*)\]\s+([\d.]+) % ([\d,]+)\/([\d,]+) keys, copied ([\d,]+)/.exec(screen);
        return bar !== null && Number(bar[4]!.replace(/,/g, '')) > 10;
      }, 20_000, 100);
      expect(bar, screen).not.toBeNull();
      // the total is what the old server holds; the bar is as full as the share done
      expect(Number(bar![5]!.replace(/,/g, ''))).toBe(all.length);
      expect(bar![1]!.length + bar![2]!.length).toBe(24);
      expect(Math.abs(Number(bar![3]) - (100 * Number(bar![4]!.replace(/,/g, ''))) / all.length)).toBeLessThan(0.1);
      // refreshed in place: one progress line, not one per refresh
      expect(screen.match(/keys, copied/g)?.length).toBe(1);
    } finally {
      execFileSync('tmux', ['kill-session', '-t', session]);
      await fresh.stop();
    }
  });

  test('bad usage and an unreachable new server', async () => {
    expect((await mcreplay(['warm', '--from', old.address, '--to', nu.address])).code).toBe(2);
    expect((await mcreplay(['warm', cap, '--to', nu.address])).code).toBe(2);
    const dead = await freePort();
    const r = await mcreplay(['warm', cap, '--port', String(old.port), '--from', old.address, '--to', `127.0.0.1:${dead}`]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/no new server is reachable/);
  });
});
