// Property-based fuzzing of the prepared-workload reader (mcreplay prepare's .mcw files) with
// mutations of real prepared files: what a disk, a truncating copy or a hand edit does to them.
// What must hold for any input: opening and reading either succeed or throw the typed McError that
// says where the damage is and how much was readable; nothing else escapes, and the reading ends.
// Damage is mostly caught by the block checksums; a second property re-seals the checksums after
// the mutation, so the record decoder itself meets the damage.
import fc from 'fast-check';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { McError } from '../../src/errors.js';
import { extractWorkload } from '../../src/workload/extract.js';
import { BLOCK_HEADER_BYTES, FOOTER_BYTES, crc32, type PreparedHeader } from '../../src/workload/prepared-format.js';
import { openPrepared, readPrepared } from '../../src/workload/prepared-read.js';
import { createPreparedWriter } from '../../src/workload/prepared-write.js';
import { VERSION } from '../../src/version.js';
import { FUZZ_SEED, runs } from './harness.js';
import { applyOne, type Mutation } from './mutate.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const SOURCES = ['basic.pcap', 'binary-quiet.pcap', 'meta.pcap', 'udp.pcap'];

/** Byte-level mutations only (the record-level ones are pcap's). */
const byteMutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ op: fc.constant('fill' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 64 }), byte: fc.constantFrom(0 as const, 0xff as const) }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('u32' as const), at: fc.nat(), value: fc.nat() }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), bytes: fc.array(fc.nat({ max: 255 }), { minLength: 1, maxLength: 8 }) }),
);

/** Recomputes every block checksum of a (possibly damaged) prepared file where the block framing still holds. */
function reseal(b: Buffer): Buffer {
  if (b.length < 16) return b;
  const hlen = b.readUInt32LE(12);
  let at = 16 + hlen + 4;
  const end = b.length - FOOTER_BYTES;
  while (at + BLOCK_HEADER_BYTES <= end) {
    const len = b.readUInt32LE(at);
    if (at + BLOCK_HEADER_BYTES + len > end) break;
    b.writeUInt32LE(crc32(b.subarray(at + BLOCK_HEADER_BYTES, at + BLOCK_HEADER_BYTES + len)), at + 4);
    at += BLOCK_HEADER_BYTES + len;
  }
  return b;
}

describe('prepared workload reader under damage', () => {
  let dir: string;
  const files: { name: string; bytes: Buffer }[] = [];
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mcr-fuzz-mcw-'));
    for (const src of SOURCES) {
      const path = join(ROOT, 'captures/fixtures', src);
      const out = join(dir, `${src}.mcw`);
      const header: PreparedHeader = {
        mcreplay: VERSION,
        createdAt: new Date(0).toISOString(),
        capture: { path, name: src, sha256: '0', bytes: 0, epochSec: null },
        shape: { serverPorts: [11211], anyPort: false, asciiAuth: false, commands: null, readOnly: false, servers: null, fromNs: null, toNs: null },
      };
      const w = createPreparedWriter(out, header, () => true);
      w.finish(await extractWorkload(path, { serverPorts: [11211], rawView: true }, w.sink));
      files.push({ name: src, bytes: readFileSync(out) });
    }
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  let n = 0;
  /** Opens and reads the bytes as a prepared file; returns the McError thrown, or null. Anything else fails the test. */
  async function readBytes(b: Buffer): Promise<McError | null> {
    const p = join(dir, `case-${n++ % 4}.mcw`);
    writeFileSync(p, b);
    let events = 0;
    const count = (): void => void events++;
    try {
      await readPrepared(openPrepared(p, VERSION), { connection: count, request: count, outcome: count, close: count });
      return null;
    } catch (e) {
      if (!(e instanceof McError)) throw e;
      // a damage report says where, and what to do
      expect(e.message).toMatch(/is damaged at byte \d+|is cut short|not a prepared workload|prepared workload format|was prepared by mcreplay/);
      if (/is damaged at byte/.test(e.message)) expect(e.message).toMatch(/\d+ requests of \d+ connections before it were readable/);
      expect(e.exitCode).toBe(2);
      return e;
    } finally {
      expect(events).toBeLessThan(1_000_000);
    }
  }

  test('the unmutated files read without error', async () => {
    for (const f of files) expect(await readBytes(f.bytes), f.name).toBeNull();
  });

  for (const sealed of [false, true]) {
    test(`mutated files${sealed ? ', checksums re-sealed' : ''}: a clear McError or a clean read, nothing else`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.nat(), fc.array(byteMutation, { minLength: 1, maxLength: 3 }), async (which, ms) => {
          const f = files[which % files.length]!;
          let b: Buffer = Buffer.from(f.bytes);
          for (const m of ms) b = applyOne(b, m);
          if (sealed) b = reseal(b);
          await readBytes(b);
        }),
        { numRuns: runs(150), seed: FUZZ_SEED, endOnFailure: true },
      );
    }, 600_000);
  }
});
