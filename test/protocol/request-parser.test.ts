import { describe, expect, it } from 'vitest';
import { createRequestParser } from '../../src/protocol/request-parser.js';
import {
  T,
  arithExtras,
  binPacket,
  parseChunks,
  randomBytes,
  randomChunks,
  splits,
  storeExtras,
  u32,
  withoutTs,
  type Req,
} from './helpers.js';

type Expected = Partial<Req>;

/**
 * Parses `stream` whole, cut in two at every byte and byte by byte: every way must give the same
 * requests, the expected ones, with no bytes skipped or left over, and each request stamped with
 * the chunk that held its first byte.
 */
function check(stream: Buffer, expected: Expected[]): void {
  const whole = parseChunks([stream]);
  expect(whole.skipped).toEqual({});
  expect(whole.left).toBe(0);
  expect(whole.reqs.length).toBe(expected.length);
  whole.reqs.forEach((r, i) => expect(r).toMatchObject(expected[i]));
  expect(whole.reqs.map((r) => r.raw).join('')).toBe(stream.toString('latin1'));
  const starts: number[] = [];
  let off = 0;
  for (const r of whole.reqs) {
    starts.push(off);
    off += r.raw.length;
  }
  for (const chunks of splits(stream)) {
    const got = parseChunks(chunks);
    expect(got.skipped).toEqual({});
    expect(got.left).toBe(0);
    expect(withoutTs(got.reqs)).toEqual(withoutTs(whole.reqs));
    if (chunks.length === 2) {
      const k = chunks[0].length;
      expect(got.reqs.map((r) => r.ts)).toEqual(starts.map((s) => (s < k ? 0 : 1)));
    } else if (chunks.length === stream.length) {
      expect(got.reqs.map((r) => r.ts)).toEqual(starts);
    }
  }
}

