// One streaming reader for classic pcap and pcapng. Chunks of any size go in; frames come out
// through a synchronous callback, as views into the chunk that holds them. The only copy is the
// join of a record that straddles two chunks. Frame times pass through the Clock (clock.ts), which
// needs one frame of look-ahead, so each frame is handed on when the next one has been read.
import { describeBytes } from './bytes.js';
import { Clock } from './clock.js';
import { scanPcap, pcapHeader, pcapRecordSize } from './pcap.js';
import { scanPcapng, pcapngBlockSize } from './pcapng.js';
import { McError } from '../errors.js';
import type { Iface, ScanState } from './scan-state.js';

export { newIface, type Iface } from './scan-state.js';

/** Receiver of frames; buf is valid only during the call. tsNs is relative to the base second. */
export interface FrameSink {
  frame(link: number, buf: Buffer, off: number, caplen: number, origlen: number, tsNs: number): void;
}

const EMPTY = Buffer.alloc(0);

/** Incremental pcap/pcapng reader: push(chunk)… end(). */
export class CaptureReader implements ScanState {
  format: 'pcap' | 'pcapng' | 'unknown' = 'unknown';
  /** Byte order of the file (pcapng: of the current section). */
  le = true;
  nano = false;
  /** pcap: the 24-byte file header was read. */
  headerDone = false;
  /** pcap record header length: 16, or 24 for the "modified" (Kuznetzov) format. */
  recHdr = 16;
  maxCaplen = 262144;
  ifaces: Iface[] = [];
  ifaceSeen = false;
  /** Packet counts by link type of finished pcapng sections. */
  private retired = new Map<number, number>();
  bytesRead = 0;
  packets = 0;
  badBlocks = 0;
  trailingBytes = 0;
  error: string | null = null;
  /** Option values out of their range, by option name (each ignored), and the first one's description. */
  readonly badOptions: Record<string, number> = {};
  badOptionNote: string | null = null;
  stopped = false;
  readonly clock = new Clock();
  /** Absolute file offset of index 0 of the buffer being scanned (for error messages). */
  base = 0;
  private stopAt = 0;
  // The frame waiting for its successor (clock look-ahead).
  private pIf: Iface | null = null;
  private pBuf: Buffer = EMPTY;
  private pOff = 0;
  private pCap = 0;
  private pOrig = 0;
  lastSec = 0;
  lastFrac = 0;
  // A record split across chunks, being joined.
  private part: Buffer | null = null;
  private partLen = 0;
  private partAt = 0;

  constructor(
    private readonly out: FrameSink,
    readonly name: string,
  ) {}

  /** Offers a frame read from the file; it is delivered once the next frame's time is known. */
  emit(ifc: Iface, buf: Buffer, off: number, caplen: number, origlen: number, sec: number, frac: number): void {
    this.packets++;
    ifc.packets++;
    this.lastSec = sec;
    this.lastFrac = frac;
    const t = this.clock.push(sec, frac);
    if (t === t) {
      this.out.frame(this.pIf!.link, this.pBuf, this.pOff, this.pCap, this.pOrig, t);
    }
    this.pIf = ifc;
    this.pBuf = buf;
    this.pOff = off;
    this.pCap = caplen;
    this.pOrig = origlen < caplen ? caplen : origlen;
  }

  /** Counts an option value that is out of its range (the option is ignored); `what` names it for the user. */
  badOption(name: string, what: string): void {
    this.badOptions[name] = (this.badOptions[name] ?? 0) + 1;
    this.badOptionNote ??= `${this.name}: ${what}`;
  }

  /** Stops reading at offset off of the current buffer: the rest of the file is not trusted. */
  corrupt(off: number, why: string): void {
    this.stopped = true;
    this.stopAt = this.base + off;
    this.error = `${this.name}: corrupt ${this.format} data at byte ${this.stopAt}: ${why}; reading stopped there`;
  }

  /** Feeds the next chunk of the file. Throws McError when the file is not a capture. */
  push(chunk: Buffer): void {
    const chunkAt = this.bytesRead;
    this.bytesRead += chunk.length;
    if (this.stopped) return;
    let off = 0;
    while (this.partLen > 0) {
      const part = this.part!;
      const need = this.sizeOf(part, 0, this.partLen);
      if (this.stopped) return;
      const target = need > 0 ? need : -need;
      let buf = part;
      // grow with the bytes that arrive, not to the size the record claims: a corrupt length
      // must not cost memory the input does not have
      const want = Math.min(target, this.partLen + chunk.length - off);
      if (buf.length < want) {
        buf = Buffer.allocUnsafe(Math.min(target, Math.max(buf.length * 2, want)));
        part.copy(buf, 0, 0, this.partLen);
        this.part = buf;
      }
      if (want < target) {
        chunk.copy(buf, this.partLen, off);
        this.partLen = want;
        return;
      }
      const take = Math.min(target - this.partLen, chunk.length - off);
      chunk.copy(buf, this.partLen, off, off + take);
      this.partLen += take;
      off += take;
      if (this.partLen < target) return;
      if (need > 0) {
        this.base = this.partAt;
        this.scan(buf, 0, this.partLen);
        // The joined buffer may still be referenced by the pending frame: never reuse it.
        this.part = null;
        this.partLen = 0;
        if (this.stopped) return;
      }
    }
    this.base = chunkAt;
    const stop = this.scan(chunk, off, chunk.length);
    if (this.stopped) return;
    const rest = chunk.length - stop;
    if (rest > 0) {
      const need = this.sizeOf(chunk, stop, rest);
      if (this.stopped) return;
      const size = Math.min(Math.max(need > 0 ? need : -need, 64), Math.max(rest * 2, 64 << 10));
      this.part = Buffer.allocUnsafe(size);
      chunk.copy(this.part, 0, stop, chunk.length);
      this.partLen = rest;
      this.partAt = chunkAt + stop;
    }
  }

