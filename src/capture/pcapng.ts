// pcapng (dumpcap, Wireshark): blocks of type, length, body, length. Sections (SHB) set the byte
// order and start a new interface list; IDBs give each interface its link type, snaplen and
// timestamp resolution; EPB/SPB/OPB carry frames. Every other block (NRB, ISB, DSB, custom ...)
// is skipped by its length.
import { u16, u32 } from './bytes.js';
import { newIface, type Iface, type ScanState } from './scan-state.js';

const MAX_BLOCK = 64 << 20;
const SHB = 0x0a0d0d0a;
const IDB = 1;
const OPB = 2;
const SPB = 3;
const EPB = 6;

function blockOrder(r: ScanState, b: Buffer, off: number): boolean {
  if (b[off] === 0x0a && b[off + 1] === 0x0d && b[off + 2] === 0x0d && b[off + 3] === 0x0a) {
    const m = u32(b, off + 8, true);
    if (m === 0x1a2b3c4d) return true;
    if (m === 0x4d3c2b1a) return false;
    r.corrupt(off, 'section header with an unknown byte-order magic');
  }
  return r.le;
}

/** Size of the block at off, < 0 for the bytes needed to know it, 0 when it is corrupt. */
export function pcapngBlockSize(r: ScanState, b: Buffer, off: number, avail: number): number {
  if (avail < 12) return -12;
  const le = blockOrder(r, b, off);
  if (r.stopped) return 0;
  const len = u32(b, off + 4, le);
  if (len < 12 || (len & 3) !== 0 || len > MAX_BLOCK) {
    r.corrupt(off, `block length ${len} is not valid`);
    return 0;
  }
  return len;
}

// Option values beyond these are not a clock: a tick finer than a femtosecond, or an offset past
// the year 2242 (2^33 s) either way. Such an option is counted by name and ignored.
const MAX_TSRESOL_10 = 15;
const MAX_TSRESOL_2 = 50;
const MAX_TSOFFSET_SEC = 2 ** 33;

function readIdb(r: ScanState, b: Buffer, off: number, len: number): Iface {
  const le = r.le;
  const link = u16(b, off + 8, le);
  const snaplen = u32(b, off + 12, le);
  let units = 1e6;
  let offsetSec = 0;
  let p = off + 16;
  const end = off + len - 4;
  while (end - p >= 4) {
    const code = u16(b, p, le);
    const olen = u16(b, p + 2, le);
    if (code === 0) break;
    if (p + 4 + olen > end) {
      r.badOption('option length', `interface ${r.ifaces.length}: option ${code} of ${olen} bytes runs past its block`);
      break;
    }
    if (code === 9) {
      const v = olen >= 1 ? b[p + 4]! : -1;
      const ok = v >= 0 && (v & 0x80 ? (v & 0x7f) <= MAX_TSRESOL_2 : v <= MAX_TSRESOL_10);
      if (ok) units = v & 0x80 ? 2 ** (v & 0x7f) : 10 ** v;
      else r.badOption('if_tsresol', `interface ${r.ifaces.length}: if_tsresol ${v < 0 ? 'empty' : `0x${v.toString(16)}`} is out of range; microseconds assumed`);
    } else if (code === 14) {
      const lo = olen >= 8 ? u32(b, p + 4 + (le ? 0 : 4), le) : 0;
      const hi = olen >= 8 ? u32(b, p + 4 + (le ? 4 : 0), le) | 0 : 0;
      const v = hi * 4294967296 + lo;
      if (olen >= 8 && Math.abs(v) < MAX_TSOFFSET_SEC) offsetSec = v;
      else r.badOption('if_tsoffset', `interface ${r.ifaces.length}: if_tsoffset ${olen >= 8 ? v : `of ${olen} bytes`} is out of range; ignored`);
    }
    p += 4 + ((olen + 3) & ~3);
  }
  if (!r.ifaceSeen) {
    r.ifaceSeen = true;
    r.nano = units > 1e6;
  }
  return newIface(link, snaplen, units, offsetSec);
}

/** Splits hi·2^32 + lo ticks into the reader's (lastSec, lastFrac) in exact integer arithmetic. */
function setTime(r: ScanState, ifc: Iface, hi: number, lo: number): void {
  const U = ifc.units;
  if (U > 2 ** 52) {
    const t = (BigInt(hi) << 32n) | BigInt(lo);
    const u = BigInt(U);
    r.lastSec = Number(t / u) + ifc.offsetSec;
    r.lastFrac = Math.floor(Number(t % u) * ifc.fracMul);
    return;
  }
  if (hi !== ifc.hi) {
    // hi changes once per 2^32 ticks (4.3 s at ns resolution): BigInt only then.
    const t = BigInt(hi) << 32n;
    const u = BigInt(U);
    ifc.hi = hi;
    ifc.hiSec = Number(t / u);
    ifc.hiRem = Number(t % u);
  }
  const t = ifc.hiRem + lo;
  const q = Math.floor(t / U);
  const rem = t - q * U;
  r.lastSec = ifc.hiSec + q + ifc.offsetSec;
  r.lastFrac = ifc.nsPerTick ? rem * ifc.nsPerTick : Math.floor(rem * ifc.fracMul);
}

/** Reads whole blocks from b[off, end) and emits their frames; returns where it stopped. */
export function scanPcapng(r: ScanState, b: Buffer, off: number, end: number): number {
  while (end - off >= 12) {
    const le = blockOrder(r, b, off);
    if (r.stopped) return off;
    const len = u32(b, off + 4, le);
    if (len < 12 || (len & 3) !== 0 || len > MAX_BLOCK) {
      r.corrupt(off, `block length ${len} is not valid`);
      return off;
    }
    if (end - off < len) break;
    const type = u32(b, off, le);
    if (type === EPB || type === OPB) {
      if (len < 32) r.badBlocks++;
      else {
        const ifId = type === EPB ? u32(b, off + 8, le) : u16(b, off + 8, le);
        const caplen = u32(b, off + 20, le);
        const ifc = r.ifaces[ifId];
        if (ifc === undefined || caplen > len - 32) r.badBlocks++;
        else {
          setTime(r, ifc, u32(b, off + 12, le), u32(b, off + 16, le));
          r.emit(ifc, b, off + 28, caplen, u32(b, off + 24, le), r.lastSec, r.lastFrac);
        }
      }
    } else if (type === SPB) {
      const ifc = r.ifaces[0];
      if (ifc === undefined || len < 16) r.badBlocks++;
      else {
        // No timestamp: the frame gets the previous frame's time.
        const orig = u32(b, off + 8, le);
        let caplen = len - 16 < orig ? len - 16 : orig;
        if (ifc.snaplen !== 0 && caplen > ifc.snaplen) caplen = ifc.snaplen;
        r.emit(ifc, b, off + 12, caplen, orig, r.lastSec, r.lastFrac);
      }
    } else if (type === IDB) {
      if (len < 20) r.badBlocks++;
      else r.ifaces.push(readIdb(r, b, off, len));
    } else if (type === SHB) {
      if (len < 28) {
        r.corrupt(off, 'section header block too short');
        return off;
      }
      r.le = le;
      r.retire();
    }
    off += len;
  }
  return off;
}
