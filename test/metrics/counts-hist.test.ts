// The workers' plain-JS histogram recorder against hdr-histogram-js' WasmHistogram, the one the
// main thread decodes with: for the same values the encodings must be byte-identical (so a worker's
// snapshot is indistinguishable from what it posted before), and decoding ours must give the same
// count and percentiles.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type * as hdr from 'hdr-histogram-js';
import { COUNTS_LENGTH, CountsHistogram, countsIndex } from '../../src/metrics/counts-hist.js';
import { HIST_MAX_NS, decodeHistogram, initMetrics, percentiles } from '../../src/metrics/histogram.js';
import { hdrHistogram, hdrPercentiles } from '../helpers/hdr-truth.js';
import { IntervalRecorder } from '../../src/metrics/recorder.js';
import { rng } from '../helpers/rng.js';

beforeAll(async () => {
  await initMetrics();
});

const live: { destroy(): void }[] = [];
afterEach(() => {
  for (const h of live.splice(0)) h.destroy();
});

/** recordNs's clamp and rounding (the values the library is given). */
const clampNs = (ns: number): number => (ns <= 0 ? 0 : ns >= HIST_MAX_NS ? HIST_MAX_NS : Math.round(ns));

/** An hdr-histogram-js WASM histogram (32-bit counts, as the main thread decoded with) holding `values`. */
function wasmOf(values: ArrayLike<number>): hdr.WasmHistogram {
  const h = hdrHistogram();
  live.push(h);
  for (let i = 0; i < values.length; i++) h.recordValue(clampNs(values[i]!));
  return h;
}

