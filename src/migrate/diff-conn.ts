// Connections of `diff`: one pipelined text connection per server for the reads (answers come back
// in order, so a FIFO of waiting requests is the whole matching), and, with --with-writes, one
// connection per server and protocol family for the captured writes' own bytes, whose answers
// (any protocol, quiet ones included) the response matcher pairs.
import { connect, type Socket } from 'node:net';
import { createHash } from 'node:crypto';
import { createRetrievalReader } from '../protocol/retrieval-reader.js';
import { createResponseMatcher, type MatchInfo } from '../protocol/response-matcher.js';
import type { Proto } from '../protocol/types.js';
import { formatHostPort, type HostPort } from '../topology/targets.js';

/** What one server answered for one key. */
export interface KeyAnswer {
  hit: boolean;
  flags: number;
  /** SHA-1 of the value (hex); '' on a miss. */
  digest: string;
}

/** A server's answer to one `get`: per key, or the error that took its place. */
export type GetAnswer = { ok: true; keys: Map<string, KeyAnswer> } | { ok: false; error: string };

/** Why a server could not be used: the message names it and what failed. */
export class ConnFailure extends Error {}

function open(hp: HostPort, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: hp.host, port: hp.port });
    const t = setTimeout(() => {
      s.destroy();
      reject(new ConnFailure(`${formatHostPort(hp)}: no connection within ${timeoutMs} ms`));
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(t);
      s.setNoDelay(true);
      resolve(s);
    });
    s.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(t);
      reject(new ConnFailure(`${formatHostPort(hp)}: ${e.code === 'ECONNREFUSED' ? 'connection refused' : e.message}`));
    });
  });
}

/** A pipelined reader: `get(keys)` sends one text get and resolves with the answer per key. */
export interface ReadConn {
  readonly server: string;
  get(keys: readonly string[]): Promise<GetAnswer>;
  close(): void;
}

/** Opens a read connection; rejects with ConnFailure when the server cannot be reached. */
export async function openReadConn(hp: HostPort, timeoutMs: number): Promise<ReadConn> {
  const server = formatHostPort(hp);
  const s = await open(hp, timeoutMs);
  const waiting: { keys: Map<string, KeyAnswer>; resolve(a: GetAnswer): void; timer: NodeJS.Timeout }[] = [];
  let broken: string | null = null;
  const fail = (why: string): void => {
    if (broken) return;
    broken = why;
    for (const w of waiting.splice(0)) {
      clearTimeout(w.timer);
      w.resolve({ ok: false, error: why });
    }
    s.destroy();
  };
  const reader = createRetrievalReader({
    item(it) {
      const w = waiting[0];
      if (!w) return fail(`${server}: a value nobody asked for`);
      w.keys.set(it.key, { hit: true, flags: it.flags, digest: createHash('sha1').update(it.value).digest('hex') });
    },
    end() {
      const w = waiting.shift();
      if (!w) return fail(`${server}: END nobody asked for`);
      clearTimeout(w.timer);
      w.resolve({ ok: true, keys: w.keys });
    },
    error(line) {
      const w = waiting.shift();
      if (!w) return fail(`${server}: ${line}`);
      clearTimeout(w.timer);
      w.resolve({ ok: false, error: line.split(' ')[0]! });
    },
    desync(why) {
      fail(`${server}: protocol desync (${why})`);
    },
  });
  s.on('data', (d: Buffer) => reader.push(d));
  s.on('error', (e) => fail(`${server}: ${e.message}`));
  s.on('close', () => fail(`${server}: connection closed`));
  return {
    server,
    get(keys) {
      if (broken) return Promise.resolve({ ok: false, error: broken });
      return new Promise((resolve) => {
        const timer = setTimeout(() => fail(`${server}: timeout (no answer in ${timeoutMs} ms)`), timeoutMs);
        const answer = new Map<string, KeyAnswer>();
        waiting.push({ keys: answer, resolve: (a) => resolve(a.ok ? { ok: true, keys: fillMisses(keys, a.keys) } : a), timer });
        s.write(Buffer.from(`get ${keys.join(' ')}\r\n`, 'latin1'));
      });
    },
    close() {
      s.removeAllListeners('close');
      s.end();
      s.destroy();
    },
  };
}