describe('text commands', () => {
  it('get, gets (single and multi-key)', () => {
    check(T('get foo\r\n'), [{ proto: 'text', cmd: 'get', cls: 'read', expect: 'values', keys: ['foo'], quiet: false, exptime: -1, opaque: -1 }]);
    check(T('get a bb ccc\r\n'), [{ cmd: 'get', keys: ['a', 'bb', 'ccc'] }]);
    check(T('gets k1 k2\r\n'), [{ cmd: 'gets', keys: ['k1', 'k2'], expect: 'values' }]);
  });

  it('gat, gats carry the exptime before the keys', () => {
    check(T('gat 100 a b\r\n'), [{ cmd: 'gat', cls: 'touch', expect: 'values', keys: ['a', 'b'], exptime: 100 }]);
    check(T('gats 0 x\r\n'), [{ cmd: 'gats', keys: ['x'], exptime: 0 }]);
  });

  it('storage commands with data blocks, noreply and cas', () => {
    check(T('set foo 5 60 3\r\nbar\r\n'), [{ cmd: 'set', cls: 'write', expect: 'line', keys: ['foo'], flags: 5, exptime: 60, valueLen: 3, quiet: false }]);
    check(T('set foo 0 0 3 noreply\r\nbar\r\n'), [{ cmd: 'set', quiet: true, expect: 'none', valueLen: 3 }]);
    for (const c of ['add', 'replace', 'append', 'prepend']) check(T(`${c} k 1 2 1\r\nx\r\n`), [{ cmd: c, cls: 'write', keys: ['k'], flags: 1, exptime: 2 }]);
    check(T('cas foo 0 0 3 12345\r\nbar\r\n'), [{ cmd: 'cas', cas: 12345n, valueLen: 3, quiet: false }]);
    check(T('cas foo 0 0 3 18446744073709551615 noreply\r\nabc\r\n'), [{ cmd: 'cas', cas: 18446744073709551615n, quiet: true }]);
    check(T('set e 0 0 0\r\n\r\n'), [{ cmd: 'set', valueLen: 0 }]);
    check(T('set t 0 2592001 1\r\nz\r\n'), [{ exptime: 2592001 }]);
  });

  it('a data block may hold CR, LF and command words', () => {
    check(T('set k 0 0 15\r\nab\r\nget x\r\ncd\r\n\r\nget y\r\n'), [
      { cmd: 'set', valueLen: 15 },
      { cmd: 'get', keys: ['y'] },
    ]);
  });

  it('incr, decr, delete, touch', () => {
    check(T('incr n 5\r\ndecr n 1 noreply\r\n'), [
      { cmd: 'incr', cls: 'arith', expect: 'line', keys: ['n'], quiet: false },
      { cmd: 'decr', quiet: true, expect: 'none' },
    ]);
    check(T('delete foo\r\ndelete foo noreply\r\ndelete foo 0\r\n'), [
      { cmd: 'delete', cls: 'delete', quiet: false },
      { cmd: 'delete', quiet: true },
      { cmd: 'delete', quiet: false },
    ]);
    check(T('touch foo 10\r\ntouch foo 20 noreply\r\n'), [
      { cmd: 'touch', cls: 'touch', exptime: 10, expect: 'line' },
      { cmd: 'touch', exptime: 20, quiet: true },
    ]);
  });

  it('info, session and destructive commands', () => {
    check(T('stats\r\nstats slabs\r\nversion\r\nquit\r\n'), [
      { cmd: 'stats', cls: 'info', expect: 'stats' },
      { cmd: 'stats', expect: 'stats' },
      { cmd: 'version', cls: 'info', expect: 'line' },
      { cmd: 'quit', cls: 'session', expect: 'none' },
    ]);
    check(T('flush_all\r\nflush_all 10 noreply\r\nverbosity 1\r\nverbosity 1 noreply\r\n'), [
      { cmd: 'flush_all', cls: 'destructive', exptime: -1, quiet: false },
      { cmd: 'flush_all', exptime: 10, quiet: true },
      { cmd: 'verbosity', cls: 'destructive', quiet: false },
      { cmd: 'verbosity', quiet: true },
    ]);
    const admin = ['shutdown', 'slabs reassign 1 2', 'slabs automove 1', 'lru_crawler crawl all', 'lru tune 10 25 0.1 2.0', 'cache_memlimit 100', 'watch fetchers', 'misbehave', 'debugtime 10'];
    check(
      T(admin.map((a) => a + '\r\n').join('')),
      admin.map((a) => ({ cmd: a.split(' ')[0], cls: 'destructive', expect: 'line' })),
    );
    check(T('lru_crawler metadump all\r\n'), [{ cmd: 'lru_crawler', expect: 'stats' }]);
  });

  it('noreply follows memcached: the last token, within the token counts each command accepts', () => {
    check(T('verbosity noreply\r\nflush_all noreply\r\nincr k noreply\r\ndelete k 0 noreply\r\ncache_memlimit 100 noreply\r\nversion noreply\r\n'), [
      { cmd: 'verbosity', quiet: true },
      { cmd: 'flush_all', quiet: true, exptime: -1 },
      { cmd: 'incr', quiet: true },
      { cmd: 'delete', quiet: true },
      { cmd: 'cache_memlimit', quiet: true },
      { cmd: 'version', quiet: false },
    ]);
    // Too many tokens: memcached answers ERROR and reads no data block, so the data line is a command.
    check(T('set k 0 0 1 noreply extra\r\nv\r\n'), [
      { cmd: 'set', quiet: false, valueLen: 0 },
      { cmd: 'v', cls: 'unknown' },
    ]);
  });

  it('lines ending in LF alone (memcached accepts them)', () => {
    check(T('get foo\nset a 0 0 1\nx\r\n'), [
      { cmd: 'get', keys: ['foo'] },
      { cmd: 'set', keys: ['a'], valueLen: 1 },
    ]);
  });

  it('unknown commands are requests named by their word', () => {
    check(T('foobar x y\r\nget k\r\n'), [
      { cmd: 'foobar', cls: 'unknown', expect: 'line' },
      { cmd: 'get', keys: ['k'] },
    ]);
    check(T('\r\n'), [{ cmd: '(empty)', cls: 'unknown' }]);
  });
});

