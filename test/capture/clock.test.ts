// Timestamps that go backwards or jump: the delivered schedule is non-decreasing and one wild frame
// neither stretches nor shrinks it.
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { Clock } from '../../src/capture/clock.js';
import { LINKTYPE, pcapFile } from '../helpers/pcap-writer.js';
import { exchange, feed } from './util.js';

const T0 = 1_700_000_000;

/** Delivered times (ns relative to the base) for raw times given in ms after T0 (or absolute seconds via abs). */
function deliver(ms: number[], abs: (number | undefined)[] = []): { out: number[]; c: Clock } {
  const c = new Clock();
  const out: number[] = [];
  ms.forEach((m, i) => {
    const sec = abs[i] ?? T0 + Math.floor(m / 1000);
    const frac = abs[i] !== undefined ? 0 : Math.round((m - Math.floor(m / 1000) * 1000) * 1e6);
    const t = c.push(sec, frac);
    if (t === t) out.push(t);
  });
  const t = c.finish();
  if (t === t) out.push(t);
  return { out, c };
}

const ms = (v: number[]): number[] => v.map((x) => x * 1e6);

describe('Clock', () => {
  test('in-order times pass unchanged; base is the first frame second', () => {
    const { out, c } = deliver([100, 150, 2500, 2500, 9000]);
    expect(out).toEqual(ms([100, 150, 2500, 2500, 9000]));
    expect(c.base).toBe(T0);
    expect(c.inversions + c.outliers).toBe(0);
  });

  test('small inversions are clamped and counted', () => {
    const { out, c } = deliver([0, 10, 5, 20, 19, 19.5, 30]);
    expect(out).toEqual(ms([0, 10, 10, 20, 20, 20, 30]));
    expect(c.inversions).toBe(3);
    expect(c.outliers).toBe(0);
  });

  test('one frame far in the future does not stretch the schedule', () => {
    const { out, c } = deliver([0, 1000, 500_000, 1100, 2000]);
    expect(out).toEqual(ms([0, 1000, 1000, 1100, 2000]));
    expect(c.outliers).toBe(1);
  });

  test('one frame far in the past does not shrink the schedule', () => {
    const { out, c } = deliver([100_000, 101_000, 5_000, 101_500, 102_000]);
    expect(out).toEqual(ms([0, 1000, 1000, 1500, 2000])); // base second is that of the first frame
    expect(c.outliers).toBe(1);
    expect(c.inversions).toBe(0);
  });

  test('a quiet period confirmed by the next frame is kept', () => {
    const { out, c } = deliver([0, 1, 50_000, 50_001, 50_002]);
    expect(out).toEqual(ms([0, 1, 50_000, 50_001, 50_002]));
    expect(c.outliers).toBe(0);
  });

  test('a zeroed timestamp on the first frame does not become the base', () => {
    const { out, c } = deliver([0, 1000, 2000], [0]);
    expect(c.base).toBe(T0 + 1);
    expect(out).toEqual(ms([0, 0, 1000]));
    expect(c.outliers).toBe(1);
  });

  test('a wild last frame is held at the previous time', () => {
    const { out, c } = deliver([0, 1000, 0], [undefined, undefined, T0 + 10 * 86400]);
    expect(out).toEqual(ms([0, 1000, 1000]));
    expect(c.outliers).toBe(1);
    const back = deliver([0, 100, 200, 5000, 5100, 1000]);
    expect(back.out).toEqual(ms([0, 100, 200, 5000, 5100, 5100]));
    expect(back.c.outliers).toBe(1);
  });

  test('times stay exact integers of ns', () => {
    const c = new Clock();
    c.push(T0, 999_999_999);
    expect(c.push(T0 + 3600, 7)).toBe(999_999_999);
    for (let h = 2; h <= 90 * 24; h++) c.push(T0 + h * 3600, 7);
    c.push(T0 + 90 * 86400 + 1, 1);
    expect(c.finish()).toBe((90 * 86400 + 1) * 1e9 + 1);
    expect(c.outliers + c.inversions).toBe(0);
  });
});

test('through the pipeline: inversions and an outlier in a capture', () => {
  const pk = exchange();
  const secs = [T0, T0, T0 + 5000, T0, T0, T0 + 1, T0 + 1, T0 + 1, T0 + 2];
  const fracs = [0, 200, 0, 100, 300, 0, 0, 0, 0];
  const file = pcapFile({ linkType: LINKTYPE.RAW }, pk.map((data, i) => ({ sec: secs[i]!, frac: fracs[i]!, data })));
  const { rec, stats } = feed(file);
  expect(stats.timestampOutliers).toBe(1);
  expect(stats.timestampInversions).toBe(1); // frame 3 at 100 µs after frame 1 at 200 µs
  expect(stats.lastNs).toBe(2e9);
  expect(rec.tsWentBack).toBe(0);
  expect(rec.log.find((l) => l.startsWith('data 1.0'))).toContain('t=200000');
});

describe('any single wild timestamp, at any record of a real capture', () => {
  // basic.pcap was recorded by tcpdump from a real client (scripts/make-captures.sh)
  const orig = readFileSync(new URL('../../captures/fixtures/basic.pcap', import.meta.url));
  const recs: number[] = [];
  for (let off = 24; off + 16 <= orig.length; off += 16 + orig.readUInt32LE(off + 8)) recs.push(off);
  const truth = feed(orig).stats;
  // zeroed, 2^29 s either way, a year either way, the largest u32 second
  const wild = [() => 0, (s: number) => s - 2 ** 29, (s: number) => s + 2 ** 29, (s: number) => s + 31_536_000, (s: number) => s - 31_536_000, () => 0xffffffff];

  test('the span moves by at most the neighbourhood of the changed record, and one outlier is counted', () => {
    expect(recs.length).toBeGreaterThan(100);
    const span = truth.lastNs - truth.firstNs;
    for (let i = 0; i < recs.length; i++) {
      for (const w of wild) {
        const b = Buffer.from(orig);
        b.writeUInt32LE(w(b.readUInt32LE(recs[i]!)) >>> 0, recs[i]!);
        const { stats, rec } = feed(b);
        const got = stats.lastNs - stats.firstNs;
        // the record itself is held at a neighbour's time: the span loses at most the edge gap
        expect(Math.abs(got - span), `record ${i}`).toBeLessThanOrEqual(2e9);
        expect(Math.abs(stats.baseEpochSec - truth.baseEpochSec), `record ${i}`).toBeLessThanOrEqual(1);
        expect(stats.timestampOutliers, `record ${i}`).toBe(1);
        expect(rec.tsWentBack).toBe(0);
      }
    }
  });
});
