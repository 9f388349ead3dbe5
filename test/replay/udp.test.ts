// UDP replay against a real memcached with UDP on (-U): the fixture recorded from a raw UDP client
// (captures/fixtures/udp.pcap, truth in udp.truth.json) replays with the client's op counts and
// hit/miss outcomes, a 3-datagram answer is put back together, an answer that lost a datagram
// times out, and a target that never answers over UDP yields timeouts, not a hang.
import { createSocket, type Socket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startMemcached, useMemcached } from '../helpers/memcached.js';
import { QUIET, accounted, errorSum, mcGet, mcRaw, replay, tempDir } from './helpers.js';

const root = resolve(import.meta.dirname, '../..');
const capture = join(root, 'captures/fixtures/udp.pcap');
interface Truth {
  requests: number;
  quietRequests: number;
  perCommand: Record<string, { requests: number; errors: number; hits?: number; misses?: number }>;
  ops: { cmd: string; keys: string[]; valueLen: number; datagrams?: number; valueBytes?: number }[];
}
const truth = JSON.parse(readFileSync(join(root, 'captures/fixtures/udp.truth.json'), 'utf8')) as Truth;

const tmp = tempDir();
const mc = useMemcached({ udp: true });
afterAll(() => tmp.cleanup());

describe('UDP replay', () => {
  it('replays the UDP fixture over UDP with the client\'s op counts and hits/misses, multi-datagram answers included', async () => {
    // the client stored ubig (4,000 bytes) over TCP before the capture began (truth notes)
    const ubig = truth.ops.find((o) => o.cmd === 'get' && o.keys.length === 1 && o.keys[0] === 'ubig')!;
    expect(ubig.datagrams).toBeGreaterThan(1);
    expect(await mcRaw(mc.address, `set ubig 0 0 ${ubig.valueBytes}\r\n${'x'.repeat(ubig.valueBytes!)}\r\n`)).toBe('STORED\r\n');
    const run = await replay([capture, '--target', mc.address, ...QUIET], tmp.dir);
    expect(run.code, run.stderr).toBe(0);
    const r = run.results!;
    const c = r.summary.total.counters;
    expect(c.heldBack).toEqual({});
    expect(c.sent).toBe(truth.requests);
    expect(c.errors.timeout).toBe(0);
    expect(accounted(c)).toBe(truth.requests);
    expect(c.completed + errorSum(c)).toBe(c.sent);
    for (const [cmd, v] of Object.entries(truth.perCommand)) {
      const got = r.summary.perCommand[cmd]!.counters;
      expect(got.sent, cmd).toBe(v.requests);
      expect(got.errors.error + got.errors.client_error + got.errors.server_error, `${cmd} errors`).toBe(v.errors);
      if (v.hits !== undefined) {
        expect(got.hits, `${cmd} hits`).toBe(v.hits);
        expect(got.misses, `${cmd} misses`).toBe(v.misses);
      }
    }
    // every get of ubig took several datagrams: each came back whole (a hit with all its bytes)
    const readBytes = truth.ops.filter((o) => o.cmd === 'get' || o.cmd === 'gets').reduce((n, o) => n + (o.valueBytes ?? 0), 0);
    expect(r.summary.perCommand.get!.counters.bytesIn + r.summary.perCommand.gets!.counters.bytesIn).toBeGreaterThan(readBytes);
    // the noreply set was sent too: the target holds its value
    const u3 = truth.ops.find((o) => o.cmd === 'set' && o.keys[0] === 'u3')!;
    expect(await mcGet(mc.address, 'u3')).toHaveLength(u3.valueLen);
  });

  it('an answer that lost one of its datagrams fails as a timeout; the others complete', async () => {
    const ubig = truth.ops.find((o) => o.cmd === 'get' && o.keys.length === 1 && o.keys[0] === 'ubig')!;
    expect(await mcRaw(mc.address, `set ubig 0 0 ${ubig.valueBytes}\r\n${'x'.repeat(ubig.valueBytes!)}\r\n`)).toBe('STORED\r\n');
    // the replay's target port: TCP answered by a memcached (the start-up probe), UDP by a relay
    // to the memcached with UDP on that drops datagram 1 of every sequence of 3 (ubig's)
    const front = await startMemcached();
    const relay: Socket = createSocket('udp4');
    const upstream: Socket = createSocket('udp4');
    let client: { address: string; port: number } | null = null;
    let dropped = 0;
    relay.on('message', (m, from) => {
      client = { address: from.address, port: from.port };
      upstream.send(m, mc.port, '127.0.0.1');
    });
    upstream.on('message', (m) => {
      if (m.readUInt16BE(4) === 3 && m.readUInt16BE(2) === 1) {
        dropped++;
        return;
      }
      if (client !== null) relay.send(m, client.port, client.address);
    });
    await new Promise<void>((res) => relay.bind(front.port, '127.0.0.1', () => res()));
    await new Promise<void>((res) => upstream.bind(0, '127.0.0.1', () => res()));
    try {
      const run = await replay([capture, '--target', front.address, '--timeout', '300ms', ...QUIET], tmp.dir);
      const c = run.results!.summary.total.counters;
      // the requests whose answer carried ubig: the multi-get, the gets and the get of ubig alone
      const withUbig = truth.ops.filter((o) => (o.cmd === 'get' || o.cmd === 'gets') && o.keys.includes('ubig')).length;
      expect(dropped).toBe(withUbig);
      expect(c.sent).toBe(truth.requests);
      expect(c.errors.timeout).toBe(withUbig);
      expect(c.completed + errorSum(c)).toBe(c.sent);
      expect(accounted(c)).toBe(truth.requests);
    } finally {
      relay.close();
      upstream.close();
      await front.stop();
    }
  });

  it('a target that drops every UDP datagram yields timeouts, not a hang', async () => {
    // memcached answers TCP on this port (the start-up probe), a socket that never answers holds UDP
    const tcpOnly = await startMemcached();
    const hole: Socket = createSocket('udp4');
    const ids = new Set<number>();
    let got = 0;
    hole.on('message', (m) => {
      got++;
      ids.add(m.readUInt16BE(0));
    });
    await new Promise<void>((res) => hole.bind(tcpOnly.port, '127.0.0.1', () => res()));
    try {
      const t0 = Date.now();
      const run = await replay([capture, '--target', tcpOnly.address, '--timeout', '300ms', ...QUIET], tmp.dir);
      const c = run.results!.summary.total.counters;
      expect(c.sent).toBe(truth.requests);
      // every request that expects an answer timed out; the noreply one needs none
      expect(c.errors.timeout).toBe(truth.requests - truth.quietRequests);
      expect(c.completed).toBe(truth.quietRequests);
      expect(accounted(c)).toBe(truth.requests);
      expect(Date.now() - t0).toBeLessThan(20_000);
      // each request went in its own datagram under a request id of its own
      expect(got).toBe(truth.requests);
      expect(ids.size).toBe(truth.requests);
    } finally {
      hole.close();
      await tcpOnly.stop();
    }
  });
});
