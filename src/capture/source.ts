// Capture input: a file path or '-' for standard input, as a stream of large chunks. gzip is
// recognised by its magic bytes (1f 8b), not by the file name, so `tcpdump -w - | gzip` works too.
import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { McError } from '../errors.js';
import { gunzip, type GzipReport } from './gunzip.js';

const CHUNK = 1 << 20;

/** An opened capture input. */
export interface CaptureSource {
  /** How errors name the input ("standard input" for '-'). */
  name: string;
  gzip: boolean;
  /** gzip input: what went wrong in the compressed stream (complete once `chunks` is done). */
  gzipReport: GzipReport;
  chunks: AsyncIterable<Buffer>;
  /** Stops reading and releases the file. */
  close(): void;
}

/** Opens a capture path or '-' (stdin); throws McError when the file cannot be opened. */
export async function openSource(input: string): Promise<CaptureSource> {
  const name = input === '-' ? 'standard input' : input;
  let raw: Readable;
  if (input === '-') {
    raw = process.stdin;
  } else {
    try {
      const fh = await open(input, 'r');
      if ((await fh.stat()).isDirectory()) {
        await fh.close();
        throw new McError(`${name}: is a directory, not a capture file`, 'MCR_ERR_CAPTURE_UNREADABLE');
      }
      raw = fh.createReadStream({ highWaterMark: CHUNK });
    } catch (e) {
      if (e instanceof McError) throw e;
      const err = e as NodeJS.ErrnoException;
      const why = err.code === 'ENOENT' ? 'no such file' : err.code === 'EACCES' ? 'permission denied' : err.message;
      throw new McError(`cannot read capture ${name}: ${why}`, 'MCR_ERR_CAPTURE_UNREADABLE');
    }
  }
  const it = raw[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  // Enough bytes to see the gzip magic.
  const head: Buffer[] = [];
  let headLen = 0;
  let done = false;
  while (headLen < 2) {
    const r = await it.next();
    if (r.done) {
      done = true;
      break;
    }
    head.push(r.value);
    headLen += r.value.length;
  }
  const first = head.length === 1 ? head[0]! : Buffer.concat(head);
  const gzip = first.length >= 2 && first[0] === 0x1f && first[1] === 0x8b;
  async function* rawChunks(): AsyncGenerator<Buffer> {
    if (first.length > 0) yield first;
    if (done) return;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield r.value;
    }
  }
  const release = (): void => {
    if (raw !== process.stdin) raw.destroy();
    else raw.pause();
  };
  const gzipReport: GzipReport = { problem: null, members: 0, trailingBytes: 0 };
  if (!gzip) return { name, gzip, gzipReport, chunks: rawChunks(), close: release };
  return { name, gzip, gzipReport, chunks: gunzip(rawChunks(), gzipReport), close: release };
}
