// Reads a prepared workload (format in prepared-format.ts) back into the same WorkloadSink events,
// in the same order, that extracting the capture gives: one block in memory at a time, each checked
// against its checksum before any of its records is used. The header and the footer are checked
// before the first event, so a file cut short is refused before a replay sends anything; a damaged
// block stops the reading with where it is and how much was readable.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { McError } from '../errors.js';
import type { Endpoint } from '../capture/types.js';
import type { ExtractResult } from './extract.js';
import type { CapturedOutcome, WorkloadConnection, WorkloadRequest, WorkloadSink } from './model.js';
import {
  BLOCK_HEADER_BYTES, CLASSES, CLOSE_REASONS, ERRORS, EXPECTS, FOOTER_BYTES, MAX_BLOCK_BYTES, MAX_HEADER_BYTES, MCW_END_MAGIC, MCW_FORMAT_VERSION,
  PROTOS, Rec, ReqBit, UNANSWERED, crc32, isPreparedBytes, type PreparedHeader, type PreparedTrailer,
} from './prepared-format.js';
import { endpointKey } from './extract.js';

const REDO = 're-run `mcreplay prepare` on the capture to write it again';

/** True when `path` is a prepared workload file (by its first bytes, not its name). */
export function isPreparedFile(path: string): boolean {
  if (path === '-') return false;
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return false;
  }
  try {
    const b = Buffer.alloc(8);
    return readSync(fd, b, 0, 8, 0) === 8 && isPreparedBytes(b);
  } catch {
    return false; // a folder (EISDIR) or an unreadable file: the capture reader names the problem
  } finally {
    closeSync(fd);
  }
}

/** A prepared file's header and where its parts are. */
export interface PreparedFile {
  path: string;
  header: PreparedHeader;
  /** Byte offset of the first block. */
  blocksAt: number;
  /** Byte offset of the trailer block. */
  trailerAt: number;
  size: number;
}

function readExact(fd: number, len: number, at: number): Buffer {
  const b = Buffer.alloc(len);
  let got = 0;
  while (got < len) {
    const n = readSync(fd, b, got, len - got, at + got);
    if (n === 0) break;
    got += n;
  }
  return b.subarray(0, got);
}

/**
 * Opens a prepared file and checks what can be checked without reading it through: the magic, the
 * format and mcreplay versions, the header's checksum, and that the file is complete (its footer
 * points at a trailer). Throws McError (exit 2) saying what is wrong and what to do.
 */
export function openPrepared(path: string, version: string): PreparedFile {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const head = readExact(fd, 16, 0);
    if (!isPreparedBytes(head)) throw new McError(`${path}: not a prepared workload (mcreplay prepare writes those)`, 'MCR_ERR_PREPARED_FILE');
    if (head.length < 16) throw cutShort(path, size, 0, 'in its header');
    const fmt = head.readUInt32LE(8);
    if (fmt !== MCW_FORMAT_VERSION) {
      throw new McError(`${path}: prepared workload format ${fmt}, this mcreplay (${version}) reads format ${MCW_FORMAT_VERSION}`, 'MCR_ERR_PREPARED_FILE', `${REDO} with this mcreplay`);
    }
    const hlen = head.readUInt32LE(12);
    if (hlen > MAX_HEADER_BYTES) throw corrupt(path, 12, `its header claims ${hlen} bytes`, 0, 0);
    const hb = readExact(fd, hlen + 4, 16);
    if (hb.length < hlen + 4) throw cutShort(path, size, 0, 'in its header');
    const json = hb.subarray(0, hlen);
    if (crc32(json) !== hb.readUInt32LE(hlen)) throw corrupt(path, 16, 'its header fails its checksum', 0, 0);
    let header: PreparedHeader;
    try {
      header = JSON.parse(json.toString('utf8')) as PreparedHeader;
    } catch {
      throw corrupt(path, 16, 'its header is not JSON', 0, 0);
    }
    if (typeof header.mcreplay !== 'string' || typeof header.capture?.sha256 !== 'string' || !Array.isArray(header.shape?.serverPorts)) throw corrupt(path, 16, 'its header lacks fields', 0, 0);
    if (header.mcreplay !== version) {
      throw new McError(
        `${path} was prepared by mcreplay ${header.mcreplay}; this is mcreplay ${version}, whose reading of captures may differ`,
        'MCR_ERR_PREPARED_FILE',
        `${REDO} (${header.capture.path}) with this mcreplay, or replay it with mcreplay ${header.mcreplay}`,
      );
    }
    const blocksAt = 16 + hlen + 4;
    const foot = size >= blocksAt + FOOTER_BYTES ? readExact(fd, FOOTER_BYTES, size - FOOTER_BYTES) : Buffer.alloc(0);
    const trailerAt = foot.length === FOOTER_BYTES && foot.subarray(8).equals(MCW_END_MAGIC) ? Number(foot.readBigUInt64LE(0)) : -1;
    if (trailerAt < blocksAt || trailerAt > size - FOOTER_BYTES - BLOCK_HEADER_BYTES) {
      const blocks = wholeBlocks(fd, blocksAt, size);
      throw cutShort(path, size, blocks, trailerAt === -1 ? 'without its end marker' : 'with a damaged end marker');
    }
    return { path, header, blocksAt, trailerAt, size };
  } finally {
    closeSync(fd);
  }
}