describe('meta commands', () => {
  it('mg with flags, quiet and opaque', () => {
    check(T('mg foo v c t O123 q\r\n'), [
      { proto: 'meta', cmd: 'mg', cls: 'read', expect: 'meta', keys: ['foo'], metaFlags: ['v', 'c', 't', 'O123', 'q'], quiet: true, opaque: 123 },
    ]);
    check(T('mg foo k T30 N10 s f h l\r\n'), [{ cmd: 'mg', exptime: 30, quiet: false, opaque: -1, metaFlags: ['k', 'T30', 'N10', 's', 'f', 'h', 'l'] }]);
  });

  it('base64 keys are decoded', () => {
    check(T('mg Zm9vAQI= b v\r\n'), [{ cmd: 'mg', keys: ['foo\x01\x02'] }]);
  });

  it('a non-numeric opaque becomes a stable number', () => {
    const a = parseChunks([T('mg foo Oabc\r\n')]).reqs[0];
    const b = parseChunks([T('md bar Oabc\r\n')]).reqs[0];
    expect(a.opaque).toBeGreaterThanOrEqual(0);
    expect(a.opaque).toBe(b.opaque);
  });

  it('ms with a data block, md, ma, mn, me', () => {
    check(T('ms foo 3 T60 F5 C99 q\r\nbar\r\n'), [
      { cmd: 'ms', cls: 'write', expect: 'meta', keys: ['foo'], valueLen: 3, exptime: 60, flags: 5, cas: 99n, quiet: true, metaFlags: ['T60', 'F5', 'C99', 'q'] },
    ]);
    check(T('ms foo S3 T0\r\nbar\r\n'), [{ cmd: 'ms', valueLen: 3, exptime: 0 }]);
    check(T('md foo q O1\r\nma foo D5 MI v\r\nmn\r\nme foo\r\n'), [
      { cmd: 'md', cls: 'delete', quiet: true, opaque: 1 },
      { cmd: 'ma', cls: 'arith', quiet: false, metaFlags: ['D5', 'MI', 'v'] },
      { cmd: 'mn', cls: 'info', keys: [], expect: 'meta' },
      { cmd: 'me', cls: 'info', keys: ['foo'] },
    ]);
  });
});

