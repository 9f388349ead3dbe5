// A live capture stream for `mcreplay mirror -`: the records of a pcap are written to a stream when
// their time comes, re-stamped on this host's wall clock, as tcpdump -U -w - would write them. The
// producer can be stopped mid-record (a tcpdump or ssh pipe that dies) or at a record boundary.
import type { Writable } from 'node:stream';

/** One record of a classic little-endian µs pcap: its time in µs since the first record, and its bytes (header included). */
interface Rec {
  us: number;
  bytes: Buffer;
}

/** Splits a classic pcap (little-endian, µs, as buildPcap and pcapFile write) into its header and records. */
export function splitPcap(file: Buffer): { header: Buffer; recs: Rec[] } {
  if (file.readUInt32LE(0) !== 0xa1b2c3d4) throw new Error('splitPcap: a little-endian µs pcap is expected');
  const recs: Rec[] = [];
  let first: number | null = null;
  for (let o = 24; o + 16 <= file.length; ) {
    const len = file.readUInt32LE(o + 8);
    const us = file.readUInt32LE(o) * 1e6 + file.readUInt32LE(o + 4);
    first ??= us;
    recs.push({ us: us - first, bytes: file.subarray(o, o + 16 + len) });
    o += 16 + len;
  }
  return { header: file.subarray(0, 24), recs };
}

/** A running producer. */
export interface LiveProducer {
  /** Records written so far. */
  written(): number;
  /** Date.now() of the first record's time (the capture's t0 on this host's clock). */
  startMs: number;
  /** Resolves when every record is written (the stream is then ended) or the producer was stopped. */
  done: Promise<void>;
  /** Stops writing; `midRecord` writes half of the next record first (a producer killed mid-write). The stream is ended. */
  stop(midRecord?: boolean): void;
}

/**
 * Writes `file`'s records to `out` at their capture times from `leadMs` from now on, each stamped
 * with the wall-clock time it is due; honours backpressure (a slow reader delays the writer as it
 * would delay tcpdump). Ends `out` after the last record unless `keepOpen`.
 */
export function produceLive(out: Writable, file: Buffer, opts: { leadMs?: number; keepOpen?: boolean } = {}): LiveProducer {
  const { header, recs } = splitPcap(file);
  const startMs = Date.now() + (opts.leadMs ?? 100);
  let i = 0;
  let stopped = false;
  let timer: NodeJS.Timeout | null = null;
  let finish!: () => void;
  const done = new Promise<void>((r) => (finish = r));
  const end = (): void => {
    if (timer) clearTimeout(timer);
    timer = null;
    if (!opts.keepOpen && !out.writableEnded) out.end();
    finish();
  };
  out.on('error', () => end());
  out.on('close', () => end());
  const stamp = (r: Rec): Buffer => {
    const b = Buffer.from(r.bytes);
    const us = startMs * 1000 + r.us;
    b.writeUInt32LE(Math.floor(us / 1e6), 0);
    b.writeUInt32LE(us % 1e6, 4);
    return b;
  };
  const pump = (): void => {
    timer = null;
    if (stopped) return;
    const now = Date.now();
    const due: Buffer[] = [];
    while (i < recs.length && startMs + recs[i]!.us / 1000 <= now) due.push(stamp(recs[i++]!));
    const ok = due.length === 0 || out.write(Buffer.concat(due));
    if (i === recs.length) return end();
    if (!ok) {
      out.once('drain', pump);
      return;
    }
    timer = setTimeout(pump, Math.max(0, Math.min(20, startMs + recs[i]!.us / 1000 - now)));
  };
  out.write(header);
  timer = setTimeout(pump, Math.max(0, startMs - Date.now()));
  return {
    written: () => i,
    startMs,
    done,
    stop(midRecord = false) {
      if (stopped) return;
      stopped = true;
      if (midRecord && i < recs.length) {
        const r = stamp(recs[i]!);
        out.write(r.subarray(0, Math.max(17, r.length >> 1)));
      }
      end();
    },
  };
}