/** Whole blocks from `at` on (headers only: how much of a file cut short is there). */
function wholeBlocks(fd: number, at: number, size: number): number {
  let n = 0;
  const h = Buffer.alloc(BLOCK_HEADER_BYTES);
  while (at + BLOCK_HEADER_BYTES <= size) {
    if (readSync(fd, h, 0, BLOCK_HEADER_BYTES, at) < BLOCK_HEADER_BYTES) break;
    const len = h.readUInt32LE(0);
    if (len > MAX_BLOCK_BYTES || at + BLOCK_HEADER_BYTES + len > size) break;
    at += BLOCK_HEADER_BYTES + len;
    n++;
  }
  return n;
}

function cutShort(path: string, size: number, blocks: number, where: string): McError {
  return new McError(
    `${path} is cut short: it ends at byte ${size} ${where} (${blocks} whole block${blocks === 1 ? '' : 's'} of about 1 MiB of workload before that); a prepare that did not finish, or a copy cut short`,
    'MCR_ERR_PREPARED_FILE',
    `copy the file again, or ${REDO}`,
  );
}

function corrupt(path: string, at: number, what: string, requests: number, connections: number): McError {
  return new McError(
    `${path} is damaged at byte ${at}: ${what}; ${requests} requests of ${connections} connections before it were readable`,
    'MCR_ERR_PREPARED_FILE',
    REDO,
  );
}

/** The trailer of an opened prepared file: the extraction's results and requests per connection. */
export async function readTrailer(f: PreparedFile): Promise<PreparedTrailer> {
  const fh = await open(f.path, 'r');
  try {
    const len = f.size - FOOTER_BYTES - f.trailerAt;
    const b = Buffer.alloc(len);
    await fh.read(b, 0, len, f.trailerAt);
    const plen = b.readUInt32LE(0);
    const payload = b.subarray(BLOCK_HEADER_BYTES);
    const bad = (what: string): McError => corrupt(f.path, f.trailerAt, `its trailer ${what}`, 0, 0);
    if (plen !== payload.length || crc32(payload) !== b.readUInt32LE(4)) throw bad('fails its checksum');
    if (payload[0] !== Rec.End || payload.length < 9) throw bad('is not one');
    const jlen = payload.readUInt32LE(1);
    if (5 + jlen + 4 > payload.length) throw bad('is cut short');
    let j: Omit<PreparedTrailer, 'requestsPerConnection'>;
    try {
      j = JSON.parse(payload.subarray(5, 5 + jlen).toString('utf8')) as typeof j;
    } catch {
      throw bad('is not JSON');
    }
    const res = j?.result as Partial<ExtractResult> | undefined;
    if (typeof res?.capture !== 'object' || res.capture === null || typeof res.extract !== 'object' || res.extract === null) throw bad('lacks the extraction results');
    const n = payload.readUInt32LE(5 + jlen);
    const at = 5 + jlen + 4;
    if (at + n * 4 !== payload.length) throw bad('has a bad connection table');
    const counts = new Uint32Array(n);
    for (let i = 0; i < n; i++) counts[i] = payload.readUInt32LE(at + i * 4);
    return { ...j, requestsPerConnection: counts };
  } finally {
    await fh.close();
  }
}