describe('binary commands', () => {
  const cases: [Buffer, Expected][] = [
    [binPacket({ op: 0x00, key: 'foo', opaque: 7 }), { proto: 'binary', cmd: 'get', cls: 'read', expect: 'binary', keys: ['foo'], opaque: 7, quiet: false }],
    [binPacket({ op: 0x09, key: 'foo' }), { cmd: 'getq', quiet: true }],
    [binPacket({ op: 0x0c, key: 'foo' }), { cmd: 'getk', quiet: false }],
    [binPacket({ op: 0x0d, key: 'foo' }), { cmd: 'getkq', quiet: true }],
    [binPacket({ op: 0x01, key: 'k', extras: storeExtras(3, 100), value: 'hello', cas: 42n }), { cmd: 'set', cls: 'write', flags: 3, exptime: 100, valueLen: 5, cas: 42n }],
    [binPacket({ op: 0x11, key: 'k', extras: storeExtras(0, 0), value: 'v' }), { cmd: 'setq', quiet: true }],
    [binPacket({ op: 0x02, key: 'k', extras: storeExtras(0, 0), value: 'v' }), { cmd: 'add' }],
    [binPacket({ op: 0x12, key: 'k', extras: storeExtras(0, 0), value: 'v' }), { cmd: 'addq', quiet: true }],
    [binPacket({ op: 0x03, key: 'k', extras: storeExtras(0, 0), value: 'v' }), { cmd: 'replace' }],
    [binPacket({ op: 0x13, key: 'k', extras: storeExtras(0, 0), value: 'v' }), { cmd: 'replaceq', quiet: true }],
    [binPacket({ op: 0x04, key: 'k' }), { cmd: 'delete', cls: 'delete' }],
    [binPacket({ op: 0x14, key: 'k' }), { cmd: 'deleteq', quiet: true }],
    [binPacket({ op: 0x05, key: 'n', extras: arithExtras(1n, 0n, 3600) }), { cmd: 'increment', cls: 'arith', exptime: 3600 }],
    [binPacket({ op: 0x15, key: 'n', extras: arithExtras(1n, 0n, 0) }), { cmd: 'incrementq', quiet: true }],
    [binPacket({ op: 0x06, key: 'n', extras: arithExtras(1n, 0n, 0) }), { cmd: 'decrement' }],
    [binPacket({ op: 0x16, key: 'n', extras: arithExtras(1n, 0n, 0) }), { cmd: 'decrementq', quiet: true }],
    [binPacket({ op: 0x07 }), { cmd: 'quit', cls: 'session', expect: 'binary', quiet: false }],
    [binPacket({ op: 0x17 }), { cmd: 'quitq', quiet: true, expect: 'none' }],
    [binPacket({ op: 0x08 }), { cmd: 'flush', cls: 'destructive', exptime: -1 }],
    [binPacket({ op: 0x08, extras: u32(10) }), { cmd: 'flush', exptime: 10 }],
    [binPacket({ op: 0x18 }), { cmd: 'flushq', quiet: true }],
    [binPacket({ op: 0x0a }), { cmd: 'noop', cls: 'info' }],
    [binPacket({ op: 0x0b }), { cmd: 'version', cls: 'info' }],
    [binPacket({ op: 0x0e, key: 'k', value: 'x' }), { cmd: 'append', cls: 'write', valueLen: 1 }],
    [binPacket({ op: 0x19, key: 'k', value: 'x' }), { cmd: 'appendq', quiet: true }],
    [binPacket({ op: 0x0f, key: 'k', value: 'x' }), { cmd: 'prepend' }],
    [binPacket({ op: 0x1a, key: 'k', value: 'x' }), { cmd: 'prependq', quiet: true }],
    [binPacket({ op: 0x10 }), { cmd: 'stat', cls: 'info', expect: 'stats', keys: [] }],
    [binPacket({ op: 0x10, key: 'slabs' }), { cmd: 'stat', keys: ['slabs'] }],
    [binPacket({ op: 0x1b, extras: u32(1) }), { cmd: 'verbosity', cls: 'destructive' }],
    [binPacket({ op: 0x1c, key: 'k', extras: u32(50) }), { cmd: 'touch', cls: 'touch', exptime: 50 }],
    [binPacket({ op: 0x1d, key: 'k', extras: u32(50) }), { cmd: 'gat', cls: 'touch', exptime: 50 }],
    [binPacket({ op: 0x1e, key: 'k', extras: u32(50) }), { cmd: 'gatq', quiet: true }],
    [binPacket({ op: 0x23, key: 'k', extras: u32(50) }), { cmd: 'gatk' }],
    [binPacket({ op: 0x24, key: 'k', extras: u32(50) }), { cmd: 'gatkq', quiet: true }],
    [binPacket({ op: 0x20 }), { cmd: 'sasl_list_mechs', cls: 'auth', credentials: false }],
    [binPacket({ op: 0x21, key: 'PLAIN', value: '\0user\0secret' }), { cmd: 'sasl_auth', cls: 'auth', credentials: true }],
    [binPacket({ op: 0x22, key: 'PLAIN', value: 'step' }), { cmd: 'sasl_step', credentials: true }],
  ];
  it.each(cases.map(([b, e]) => [e.cmd, b, e] as const))('%s', (_n, b, e) => check(b, [e]));

  it('quiet sequences ended by noop, pipelined', () => {
    const stream = Buffer.concat([
      binPacket({ op: 0x0d, key: 'a', opaque: 1 }),
      binPacket({ op: 0x0d, key: 'b', opaque: 2 }),
      binPacket({ op: 0x11, key: 'c', extras: storeExtras(0, 0), value: 'v', opaque: 3 }),
      binPacket({ op: 0x0a, opaque: 4 }),
    ]);
    check(stream, [
      { cmd: 'getkq', opaque: 1 },
      { cmd: 'getkq', opaque: 2 },
      { cmd: 'setq', opaque: 3 },
      { cmd: 'noop', opaque: 4 },
    ]);
  });

  it('opcodes memcached does not implement (range ops) are unknown requests', () => {
    check(Buffer.concat([binPacket({ op: 0x0a }), binPacket({ op: 0x30, key: 'a' })]), [{ cmd: 'noop' }, { cmd: 'op_0x30', cls: 'unknown', proto: 'binary' }]);
  });
});

