// Real clients (libmemcached's memccapable in ascii and binary, pymemcache) talk to a real memcached
// through a recording proxy. Our request parser and response matcher must explain every recorded
// byte, and their hit/miss counts must equal memcached's own `stats` counters for the same traffic.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { promisify } from 'node:util';
import { useMemcached } from '../helpers/memcached.js';
import { createRequestParser } from '../../src/protocol/request-parser.js';
import { createResponseMatcher } from '../../src/protocol/response-matcher.js';
import { requestKeyStrings } from '../../src/protocol/request-keys.js';
import type { Expect, Proto } from '../../src/protocol/types.js';
import { randomChunks } from './helpers.js';
import { waitFor } from '../helpers/wait.js';

const run = promisify(execFile);

interface Recorded {
  /** Chunks in arrival order: dir 0 client→server, 1 server→client. */
  chunks: { dir: 0 | 1; data: Buffer }[];
  /** Sides (client, server) not closed yet: at 0 every byte of both directions is in `chunks`. */
  open: number;
}

const mc = useMemcached();
let proxy: Server;
let proxyPort = 0;
const conns: Recorded[] = [];

beforeAll(async () => {
  proxy = createServer((client: Socket) => {
    const rec: Recorded = { chunks: [], open: 2 };
    conns.push(rec);
    const server = connect({ host: mc.host, port: mc.port });
    client.on('data', (d) => {
      rec.chunks.push({ dir: 0, data: Buffer.from(d) });
      server.write(d);
    });
    server.on('data', (d) => {
      rec.chunks.push({ dir: 1, data: Buffer.from(d) });
      client.write(d);
    });
    client.on('close', () => {
      rec.open--;
      server.end();
    });
    server.on('close', () => {
      rec.open--;
      client.destroy();
    });
    client.on('error', () => server.destroy());
    server.on('error', () => client.destroy());
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
  const a = proxy.address();
  proxyPort = typeof a === 'object' && a ? a.port : 0;
});

afterAll(async () => {
  proxy?.close();
});

async function stats(): Promise<Record<string, number>> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: mc.host, port: mc.port });
    let got = '';
    s.on('data', (d) => {
      got += d.toString('latin1');
      if (got.endsWith('END\r\n')) {
        s.destroy();
        const out: Record<string, number> = {};
        for (const line of got.split('\r\n')) {
          const [w, k, v] = line.split(' ');
          if (w === 'STAT') out[k] = Number(v);
        }
        resolve(out);
      }
    });
    s.on('error', reject);
    s.write('stats\r\n');
  });
}

interface Tally {
  requests: number;
  byCmd: Record<string, number>;
  getHits: number;
  getMisses: number;
  deleteHits: number;
  deleteMisses: number;
  arithHits: number;
  arithMisses: number;
  skipped: number;
  left: number;
  unexpected: number;
  desync: number;
  closed: string[];
}

const GETS = new Set(['get', 'gets', 'getq', 'getk', 'getkq']);

/** Replays the recorded connections through parser and matcher, in arrival order, with the given chunking. */
function analyse(recs: Recorded[], rechunk: (b: Buffer, i: number) => Buffer[]): Tally {
  const t: Tally = { requests: 0, byCmd: {}, getHits: 0, getMisses: 0, deleteHits: 0, deleteMisses: 0, arithHits: 0, arithMisses: 0, skipped: 0, left: 0, unexpected: 0, desync: 0, closed: [] };
  interface Info {
    proto: Proto;
    cmd: string;
    expect: Expect;
    quiet: boolean;
    opaque: number;
    metaFlags: string[];
    keys: string[];
  }
  for (const rec of recs) {
    const m = createResponseMatcher<Info>({
      response: (r, resp) => {
        if (GETS.has(r.cmd)) {
          t.getHits += resp.hits;
          t.getMisses += resp.misses;
        } else if (r.cmd.startsWith('delete')) {
          if (resp.status === 'DELETED' || resp.status === 'no_error' || (resp.status === 'none' && r.proto === 'binary')) t.deleteHits++;
          else if (resp.status === 'NOT_FOUND' || resp.status === 'key_not_found') t.deleteMisses++;
        } else if (/^(incr|decr|increment|decrement)/.test(r.cmd)) {
          if (/^\d+$/.test(resp.status) || resp.status === 'no_error' || (resp.status === 'none' && r.proto === 'binary')) t.arithHits++;
          else if (resp.status === 'NOT_FOUND' || resp.status === 'key_not_found') t.arithMisses++;
        }
      },
      unanswered: (r, why) => {
        if (why === 'desync') t.desync++;
        else t.closed.push(r.cmd);
      },
      unexpected: (n) => (t.unexpected += n),
    });
    const p = createRequestParser({
      request: (r) => {
        t.requests++;
        t.byCmd[r.cmd] = (t.byCmd[r.cmd] ?? 0) + 1;
        const info: Info = { proto: r.proto, cmd: r.cmd, expect: r.expect, quiet: r.quiet, opaque: r.opaque, metaFlags: [...r.metaFlags], keys: requestKeyStrings(r) };
        m.expect(info, info);
      },
      skipped: (n) => (t.skipped += n),
    });
    rec.chunks.forEach((c, i) => {
      for (const piece of rechunk(c.data, i)) (c.dir === 0 ? p : m).push(piece, i);
    });
    t.left += p.end();
    m.close();
  }
  return t;
}

/**
 * Checks the tally against memcached's counters. A text noreply delete/incr/decr is answered by
 * silence, so whether it hit is unknowable to us: those are compared as totals.
 */
