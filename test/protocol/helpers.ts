// Test helpers for the protocol layer: request builders straight from the specs, and feeding a
// stream whole, split at every byte, or byte by byte, poisoning each chunk after use so a parser
// that keeps a view past its callback is caught.
import { connect } from 'node:net';
import { createRequestParser, type RequestParserOptions } from '../../src/protocol/request-parser.js';
import { createResponseMatcher, type MatchInfo } from '../../src/protocol/response-matcher.js';
import type { ParsedRequest, ParsedResponse, ParserOptions } from '../../src/protocol/types.js';

/** A request as plain data (copied out of the callback). */
export interface Req {
  proto: string;
  cmd: string;
  cls: string;
  expect: string;
  keys: string[];
  quiet: boolean;
  valueLen: number;
  flags: number;
  exptime: number;
  cas: bigint;
  opaque: number;
  metaFlags: string[];
  credentials: boolean;
  raw: string; // latin1
  ts: number;
}

export function plain(r: ParsedRequest, ts: number): Req {
  return {
    proto: r.proto,
    cmd: r.cmd,
    cls: r.cls,
    expect: r.expect,
    keys: r.keys.map((k) => k.toString('latin1')),
    quiet: r.quiet,
    valueLen: r.valueLen,
    flags: r.flags,
    exptime: r.exptime,
    cas: r.cas,
    opaque: r.opaque,
    metaFlags: [...r.metaFlags],
    credentials: r.credentials,
    raw: r.raw.toString('latin1'),
    ts,
  };
}

export interface ParseResult {
  reqs: Req[];
  skipped: Record<string, number>;
  left: number;
}

/** A step of a stream: bytes, or a desync marker. */
export type Step = Buffer | 'desync';

/** Feeds chunks (each chunk gets ts = its index) and collects everything. */
export function parseChunks(chunks: Step[], opts?: RequestParserOptions): ParseResult {
  const reqs: Req[] = [];
  const skipped: Record<string, number> = {};
  const p = createRequestParser(
    {
      request: (r, ts) => reqs.push(plain(r, ts)),
      skipped: (n, reason) => {
        skipped[reason] = (skipped[reason] ?? 0) + n;
      },
    },
    opts,
  );
  let i = 0;
  for (const c of chunks) {
    if (c === 'desync') {
      p.desync();
      continue;
    }
    const copy = Buffer.from(c);
    p.push(copy, i++);
    copy.fill(0xee); // a parser holding on to this view would now see garbage
  }
  const left = p.end();
  return { reqs, skipped, left };
}

/** Every way of cutting `buf` in two, plus byte by byte (and whole first). */
export function* splits(buf: Buffer, every = 1): Generator<Buffer[]> {
  yield [buf];
  for (let k = 1; k < buf.length; k += every) yield [buf.subarray(0, k), buf.subarray(k)];
  if (every === 1) {
    const bytes: Buffer[] = [];
    for (let i = 0; i < buf.length; i++) bytes.push(buf.subarray(i, i + 1));
    yield bytes;
  }
}

/** Chunks of random sizes (deterministic). */
export function randomChunks(buf: Buffer, seed: number, maxSize: number): Buffer[] {
  const rnd = lcg(seed);
  const out: Buffer[] = [];
  let p = 0;
  while (p < buf.length) {
    const n = 1 + Math.floor(rnd() * maxSize);
    out.push(buf.subarray(p, p + n));
    p += n;
  }
  return out;
}

export function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 0x100000000;
  };
}

export function randomBytes(n: number, seed: number): Buffer {
  const rnd = lcg(seed);
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(rnd() * 256);
  return b;
}

/** Request timestamps depend on the chunking: compare everything else. */
export function withoutTs(reqs: Req[]): Omit<Req, 'ts'>[] {
  return reqs.map(({ ts: _ts, ...rest }) => rest);
}

// ---- binary packets per BinaryProtocolRevamped ---------------------------------------------------

export interface BinPacket {
  magic?: number;
  op: number;
  key?: string | Buffer;
  extras?: Buffer;
  value?: string | Buffer;
  opaque?: number;
  cas?: bigint;
  status?: number; // responses
  vbucket?: number;
}

export function binPacket(p: BinPacket): Buffer {
  const key = typeof p.key === 'string' ? Buffer.from(p.key, 'latin1') : (p.key ?? Buffer.alloc(0));
  const extras = p.extras ?? Buffer.alloc(0);
  const value = typeof p.value === 'string' ? Buffer.from(p.value, 'latin1') : (p.value ?? Buffer.alloc(0));
  const h = Buffer.alloc(24);
  h[0] = p.magic ?? 0x80;
  h[1] = p.op;
  h.writeUInt16BE(key.length, 2);
  h[4] = extras.length;
  h[5] = 0;
  h.writeUInt16BE(p.status ?? p.vbucket ?? 0, 6);
  h.writeUInt32BE(extras.length + key.length + value.length, 8);
  h.writeUInt32BE(p.opaque ?? 0, 12);
  h.writeBigUInt64BE(p.cas ?? 0n, 16);
  return Buffer.concat([h, extras, key, value]);
}

