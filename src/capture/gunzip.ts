// gzip decompression that keeps what it decompressed when the stream is damaged. Node's gunzip
// drops the output of the call that meets a bad CRC or trailing bytes (up to a megabyte of a
// capture); here the members are read by hand: the header is parsed, the deflate body goes
// through a raw inflater (which stops at the end of the body and tells how much it used), and the
// trailer's CRC-32 and size are checked against the output. A bad CRC, a cut stream or bytes after
// the last member become a named problem; everything decompressed is still delivered.
import { createInflateRaw, crc32, constants, type InflateRaw } from 'node:zlib';

/** What went wrong in a gzip stream; null when nothing did. */
export interface GzipReport {
  problem: string | null;
  members: number;
  /** Bytes after the last gzip member that are not gzip (ignored). */
  trailingBytes: number;
}

const FHCRC = 2;
const FEXTRA = 4;
const FNAME = 8;
const FCOMMENT = 16;

/** Length of the gzip member header at the start of b, 0 if more bytes are needed, -1 if it is not gzip. */
function headerLength(b: Buffer): number {
  if (b.length < 10) return b.length >= 2 && (b[0] !== 0x1f || b[1] !== 0x8b) ? -1 : 0;
  if (b[0] !== 0x1f || b[1] !== 0x8b || b[2] !== 8) return -1;
  const flg = b[3]!;
  let p = 10;
  if (flg & FEXTRA) {
    if (b.length < p + 2) return 0;
    p += 2 + b.readUInt16LE(p);
  }
  for (const f of [FNAME, FCOMMENT]) {
    if (flg & f) {
      const z = b.indexOf(0, p);
      if (z < 0) return 0;
      p = z + 1;
    }
  }
  if (flg & FHCRC) p += 2;
  return b.length >= p ? p : 0;
}

/** One member's raw inflater, driven chunk by chunk. */
class Member {
  private readonly inf: InflateRaw;
  private out: Buffer[] = [];
  private fed = 0;
  private failed: Error | null = null;
  ended = false;
  crc = 0;
  size = 0;

  constructor() {
    // a cut stream flushes what it has instead of failing
    this.inf = createInflateRaw({ chunkSize: 1 << 20, finishFlush: constants.Z_SYNC_FLUSH });
    this.inf.on('data', (d: Buffer) => {
      this.out.push(d);
      this.crc = crc32(d, this.crc);
      this.size += d.length;
    });
    this.inf.on('end', () => (this.ended = true));
    this.inf.on('error', (e: Error) => (this.failed = e));
  }

  /** Feeds body bytes; resolves with the output so far, and the bytes of b the body did not use (its end was reached). */
  async write(b: Buffer): Promise<{ out: Buffer[]; rest: Buffer | null; error: Error | null }> {
    this.fed += b.length;
    await new Promise<void>((res) => this.inf.write(b, () => res()));
    const used = this.inf.bytesWritten;
    const out = this.out;
    this.out = [];
    if (this.failed) return { out, rest: null, error: this.failed };
    // the raw inflater stops at the end of the deflate body and leaves the rest of the input
    const left = this.fed - used;
    return { out, rest: left > 0 ? b.subarray(b.length - left) : null, error: null };
  }

  /** Input over: flushes what is left. */
  async finish(): Promise<Buffer[]> {
    if (!this.ended && !this.failed) {
      await new Promise<void>((res) => {
        this.inf.once('end', res);
        this.inf.once('error', () => res());
        this.inf.end();
      });
    }
    const out = this.out;
    this.out = [];
    return out;
  }

  close(): void {
    this.inf.destroy();
  }
}

/**
 * Decompresses a gzip byte stream (any number of members). Output chunks are yielded as they come;
 * problems end up in `report`, never as an exception.
 */
export async function* gunzip(raw: AsyncIterable<Buffer>, report: GzipReport): AsyncGenerator<Buffer> {
  let pending: Buffer = Buffer.alloc(0);
  let member: Member | null = null;
  let trailer = false;
  // after a broken deflate body nothing can be trusted: the rest is read and ignored
  let broken = false;
  const note = (p: string): void => {
    report.problem ??= p;
  };
  try {
    for await (const chunk of raw) {
      if (broken) continue;
      if (report.trailingBytes > 0) {
        report.trailingBytes += chunk.length;
        continue;
      }
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      while (pending.length > 0) {
        if (member !== null) {
          const r = await member.write(pending);
          yield* r.out;
          if (r.error) {
            note(`gzip member ${report.members}: ${r.error.message} (what came before it was read)`);
            broken = true;
            member.close();
            member = null;
            pending = Buffer.alloc(0);
            break;
          }
          if (r.rest === null) {
            pending = Buffer.alloc(0);
            break;
          }
          yield* await member.finish();
          pending = Buffer.from(r.rest);
          trailer = true;
        }
        if (trailer) {
          if (pending.length < 8) break;
          const crc = pending.readUInt32LE(0);
          const size = pending.readUInt32LE(4);
          if (crc !== member!.crc >>> 0) note(`gzip member ${report.members}: CRC mismatch (the data may be damaged; it was read anyway)`);
          else if (size !== member!.size % 2 ** 32) note(`gzip member ${report.members}: length mismatch (${size} in the trailer, ${member!.size} decompressed)`);
          member!.close();
          member = null;
          trailer = false;
          pending = pending.subarray(8);
          continue;
        }
        const h = headerLength(pending);
        if (h === 0) break;
        if (h < 0) {
          report.trailingBytes = pending.length;
          pending = Buffer.alloc(0);
          break;
        }
        report.members++;
        member = new Member();
        pending = pending.subarray(h);
      }
    }
    if (broken) {
      // noted above
    } else if (member !== null && !trailer) {
      yield* await member.finish();
      note(`gzip stream cut short in member ${report.members} (${member.size} bytes decompressed, all read)`);
    } else if (trailer) note(`gzip stream cut short in the trailer of member ${report.members}`);
    else if (pending.length > 0 && report.trailingBytes === 0) note(`gzip stream cut short in the header of member ${report.members + 1}`);
    if (report.trailingBytes > 0) note(`${report.trailingBytes} bytes after the gzip data are not gzip (ignored)`);
  } finally {
    member?.close();
  }
}
