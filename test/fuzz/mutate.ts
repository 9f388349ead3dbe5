// Mutations of real captures, as fast-check arbitraries: what disks, truncating copies, broken
// capture tools and attackers do to a file. Each mutation is data (shrinkable, printable), applied
// by `apply`, so a failing case names exactly what was done to which fixture.
import fc from 'fast-check';
import { gzipSync } from 'node:zlib';

export type Mutation =
  | { op: 'flip'; at: number; bit: number }
  | { op: 'fill'; at: number; len: number; byte: 0 | 0xff }
  | { op: 'truncate'; at: number }
  | { op: 'dupRecord'; rec: number }
  | { op: 'dropRecord'; rec: number }
  | { op: 'swapRecords'; rec: number }
  | { op: 'recordLength'; rec: number; value: number }
  | { op: 'timestamp'; rec: number; value: number }
  | { op: 'u32'; at: number; value: number }
  | { op: 'insert'; at: number; bytes: number[] };

/** Where each record (pcap) or block (pcapng) starts, walking the length fields; stops at the first that does not fit. */
export function recordOffsets(b: Buffer): { offs: number[]; pcapng: boolean; le: boolean; hdr: number } {
  const offs: number[] = [];
  if (b.length < 24) return { offs, pcapng: false, le: true, hdr: 16 };
  const pcapng = b.readUInt32BE(0) === 0x0a0d0d0a;
  if (pcapng) {
    const le = b.readUInt32LE(8) === 0x1a2b3c4d;
    for (let o = 0; o + 12 <= b.length; ) {
      const len = le ? b.readUInt32LE(o + 4) : b.readUInt32BE(o + 4);
      if (len < 12 || len % 4 !== 0 || o + len > b.length) break;
      offs.push(o);
      o += len;
    }
    return { offs, pcapng, le, hdr: 0 };
  }
  const le = b.readUInt32LE(0) === 0xa1b2c3d4 || b.readUInt32LE(0) === 0xa1b23c4d || b.readUInt32LE(0) === 0xa1b2cd34;
  const hdr = (le ? b.readUInt32LE(0) : b.readUInt32BE(0)) === 0xa1b2cd34 ? 24 : 16;
  for (let o = 24; o + hdr <= b.length; ) {
    const cap = le ? b.readUInt32LE(o + 8) : b.readUInt32BE(o + 8);
    if (o + hdr + cap > b.length) break;
    offs.push(o);
    o += hdr + cap;
  }
  return { offs, pcapng, le, hdr };
}

function recordSpan(b: Buffer, r: ReturnType<typeof recordOffsets>, i: number): [number, number] {
  const s = r.offs[i]!;
  const e = i + 1 < r.offs.length ? r.offs[i + 1]! : b.length;
  return [s, e];
}

function writeU32(b: Buffer, at: number, v: number, le: boolean): void {
  if (at < 0 || at + 4 > b.length) return;
  if (le) b.writeUInt32LE(v >>> 0, at);
  else b.writeUInt32BE(v >>> 0, at);
}

