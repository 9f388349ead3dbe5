// Plain-socket access to a test memcached for the migration tests: fills servers and reads back
// what they hold, independently of the code under test (src/migrate/conn.ts).
import { connect } from 'node:net';

/** One item to store. */
export interface Item {
  key: string;
  value: Buffer;
  flags: number;
  /** Seconds; 0 = no expiry. */
  ttl: number;
}

/** What a server holds for a key. */
export interface Held {
  value: Buffer;
  flags: number;
  /** Remaining seconds, -1 for no expiry. */
  ttl: number;
}

/** Writes `payload` then `mn`, and resolves with every byte answered up to the MN. */
export function batch(port: number, payload: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port });
    const got: Buffer[] = [];
    let tail = '';
    s.on('error', reject);
    s.on('data', (d: Buffer) => {
      got.push(d);
      tail = (tail + d.toString('latin1')).slice(-8);
      if (tail.endsWith('MN\r\n')) {
        s.destroy();
        resolve(Buffer.concat(got));
      }
    });
    s.write(Buffer.concat([payload, Buffer.from('mn\r\n')]));
  });
}

/** Stores every item (meta set, quiet: only failures answer); throws on any failure. */
export async function fill(port: number, items: Item[]): Promise<void> {
  for (let i = 0; i < items.length; i += 500) {
    const parts: Buffer[] = [];
    for (const it of items.slice(i, i + 500)) parts.push(Buffer.from(`ms ${it.key} ${it.value.length} F${it.flags} T${it.ttl} q\r\n`), it.value, Buffer.from('\r\n'));
    const ans = (await batch(port, Buffer.concat(parts))).toString('latin1');
    if (ans !== 'MN\r\n') throw new Error(`fill of port ${port} failed: ${ans.slice(0, 200)}`);
  }
}

/** Reads each key with `mg <key> v f t`: its value, flags and remaining TTL, or null. */
export async function read(port: number, keys: string[]): Promise<Map<string, Held | null>> {
  const out = new Map<string, Held | null>();
  for (let i = 0; i < keys.length; i += 500) {
    const chunk = keys.slice(i, i + 500);
    const ans = await batch(port, Buffer.from(chunk.map((k) => `mg ${k} v f t\r\n`).join('')));
    let off = 0;
    for (const k of chunk) {
      const nl = ans.indexOf('\r\n', off);
      const line = ans.toString('latin1', off, nl);
      off = nl + 2;
      if (line === 'EN') {
        out.set(k, null);
        continue;
      }
      const m = /^VA (\d+) f(\d+) t(-?\d+)$/.exec(line);
      if (!m) throw new Error(`unexpected answer to mg ${k}: ${line}`);
      const len = Number(m[1]);
      out.set(k, { value: Buffer.from(ans.subarray(off, off + len)), flags: Number(m[2]), ttl: Number(m[3]) });
      off += len + 2;
    }
  }
  return out;
}
