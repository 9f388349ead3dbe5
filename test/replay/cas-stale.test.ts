// Requests whose outcome the replay must not improve on, against a real memcached: found with Ruby
// Dalli 3.0 (captures/fixtures/dalli-binary.pcap), whose set_cas/delete_cas with a stale token were
// answered key_exists in the capture but succeeded in the replay (the token was swapped for the
// target's current one), and whose incr without a default (expiration 0xffffffff: "fail when the
// key is missing") created the counter in the replay (the all-ones expiration was translated as an
// absolute time). The truth is what the target holds afterwards and its own cas counters.
import { afterAll, describe, expect, it } from 'vitest';
import { useMemcached } from '../helpers/memcached.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { QUIET, bin, binRes, buildPcap, errorSum, flagsExp, mcGet, mcRaw, mcStats, replay, tempDir, writeCapture, type ConvSpec } from './helpers.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

/** Tokens the captured server handed out (a fresh target hands out small ones of its own). */
const T = 700n;
const M = 800n;
const B = 900n;

function staleCas(): ConvSpec[] {
  const text: ConvSpec = {
    cport: 44001,
    steps: [
      { t: 0, dir: 0, data: 'set s 0 0 1\r\na\r\n' },
      { t: 0.1, dir: 1, data: 'STORED\r\n' },
      { t: 1, dir: 0, data: 'gets s\r\n' },
      { t: 1.1, dir: 1, data: `VALUE s 0 1 ${T}\r\na\r\nEND\r\n` },
      // a token the server never handed out for s: EXISTS
      { t: 2, dir: 0, data: `cas s 0 0 1 ${T + 7n}\r\nb\r\n` },
      { t: 2.1, dir: 1, data: 'EXISTS\r\n' },
      // the current token: STORED
      { t: 3, dir: 0, data: `cas s 0 0 1 ${T}\r\nc\r\n` },
      { t: 3.1, dir: 1, data: 'STORED\r\n' },
      { t: 4, dir: 0, data: 'ms m 1\r\nx\r\n' },
      { t: 4.1, dir: 1, data: 'HD\r\n' },
      { t: 5, dir: 0, data: 'mg m c v\r\n' },
      { t: 5.1, dir: 1, data: `VA 1 c${M}\r\nx\r\n` },
      { t: 6, dir: 0, data: `ms m 1 C${M + 1n}\r\ny\r\n` },
      { t: 6.1, dir: 1, data: 'EX\r\n' },
    ],
  };
  // Dalli's binary session: set, get_cas, set_cas with a stale token, delete_cas with a made-up one,
  // set_cas with the current token
  const binary: ConvSpec = {
    cport: 44002,
    steps: [
      { t: 10, dir: 0, data: bin(0x01, 'b', { extras: flagsExp(), value: 'a' }) },
      { t: 10.1, dir: 1, data: binRes(0x01, { cas: B - 1n }) },
      { t: 11, dir: 0, data: bin(0x00, 'b') },
      { t: 11.1, dir: 1, data: binRes(0x00, { extras: Buffer.alloc(4), value: 'a', cas: B }) },
      { t: 12, dir: 0, data: bin(0x01, 'b', { extras: flagsExp(), value: 'z', cas: B + 1n }) },
      { t: 12.1, dir: 1, data: binRes(0x01, { status: 2 }) },
      { t: 13, dir: 0, data: bin(0x04, 'b', { cas: 12345n }) },
      { t: 13.1, dir: 1, data: binRes(0x04, { status: 2 }) },
      { t: 14, dir: 0, data: bin(0x01, 'b', { extras: flagsExp(), value: 'w', cas: B }) },
      { t: 14.1, dir: 1, data: binRes(0x01, { cas: B + 5n }) },
    ],
  };
  return [text, binary];
}

/** increment extras: delta (8), initial (8), expiration (4). */
function arithExtras(delta: bigint, initial: bigint, exp: number): Buffer {
  const b = Buffer.alloc(20);
  b.writeBigUInt64BE(delta, 0);
  b.writeBigUInt64BE(initial, 8);
  b.writeUInt32BE(exp, 16);
  return b;
}

describe('outcomes the capture saw fail stay failures', () => {
  const mc = useMemcached({ each: true });

  it('a cas with a token that was stale when captured is sent as captured, not with the target token', async () => {
    // move the target's cas counter away from the captured tokens, so none could pass by chance
    for (let i = 0; i < 20; i++) await mcRaw(mc.address, `set filler${i} 0 0 1\r\nf\r\n`);
    const cap = writeCapture(tmp.dir, 'cas-stale.pcap', staleCas());
    const run = await replay([cap, '--target', mc.address, ...QUIET], tmp.dir);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(errorSum(run.results!.summary.total.counters)).toBe(0);
    // the current tokens were translated (text cas, binary set with cas), the stale ones were not
    // (text cas, meta ms C, binary set with cas; the binary delete with cas is not counted there)
    const st = await mcStats(mc.address);
    expect({ hits: st.cas_hits, badval: st.cas_badval }).toEqual({ hits: 2, badval: 3 });
    expect(await mcGet(mc.address, 's')).toBe('c');
    expect(await mcGet(mc.address, 'm')).toBe('x');
    // not deleted by the delete with a made-up token
    expect(await mcGet(mc.address, 'b')).toBe('w');
  });

  it('a binary increment with expiration 0xffffffff does not create a missing counter', async () => {
    // recorded a minute ago, as Dalli's was: 0xffffffff read as an absolute time is then ~2.5e9 s
    // ahead, and "now + that" wraps to a time memcached takes as valid
    const cap = join(tmp.dir, 'incr-nocreate.pcap');
    writeFileSync(cap, buildPcap([
      {
        cport: 44003,
        steps: [
          { t: 0, dir: 0, data: bin(0x05, 'ctr-none', { extras: arithExtras(1n, 0n, 0xffffffff) }) },
          { t: 0.1, dir: 1, data: binRes(0x05, { status: 1, value: 'Not found' }) },
          // with a real expiration it is created with its initial value
          { t: 1, dir: 0, data: bin(0x05, 'ctr-new', { extras: arithExtras(1n, 10n, 0) }) },
          { t: 1.1, dir: 1, data: binRes(0x05, { value: '\0\0\0\0\0\0\0\x0a' }) },
        ],
      },
    ], Math.floor(Date.now() / 1000) - 60));
    const run = await replay([cap, '--target', mc.address, ...QUIET], tmp.dir);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(await mcGet(mc.address, 'ctr-none')).toBeNull();
    expect(await mcGet(mc.address, 'ctr-new')).toBe('10');
  });
});
