// Classic pcap (tcpdump -w): a 24-byte file header, then records of a 16-byte header and the frame.
// Both byte orders, µs (a1b2c3d4) and ns (a1b23c4d) magic, and the old "modified" (a1b2cd34) format.
import { u32be, u32le } from './bytes.js';
import { newIface, type ScanState } from './scan-state.js';

const MAX_RECORD = 64 << 20;

/** Reads the file header at off (24 bytes, magic already recognised). */
export function pcapHeader(r: ScanState, b: Buffer, off: number): void {
  const snaplen = r.le ? u32le(b, off + 16) : u32be(b, off + 16);
  const link = (r.le ? u32le(b, off + 20) : u32be(b, off + 20)) & 0xffff;
  r.ifaces = [newIface(link, snaplen, r.nano ? 1e9 : 1e6)];
  // A caplen beyond both the snaplen and the largest standard packet means we lost the framing.
  r.maxCaplen = Math.max(262144, Math.min(snaplen, MAX_RECORD));
  r.headerDone = true;
}

/** Size of the record at off, < 0 for the bytes needed to know it, 0 when it is corrupt. */
export function pcapRecordSize(r: ScanState, b: Buffer, off: number, avail: number): number {
  if (avail < r.recHdr) return -r.recHdr;
  const caplen = r.le ? u32le(b, off + 8) : u32be(b, off + 8);
  if (caplen > r.maxCaplen) {
    r.corrupt(off, `record length ${caplen} exceeds the largest possible packet (${r.maxCaplen})`);
    return 0;
  }
  return r.recHdr + caplen;
}

/** Reads whole records from b[off, end) and emits their frames; returns where it stopped. */
export function scanPcap(r: ScanState, b: Buffer, off: number, end: number): number {
  const le = r.le;
  const hdr = r.recHdr;
  const max = r.maxCaplen;
  const mul = r.nano ? 1 : 1000;
  const ifc = r.ifaces[0]!;
  while (end - off >= hdr) {
    const caplen = le ? u32le(b, off + 8) : u32be(b, off + 8);
    if (caplen > max) {
      r.corrupt(off, `record length ${caplen} exceeds the largest possible packet (${max})`);
      return off;
    }
    if (end - off < hdr + caplen) break;
    const sec = le ? u32le(b, off) : u32be(b, off);
    const frac = le ? u32le(b, off + 4) : u32be(b, off + 4);
    const orig = le ? u32le(b, off + 12) : u32be(b, off + 12);
    r.emit(ifc, b, off + hdr, caplen, orig, sec, frac * mul);
    off += hdr + caplen;
  }
  return off;
}