/** Field reader over one block's payload; any read past its end is damage. */
class Cursor {
  p = 0;
  constructor(
    readonly b: Buffer,
    readonly fail: (what: string) => never,
  ) {}
  need(n: number): void {
    if (this.p + n > this.b.length) this.fail('a record runs past the end of its block');
  }
  u8(): number {
    this.need(1);
    return this.b[this.p++]!;
  }
  u16(): number {
    this.need(2);
    const v = this.b.readUInt16LE(this.p);
    this.p += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.b.readUInt32LE(this.p);
    this.p += 4;
    return v;
  }
  f64(): number {
    this.need(8);
    const v = this.b.readDoubleLE(this.p);
    this.p += 8;
    return v;
  }
  u64(): bigint {
    this.need(8);
    const v = this.b.readBigUInt64LE(this.p);
    this.p += 8;
    return v;
  }
  str(): string {
    const n = this.u16();
    this.need(n);
    const s = this.b.latin1Slice(this.p, this.p + n);
    this.p += n;
    return s;
  }
  bytes(n: number): Buffer {
    this.need(n);
    const v = this.b.subarray(this.p, this.p + n);
    this.p += n;
    return v;
  }
  of<T>(table: readonly T[], what: string): T {
    const i = this.u8();
    if (i >= table.length) this.fail(`unknown ${what} code ${i}`);
    return table[i]!;
  }
}

const EMPTY = Buffer.alloc(0);
const NO_FLAGS: string[] = [];

/**
 * Streams the workload of an opened prepared file into the sink, with the sink's backpressure
 * (ready) between blocks; returns what extracting the capture returned. Request `raw` buffers are
 * views valid during the `request` call only (as extraction's rawView).
 */
export async function readPrepared(f: PreparedFile, sink: WorkloadSink, signal?: AbortSignal): Promise<ExtractResult> {
  const trailer = await readTrailer(f);
  const fh = await open(f.path, 'r');
  const dict: string[] = [];
  /** Requests whose captured answer is still to come, per connection, by seq. */
  const waiting = new Map<number, Map<number, WorkloadRequest>>();
  let requests = 0;
  let connections = 0;
  let buf = Buffer.allocUnsafe(1 << 20);
  const head = Buffer.alloc(BLOCK_HEADER_BYTES);
  const ready = sink.ready?.bind(sink);
  let at = f.blocksAt;
  try {
    while (at < f.trailerAt) {
      if (signal?.aborted) break;
      const blockAt = at;
      const fail = (what: string): never => {
        throw corrupt(f.path, blockAt, what, requests, connections);
      };
      if ((await fh.read(head, 0, BLOCK_HEADER_BYTES, at)).bytesRead < BLOCK_HEADER_BYTES) fail('a block header is cut short');
      const len = head.readUInt32LE(0);
      if (len > MAX_BLOCK_BYTES || at + BLOCK_HEADER_BYTES + len > f.trailerAt) fail(`a block claims ${len} bytes`);
      if (len > buf.length) buf = Buffer.allocUnsafe(len);
      const payload = buf.subarray(0, len);
      if ((await fh.read(payload, 0, len, at + BLOCK_HEADER_BYTES)).bytesRead < len) fail('a block is cut short');
      if (crc32(payload) !== head.readUInt32LE(4)) fail('a block fails its checksum');
      at += BLOCK_HEADER_BYTES + len;
      const c = new Cursor(payload, fail);
      while (c.p < len) {
        const type = c.u8();
        if (type === Rec.Req) {
          const r = readRequest(c, dict);
          requests++;
          sink.request(r);
          let w = waiting.get(r.connId);
          if (w === undefined) waiting.set(r.connId, (w = new Map()));
          w.set(r.seq, r);
        } else if (type === Rec.Out) {
          const connId = c.u32();
          const seq = c.u32();
          const o = readOutcome(c, dict);
          const w = waiting.get(connId);
          const r = w?.get(seq);
          if (r === undefined) fail(`an answer to request ${seq} of connection ${connId}, which is not waiting for one`);
          w!.delete(seq);
          sink.outcome(r!, o);
        } else if (type === Rec.Conn) {
          connections++;
          sink.connection(readConnection(c));
        } else if (type === Rec.Close) {
          const connId = c.u32();
          const tsNs = c.f64();
          const reason = c.of(CLOSE_REASONS, 'close reason');
          if (waiting.get(connId)?.size === 0) waiting.delete(connId);
          sink.close(connId, tsNs, reason);
        } else if (type === Rec.Dict) {
          const id = c.u16();
          if (id !== dict.length) fail(`dictionary entry ${id} out of order`);
          dict.push(c.str());
        } else fail(`unknown record type ${type}`);
      }
      if (ready !== undefined) await ready();
    }
  } finally {
    await fh.close();
  }
  return trailer.result as ExtractResult;
}