/** Applies one mutation; positions are taken modulo the current length, so any mutation applies to any input. */
export function applyOne(b: Buffer, m: Mutation): Buffer {
  if (b.length === 0) return b;
  const at = (x: number): number => x % b.length;
  const r = recordOffsets(b);
  const rec = (x: number): number => (r.offs.length ? x % r.offs.length : -1);
  switch (m.op) {
    case 'flip': {
      const c = Buffer.from(b);
      c[at(m.at)]! ^= 1 << m.bit;
      return c;
    }
    case 'fill': {
      const c = Buffer.from(b);
      c.fill(m.byte, at(m.at), Math.min(b.length, at(m.at) + m.len));
      return c;
    }
    case 'truncate':
      return b.subarray(0, at(m.at));
    case 'insert': {
      const p = at(m.at);
      return Buffer.concat([b.subarray(0, p), Buffer.from(m.bytes), b.subarray(p)]);
    }
    case 'u32': {
      const c = Buffer.from(b);
      writeU32(c, at(m.at) & ~3, m.value, r.le);
      return c;
    }
    default: {
      const i = rec(m.rec);
      if (i < 0) return b;
      const [s, e] = recordSpan(b, r, i);
      if (m.op === 'dupRecord') return Buffer.concat([b.subarray(0, e), b.subarray(s, e), b.subarray(e)]);
      if (m.op === 'dropRecord') return Buffer.concat([b.subarray(0, s), b.subarray(e)]);
      if (m.op === 'swapRecords') {
        if (i + 1 >= r.offs.length) return b;
        const [s2, e2] = recordSpan(b, r, i + 1);
        return Buffer.concat([b.subarray(0, s), b.subarray(s2, e2), b.subarray(s, e), b.subarray(e2)]);
      }
      const c = Buffer.from(b);
      if (m.op === 'recordLength') {
        // pcap: caplen (and origlen); pcapng: the block's leading length field
        if (r.pcapng) writeU32(c, s + 4, m.value, r.le);
        else writeU32(c, s + 8, m.value, r.le);
      } else if (m.op === 'timestamp') {
        // pcap: the seconds field; pcapng EPB: the high 32 bits of the timestamp
        writeU32(c, r.pcapng ? s + 12 : s, m.value, r.le);
      }
      return c;
    }
  }
}

/** Applies mutations in order. */
export function apply(b: Buffer, ms: Mutation[]): Buffer {
  let c = b;
  for (const m of ms) c = applyOne(c, m);
  return c;
}

const pos = fc.nat({ max: 1 << 30 });
/** Values that break length and time fields: edges, powers of two, and anything. */
const u32 = fc.oneof(
  fc.constantFrom(0, 1, 11, 12, 15, 16, 0x7fffffff, 0x80000000, 0xfffffff0, 0xffffffff, 64 << 20, (64 << 20) + 4, 262144, 262145),
  fc.integer({ min: 0, max: 31 }).map((k) => 2 ** k),
  fc.nat({ max: 0xffffffff }),
);

/** One mutation of any kind. */
export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at: pos, bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ op: fc.constant('fill' as const), at: pos, len: fc.integer({ min: 1, max: 512 }), byte: fc.constantFrom(0 as const, 0xff as const) }),
  fc.record({ op: fc.constant('truncate' as const), at: pos }),
  fc.record({ op: fc.constant('dupRecord' as const), rec: pos }),
  fc.record({ op: fc.constant('dropRecord' as const), rec: pos }),
  fc.record({ op: fc.constant('swapRecords' as const), rec: pos }),
  fc.record({ op: fc.constant('recordLength' as const), rec: pos, value: u32 }),
  fc.record({ op: fc.constant('timestamp' as const), rec: pos, value: u32 }),
  fc.record({ op: fc.constant('u32' as const), at: pos, value: u32 }),
  fc.record({ op: fc.constant('insert' as const), at: pos, bytes: fc.array(fc.nat({ max: 255 }), { minLength: 1, maxLength: 64 }) }),
);

/** A gzip stream of the input, cut or with a bad CRC or trailing bytes. */
export const gzipDamage = fc.oneof(
  fc.record({ kind: fc.constant('cut' as const), at: fc.double({ min: 0, max: 1, noNaN: true }) }),
  fc.record({ kind: fc.constant('crc' as const) }),
  fc.record({ kind: fc.constant('trailing' as const), bytes: fc.array(fc.nat({ max: 255 }), { minLength: 1, maxLength: 32 }) }),
);

/** Gzips the input and damages the stream. */
export function damagedGzip(input: Buffer, d: { kind: 'cut'; at: number } | { kind: 'crc' } | { kind: 'trailing'; bytes: number[] }): Buffer {
  const z = gzipSync(input);
  if (d.kind === 'cut') return z.subarray(0, Math.floor(z.length * d.at));
  if (d.kind === 'trailing') return Buffer.concat([z, Buffer.from(d.bytes)]);
  const c = Buffer.from(z);
  c[c.length - 8]! ^= 0xff;
  return c;
}