function checkAgainstStats(t: Tally, before: Record<string, number>, after: Record<string, number>, silentText: { delete: number; arith: number }, binaryArith = false): void {
  const d = (k: string) => after[k] - before[k];
  expect(t.skipped).toBe(0);
  expect(t.left).toBe(0);
  expect(t.unexpected).toBe(0);
  expect(t.desync).toBe(0);
  expect(t.getHits).toBe(d('get_hits'));
  expect(t.getMisses).toBe(d('get_misses'));
  expect(t.deleteHits + t.deleteMisses + silentText.delete).toBe(d('delete_hits') + d('delete_misses'));
  const serverArith = d('incr_hits') + d('incr_misses') + d('decr_hits') + d('decr_misses');
  // A binary incr/decr of a missing key with an initial value creates it: no_error to the client,
  // neither hit nor miss to memcached's counters.
  if (binaryArith) expect(t.arithHits + t.arithMisses).toBeGreaterThanOrEqual(serverArith);
  else expect(t.arithHits + t.arithMisses + silentText.arith).toBe(serverArith);
}

function countSilent(recs: Recorded[]): { delete: number; arith: number } {
  let del = 0;
  let arith = 0;
  for (const rec of recs)
    for (const c of rec.chunks)
      if (c.dir === 0) {
        const s = c.data.toString('latin1');
        del += (s.match(/^delete \S+( 0)? noreply\r$/gm) ?? []).length;
        arith += (s.match(/^(incr|decr) \S+ \d+ noreply\r$/gm) ?? []).length;
      }
  return { delete: del, arith };
}

const whole = (b: Buffer) => [b];

/** Waits until every connection recorded since `start` is closed on both sides (the client has exited). */
async function allClosed(start: number): Promise<void> {
  await waitFor('the proxied connections to close', () => conns.length > start && conns.slice(start).every((c) => c.open === 0), 10_000);
}

describe('real clients through a recording proxy', () => {
  for (const mode of ['-a', '-b'] as const) {
    it(`memccapable ${mode} is explained byte for byte and agrees with memcached's stats`, async () => {
      const start = conns.length;
      const before = await stats();
      const out = await run('memccapable', ['-h', '127.0.0.1', '-p', String(proxyPort), mode, '-t', '5']);
      expect(out.stdout).toContain('All tests passed');
      await allClosed(start); // the proxy has seen the last bytes and closes
      const after = await stats();
      const recs = conns.slice(start);
      const t = analyse(recs, whole);
      checkAgainstStats(t, before, after, countSilent(recs), mode === '-b');
      expect(t.closed).toEqual([]);
      if (mode === '-b') for (const c of ['getq', 'getkq', 'setq', 'addq', 'replaceq', 'deleteq', 'incrementq', 'decrementq', 'appendq', 'prependq', 'flushq', 'quitq', 'noop', 'stat', 'version']) expect(t.byCmd[c], c).toBeGreaterThan(0);
      else for (const c of ['get', 'gets', 'set', 'cas', 'incr', 'decr', 'append', 'prepend', 'stats', 'version', 'verbosity', 'flush_all', 'quit']) expect(t.byCmd[c], c).toBeGreaterThan(0);
      // The same bytes in other chunkings give the same picture.
      for (const [seed, max] of [
        [1, 1],
        [2, 13],
        [3, 700],
      ]) {
        const again = analyse(recs, (b, i) => randomChunks(b, seed * 1000 + i, max));
        expect(again).toEqual(t);
      }
    });
  }

  it('pymemcache: multi-get, noreply, cas, incr/decr, touch, large values', async () => {
    const script = `
import sys
from pymemcache.client.base import Client
c = Client(('127.0.0.1', int(sys.argv[1])), default_noreply=False)
big = b'x' * 600000
for i in range(50):
    c.set('k%d' % i, b'v%d' % i, noreply=(i % 3 == 0))
c.set('big', big)
r = c.get_many(['k%d' % i for i in range(60)] + ['big'])
assert len(r) == 51, len(r)
v, cas = c.gets('k1')
assert c.cas('k1', b'new', cas) is True
assert c.cas('k1', b'newer', cas) is False
c.set('n', b'10')
assert c.incr('n', 5) == 15
assert c.decr('n', 20) == 0
assert c.incr('missing', 1) is None
c.incr('n', 1, noreply=True)
assert c.touch('k2', 100) is True
assert c.touch('missing', 100) is False
assert c.delete('k3') is True
assert c.delete('k3', noreply=False) is False
c.delete('k4', noreply=True)
assert c.get('k4') is None
assert c.add('k5', b'x') is False
assert c.replace('nokey', b'x') is False
c.append('k6', b'-app')
c.prepend('k6', b'pre-')
assert c.get('k6') == b'pre-v6-app'
assert c.gets_many(['k7', 'k8', 'nope'])
c.version()
c.stats()
c.quit()
print('ok')
`;
    const start = conns.length;
    const before = await stats();
    const out = await run('/usr/bin/python3', ['-c', script, String(proxyPort)]);
    expect(out.stdout.trim()).toBe('ok');
    await allClosed(start);
    const after = await stats();
    const recs = conns.slice(start);
    const t = analyse(recs, whole);
    checkAgainstStats(t, before, after, countSilent(recs));
    expect(t.closed).toEqual([]);
    for (const [seed, max] of [
      [4, 1],
      [5, 1460],
      [6, 65536],
    ])
      expect(analyse(recs, (b, i) => randomChunks(b, seed * 1000 + i, max))).toEqual(t);
  });
});