function readConnection(c: Cursor): WorkloadConnection {
  const id = c.u32();
  const bits = c.u8();
  const openNs = c.f64();
  const client: Endpoint = { addr: c.str(), port: c.u16() };
  const server: Endpoint = { addr: c.str(), port: c.u16() };
  return { id, transport: bits & 1 ? 'udp' : 'tcp', client, server, serverKey: endpointKey(server), openNs, synSeen: (bits & 2) !== 0 };
}

function dictStr(c: Cursor, dict: string[]): string {
  const id = c.u16();
  if (id >= dict.length) c.fail(`dictionary entry ${id} used before it is defined`);
  return dict[id]!;
}

function readRequest(c: Cursor, dict: string[]): WorkloadRequest {
  const connId = c.u32();
  const seq = c.u32();
  const tsNs = c.f64();
  const proto = c.of(PROTOS, 'protocol');
  const cls = c.of(CLASSES, 'command class');
  const expect = c.of(EXPECTS, 'expectation');
  const bits = c.u8();
  const cmd = dictStr(c, dict);
  const valueLen = c.u32();
  const flags = c.u32();
  const exptime = c.f64();
  const cas = c.u64();
  const opaque = c.f64();
  const nk = c.u16();
  const keys: string[] = new Array<string>(nk);
  for (let i = 0; i < nk; i++) keys[i] = c.str();
  const nf = c.u16();
  let metaFlags = NO_FLAGS;
  if (nf > 0) {
    metaFlags = new Array<string>(nf);
    for (let i = 0; i < nf; i++) metaFlags[i] = c.str();
  }
  const rawLen = c.u32();
  const raw = rawLen > 0 ? c.bytes(rawLen) : EMPTY;
  const credentials = (bits & ReqBit.credentials) !== 0;
  const r: WorkloadRequest = { connId, seq, tsNs, proto, cmd, cls, expect, quiet: (bits & ReqBit.quiet) !== 0, keys, valueLen, flags, exptime, cas, opaque, metaFlags, credentials, raw };
  if ((bits & ReqBit.casStale) !== 0) r.casStale = true;
  return r;
}

function readOutcome(c: Cursor, dict: string[]): CapturedOutcome {
  const status = dictStr(c, dict);
  const error = c.of(ERRORS, 'error class');
  const unanswered = c.of(UNANSWERED, 'unanswered reason');
  const hits = c.u32();
  const misses = c.u32();
  const valueBytes = c.f64();
  const bytes = c.f64();
  const lat = c.f64();
  return { status, error, hits, misses, valueBytes, bytes, latencyNs: lat < 0 ? null : lat, unanswered };
}
