// Property-based fuzzing of the capture reader, link/IP decoding, TCP reassembly and the workload
// builder (request parser, response matcher) with mutations of the real fixture captures. What
// must hold for any input: no exception escapes but the typed McError of "not a capture"; time
// and memory stay proportional to the input; every packet read is decoded or counted as a problem;
// every request gets exactly one outcome; every connection opened is closed.
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { FUZZ_SEED, fixtureCaptures, ingest, keepRegression, packetIdentity, regressionInputs, runs, type IngestCase } from './harness.js';
import { apply, damagedGzip, gzipDamage, mutation } from './mutate.js';
import { constants, gunzipSync } from 'node:zlib';
import { gunzip, type GzipReport } from '../../src/capture/gunzip.js';

const fixtures = fixtureCaptures();
// generous bounds that only a blow-up can cross: 2 s of CPU plus 50 µs per input byte (fixtures
// are read at well under 1 µs per byte). CPU time, not wall time: the machine may be loaded.
const msBound = (len: number): number => 2000 + len * 0.05;
const memBound = (len: number): number => (4 << 20) + 8 * len;

/** The properties every ingest must satisfy. */
function check(input: Buffer, r: IngestCase): void {
  expect(r.ms).toBeLessThan(msBound(input.length));
  expect(r.bufferGrowth).toBeLessThan(memBound(input.length));
  if (r.notCapture !== null) {
    expect(r.notCapture.message).toMatch(/not a pcap or pcapng capture|empty/);
    return;
  }
  const c = r.capture!;
  const { packetsIn, accounted } = packetIdentity(c);
  expect(accounted).toBe(packetsIn);
  expect(r.outcomeMismatches).toBe(0);
  expect(r.closes).toBe(r.connections - (r.extract!.udpRequests > 0 || c.udpDatagrams > 0 ? countUdp(r) : 0));
  expect(c.firstNs).toBeLessThanOrEqual(c.lastNs === 0 && c.packets <= 1 ? c.firstNs : c.lastNs);
  expect(Number.isFinite(c.lastNs)).toBe(true);
}

// UDP "connections" (client/server pairs) are never closed: they carry no close event
function countUdp(r: IngestCase): number {
  return r.connections - r.closes;
}

/** Runs a property, keeping the failing input as a regression fixture when FUZZ_SAVE=1. */
function property<T extends { chunk: number }>(name: string, n: number, arb: fc.Arbitrary<T>, make: (t: T) => Buffer): void {
  test(name, () => {
    fc.assert(
      fc.property(arb, (t) => {
        const input = make(t);
        const chunk = t.chunk;
        try {
          check(input, ingest(input, chunk));
        } catch (e) {
          const kept = keepRegression(input, name.replace(/\W+/g, '-').slice(0, 40));
          if (kept) (e as Error).message += ` (input kept as test/fuzz/regressions/${kept})`;
          throw e;
        }
      }),
      { numRuns: n, seed: FUZZ_SEED, endOnFailure: true },
    );
  }, 600_000);
}

describe('fuzz: capture ingest', () => {
  test('the fixtures themselves satisfy every property, whole and in small chunks', () => {
    expect(fixtures.length).toBeGreaterThan(10);
    for (const f of fixtures) {
      for (const chunk of [0, 7, 1000]) {
        const r = ingest(f.bytes, chunk);
        expect(r.notCapture, f.name).toBeNull();
        expect(r.requests, f.name).toBeGreaterThan(0);
        check(f.bytes, r);
      }
    }
  });

  // fixtures by index, so a failing case prints as its recipe, not as its bytes
  const fixture = fc.nat({ max: fixtures.length - 1 });
  const chunk = fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 4096 }));

  property(
    'mutated fixtures (bit flips, zero/0xFF runs, truncation, records duplicated/removed/swapped, wild lengths and times)',
    runs(1500),
    fc.record({ base: fixture, ms: fc.array(mutation, { minLength: 1, maxLength: 6 }), chunk }),
    ({ base, ms }) => apply(fixtures[base]!.bytes, ms),
  );

  property(
    'random bytes behind a valid capture header',
    runs(300),
    fc.record({ base: fixture, tail: fc.uint8Array({ maxLength: 4096 }), chunk }),
    ({ base, tail }) => {
      const b = fixtures[base]!.bytes;
      return Buffer.concat([b.subarray(0, b.readUInt32BE(0) === 0x0a0d0d0a ? b.readUInt32LE(4) || 28 : 24), Buffer.from(tail)]);
    },
  );

  test('damaged gzip streams (cut, bad CRC, trailing bytes): all that decompresses is delivered, the damage named', async () => {
    await fc.assert(
      fc.asyncProperty(fixture, gzipDamage, fc.integer({ min: 1, max: 70_000 }), async (base, d, chunk) => {
        const orig = fixtures[base]!.bytes;
        const z = damagedGzip(orig, d);
        const report: GzipReport = { problem: null, members: 0, trailingBytes: 0 };
        async function* pieces(): AsyncGenerator<Buffer> {
          for (let o = 0; o < z.length; o += chunk) yield z.subarray(o, o + chunk);
        }
        const out: Buffer[] = [];
        for await (const b of gunzip(pieces(), report)) out.push(Buffer.from(b));
        const got = Buffer.concat(out);
        // a prefix of the true content, and all of it unless the deflate data itself was cut
        expect(orig.subarray(0, got.length).equals(got)).toBe(true);
        if (d.kind !== 'cut') expect(got.length).toBe(orig.length);
        else expect(got.length).toBeGreaterThanOrEqual(gunzipSync(z, { finishFlush: constants.Z_SYNC_FLUSH }).length);
        if (d.kind === 'crc' || d.kind === 'trailing' || (z.length > 0 && z.length < 10 + 8)) expect(report.problem).not.toBeNull();
        check(got, ingest(got));
      }),
      { numRuns: runs(100), seed: FUZZ_SEED },
    );
  }, 600_000);

  test('regression inputs kept from earlier fuzzing', () => {
    for (const r of regressionInputs()) check(r.bytes, ingest(r.bytes));
  });
});