function fillMisses(keys: readonly string[], got: Map<string, KeyAnswer>): Map<string, KeyAnswer> {
  for (const k of keys) if (!got.has(k)) got.set(k, { hit: false, flags: 0, digest: '' });
  return got;
}

/** A connection that forwards captured writes' bytes and resolves when each has been answered. */
export interface WriteConn {
  /** Sends one request and resolves once the server has handled it: null, or its error. */
  send(raw: Buffer, info: MatchInfo): Promise<string | null>;
  close(): void;
}

const FENCE: Record<Proto, { raw: Buffer; info: MatchInfo }> = {
  text: { raw: Buffer.from('version\r\n'), info: { proto: 'text', cmd: 'version', expect: 'line', quiet: false, opaque: 0, metaFlags: [], keys: [] } },
  meta: { raw: Buffer.from('mn\r\n'), info: { proto: 'meta', cmd: 'mn', expect: 'meta', quiet: false, opaque: 0, metaFlags: [], keys: [] } },
  binary: {
    // a noop packet: magic 0x80, opcode 0x0a, everything else zero
    raw: Buffer.from([0x80, 0x0a, ...new Array<number>(22).fill(0)]),
    info: { proto: 'binary', cmd: 'noop', expect: 'binary', quiet: false, opaque: 0, metaFlags: [], keys: [] },
  },
};

/** Opens a write connection; answers resolve to null (ok) or the error class/status that came back. */
export async function openWriteConn(hp: HostPort, timeoutMs: number): Promise<WriteConn> {
  const server = formatHostPort(hp);
  const s = await open(hp, timeoutMs);
  type Tag = { resolve(v: string | null): void };
  let broken: string | null = null;
  const tags: Tag[] = [];
  const settle = (t: Tag, v: string | null): void => {
    const i = tags.indexOf(t);
    if (i >= 0) tags.splice(i, 1);
    t.resolve(v);
  };
  const m = createResponseMatcher<Tag>({
    response(t, r) {
      settle(t, r.error ?? null);
    },
    unanswered(t, reason) {
      settle(t, reason);
    },
    unexpected() {},
  });
  const fail = (why: string): void => {
    if (broken) return;
    broken = why;
    for (const t of tags.splice(0)) t.resolve(why);
    s.destroy();
  };
  s.on('data', (d: Buffer) => m.push(d, 0));
  s.on('error', (e) => fail(`${server}: ${e.message}`));
  s.on('close', () => fail(`${server}: connection closed`));
  const one = (raw: Buffer, info: MatchInfo): Promise<string | null> =>
    new Promise((resolve) => {
      const t: Tag = { resolve };
      tags.push(t);
      m.expect(info, t);
      s.write(raw);
    });
  return {
    async send(raw, info) {
      if (broken) return broken;
      const timer = setTimeout(() => fail(`${server}: timeout (no answer in ${timeoutMs} ms)`), timeoutMs);
      const first = one(raw, info);
      if (!info.quiet) {
        const r = await first;
        clearTimeout(timer);
        return r;
      }
      // A quiet write answers only on failure, and the matcher may settle a text noreply only
      // much later: a fence behind it proves it was handled, and an error would have come first.
      let early: string | null | undefined;
      void first.then((v) => {
        early = v;
      });
      const fenced = await one(FENCE[info.proto].raw, FENCE[info.proto].info);
      clearTimeout(timer);
      return early ?? fenced;
    },
    close() {
      s.removeAllListeners('close');
      s.end();
      s.destroy();
    },
  };
}