function oursOf(values: ArrayLike<number>): CountsHistogram {
  const c = new CountsHistogram();
  for (let i = 0; i < values.length; i++) c.record(values[i]!);
  return c;
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

/** Ours encodes byte for byte as WASM does, and decodes to the same count and percentiles. */
function expectSame(values: ArrayLike<number>, label: string): void {
  const w = wasmOf(values);
  const c = oursOf(values);
  expect(c.totalCount, label).toBe(values.length);
  const ours = c.encode();
  const theirs = w.encode();
  // hex on mismatch shows where the encodings part; compare lengths first for a short message
  expect(ours.length, `${label}: encoded length`).toBe(theirs.length);
  expect(hex(ours), label).toBe(hex(theirs));
  const d = decodeHistogram(ours);
  live.push(d);
  expect(d.totalCount, label).toBe(values.length);
  expect(percentiles(d), label).toEqual(hdrPercentiles(w));
}

const EDGES = [0, 1, 2, 1023, 1024, 1025, 2046, 2047, 2048, 2049, 2050, 4094, 4095, 4096, 4097, 8191, 8192];
const POWERS: number[] = [];
for (let k = 0; k <= 42; k++) POWERS.push(2 ** k - 1, 2 ** k, 2 ** k + 1);

describe('CountsHistogram', () => {
  it('uses the counts length of a 1 ns .. 1 h, 3-digit HdrHistogram', () => {
    // 32 buckets cover 3.6e12 (2048 * 2^31 > 3.6e12 >= 2048 * 2^30), (32 + 1) * 1024 slots
    expect(COUNTS_LENGTH).toBe(33 * 1024);
    expect(countsIndex(HIST_MAX_NS)).toBeLessThan(COUNTS_LENGTH);
    expect(countsIndex(2047)).toBe(2047);
    expect(countsIndex(2048)).toBe(2048);
    expect(countsIndex(2049)).toBe(2048); // bucket 1 counts in steps of 2
    expect(countsIndex(4096)).toBe(3072);
    // past 2^32 the float path must agree with the 32-bit one's layout: 2^32 is bucket 22, sub-bucket 1024
    expect(countsIndex(2 ** 32 - 1)).toBe(21 * 1024 + 2047);
    expect(countsIndex(2 ** 32)).toBe(22 * 1024 + 1024);
  });

  it('encodes an empty histogram as WasmHistogram does', () => {
    expectSame([], 'empty');
  });

  it('matches single values at bucket edges and every power of two up to 2^42', () => {
    for (const v of [...EDGES, ...POWERS]) expectSame([v], `one value ${v}`);
  });

  it('matches all the edges and powers of two together, and repeated', () => {
    expectSame([...EDGES, ...POWERS], 'edges + powers');
    expectSame([...EDGES, ...POWERS, ...POWERS, 2048, 2048, 2048], 'with repeats');
  });

  it('clamps and rounds as recordNs does: negative, above the 1 h maximum, non-integer, infinite', () => {
    expectSame([-1, -0.4, -1e12, -Infinity], 'negative');
    expectSame([HIST_MAX_NS - 1, HIST_MAX_NS, HIST_MAX_NS + 1, 5e12, 2 ** 43, 1e15, Infinity], 'at and above max');
    expectSame([0.4, 0.5, 1.5, 2.5, 2047.5, 2048.49, 2048.5, 4095.5, 123456.789, 2 ** 32 - 0.5, 3.5e12 + 0.5], 'non-integer');
  });

  it('matches random spreads from 1 ns to hours', () => {
    const r = rng(42);
    for (let round = 0; round < 20; round++) {
      const n = 1 + Math.floor(r() * 5000);
      const values: number[] = [];
      for (let i = 0; i < n; i++) values.push(Math.exp(r() * Math.log(2 * HIST_MAX_NS)) * (r() < 0.5 ? 1 : r()));
      expectSame(values, `round ${round} (${n} values)`);
    }
  });

  it('matches narrow, latency-like spreads (long runs of zeros before and after)', () => {
    const r = rng(7);
    const values: number[] = [];
    for (let i = 0; i < 20_000; i++) values.push(20_000 + r() * r() * 300_000);
    expectSame(values, 'latency-like');
  });

  it('matches 1e6 values', () => {
    const r = rng(1);
    const values = new Float64Array(1_000_000);
    for (let i = 0; i < values.length; i++) values[i] = r() < 0.999 ? 10_000 + r() * 2e6 : r() * 1e11;
    expectSame(values, '1e6 values');
  });

  it('encodes counts that need 5-byte words as WasmHistogram does', () => {
    // 3e9 in one bucket (a 32-bit count: ZigZag doubles it past 2^32); set directly, 3e9 records take too long
    const v = 123_456;
    const w = hdrHistogram();
    live.push(w);
    w.recordValueWithCount(v, 3e9);
    w.recordValue(5);
    const c = new CountsHistogram();
    c.record(v);
    c.record(5);
    c.counts[countsIndex(v)] = 3e9;
    expect(hex(c.encode())).toBe(hex(w.encode()));
  });

  it('matches counts on both sides of the encoder\'s 32-bucket skip blocks, alone and after a reset', () => {
    // below 2048 a value is its own index: 31 | 32 and 63 | 64 straddle block boundaries; 2110/2112
    // fall on indices 2079/2080 (bucket 1, steps of 2), another boundary; 2047 ends bucket 0
    const sets = [[32], [31], [31, 32], [63, 64, 96], [0, 2047], [2110], [2112], [2110, 2112, 5e6], [1, 33, 65, 97, 129]];
    for (const values of sets) expectSame(values, `values ${values.join(',')}`);
    // a histogram reused after a reset: the old blocks must not be taken for empty or full ones
    const c = oursOf([40, 41, 3e6]);
    c.reset();
    for (const v of [64, 2112]) c.record(v);
    expect(hex(c.encode())).toBe(hex(wasmOf([64, 2112]).encode()));
  });

  it('is empty again after reset, and a reused histogram encodes like a fresh one', () => {
    const c = oursOf([5, 3e6, 2 ** 40, HIST_MAX_NS]);
    c.reset();
    expect(c.totalCount).toBe(0);
    expect(c.counts.every((x) => x === 0)).toBe(true);
    expect(hex(c.encode())).toBe(hex(wasmOf([]).encode()));
    for (const v of [7, 2049, 1e9]) c.record(v);
    expect(hex(c.encode())).toBe(hex(wasmOf([7, 2049, 1e9]).encode()));
  });
});

describe('IntervalRecorder snapshots', () => {
  it('carry the encodings a WASM recorder posted, per command, for service, response and lag', () => {
    const r = rng(3);
    const rec = new IntervalRecorder({ eventLoop: false });
    try {
      for (let interval = 0; interval < 3; interval++) {
        const resp: Record<string, number[]> = { get: [], set: [] };
        const svc: Record<string, number[]> = { get: [], set: [] };
        const lag: number[] = [];
        for (let i = 0; i < 3000; i++) {
          const cmd = r() < 0.8 ? 'get' : 'set';
          const s = 10_000 + r() * r() * 5e6;
          const a = s + r() * 1e6;
          rec.record(cmd, a, s);
          resp[cmd]!.push(a);
          svc[cmd]!.push(s);
          if (i % 3 === 0) {
            const l = r() * 2e5 - 1e4;
            rec.recordLag(l);
            lag.push(l);
          }
        }
        rec.error('get', 'timeout', 5e9);
        resp.get!.push(5e9);
        const snap = rec.snapshot(interval);
        for (const cmd of ['get', 'set']) {
          expect(hex(snap.perCommand[cmd]!.response as Uint8Array), `${cmd} response, interval ${interval}`).toBe(hex(wasmOf(resp[cmd]!).encode()));
          expect(hex(snap.perCommand[cmd]!.service as Uint8Array), `${cmd} service, interval ${interval}`).toBe(hex(wasmOf(svc[cmd]!).encode()));
        }
        expect(hex(snap.lag as Uint8Array)).toBe(hex(wasmOf(lag).encode()));
      }
      // a command with only counters has no histograms: '' as before
      rec.count('delete', 'sent');
      const snap = rec.snapshot(3);
      expect(snap.perCommand.delete!.response).toBe('');
      expect(snap.perCommand.delete!.service).toBe('');
      expect(snap.lag).toBe('');
      expect(snap.perCommand.get).toBeUndefined();
    } finally {
      rec.destroy();
    }
  });
});
