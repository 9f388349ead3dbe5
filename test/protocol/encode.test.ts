import { describe, expect, it } from 'vitest';
import { connect } from 'node:net';
import { encodeRequest } from '../../src/protocol/encode.js';
import { useMemcached } from '../helpers/memcached.js';
import { T, arithExtras, binPacket, parseChunks, randomBytes, requestsOf, storeExtras, u32 } from './helpers.js';

const P = T('c7:');

/** Encodes the single request in `stream` and parses the result back. */
function roundTrip(stream: Buffer, edit: Parameters<typeof encodeRequest>[1]) {
  const [req] = requestsOf(stream);
  const out = encodeRequest(req, edit);
  const parsed = parseChunks([Buffer.concat(out)]);
  expect(parsed.skipped).toEqual({});
  expect(parsed.reqs.length).toBe(1);
  return { req, out, back: parsed.reqs[0] };
}

describe('encodeRequest', () => {
  it('an unchanged request is its raw bytes, not a copy', () => {
    for (const s of [T('get a\r\n'), T('set a 0 0 1\r\nx\r\n'), binPacket({ op: 0x00, key: 'a' })]) {
      const [req] = requestsOf(s);
      const out = encodeRequest(req, {});
      expect(out.length).toBe(1);
      expect(out[0]).toBe(req.raw);
      expect(encodeRequest(req, { keyPrefix: Buffer.alloc(0) })[0]).toBe(req.raw);
    }
    // edits that do not apply to the command leave it alone too
    const [g] = requestsOf(T('get a\r\n'));
    expect(encodeRequest(g, { cas: 5n, exptime: 10 })[0]).toBe(g.raw);
    const [v] = requestsOf(T('version\r\n'));
    expect(encodeRequest(v, { keyPrefix: P })[0]).toBe(v.raw);
  });

  it('text: prefixes every key of a multi-get', () => {
    const { back } = roundTrip(T('get a bb ccc\r\n'), { keyPrefix: P });
    expect(back.keys).toEqual(['c7:a', 'c7:bb', 'c7:ccc']);
    expect(back.raw).toBe('get c7:a c7:bb c7:ccc\r\n');
  });

  it('text: storage keeps the data block as a view and rewrites key, exptime, cas', () => {
    const value = randomBytes(10_000, 4);
    const s = Buffer.concat([T('cas k 5 100 10000 42 noreply\r\n'), value, T('\r\n')]);
    const { req, out, back } = roundTrip(s, { keyPrefix: P, exptime: 1700000000, cas: 18446744073709551615n });
    expect(out.length).toBe(2);
    expect(out[1].buffer).toBe(req.raw.buffer); // the value was not copied
    expect(back).toMatchObject({ cmd: 'cas', keys: ['c7:k'], flags: 5, exptime: 1700000000, cas: 18446744073709551615n, quiet: true, valueLen: 10_000 });
    expect(Buffer.from(back.raw, 'latin1').subarray(-10_002, -2).equals(value)).toBe(true);
  });

  it('text: gat/touch/flush_all exptime, incr/delete keys, LF-only lines keep their ending', () => {
    expect(roundTrip(T('gat 10 a b\r\n'), { exptime: 99, keyPrefix: P }).back).toMatchObject({ exptime: 99, keys: ['c7:a', 'c7:b'] });
    expect(roundTrip(T('touch a 10 noreply\r\n'), { exptime: 5 }).back).toMatchObject({ exptime: 5, keys: ['a'], quiet: true });
    expect(roundTrip(T('flush_all 10\r\n'), { exptime: 0 }).back).toMatchObject({ exptime: 0 });
    expect(roundTrip(T('incr n 1\r\n'), { keyPrefix: P }).back).toMatchObject({ keys: ['c7:n'] });
    expect(roundTrip(T('delete n noreply\r\n'), { keyPrefix: P }).back).toMatchObject({ keys: ['c7:n'], quiet: true });
    expect(roundTrip(T('get a\n'), { keyPrefix: P }).back.raw).toBe('get c7:a\n');
  });

  it('meta: key, T and C flags; base64 keys stay base64', () => {
    expect(roundTrip(T('mg foo v T30 q O5\r\n'), { keyPrefix: P, exptime: 60 }).back).toMatchObject({ keys: ['c7:foo'], exptime: 60, quiet: true, opaque: 5, metaFlags: ['v', 'T60', 'q', 'O5'] });
    const ms = roundTrip(T('ms foo 3 C10 T0 F2\r\nbar\r\n'), { cas: 77n, exptime: 9 });
    expect(ms.back).toMatchObject({ keys: ['foo'], cas: 77n, exptime: 9, flags: 2, valueLen: 3 });
    expect(ms.out[1].toString()).toBe('bar\r\n');
    expect(roundTrip(T('mg Zm9v b v\r\n'), { keyPrefix: P }).back.keys).toEqual(['c7:foo']);
    expect(roundTrip(T('md foo C5 q\r\n'), { cas: 6n }).back).toMatchObject({ cas: 6n, quiet: true });
  });

  it('binary: key length, body length, cas and extras exptime', () => {
    const value = randomBytes(5000, 2);
    const s = binPacket({ op: 0x11, key: 'k', extras: storeExtras(9, 100), value, opaque: 77, cas: 3n });
    const { req, out, back } = roundTrip(s, { keyPrefix: P, cas: 1234n, exptime: 3600 });
    expect(out.length).toBe(2);
    expect(out[1].buffer).toBe(req.raw.buffer);
    expect(back).toMatchObject({ cmd: 'setq', keys: ['c7:k'], flags: 9, exptime: 3600, cas: 1234n, opaque: 77, valueLen: 5000, quiet: true });
    expect(roundTrip(binPacket({ op: 0x05, key: 'n', extras: arithExtras(1n, 2n, 10) }), { exptime: 20 }).back).toMatchObject({ exptime: 20, keys: ['n'] });
    expect(roundTrip(binPacket({ op: 0x1d, key: 'n', extras: u32(10) }), { exptime: 20, keyPrefix: P }).back).toMatchObject({ exptime: 20, keys: ['c7:n'] });
    expect(roundTrip(binPacket({ op: 0x0d, key: 'n' }), { keyPrefix: P }).out.length).toBe(1);
  });
});