describe('mixed and pipelined streams', () => {
  it('text, meta and binary on one stream', () => {
    const stream = Buffer.concat([
      T('set a 0 0 2\r\nhi\r\n'),
      binPacket({ op: 0x00, key: 'a' }),
      T('mg a v\r\n'),
      binPacket({ op: 0x01, key: 'b', extras: storeExtras(0, 0), value: 'xy' }),
      T('get a b\r\n'),
    ]);
    check(stream, [
      { proto: 'text', cmd: 'set' },
      { proto: 'binary', cmd: 'get' },
      { proto: 'meta', cmd: 'mg' },
      { proto: 'binary', cmd: 'set' },
      { proto: 'text', cmd: 'get', keys: ['a', 'b'] },
    ]);
  });

  it('proto is the first request protocol', () => {
    const p = createRequestParser({ request: () => {}, skipped: () => {} });
    expect(p.proto).toBeNull();
    p.push(binPacket({ op: 0x0a }), 0);
    expect(p.proto).toBe('binary');
  });

  it('ascii auth: the first set carries credentials only when told so', () => {
    const s = T('set x 0 0 9\r\nuser pass\r\nget a\r\n');
    expect(parseChunks([s]).reqs[0]).toMatchObject({ cmd: 'set', cls: 'write', credentials: false });
    expect(parseChunks([s], { asciiAuth: true }).reqs[0]).toMatchObject({ cmd: 'set', cls: 'auth', credentials: true });
    expect(parseChunks([s], { asciiAuth: true }).reqs[1]).toMatchObject({ cmd: 'get', credentials: false });
  });
});

describe('large values', () => {
  const value = randomBytes(500_000, 1);
  const stream = Buffer.concat([T('set big 1 0 500000\r\n'), value, T('\r\nget big\r\n'), binPacket({ op: 0x01, key: 'b2', extras: storeExtras(0, 0), value }), binPacket({ op: 0x0a })]);
  it('assembled across chunks of any size', () => {
    const whole = parseChunks([stream]);
    expect(whole.reqs.map((r) => [r.cmd, r.valueLen])).toEqual([
      ['set', 500000],
      ['get', 0],
      ['set', 500000],
      ['noop', 0],
    ]);
    expect(whole.reqs.map((r) => r.raw).join('')).toBe(stream.toString('latin1'));
    for (const [seed, max] of [
      [1, 1],
      [2, 7],
      [3, 1500],
      [4, 65536],
    ]) {
      const got = parseChunks(randomChunks(stream, seed, max));
      expect(withoutTs(got.reqs)).toEqual(withoutTs(whole.reqs));
      expect(got.skipped).toEqual({});
    }
    // Cut points near every boundary and inside the values.
    const cuts = [1, 10, 19, 20, 21, 22, 1000, 499_999, 500_020, 500_021, 500_022, 500_023, 500_030, 500_031, 500_040, 500_070, stream.length - 25, stream.length - 24, stream.length - 1];
    for (const k of cuts) expect(withoutTs(parseChunks([stream.subarray(0, k), stream.subarray(k)]).reqs)).toEqual(withoutTs(whole.reqs));
  });

  it('a request inside one chunk is a view, not a copy', () => {
    const raws: Buffer[] = [];
    const p = createRequestParser({ request: (r) => raws.push(r.raw), skipped: () => {} });
    p.push(stream, 0);
    expect(raws[0].buffer).toBe(stream.buffer);
    expect(raws[2].buffer).toBe(stream.buffer);
  });
});

