// Response shapes from protocol.txt and BinaryProtocolRevamped that a well-behaved server rarely
// produces on demand: lost bytes, garbage, stray responses, close with requests outstanding.
import { describe, expect, it } from 'vitest';
import { createResponseMatcher } from '../../src/protocol/response-matcher.js';
import { T, binPacket, matchChunks, randomBytes, randomChunks, requestsOf, splits } from './helpers.js';

const reqs = (s: string) => requestsOf(T(s));

describe('text responses', () => {
  it('multi-get hits and misses per key, split anywhere', () => {
    const r = reqs('get a b c\r\nget d\r\n');
    const answer = T('VALUE a 0 3\r\nEND\r\nVALUE c 5 4 99\r\nEN\r\n\r\nEND\r\nEND\r\n');
    for (const chunks of splits(answer)) {
      const got = matchChunks(r, chunks, { wantCas: true });
      expect(got.unexpected).toBe(0);
      expect(got.outcomes).toEqual([
        { tag: 0, kind: 'response', resp: { status: 'VALUE', error: null, hits: 2, misses: 1, valueBytes: 7, bytes: answer.length - 5, cas: { c: '99' } } },
        { tag: 1, kind: 'response', resp: { status: 'END', error: null, hits: 0, misses: 1, valueBytes: 0, bytes: 5, cas: undefined } },
      ]);
    }
  });

  it('noreply requests complete by silence when a later answer arrives', () => {
    const r = reqs('set a 0 0 1 noreply\r\nx\r\ndelete b noreply\r\nget a\r\n');
    const got = matchChunks(r, [T('VALUE a 0 1\r\nx\r\nEND\r\n')]);
    expect(got.outcomes.map((o) => [o.tag, o.resp!.status])).toEqual([
      [0, 'none'],
      [1, 'none'],
      [2, 'VALUE'],
    ]);
  });

  it('an error line answers the oldest pending request, even a noreply one', () => {
    const r = reqs('set a 0 0 1 noreply\r\nx\r\nget a\r\n');
    const got = matchChunks(r, [T('CLIENT_ERROR bad data chunk\r\nEND\r\n')]);
    expect(got.outcomes.map((o) => [o.tag, o.resp!.status, o.resp!.error])).toEqual([
      [0, 'CLIENT_ERROR', 'CLIENT_ERROR'],
      [1, 'END', null],
    ]);
    const e = matchChunks(reqs('frobnicate\r\nversion\r\n'), [T('ERROR\r\nVERSION 1.6.18\r\n')]);
    expect(e.outcomes.map((o) => [o.resp!.status, o.resp!.error])).toEqual([
      ['ERROR', 'ERROR'],
      ['VERSION', null],
    ]);
    const sd = matchChunks(reqs('shutdown\r\n'), [T('ERROR: shutdown not enabled\r\n')]);
    expect(sd.outcomes[0].resp).toMatchObject({ status: 'ERROR', error: 'ERROR' });
  });

  it('SERVER_ERROR in the middle of a multi-get ends it', () => {
    const got = matchChunks(reqs('get a b\r\n'), [T('VALUE a 0 1\r\nx\r\nSERVER_ERROR out of memory writing get response\r\n')]);
    expect(got.outcomes[0].resp).toMatchObject({ status: 'SERVER_ERROR', error: 'SERVER_ERROR', hits: 1 });
  });

  it('stats variants: STAT lines, ITEM lines, metadump lines, one-line answers', () => {
    const r = reqs('stats\r\nstats cachedump 1 1\r\nlru_crawler metadump all\r\nstats reset\r\nlru_crawler metadump all\r\n');
    const answer = T('STAT pid 1\r\nSTAT uptime 2\r\nEND\r\nITEM k [1 b; 0 s]\r\nEND\r\nkey=k exp=-1 la=1 cas=2 fetch=no cls=1 size=60\r\nEND\r\nRESET\r\nBUSY currently processing crawler request\r\n');
    for (const chunks of splits(answer)) {
      const got = matchChunks(r, chunks);
      expect(got.outcomes.map((o) => o.resp!.status)).toEqual(['END', 'END', 'END', 'RESET', 'BUSY']);
      expect(got.outcomes.reduce((a, o) => a + o.resp!.bytes, 0)).toBe(answer.length);
    }
  });

  it('a response with nothing pending is unexpected, data block included', () => {
    const got = matchChunks([], [T('VALUE a 0 5\r\nEND\r\n\r\nSTORED\r\n')]);
    expect(got.unexpected).toBe(13 + 7 + 8);
  });

  it('close: quiet requests were answered by silence, others get no answer', () => {
    const got = matchChunks(reqs('get a\r\nset b 0 0 1 noreply\r\nx\r\nquit\r\n'), [T('VALUE a 0 1\r\n')], { close: true });
    expect(got.outcomes.map((o) => [o.tag, o.kind, o.resp?.status])).toEqual([
      [0, 'closed', undefined],
      [1, 'response', 'none'],
      [2, 'response', 'none'],
    ]);
  });
});

