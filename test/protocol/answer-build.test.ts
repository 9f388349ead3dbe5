// The rehearsal target's answers (protocol/answer-build.ts) against the independent truth: a real
// memcached holding the same keys, asked the same requests. Both answer streams go through the
// response matcher; every request must come out the same (answered or silent, status, error, hits
// and misses), except where the server's answer carries data the builder does not know (the
// number incr returns).
import { describe, expect, it } from 'vitest';
import { useMemcached } from '../helpers/memcached.js';
import { T, arithExtras, binPacket, endsWith, endsWithNoop, exchange, matchChunks, requestsOf, storeExtras, u32, type BinPacket, type Outcome } from './helpers.js';
import { plausibleAnswer } from '../../src/protocol/answer-build.js';
import type { ParsedRequest } from '../../src/protocol/types.js';

const mc = useMemcached();


/** What two answers to a request must agree on. */
function shape(o: Outcome, arith: boolean): unknown {
  const r = o.resp;
  if (o.kind !== 'response' || r === undefined) return o.kind;
  return { status: arith && /^\d+$/.test(r.status) ? '<number>' : r.status, error: r.error, hits: r.hits, misses: r.misses };
}

/** Primes the server, sends the script to it, and compares its answers with the builder's, request by request. */
async function compare(prime: Buffer, primeDone: (b: Buffer) => boolean, script: Buffer, done: (b: Buffer) => boolean): Promise<ParsedRequest[]> {
  await exchange(mc, prime, primeDone);
  const reqs = requestsOf(script);
  const real = matchChunks(reqs, [await exchange(mc, script, done)], { wantCas: true });
  const built = reqs.map((r) => plausibleAnswer(r)).filter((b): b is Buffer => b !== null);
  const ours = matchChunks(reqs, [Buffer.concat(built)], { wantCas: true });
  expect(real.unexpected).toBe(0);
  expect(ours.unexpected).toBe(0);
  expect(ours.pending).toBe(real.pending);
  expect(ours.outcomes.map((o) => o.tag)).toEqual(real.outcomes.map((o) => o.tag));
  real.outcomes.forEach((o, i) => {
    const req = reqs[o.tag]!;
    const arith = req.cls === 'arith';
    const ctx = `${req.proto} ${req.cmd}: ${req.raw.toString('latin1').slice(0, 50)}`;
    expect(shape(ours.outcomes[i]!, arith), ctx).toEqual(shape(o, arith));
  });
  return reqs;
}

describe('the rehearsal target answers as a memcached holding every key', () => {
  it('text: every retrieval, storage, arithmetic, delete, touch and info command; noreply stays silent', async () => {
    const prime = T('set t1 0 0 2\r\n10\r\nset t2 0 0 3\r\nabc\r\nset t3 0 0 3\r\nxyz\r\nset t4 0 0 1\r\na\r\nset t7 0 0 1\r\nb\r\n');
    const script = T(
      'get t1\r\nget t1 t2 t3\r\ngets t2\r\ngat 60 t2\r\ngats 60 t2 t3\r\nset t4 0 0 3\r\nabc\r\nadd t5 0 0 1\r\nz\r\n' +
        'replace t4 0 0 2\r\nzz\r\nappend t4 0 0 1\r\n+\r\nprepend t4 0 0 1\r\n-\r\nincr t1 5\r\ndecr t1 2\r\ntouch t2 60\r\n' +
        'set t6 0 0 1 noreply\r\nq\r\ndelete t3\r\ndelete t7 noreply\r\nversion\r\nverbosity 1\r\nstats\r\nversion\r\n',
    );
    const reqs = await compare(prime, endsWith('STORED\r\n'), script, (b) => (b.toString('latin1').match(/\r\nVERSION [^\r]*\r\n/g) ?? []).length === 2);
    expect(new Set(reqs.map((r) => r.cmd))).toEqual(new Set(['get', 'gets', 'gat', 'gats', 'set', 'add', 'replace', 'append', 'prepend', 'incr', 'decr', 'touch', 'delete', 'version', 'verbosity', 'stats']));
  });

  it('meta: mg with and without a value, return flags (opaque, key, base64 key, CAS), ms, md, ma, quiet mode, mn', async () => {
    const prime = T('ms m1 2\r\n10\r\nms m2 3\r\nabc\r\nms key1 1\r\nk\r\nms m3 1\r\nx\r\nms m4 1\r\ny\r\nmn\r\n');
    const script = T(
      'mg m2 v\r\nmg m2 v k c O77 f t s\r\nmg m2\r\nmg m2 v q\r\nmg a2V5MQ== b v k\r\nms m5 3 T60\r\nnew\r\nms m6 1 q\r\nz\r\n' +
        'md m3 q\r\nmd m4\r\nma m1\r\nma m1 v\r\nma m1 q\r\nmn\r\n',
    );
    const reqs = await compare(prime, endsWith('MN\r\n'), script, endsWith('MN\r\n'));
    expect(new Set(reqs.map((r) => r.cmd))).toEqual(new Set(['mg', 'ms', 'md', 'ma', 'mn']));
  });

  it('binary: the get, store, arithmetic, touch and info families, quiet ones silent on success', async () => {
    const prime = Buffer.concat([
      binPacket({ op: 0x01, key: 'b1', extras: storeExtras(0, 0), value: '10' }),
      binPacket({ op: 0x01, key: 'b2', extras: storeExtras(0, 0), value: 'abc' }),
      binPacket({ op: 0x01, key: 'b3', extras: storeExtras(0, 0), value: 'x' }),
      binPacket({ op: 0x0a, opaque: 9 }),
    ]);
    let opaque = 100;
    const p = (op: number, o: Omit<BinPacket, 'op'> = {}) => binPacket({ op, opaque: opaque++, ...o });
    const script = Buffer.concat([
      p(0x00, { key: 'b2' }), // get
      p(0x09, { key: 'b2' }), // getq: a hit answers
      p(0x0c, { key: 'b2' }), // getk
      p(0x0d, { key: 'b2' }), // getkq
      p(0x01, { key: 'b4', extras: storeExtras(0, 0), value: 'new' }), // set
      p(0x11, { key: 'b5', extras: storeExtras(0, 0), value: 'q' }), // setq: silent
      p(0x02, { key: 'b6', extras: storeExtras(0, 0), value: 'a' }), // add
      p(0x03, { key: 'b4', extras: storeExtras(0, 0), value: 'r' }), // replace
      p(0x0e, { key: 'b4', value: '+' }), // append
      p(0x0f, { key: 'b4', value: '-' }), // prepend
      p(0x05, { key: 'b1', extras: arithExtras(1n, 0n, 0) }), // increment
      p(0x06, { key: 'b1', extras: arithExtras(1n, 0n, 0) }), // decrement
      p(0x15, { key: 'b1', extras: arithExtras(1n, 0n, 0) }), // incrementq: silent
      p(0x1c, { key: 'b2', extras: u32(60) }), // touch
      p(0x1d, { key: 'b2', extras: u32(60) }), // gat
      p(0x23, { key: 'b2', extras: u32(60) }), // gatk
      p(0x1e, { key: 'b2', extras: u32(60) }), // gatq
      p(0x04, { key: 'b3' }), // delete
      p(0x0b), // version
      p(0x10), // stat: many packets, then an empty one
      p(0x0a), // noop
    ]);
    const last = opaque - 1;
    const reqs = await compare(prime, endsWithNoop(9), script, endsWithNoop(last));
    expect(reqs.length).toBe(21);
  });
});
