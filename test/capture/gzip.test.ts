// Damaged gzip captures: a bad CRC, bytes after the gzip data, a cut stream. What decompressed is
// read (Node's own gunzip dropped up to a megabyte of it), and the damage is named in the result.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync, gunzipSync, constants } from 'node:zlib';
import { afterAll, describe, expect, test } from 'vitest';
import { readCapture } from '../../src/capture/index.js';
import { Recorder } from './recorder.js';
import { feed } from './util.js';

const dir = mkdtempSync(join(tmpdir(), 'mcr-gzip-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
// recorded from real clients by scripts/make-captures.sh
const capture = readFileSync(new URL('../../captures/fixtures/pymemcache-mix.pcap', import.meta.url));
const truth = feed(capture).stats;

async function read(name: string, bytes: Buffer): Promise<Awaited<ReturnType<typeof readCapture>>> {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return readCapture(path, { serverPorts: [11211] }, new Recorder());
}

describe('damaged gzip captures', () => {
  const z = gzipSync(capture);
  expect(capture.length).toBeGreaterThan(1 << 20); // more than one read chunk

  test('intact, and as two gzip members (gzip -c a >x; gzip -c b >>x): every packet, no problem', async () => {
    const whole = await read('whole.pcap.gz', z);
    expect(whole.packets).toBe(truth.packets);
    expect(whole.error).toBeNull();
    const half = 700_001;
    const two = await read('two.pcap.gz', Buffer.concat([gzipSync(capture.subarray(0, half)), gzipSync(capture.subarray(half))]));
    expect(two.packets).toBe(truth.packets);
    expect(two.error).toBeNull();
  });

  test('a bad CRC: every packet read, the CRC mismatch named', async () => {
    const bad = Buffer.from(z);
    bad[bad.length - 8]! ^= 0xff;
    const s = await read('crc.pcap.gz', bad);
    expect(s.packets).toBe(truth.packets);
    expect(s.gzipProblem).toMatch(/crc\.pcap\.gz: gzip member 1: CRC mismatch/);
    expect(s.error).toContain('CRC mismatch');
  });

  test('trailing garbage (gzip -t: "trailing garbage ignored"): every packet read, the bytes counted and named', async () => {
    for (const tail of [Buffer.from('garbage after the end\n'), Buffer.from([0x1f, 0x8b, 0x08])]) {
      const s = await read('trail.pcap.gz', Buffer.concat([z, tail]));
      expect(s.packets).toBe(truth.packets);
      expect(s.gzipProblem).toMatch(tail[0] === 0x1f ? /cut short in the header of member 2/ : new RegExp(`${tail.length} bytes after the gzip data are not gzip`));
    }
  });

  test('cut short: everything zlib can decompress from the cut stream is read', async () => {
    for (const frac of [0.3, 0.77]) {
      const cut = z.subarray(0, Math.floor(z.length * frac));
      // the independent truth: zlib's own decompression of the cut stream, flushed
      const plain = gunzipSync(cut, { finishFlush: constants.Z_SYNC_FLUSH });
      const expected = feed(plain).stats;
      const s = await read('cut.pcap.gz', cut);
      expect(s.packets).toBe(expected.packets);
      expect(s.packets).toBeGreaterThan(0);
      expect(s.gzipProblem).toMatch(/gzip stream cut short in member 1/);
    }
  });
});