describe('desync', () => {
  it('pending requests become unanswered and matching resumes at the next response', () => {
    const value = randomBytes(500_000, 11);
    const answer = Buffer.concat([T('VALUE big 0 500000\r\n'), value, T('\r\nEND\r\nSTORED\r\n')]);
    const m: string[] = [];
    let unexpected = 0;
    const matcher = createResponseMatcher<string>({
      response: (tag, resp) => m.push(`${tag}:${resp.status}:${resp.hits}`),
      unanswered: (tag, why) => m.push(`${tag}:${why}`),
      unexpected: (n) => (unexpected += n),
    });
    const [get, set] = reqs('get big\r\nset x 0 0 1\r\nx\r\n');
    matcher.expect(get, 'get');
    matcher.expect(set, 'set');
    matcher.push(answer.subarray(0, 100_000), 0);
    matcher.desync(); // the capture lost some bytes here
    const tail = answer.subarray(300_000);
    for (const c of randomChunks(tail, 3, 4000)) matcher.push(c, 1);
    expect(m).toEqual(['get:desync', 'set:desync']);
    expect(unexpected).toBe(tail.length);
    const [get2] = reqs('get k\r\n');
    matcher.expect(get2, 'get2');
    matcher.push(T('END\r\n'), 2);
    expect(m.at(-1)).toBe('get2:END:0');
    expect(matcher.pending).toBe(0);
  });

  it('binary: resumes at the next plausible response header', () => {
    const [g1, g2] = requestsOf(Buffer.concat([binPacket({ op: 0x00, key: 'a' }), binPacket({ op: 0x00, key: 'b' })]));
    const value = randomBytes(50_000, 5);
    const resp1 = binPacket({ magic: 0x81, op: 0x00, extras: Buffer.alloc(4), value });
    const resp2 = binPacket({ magic: 0x81, op: 0x00, status: 1, value: 'Not found' });
    const got = matchChunks([g1], [resp1.subarray(0, 20_000), 'desync', resp1.subarray(30_000)]);
    expect(got.outcomes).toEqual([{ tag: 0, kind: 'desync' }]);
    expect(got.unexpected).toBe(resp1.length - 30_000);
    // A request sent after the loss is matched once the stream found its place again.
    const seen: string[] = [];
    const m = createResponseMatcher<string>({
      response: (tag, resp) => seen.push(`${tag}:${resp.status}:${resp.misses}`),
      unanswered: (tag, why) => seen.push(`${tag}:${why}`),
      unexpected: () => {},
    });
    m.desync();
    for (const c of randomChunks(resp1.subarray(30_000), 8, 333)) m.push(c, 0);
    m.expect(g2, 'g2');
    for (const c of randomChunks(resp2, 9, 5)) m.push(c, 0);
    expect(seen).toEqual(['g2:key_not_found:1']);
  });

  it('garbage where a response should start is counted and the stream resynchronises', () => {
    const got = matchChunks(reqs('get a\r\nget b\r\n'), [T('\x00\x01garbage\r\n'), T('END\r\n')]);
    expect(got.outcomes).toEqual([
      { tag: 0, kind: 'desync' },
      { tag: 1, kind: 'desync' },
    ]);
    expect(got.unexpected).toBe(11 + 5);
    const meta = matchChunks(reqs('mg a v\r\n'), [T('STORED\r\n')]);
    expect(meta.outcomes).toEqual([{ tag: 0, kind: 'desync' }]);
  });
});

describe('meta responses', () => {
  it('MN settles quiet requests before it', () => {
    const r = reqs('mg a v q\r\nms b 1 q\r\nx\r\nmd c q\r\nmn\r\n');
    for (const chunks of splits(T('MN\r\n'))) {
      const got = matchChunks(r, chunks);
      expect(got.outcomes.map((o) => [o.resp!.status, o.resp!.misses])).toEqual([
        ['none', 1],
        ['none', 0],
        ['none', 0],
        ['MN', 0],
      ]);
    }
  });

  it('a quiet mg hit is matched by its opaque, k token, or order; EN never answers a quiet mg', () => {
    const r = reqs('mg a v q O1\r\nmg b v q O2\r\nmg c v\r\nmn\r\n');
    const got = matchChunks(r, [T('VA 1 O2\r\nB\r\nEN\r\nMN\r\n')]);
    expect(got.outcomes.map((o) => [o.tag, o.resp!.status, o.resp!.hits, o.resp!.misses])).toEqual([
      [0, 'none', 0, 1],
      [1, 'VA', 1, 0],
      [2, 'EN', 0, 1],
      [3, 'MN', 0, 0],
    ]);
    const byKey = matchChunks(reqs('mg a v q k\r\nmg b v q k\r\nmn\r\n'), [T('VA 1 kb\r\nB\r\nMN\r\n')]);
    expect(byKey.outcomes.map((o) => o.resp!.status)).toEqual(['none', 'VA', 'MN']);
  });

  it('old-style OK for HD, and cas from the c flag', () => {
    const got = matchChunks(reqs('mg a c\r\nms a 1 c\r\nx\r\n'), [T('OK c123\r\nHD c124\r\n')], { wantCas: true });
    expect(got.outcomes.map((o) => [o.resp!.status, o.resp!.hits, o.resp!.cas])).toEqual([
      ['OK', 1, { a: '123' }],
      ['HD', 0, { a: '124' }],
    ]);
  });
});

