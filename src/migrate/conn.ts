// A small pipelined meta-protocol connection for the migration verbs (warm, keys --values): one
// socket, requests written in order and answers read in the same order. It speaks only what those
// verbs need: `mg`/`ms` and their one-line-plus-value answers. Authentication reuses the replay's
// ascii auth (memcached -Y) from protocol/auth.ts; binary-only SASL servers (-S) have no meta
// commands and are refused with a clear message.
import { connect, type Socket } from 'node:net';
import { authRequest, type AuthCred } from '../protocol/auth.js';
import { MAX_KEY } from '../protocol/request-build.js';
import type { HostPort } from '../topology/targets.js';
import { formatHostPort } from '../topology/targets.js';

/** One meta answer: its code (VA, HD, EN, NS, NF, EX, or ERROR/CLIENT_ERROR/SERVER_ERROR), flag tokens, value. */
export interface MetaReply {
  code: string;
  /** Return flags as tokens ("f3", "t-1", "s12"); the message for error lines. */
  tokens: string[];
  value: Buffer | null;
}

/** A connection failure (refused, reset, timed out, authentication refused): names the server. */
export class ConnError extends Error {
  constructor(
    readonly server: string,
    message: string,
    readonly auth = false,
  ) {
    super(`${server}: ${message}`);
  }
}

interface Pending {
  resolve(r: MetaReply): void;
  reject(e: Error): void;
}

const CRLF = Buffer.from('\r\n', 'latin1');

/** Whether a key can go on a meta command line as is (else it is sent base64 with the `b` flag). */
function plainKey(key: Buffer): boolean {
  if (key.length === 0 || key.length > MAX_KEY) return false;
  for (let i = 0; i < key.length; i++) if (key[i]! <= 32 || key[i] === 127) return false;
  return true;
}

/** The key token and the extra flag a meta command needs for `key` (latin1 string of its bytes). */
export function metaKey(key: string): { token: string; flag: string } {
  const b = Buffer.from(key, 'latin1');
  return plainKey(b) ? { token: key, flag: '' } : { token: b.toString('base64'), flag: ' b' };
}

/** A meta connection to one server. Requests may be issued without waiting: answers come in order. */
export class MetaConn {
  private sock: Socket | null = null;
  private opening: Promise<Socket> | null = null;
  private readonly queue: Pending[] = [];
  private acc: Buffer = Buffer.alloc(0);
  readonly name: string;

  constructor(
    readonly server: HostPort,
    private readonly timeoutMs = 5000,
    private readonly auth: AuthCred | null = null,
  ) {
    this.name = formatHostPort(server);
  }

  /** Opens the socket (and authenticates) unless open; a closed connection is reopened on next use. */
  open(): Promise<Socket> {
    if (this.sock && !this.sock.destroyed) return Promise.resolve(this.sock);
    this.opening ??= this.dial().finally(() => (this.opening = null));
    return this.opening;
  }

  private dial(): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: this.server.host, port: this.server.port });
      s.setNoDelay(true);
      let authed = this.auth === null;
      const st = this.auth === null ? null : authRequest('text', { ...this.auth, mech: 'ascii' });
      const timer = setTimeout(() => {
        s.destroy();
        reject(new ConnError(this.name, `no answer within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      s.once('connect', () => {
        if (st) s.write(st.request);
        else {
          clearTimeout(timer);
          this.sock = s;
          resolve(s);
        }
      });
      s.on('error', (err) => {
        clearTimeout(timer);
        const e = new ConnError(this.name, err.message);
        this.failAll(e);
        reject(e);
      });
      s.on('close', () => {
        clearTimeout(timer);
        if (this.sock === s) this.sock = null;
        this.failAll(new ConnError(this.name, 'connection closed'));
        reject(new ConnError(this.name, 'connection closed'));
      });
      s.on('data', (d: Buffer) => {
        if (!authed && st) {
          const rest = st.push(d);
          if (rest === null) return;
          authed = true;
          clearTimeout(timer);
          if (!st.ok) {
            reject(new ConnError(this.name, st.refusal, true));
            s.destroy();
            return;
          }
          this.sock = s;
          resolve(s);
          if (rest.length) this.onData(rest);
          return;
        }
        this.onData(d);
      });
      s.setTimeout(this.timeoutMs, () => {
        if (this.queue.length > 0) {
          this.failAll(new ConnError(this.name, `no answer within ${this.timeoutMs} ms`));
          s.destroy();
        }
      });
    });
  }

  private failAll(e: Error): void {
    this.acc = Buffer.alloc(0);
    for (const p of this.queue.splice(0)) p.reject(e);
  }

  private onData(d: Buffer): void {
    this.acc = this.acc.length === 0 ? d : Buffer.concat([this.acc, d]);
    let off = 0;
    while (this.queue.length > 0) {
      const nl = this.acc.indexOf(CRLF, off);
      if (nl < 0) break;
      const line = this.acc.toString('latin1', off, nl);
      const sp = line.indexOf(' ');
      const code = sp < 0 ? line : line.slice(0, sp);
      const rest = sp < 0 ? '' : line.slice(sp + 1);
      let value: Buffer | null = null;
      let next = nl + 2;
      let tokens: string[];
      if (code === 'VA') {
        const parts = rest.split(' ');
        const len = Number(parts[0]);
        if (this.acc.length < next + len + 2) break;
        value = Buffer.from(this.acc.subarray(next, next + len));
        next += len + 2;
        tokens = parts.slice(1);
      } else tokens = code.endsWith('ERROR') ? [rest] : rest === '' ? [] : rest.split(' ');
      off = next;
      this.queue.shift()!.resolve({ code, tokens, value });
    }
    this.acc = off >= this.acc.length ? Buffer.alloc(0) : this.acc.subarray(off);
  }

  /** Sends one meta request (line, and data block for ms) and resolves with its answer. */
  async request(line: string, data?: Buffer): Promise<MetaReply> {
    const s = await this.open();
    return new Promise<MetaReply>((resolve, reject) => {
      this.queue.push({ resolve, reject });
      // keys are latin1 strings of their bytes: the line must go out as latin1, never UTF-8
      const head = Buffer.from(`${line}\r\n`, 'latin1');
      s.write(data === undefined ? head : Buffer.concat([head, data, CRLF]));
    });
  }

  /** `mg <key> <flags>`. */
  mg(key: string, flags: string): Promise<MetaReply> {
    const k = metaKey(key);
    return this.request(`mg ${k.token}${k.flag}${flags ? ` ${flags}` : ''}`);
  }

  /** `ms <key> <len> <flags>` with the value. */
  ms(key: string, value: Buffer, flags: string): Promise<MetaReply> {
    const k = metaKey(key);
    return this.request(`ms ${k.token} ${value.length}${k.flag}${flags ? ` ${flags}` : ''}`, value);
  }

  /** The open socket, taken over by the caller (the metadump stream): this connection forgets it. */
  async detach(): Promise<Socket> {
    const s = await this.open();
    s.removeAllListeners('data');
    s.removeAllListeners('close');
    s.setTimeout(0);
    this.sock = null;
    return s;
  }

  close(): void {
    this.sock?.destroy();
    this.sock = null;
  }
}

/** A numeric return flag of a meta answer ("t" of "t-1" → -1), or null when absent. */
export function metaFlag(r: MetaReply, flag: string): number | null {
  for (const t of r.tokens) if (t.startsWith(flag)) return Number(t.slice(flag.length));
  return null;
}
