// CAS token translation across worker threads against a real memcached: one connection reads a key's
// token (gets, mg c, binary get) and another connection, which round-robin puts on the other worker,
// sends the cas with the captured token. Real clients with connection pools do exactly that. The
// truth is memcached's own cas counters and the values it holds afterwards.
import { afterAll, describe, expect, it } from 'vitest';
import { useMemcached } from '../helpers/memcached.js';
import { QUIET, bin, binRes, errorSum, flagsExp, mcGet, mcRaw, mcStats, replay, tempDir, writeCapture, type ConvSpec } from './helpers.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

/** Captured tokens: a fresh (or pre-populated) target never hands these out. */
const TEXT_TOKEN = 987654n;
const META_TOKEN = 555555n;
const BIN_TOKEN = 4444n;

/**
 * Connections in open order (round-robin with --workers 2: 1st -> worker 0, 2nd -> worker 1, 3rd ->
 * worker 0, 4th -> worker 1): every reader lands on the other worker than its cas. The cas requests
 * come 500 ms after the reads were answered, so in open loop the token is in the table by then.
 */
function crossConnectionCas(): ConvSpec[] {
  const textReader: ConvSpec = {
    cport: 43001,
    steps: [
      { t: 0, dir: 0, data: 'set c 0 0 1\r\nx\r\n' },
      { t: 0.1, dir: 1, data: 'STORED\r\n' },
      { t: 2, dir: 0, data: 'gets c\r\n' },
      { t: 2.1, dir: 1, data: `VALUE c 0 1 ${TEXT_TOKEN}\r\nx\r\nEND\r\n` },
      { t: 4, dir: 0, data: 'ms mc 1\r\nx\r\n' },
      { t: 4.1, dir: 1, data: 'HD\r\n' },
      { t: 6, dir: 0, data: 'mg mc c v\r\n' },
      { t: 6.1, dir: 1, data: `VA 1 c${META_TOKEN}\r\nx\r\n` },
    ],
    closeAt: 600,
  };
  const textWriter: ConvSpec = {
    cport: 43002,
    steps: [
      { t: 1, dir: 0, data: 'version\r\n' },
      { t: 1.1, dir: 1, data: 'VERSION 1.6.21\r\n' },
      { t: 500, dir: 0, data: `cas c 0 0 1 ${TEXT_TOKEN}\r\ny\r\n` },
      { t: 500.1, dir: 1, data: 'STORED\r\n' },
      { t: 502, dir: 0, data: `ms mc 1 C${META_TOKEN}\r\nz\r\n` },
      { t: 502.1, dir: 1, data: 'HD\r\n' },
    ],
  };
  const binWriter: ConvSpec = {
    cport: 43003,
    steps: [
      { t: 3, dir: 0, data: bin(0x0a, '', { opaque: 1 }) },
      { t: 3.1, dir: 1, data: binRes(0x0a, { opaque: 1 }) },
      { t: 504, dir: 0, data: bin(0x01, 'bc', { extras: flagsExp(), value: 'w', opaque: 2, cas: BIN_TOKEN }) },
      { t: 504.1, dir: 1, data: binRes(0x01, { opaque: 2, cas: BIN_TOKEN + 1n }) },
    ],
  };
  const binReader: ConvSpec = {
    cport: 43004,
    steps: [
      { t: 5, dir: 0, data: bin(0x01, 'bc', { extras: flagsExp(), value: 'x', opaque: 1 }) },
      { t: 5.1, dir: 1, data: binRes(0x01, { opaque: 1, cas: BIN_TOKEN - 1n }) },
      { t: 7, dir: 0, data: bin(0x00, 'bc', { opaque: 2 }) },
      { t: 7.1, dir: 1, data: binRes(0x00, { extras: Buffer.alloc(4), value: 'x', opaque: 2, cas: BIN_TOKEN }) },
    ],
    closeAt: 600,
  };
  return [textReader, textWriter, binWriter, binReader];
}

/** The CAS unique the target holds for `key` (text gets). */
async function targetToken(address: string, key: string): Promise<bigint> {
  const t = await mcRaw(address, `gets ${key}\r\n`, /END\r\n$/);
  const m = /^VALUE \S+ \d+ \d+ (\d+)\r\n/.exec(t);
  if (m === null) throw new Error(`no token for ${key} on ${address}: ${JSON.stringify(t)}`);
  return BigInt(m[1]!);
}

describe('cas token translation across workers', () => {
  const mc = useMemcached({ each: true });

  it('a cas on one worker uses the token a gets on another worker received', async () => {
    // move the target's cas counter away from anything small, so no captured token could pass by chance
    for (let i = 0; i < 20; i++) await mcRaw(mc.address, `set filler${i} 0 0 1\r\nf\r\n`);
    const cap = writeCapture(tmp.dir, 'cas-workers.pcap', crossConnectionCas());
    const run = await replay([cap, '--target', mc.address, ...QUIET.filter((o) => o !== '--workers' && o !== '1'), '--workers', '2'], tmp.dir);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const r = run.results!;
    expect(r.config.workers).toBe(2);
    expect(errorSum(r.summary.total.counters)).toBe(0);
    const st = await mcStats(mc.address);
    // text cas, meta ms C and binary set-with-cas all matched the target's token
    expect({ hits: st.cas_hits, badval: st.cas_badval, misses: st.cas_misses }).toEqual({ hits: 3, badval: 0, misses: 0 });
    expect(await mcGet(mc.address, 'c')).toBe('y');
    expect(await mcGet(mc.address, 'mc')).toBe('z');
    expect(await mcGet(mc.address, 'bc')).toBe('w');
    // the replay had to translate: the target's tokens are not the captured ones
    for (const k of ['c', 'mc', 'bc']) expect([TEXT_TOKEN, META_TOKEN, BIN_TOKEN, BIN_TOKEN + 1n]).not.toContain(await targetToken(mc.address, k));
  });
});
