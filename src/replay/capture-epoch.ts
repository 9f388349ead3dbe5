// Wall-clock second of a capture's first frame, read from the file's first records. The workload
// model carries capture-relative times only; rebasing absolute expiry times (> 30 days) needs the
// capture's wall clock. Reads at most the first 1 MiB; returns null when it cannot tell.
import { open } from 'node:fs/promises';
import { gunzipSync, constants as zc } from 'node:zlib';
import { VERSION } from '../version.js';
import { isPreparedFile, openPrepared } from '../workload/prepared-read.js';

const PROBE_BYTES = 1 << 20;

/** Epoch seconds (fractional) of the first packet of a pcap/pcapng file (gzip ok), or null. */
export async function captureEpochSec(path: string): Promise<number | null> {
  if (path === '-') return null;
  // a prepared workload carries its capture's
  if (isPreparedFile(path)) return openPrepared(path, VERSION).header.capture.epochSec;
  let buf: Buffer;
  try {
    const fh = await open(path, 'r');
    try {
      const b = Buffer.alloc(PROBE_BYTES);
      const { bytesRead } = await fh.read(b, 0, PROBE_BYTES, 0);
      buf = b.subarray(0, bytesRead);
    } finally {
      await fh.close();
    }
    if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) buf = gunzipSync(buf, { finishFlush: zc.Z_SYNC_FLUSH });
  } catch {
    return null;
  }
  return firstFrameEpoch(buf);
}

/** Epoch seconds of the first frame in the leading bytes of a pcap/pcapng file, or null. */
export function firstFrameEpoch(b: Buffer): number | null {
  if (b.length < 24) return null;
  const m = b.readUInt32LE(0);
  // classic pcap: magic in either byte order, µs or ns
  const classic: Record<number, [boolean, number]> = { 0xa1b2c3d4: [true, 1e6], 0xd4c3b2a1: [false, 1e6], 0xa1b23c4d: [true, 1e9], 0x4d3cb2a1: [false, 1e9] };
  const c = classic[m];
  if (c !== undefined) {
    if (b.length < 40) return null;
    const [le, div] = c;
    const sec = le ? b.readUInt32LE(24) : b.readUInt32BE(24);
    const frac = le ? b.readUInt32LE(28) : b.readUInt32BE(28);
    return sec + frac / div;
  }
  if (m !== 0x0a0d0d0a) return null;
  // pcapng: walk blocks; remember each interface's time resolution, stop at the first packet block
  const bom = b.readUInt32LE(8);
  const le = bom === 0x1a2b3c4d;
  if (!le && b.readUInt32BE(8) !== 0x1a2b3c4d) return null;
  const u32 = (o: number): number => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const u16 = (o: number): number => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
  const resol: number[] = [];
  let off = 0;
  while (off + 12 <= b.length) {
    const type = u32(off);
    const len = u32(off + 4);
    if (len < 12 || off + len > b.length) return null;
    if (type === 1) {
      // IDB: options from off+16; if_tsresol is option 9
      let units = 1e6;
      let o = off + 16;
      while (o + 4 <= off + len - 4) {
        const code = u16(o);
        const olen = u16(o + 2);
        if (code === 0) break;
        if (code === 9 && olen >= 1) {
          const v = b[o + 4]!;
          units = v & 0x80 ? 2 ** (v & 0x7f) : 10 ** (v & 0x7f);
        }
        o += 4 + ((olen + 3) & ~3);
      }
      resol.push(units);
    } else if (type === 6 || type === 3) {
      if (type === 3) return null; // simple packet blocks carry no time
      const ifc = u32(off + 8);
      const hi = u32(off + 12);
      const lo = u32(off + 16);
      const units = resol[ifc] ?? 1e6;
      return (hi * 2 ** 32 + lo) / units;
    }
    off += len;
  }
  return null;
}