describe('encoded requests against memcached', () => {
  const mc = useMemcached();

  function exchange(bytes: Buffer[], until: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: mc.host, port: mc.port });
      let got = '';
      const t = setTimeout(() => reject(new Error('timeout: ' + got)), 5000);
      s.on('data', (d) => {
        got += d.toString('latin1');
        if (got.endsWith(until)) {
          clearTimeout(t);
          s.destroy();
          resolve(got);
        }
      });
      s.on('error', reject);
      s.on('connect', () => {
        s.cork();
        for (const b of bytes) s.write(b);
        s.uncork();
      });
    });
  }

  it('prefixed text and meta writes land under the prefixed keys', async () => {
    const reqs = requestsOf(T('set a 0 0 2\r\nhi\r\nms b 3 T0\r\nyou\r\n'));
    const out = reqs.flatMap((r) => encodeRequest(r, { keyPrefix: P }));
    await exchange([...out, T('mn\r\n')], 'MN\r\n');
    const got = await exchange([T('get c7:a c7:b a b\r\n')], 'END\r\n');
    expect(got).toBe('VALUE c7:a 0 2\r\nhi\r\nVALUE c7:b 0 3\r\nyou\r\nEND\r\n');
  });

  it('a captured cas token is replaced by the target token', async () => {
    await exchange([T('set t 0 0 1\r\n1\r\n')], 'STORED\r\n');
    const gets = await exchange([T('gets t\r\n')], 'END\r\n');
    const token = BigInt(gets.split('\r\n')[0].split(' ')[4]);
    const [captured] = requestsOf(T('cas t 0 0 1 555555\r\n2\r\n'));
    expect(await exchange([...encodeRequest(captured, {}), T('mn\r\n')], 'MN\r\n')).toBe('EXISTS\r\nMN\r\n');
    expect(await exchange([...encodeRequest(captured, { cas: token }), T('mn\r\n')], 'MN\r\n')).toBe('STORED\r\nMN\r\n');
  });

  it('binary prefixed set with rebased exptime is stored', async () => {
    const [req] = requestsOf(binPacket({ op: 0x01, key: 'bk', extras: storeExtras(0, 5), value: 'val' }));
    const noop = binPacket({ op: 0x0a, opaque: 9 });
    const bin = await new Promise<Buffer>((resolve, reject) => {
      const s = connect({ host: mc.host, port: mc.port });
      let got = Buffer.alloc(0);
      s.on('data', (d) => {
        got = Buffer.concat([got, d]);
        if (got.length >= 48) {
          s.destroy();
          resolve(got);
        }
      });
      s.on('error', reject);
      s.on('connect', () => {
        for (const b of encodeRequest(req, { keyPrefix: P, exptime: 1000 })) s.write(b);
        s.write(noop);
      });
    });
    expect(bin.readUInt16BE(6)).toBe(0); // no_error
    const got = await exchange([T('mg c7:bk v t\r\n')], 'val\r\n');
    expect(got).toMatch(/^VA 3 t(99\d|1000)\r\nval\r\n$/);
  });
});