/** Extras of set/add/replace: flags, exptime. */
export function storeExtras(flags: number, exptime: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt32BE(flags, 0);
  b.writeUInt32BE(exptime, 4);
  return b;
}

/** Extras of incr/decr: delta, initial, exptime. */
export function arithExtras(delta: bigint, initial: bigint, exptime: number): Buffer {
  const b = Buffer.alloc(20);
  b.writeBigUInt64BE(delta, 0);
  b.writeBigUInt64BE(initial, 8);
  b.writeUInt32BE(exptime, 16);
  return b;
}

export function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v, 0);
  return b;
}

// ---- response matching ---------------------------------------------------------------------------

export interface Outcome {
  tag: number;
  kind: 'response' | 'closed' | 'desync';
  resp?: Omit<ParsedResponse, 'casByKey'> & { cas?: Record<string, string> };
}

export interface MatchResult {
  outcomes: Outcome[];
  unexpected: number;
  pending: number;
}

function plainResp(r: ParsedResponse): Outcome['resp'] {
  const { casByKey, ...rest } = r;
  const out: Outcome['resp'] = { ...rest };
  if (casByKey) out.cas = Object.fromEntries([...casByKey].map(([k, v]) => [k, v.toString()]));
  return out;
}

/** Expects the requests (tagged by index), feeds the server chunks, then closes if asked. */
export function matchChunks(reqs: MatchInfo[], chunks: Step[], opts?: ParserOptions & { close?: boolean }): MatchResult {
  const outcomes: Outcome[] = [];
  let unexpected = 0;
  const m = createResponseMatcher<number>(
    {
      response: (tag, resp) => outcomes.push({ tag, kind: 'response', resp: plainResp(resp) }),
      unanswered: (tag, reason) => outcomes.push({ tag, kind: reason }),
      unexpected: (n) => {
        unexpected += n;
      },
    },
    opts,
  );
  reqs.forEach((r, i) => m.expect(r, i));
  for (const c of chunks) {
    if (c === 'desync') {
      m.desync();
      continue;
    }
    const copy = Buffer.from(c);
    m.push(copy, 0);
    copy.fill(0xee);
  }
  const pending = m.pending;
  if (opts?.close) m.close();
  return { outcomes, unexpected, pending };
}

/** Parses a request stream into MatchInfo objects that own their bytes. */
export function requestsOf(stream: Buffer, opts?: RequestParserOptions): ParsedRequest[] {
  const out: ParsedRequest[] = [];
  const p = createRequestParser(
    {
      request: (r) => out.push({ ...r, keys: r.keys.map((k) => Buffer.from(k)), raw: Buffer.from(r.raw), metaFlags: [...r.metaFlags] }),
      skipped: () => {},
    },
    opts,
  );
  p.push(stream, 0);
  p.end();
  return out;
}

export const T = (s: string): Buffer => Buffer.from(s, 'latin1');

// ---- talking to a real memcached -------------------------------------------------------------------

/** Sends `bytes` to host:port on a fresh connection and resolves with everything the server sent until `done` (or it closed). */
export function exchange(server: { host: string; port: number }, bytes: Buffer, done: (got: Buffer) => boolean): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: server.host, port: server.port });
    const parts: Buffer[] = [];
    let len = 0;
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`timeout; got ${len} bytes: ${Buffer.concat(parts).toString('latin1').slice(-300)}`));
    }, 10_000);
    s.on('data', (d: Buffer) => {
      parts.push(d);
      len += d.length;
      const all = Buffer.concat(parts);
      if (done(all)) {
        clearTimeout(timer);
        s.destroy();
        resolve(all);
      }
    });
    s.on('error', reject);
    s.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(parts));
    });
    s.on('connect', () => s.write(bytes));
  });
}

/** An exchange is over once the answer ends with `suffix`. */
export const endsWith = (suffix: string) => (b: Buffer) => b.length >= suffix.length && b.subarray(b.length - suffix.length).toString('latin1') === suffix;
/** A binary noop response with this opaque ends the exchange. */
export const endsWithNoop = (opaque: number) => (b: Buffer) => b.length >= 24 && b[b.length - 24] === 0x81 && b[b.length - 23] === 0x0a && b.readUInt32BE(b.length - 12) === opaque;
