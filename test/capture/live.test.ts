// Real captures: tcpdump records a client talking to a real memcached on the loopback; the
// reassembled streams must equal, byte for byte, what the client itself wrote and read.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { readCapture } from '../../src/capture/index.js';
import { useMemcached } from '../helpers/memcached.js';
import { haveTcpdump, startTcpdump as tcpdump, talk, untilFileSettles, type Talk } from '../helpers/tcpdump.js';
import { Recorder } from './recorder.js';


describe.skipIf(!haveTcpdump)('real captures with tcpdump on the loopback', () => {
  const mc = useMemcached();
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mcr-live-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  async function record(file: string, iface: string, extra: string[]): Promise<Talk[]> {
    const dump = await tcpdump(['-i', iface, '-s', '0', '-B', '131072', '-U', ...extra, '-w', file, 'port', String(mc.port)]);
    const big = Buffer.alloc(300_000);
    for (let i = 0; i < big.length; i++) big[i] = 97 + (i % 26);
    const talks = await Promise.all([
      talk(
        mc.port,
        [
          Buffer.from('set a 0 0 5\r\nhello\r\n'),
          Buffer.from('get a\r\nget a nope a\r\ngets a\r\n'), // pipelined
          Buffer.concat([Buffer.from(`set big 7 0 ${big.length}\r\n`), big, Buffer.from('\r\n')]),
          Buffer.from('get big\r\n'),
          Buffer.from('incr n 1\r\nset n 0 0 1 noreply\r\n1\r\nincr n 41\r\n'),
          Buffer.from('version\r\n'),
        ],
        /VERSION [^\r]*\r\n$/,
      ),
      talk(mc.port, [Buffer.from('mn\r\nms m 2 T0\r\nhi\r\nmg m v k\r\nmg zz v\r\n'), Buffer.from('version\r\n')], /VERSION [^\r]*\r\n$/),
      talk(mc.port, [Buffer.from('stats\r\n'), Buffer.from('version\r\n')], /VERSION [^\r]*\r\n$/),
    ]);
    await untilFileSettles(file);
    const log = await dump.stop();
    expect(log).toMatch(/packets captured/);
    return talks;
  }

  async function check(file: string, talks: Talk[]): Promise<{ rec: Recorder; stats: Awaited<ReturnType<typeof readCapture>> }> {
    const rec = new Recorder();
    const stats = await readCapture(file, { serverPorts: [mc.port] }, rec);
    expect(stats.error).toBeNull();
    expect(stats.tcpConnections).toBe(talks.length);
    for (const t of talks) {
      const f = rec.list.find((x) => x.info.client.port === t.localPort)!;
      expect(f, `connection from port ${t.localPort}`).toBeDefined();
      expect(f.info).toMatchObject({ synSeen: true, serverBy: 'port', client: { addr: '127.0.0.1' }, server: { addr: '127.0.0.1', port: mc.port } });
      expect(f.parts[0].every((p) => typeof p !== 'number')).toBe(true); // no gaps
      expect(f.parts[1].every((p) => typeof p !== 'number')).toBe(true);
      expect(rec.bytes(f.info.id, 0).length).toBe(t.sent.length);
      expect(rec.bytes(f.info.id, 0).equals(t.sent)).toBe(true);
      expect(rec.bytes(f.info.id, 1).length).toBe(t.received.length);
      expect(rec.bytes(f.info.id, 1).equals(t.received)).toBe(true);
      expect(f.close?.reason).toBe('fin');
    }
    expect(stats.gapEvents).toBe(0);
    expect(rec.tsWentBack).toBe(0);
    return { rec, stats };
  }

  test('-i lo, classic pcap in µs (EN10MB); the same file gzipped and converted to pcapng by editcap', async () => {
    const file = join(dir, 'lo.pcap');
    const talks = await record(file, 'lo', []);
    const { stats } = await check(file, talks);
    expect(stats.format).toBe('pcap');
    expect(stats.nanosecond).toBe(false);
    expect(Object.keys(stats.linkTypes)).toEqual(['EN10MB']);

    writeFileSync(join(dir, 'lo.pcap.gz'), gzipSync(readFileSync(file)));
    const gz = await check(join(dir, 'lo.pcap.gz'), talks);
    expect(gz.stats.gzip).toBe(true);

    if (existsSync('/usr/bin/editcap')) {
      execFileSync('editcap', ['-F', 'pcapng', file, join(dir, 'lo.pcapng')]);
      const ng = await check(join(dir, 'lo.pcapng'), talks);
      expect(ng.stats.format).toBe('pcapng');
      expect(ng.stats.packets).toBe(stats.packets);
      expect(ng.stats.lastNs - ng.stats.firstNs).toBe(stats.lastNs - stats.firstNs);
    }
  });

  test('-i any with nanosecond timestamps (LINUX_SLL2)', async () => {
    const file = join(dir, 'any.pcap');
    const talks = await record(file, 'any', ['--time-stamp-precision', 'nano']);
    const { stats } = await check(file, talks);
    expect(stats.nanosecond).toBe(true);
    expect(Object.keys(stats.linkTypes)).toEqual(['LINUX_SLL2']);
    // The capture's own frame times, as tshark reads them, span the same interval.
    if (existsSync('/usr/bin/tshark')) {
      const out = execFileSync('tshark', ['-r', file, '-T', 'fields', '-e', 'frame.time_epoch'], { encoding: 'utf8' }).trim().split('\n');
      expect(stats.packets).toBe(out.length);
      const ns = (s: string): bigint => {
        const [a, b = ''] = s.split('.');
        return BigInt(a!) * 1_000_000_000n + BigInt(b.padEnd(9, '0').slice(0, 9));
      };
      expect(BigInt(stats.baseEpochSec) * 1_000_000_000n + BigInt(stats.firstNs)).toBe(ns(out[0]!));
      expect(BigInt(stats.baseEpochSec) * 1_000_000_000n + BigInt(stats.lastNs)).toBe(ns(out[out.length - 1]!));
    }
  });
});