  /** Input is over: delivers the last frame and records a cut-short file. Throws if it was no capture. */
  end(): void {
    if (this.format === 'unknown') {
      if (this.bytesRead === 0) throw new McError(`${this.name}: the file is empty, not a capture`, 'MCR_ERR_NOT_A_CAPTURE');
      throw this.notCapture(this.part ?? EMPTY, 0, this.partLen);
    }
    if (this.stopped) {
      this.trailingBytes = this.bytesRead - this.stopAt;
    } else if (this.partLen > 0) {
      this.trailingBytes = this.partLen;
      const what = this.format === 'pcap' && !this.headerDone ? 'in its file header' : 'in the middle of a record';
      this.error = `${this.name}: the capture is cut short ${what} (last ${this.partLen} bytes at byte ${this.partAt} are incomplete)`;
      this.part = null;
      this.partLen = 0;
    }
    const t = this.clock.finish();
    if (t === t) {
      this.out.frame(this.pIf!.link, this.pBuf, this.pOff, this.pCap, this.pOrig, t);
    }
    this.pBuf = EMPTY;
  }

  /** A new pcapng section starts: its interface list starts empty. */
  retire(): void {
    for (const i of this.ifaces) if (i.packets) this.retired.set(i.link, (this.retired.get(i.link) ?? 0) + i.packets);
    this.ifaces = [];
  }

  /** Packet counts per link type number, over every interface seen. */
  linkCounts(): Map<number, number> {
    const m = new Map(this.retired);
    for (const i of this.ifaces) if (i.packets) m.set(i.link, (m.get(i.link) ?? 0) + i.packets);
    return m;
  }

  private notCapture(b: Buffer, off: number, len: number): McError {
    const head = b.subarray(off, off + Math.min(len, 16));
    const gz = head[0] === 0x1f && head[1] === 0x8b ? ' (gzip data: decompress it or read it by file name)' : '';
    return new McError(
      `${this.name}: not a pcap or pcapng capture (${describeBytes(head)})${gz}`,
      'MCR_ERR_NOT_A_CAPTURE',
      'mcreplay reads captures written by tcpdump -w, dumpcap or Wireshark (pcap or pcapng, optionally gzip-compressed)',
    );
  }

  private detect(b: Buffer, off: number, avail: number): void {
    const m0 = b[off]!;
    const m1 = b[off + 1]!;
    const m2 = b[off + 2]!;
    const m3 = b[off + 3]!;
    if (m0 === 0x0a && m1 === 0x0d && m2 === 0x0d && m3 === 0x0a) {
      this.format = 'pcapng';
      return;
    }
    const le = m3 === 0xa1 && m2 === 0xb2;
    const be = m0 === 0xa1 && m1 === 0xb2;
    const lo = le ? (m1 << 8) | m0 : (m2 << 8) | m3;
    if ((le || be) && (lo === 0xc3d4 || lo === 0x3c4d || lo === 0xcd34)) {
      this.format = 'pcap';
      this.le = le;
      this.nano = lo === 0x3c4d;
      this.recHdr = lo === 0xcd34 ? 24 : 16;
      return;
    }
    throw this.notCapture(b, off, avail);
  }

  /** Size of the record at off: > 0 its size, < 0 the bytes needed to know it, 0 after corrupt(). */
  private sizeOf(b: Buffer, off: number, avail: number): number {
    if (this.format === 'unknown') {
      if (avail < 4) return -4;
      this.detect(b, off, avail);
    }
    if (this.format === 'pcap') return this.headerDone ? pcapRecordSize(this, b, off, avail) : 24;
    return pcapngBlockSize(this, b, off, avail);
  }

  /** Reads whole records from b[off, end); returns where the first incomplete one starts. */
  private scan(b: Buffer, off: number, end: number): number {
    if (this.format === 'unknown') {
      if (end - off < 4) return off;
      this.detect(b, off, end - off);
    }
    if (this.format === 'pcap') {
      if (!this.headerDone) {
        if (end - off < 24) return off;
        pcapHeader(this, b, off);
        off += 24;
      }
      return scanPcap(this, b, off, end);
    }
    return scanPcapng(this, b, off, end);
  }
}