describe('resynchronisation', () => {
  it('skips garbage at the start up to the next command line', () => {
    const garbage = T('\x01\x02 junk that is not a command\r\nmore junk\r\n');
    const stream = Buffer.concat([garbage, T('get foo\r\nset a 0 0 1\r\nx\r\n')]);
    for (const chunks of splits(stream)) {
      const r = parseChunks(chunks);
      expect(r.reqs.map((q) => q.cmd)).toEqual(['get', 'set']);
      expect(r.skipped).toEqual({ garbage: garbage.length });
    }
  });

  it('after desync, joins in the middle of a 500 KB value and finds the next command', () => {
    const value = randomBytes(500_000, 7);
    const full = Buffer.concat([T('set big 0 0 500000\r\n'), value, T('\r\nget foo\r\nmg bar v\r\n')]);
    const cut = 250_000; // the capture lost everything before this byte
    const tail = full.subarray(cut);
    const skippedBytes = full.indexOf(T('get foo')) - cut;
    for (const chunks of [[tail], randomChunks(tail, 5, 3000), randomChunks(tail, 6, 20)]) {
      const r = parseChunks(['desync', ...chunks]);
      expect(r.reqs.map((q) => q.cmd)).toEqual(['get', 'mg']);
      expect(r.skipped).toEqual({ resync: skippedBytes });
      expect(r.left).toBe(0);
    }
  });

  it('desync mid-request drops the partial request and counts it', () => {
    const a = T('set k 0 0 10\r\n01234');
    const b = T('nope\r\nget x\r\n');
    const r = parseChunks([a, 'desync', b]);
    expect(r.reqs.map((q) => q.cmd)).toEqual(['get']);
    expect(r.skipped).toEqual({ resync: a.length + 6 });
  });

  it('binary: joins in the middle of a binary value and finds the next request header', () => {
    const value = randomBytes(100_000, 9);
    const full = Buffer.concat([binPacket({ op: 0x01, key: 'k', extras: storeExtras(0, 0), value }), binPacket({ op: 0x0d, key: 'a', opaque: 5 }), binPacket({ op: 0x0a })]);
    const tail = full.subarray(40_000);
    const expectSkip = full.length - 40_000 - 24 - 1 - 24;
    for (const chunks of [[tail], randomChunks(tail, 3, 100), randomChunks(tail, 4, 5)]) {
      // The stream was known to be binary: resync looks for request headers only.
      const r = parseChunks([binPacket({ op: 0x0a }), 'desync', ...chunks]);
      expect(r.reqs.map((q) => q.cmd)).toEqual(['noop', 'getkq', 'noop']);
      expect(r.skipped).toEqual({ resync: expectSkip });
    }
  });

  it('binary garbage after a binary request is skipped', () => {
    const junk = Buffer.from([0x80, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]); // unknown opcode, then bytes
    const stream = Buffer.concat([binPacket({ op: 0x0a }), Buffer.from([0x80, 0x01, 0xff, 0xff, 8, 0, 0, 0, 0, 0, 0, 1]), junk, binPacket({ op: 0x00, key: 'z' })]);
    for (const chunks of splits(stream)) {
      const r = parseChunks(chunks);
      expect(r.reqs.map((q) => q.cmd)).toEqual(['noop', 'get']);
      expect(r.skipped).toEqual({ garbage: 24 });
    }
  });

  it('a line that never ends is oversize', () => {
    const long = T('set ' + 'k'.repeat(20_000));
    const r = parseChunks([long, T('\r\nget a\r\n')]);
    expect(r.reqs.map((q) => q.cmd)).toEqual(['get']);
    expect((r.skipped.oversize ?? 0) + (r.skipped.garbage ?? 0)).toBe(long.length + 2);
  });

  it('end() reports an incomplete request', () => {
    const r = parseChunks([T('set k 0 0 10\r\n0123')]);
    expect(r.reqs).toEqual([]);
    expect(r.left).toBe(18);
  });
});

describe('fast accessors', () => {
  it('requestKeyStrings and copyRequestRaw agree with keys and raw', async () => {
    const { requestKeyStrings, copyRequestRaw } = await import('../../src/protocol/index.js');
    const stream = Buffer.concat([T('get a bb\r\nset k 0 0 1\r\nx\r\nmg Zm9v b v\r\nmg  q1   v  q \r\nversion\r\n'), binPacket({ op: 0x00, key: 'bin' })]);
    const seen: [string[], string[], string, string, string[]][] = [];
    const p = createRequestParser({
      request: (r) => seen.push([requestKeyStrings(r), r.keys.map((k) => k.toString('latin1')), copyRequestRaw(r).toString('latin1'), r.raw.toString('latin1'), r.metaFlags]),
      skipped: () => {},
    });
    p.push(stream, 0);
    for (const [fast, slow, rawCopy, raw] of seen) {
      expect(fast).toEqual(slow);
      expect(rawCopy).toBe(raw);
    }
    expect(seen.map((s) => s[0])).toEqual([['a', 'bb'], ['k'], ['foo'], ['q1'], [], ['bin']]);
    expect(seen[3][4]).toEqual(['v', 'q']);
  });
});