describe('binary responses', () => {
  it('quiet requests end at the noop; stats run until the empty key', () => {
    const [q1, q2, st, noop] = requestsOf(
      Buffer.concat([binPacket({ op: 0x0d, key: 'a', opaque: 1 }), binPacket({ op: 0x11, key: 'b', extras: Buffer.alloc(8), value: 'v', opaque: 2 }), binPacket({ op: 0x10, opaque: 3 }), binPacket({ op: 0x0a, opaque: 4 })]),
    );
    const answer = Buffer.concat([
      binPacket({ magic: 0x81, op: 0x10, key: 'pid', value: '1', opaque: 3 }),
      binPacket({ magic: 0x81, op: 0x10, key: 'uptime', value: '2', opaque: 3 }),
      binPacket({ magic: 0x81, op: 0x10, opaque: 3 }),
      binPacket({ magic: 0x81, op: 0x0a, opaque: 4 }),
    ]);
    for (const chunks of splits(answer)) {
      const got = matchChunks([q1, q2, st, noop], chunks);
      expect(got.outcomes.map((o) => [o.tag, o.resp!.status, o.resp!.misses, o.resp!.bytes])).toEqual([
        [0, 'none', 1, 0],
        [1, 'none', 0, 0],
        [2, 'no_error', 0, answer.length - 24],
        [3, 'no_error', 0, 24],
      ]);
    }
  });

  it('a noop answer settles everything before it; lost non-quiet answers are desync', () => {
    const [g, q, noop] = requestsOf(Buffer.concat([binPacket({ op: 0x00, key: 'a' }), binPacket({ op: 0x09, key: 'b' }), binPacket({ op: 0x0a })]));
    const got = matchChunks([g, q, noop], [binPacket({ magic: 0x81, op: 0x0a })]);
    expect(got.outcomes.map((o) => [o.tag, o.kind, o.resp?.status])).toEqual([
      [0, 'desync', undefined],
      [1, 'response', 'none'],
      [2, 'response', 'no_error'],
    ]);
  });

  it('quiet errors are returned and answer their request', () => {
    const [s1, s2, noop] = requestsOf(Buffer.concat([binPacket({ op: 0x12, key: 'a', extras: Buffer.alloc(8), value: 'x', opaque: 1 }), binPacket({ op: 0x12, key: 'b', extras: Buffer.alloc(8), value: 'x', opaque: 2 }), binPacket({ op: 0x0a, opaque: 3 })]));
    const answer = Buffer.concat([binPacket({ magic: 0x81, op: 0x12, status: 2, value: 'Data exists for key.', opaque: 2 }), binPacket({ magic: 0x81, op: 0x0a, opaque: 3 })]);
    const got = matchChunks([s1, s2, noop], [answer]);
    expect(got.outcomes.map((o) => [o.tag, o.resp!.status, o.resp!.error])).toEqual([
      [0, 'none', null],
      [1, 'key_exists', null],
      [2, 'no_error', null],
    ]);
  });
});

describe('memory bound', () => {
  it('a long run of noreply requests with no later answer is settled as it goes', () => {
    const [set] = reqs('set a 0 0 1 noreply\r\nx\r\n');
    const [setq] = requestsOf(binPacket({ op: 0x11, key: 'k', extras: Buffer.alloc(8), value: 'v' }));
    let done = 0;
    const m = createResponseMatcher<number>({ response: () => done++, unanswered: () => {}, unexpected: () => {} });
    for (let i = 0; i < 100_000; i++) m.expect(set, i);
    expect(m.pending).toBeLessThanOrEqual(1024);
    expect(done).toBe(100_000 - m.pending);
    const b = createResponseMatcher<number>({ response: () => {}, unanswered: () => {}, unexpected: () => {} });
    for (let i = 0; i < 200_000; i++) b.expect(setq, i);
    expect(b.pending).toBeLessThanOrEqual(65536);
  });
});
