// Reads the answers to text retrieval commands (get/gets) item by item, with their values, for the
// tools that compare or copy data (the response matcher only counts and skips values). An
// incremental state machine over Buffers: header lines are parsed in place, a value is handed on
// as a view when it arrived in one chunk, and copied only when it spans chunks.
import { indexOfByte } from './bytes.js';

/** One item of a retrieval answer: the key (latin1), client flags and the value bytes. */
export interface RetrievedItem {
  key: string;
  flags: number;
  /** Valid only during the callback: copy or hash it there. */
  value: Buffer;
}

export interface RetrievalEvents {
  item(it: RetrievedItem): void;
  /** END: one answer complete. */
  end(): void;
  /** An error line (ERROR, CLIENT_ERROR ..., SERVER_ERROR ...) answered the request instead. */
  error(line: string): void;
  /** Bytes that fit no answer: the stream lost its place (the caller resets the connection). */
  desync(why: string): void;
}

export interface RetrievalReader {
  push(chunk: Buffer): void;
}

const CR = 13;
const LF = 10;
const MAX_LINE = 64 * 1024;

/** Creates a reader of `VALUE <key> <flags> <bytes> [<cas>]` ... `END` answers. */
export function createRetrievalReader(ev: RetrievalEvents): RetrievalReader {
  let line: Buffer | null = null; // a header line cut by a chunk boundary
  let pending: { key: string; flags: number; need: number; parts: Buffer[]; got: number } | null = null;
  let dead = false;

  function headerLine(b: Buffer): void {
    const text = b.toString('latin1');
    if (text === 'END') return ev.end();
    if (text.startsWith('VALUE ')) {
      const f = text.split(' ');
      const flags = Number(f[2]);
      const bytes = Number(f[3]);
      if (f.length < 4 || f.length > 5 || !Number.isInteger(flags) || !Number.isInteger(bytes) || bytes < 0) {
        dead = true;
        return ev.desync(`bad VALUE line ${JSON.stringify(text.slice(0, 80))}`);
      }
      pending = { key: f[1]!, flags, need: bytes + 2, parts: [], got: 0 };
      return;
    }
    if (text === 'ERROR' || text.startsWith('CLIENT_ERROR') || text.startsWith('SERVER_ERROR')) return ev.error(text);
    dead = true;
    ev.desync(`unexpected line ${JSON.stringify(text.slice(0, 80))}`);
  }

  return {
    push(chunk: Buffer): void {
      let i = 0;
      while (i < chunk.length && !dead) {
        if (pending) {
          const take = Math.min(pending.need - pending.got, chunk.length - i);
          pending.parts.push(chunk.subarray(i, i + take));
          pending.got += take;
          i += take;
          if (pending.got < pending.need) {
            // keep what spans chunks: the views would be overwritten by the socket's next read
            pending.parts = [Buffer.concat(pending.parts)];
            continue;
          }
          const whole = pending.parts.length === 1 ? pending.parts[0]! : Buffer.concat(pending.parts);
          const p = pending;
          pending = null;
          if (whole[whole.length - 2] !== CR || whole[whole.length - 1] !== LF) {
            dead = true;
            ev.desync(`value of ${p.key} not followed by \\r\\n`);
            return;
          }
          ev.item({ key: p.key, flags: p.flags, value: whole.subarray(0, whole.length - 2) });
          continue;
        }
        const nl = indexOfByte(chunk, LF, i, chunk.length);
        if (nl < 0) {
          line = line ? Buffer.concat([line, chunk.subarray(i)]) : Buffer.from(chunk.subarray(i));
          if (line.length > MAX_LINE) {
            dead = true;
            ev.desync('answer line over 64 KiB');
          }
          return;
        }
        let l = chunk.subarray(i, nl);
        if (line) {
          l = Buffer.concat([line, l]);
          line = null;
        }
        i = nl + 1;
        headerLine(l.length > 0 && l[l.length - 1] === CR ? l.subarray(0, l.length - 1) : l);
      }
    },
  };
}
