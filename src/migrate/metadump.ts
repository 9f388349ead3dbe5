// Enumerates a server's keys with `lru_crawler metadump all` (memcached >= 1.4.31, crawler enabled,
// the default since 1.5): one line per item, "key=<uri-encoded> exp=<unix|-1> la=<unix> cas=..
// fetch=.. cls=.. size=..", then END. Streamed from the socket: the reader's pace is the server's
// (TCP backpressure), so nothing but the current chunk is held.
import type { Socket } from 'node:net';
import type { AuthCred } from '../protocol/auth.js';
import type { HostPort } from '../topology/targets.js';
import { MetaConn } from './conn.js';

/** One item as metadump lists it. */
export interface DumpEntry {
  /** The key as metadump writes it: URI-encoded (printable ASCII, no spaces). */
  enc: string;
  /** Absolute expiry, unix seconds; -1 for none. */
  exp: number;
  /** Last access, unix seconds. */
  la: number;
  /** Item size in memory (header, key and value), bytes. */
  size: number;
}

/** The key's bytes as a latin1 string, from metadump's URI encoding. */
export function decodeDumpKey(enc: string): string {
  if (!enc.includes('%')) return enc;
  return Buffer.from(enc.replace(/%([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1').toString('latin1');
}

/** Parses one metadump line; null when it is not an item line. */
export function parseDumpLine(line: string): DumpEntry | null {
  if (!line.startsWith('key=')) return null;
  let enc = '';
  let exp = -1;
  let la = 0;
  let size = 0;
  for (const f of line.split(' ')) {
    const eq = f.indexOf('=');
    const k = f.slice(0, eq);
    const v = f.slice(eq + 1);
    if (k === 'key') enc = v;
    else if (k === 'exp') exp = Number(v);
    else if (k === 'la') la = Number(v);
    else if (k === 'size') size = Number(v);
  }
  return { enc, exp, la, size };
}

/** A metadump that the server refused or cut short; the message says what to do. */
export class DumpError extends Error {}

/** Thrown for BUSY before any item: the crawler is still on another crawl, the request may be repeated. */
class Busy extends DumpError {}

/** How long a BUSY crawler is waited for: memcached's own background crawls take up to seconds. */
const BUSY_WAIT_MS = 30_000;

/**
 * Streams every item of `server` (ascii auth with `auth`); throws DumpError on a refusal. A crawler
 * busy with another crawl (memcached's background LRU crawls, or the end of the previous metadump)
 * is asked again every 250 ms for up to 30 s: nothing was read yet, so nothing repeats.
 */
export async function* metadump(server: HostPort, auth: AuthCred | null = null, timeoutMs = 10_000): AsyncGenerator<DumpEntry> {
  const deadline = Date.now() + BUSY_WAIT_MS;
  for (;;) {
    try {
      yield* metadumpOnce(server, auth, timeoutMs);
      return;
    } catch (e) {
      if (!(e instanceof Busy) || Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

async function* metadumpOnce(server: HostPort, auth: AuthCred | null, timeoutMs: number): AsyncGenerator<DumpEntry> {
  const conn = new MetaConn(server, timeoutMs, auth);
  const s: Socket = await conn.detach();
  try {
    s.write('lru_crawler metadump all\r\n');
    let tail = '';
    let ended = false;
    let first = true;
    for await (const chunk of s as AsyncIterable<Buffer>) {
      const text = tail + chunk.toString('latin1');
      let from = 0;
      for (;;) {
        const nl = text.indexOf('\n', from);
        if (nl < 0) break;
        const line = text.charCodeAt(nl - 1) === 13 ? text.slice(from, nl - 1) : text.slice(from, nl);
        from = nl + 1;
        if (line === 'END') {
          ended = true;
          break;
        }
        const e = parseDumpLine(line);
        if (e !== null) {
          first = false;
          yield e;
          continue;
        }
        if (line === '') continue;
        const Err = line.startsWith('BUSY') && first ? Busy : DumpError;
        throw new Err(
          `${conn.name}: lru_crawler metadump refused: ${JSON.stringify(line.slice(0, 120))}` +
            (line.startsWith('BUSY') ? ' (another crawl kept the crawler busy for 30 s: retry later)' : ' (needs memcached >= 1.4.31 with the LRU crawler enabled: -o lru_crawler)'),
        );
      }
      if (ended) break;
      tail = text.slice(from);
    }
    if (!ended) throw new DumpError(`${conn.name}: the connection closed before metadump's END: the key list is incomplete`);
  } finally {
    s.destroy();
  }
}
