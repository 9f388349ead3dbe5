// Writes a prepared workload (format in prepared-format.ts): a WorkloadSink that encodes every event
// into 1 MiB blocks written as they fill, so memory holds one block whatever the capture's size.
// The file is written under a temporary name and renamed once complete: a prepare that fails or is
// interrupted leaves no file that looks usable.
import { closeSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import type { CloseReason } from '../capture/types.js';
import type { CapturedOutcome, WorkloadConnection, WorkloadRequest, WorkloadSink } from './model.js';
import {
  BLOCK_HEADER_BYTES, BLOCK_TARGET_BYTES, CLASSES, CLOSE_REASONS, ERRORS, EXPECTS, MCW_END_MAGIC, PROTOS, Rec, ReqBit, UNANSWERED,
  crc32, encodeHeader, enumIndex, type PreparedHeader,
} from './prepared-format.js';

/** A prepared-file writer: the sink to extract into, then finish (or abort). */
export interface PreparedWriter {
  sink: WorkloadSink;
  /** Writes the trailer and footer, and moves the file to its name; returns its size in bytes. */
  finish(result: unknown): { bytes: number; connections: number; requests: number; blocks: number };
  /** Removes the partial file. */
  abort(): void;
}

/** Records into checksummed blocks on a file descriptor: one block in memory, written as it fills. */
interface BlockOut {
  /** Room for `n` more bytes in the current block (records never span blocks). */
  room(n: number): void;
  u8(v: number): void;
  u16(v: number): void;
  u32(v: number): void;
  f64(v: number): void;
  u64(v: bigint): void;
  /** A latin1 string with its u16 length (keys are bytes held one per char, model.ts). */
  str16(s: string): void;
  bytes(b: Buffer): void;
  flushBlock(): void;
  /** Writes bytes outside any block (header, footer). */
  out(b: Buffer): void;
  readonly written: number;
  readonly blocks: number;
}

function createBlockOut(fd: number): BlockOut {
  let buf = Buffer.allocUnsafe(BLOCK_HEADER_BYTES + BLOCK_TARGET_BYTES);
  let pos = BLOCK_HEADER_BYTES;
  let written = 0;
  let blocks = 0;
  function out(b: Buffer, len = b.length): void {
    let off = 0;
    while (off < len) off += writeSync(fd, b, off, len - off);
    written += len;
  }
  function flushBlock(): void {
    if (pos === BLOCK_HEADER_BYTES) return;
    const payload = buf.subarray(BLOCK_HEADER_BYTES, pos);
    buf.writeUInt32LE(payload.length, 0);
    buf.writeUInt32LE(crc32(payload), 4);
    out(buf, pos);
    blocks++;
    pos = BLOCK_HEADER_BYTES;
  }
  return {
    room(n) {
      if (pos + n <= buf.length) return;
      flushBlock();
      if (BLOCK_HEADER_BYTES + n > buf.length) buf = Buffer.allocUnsafe(BLOCK_HEADER_BYTES + n);
    },
    u8: (v) => void (pos = buf.writeUInt8(v, pos)),
    u16: (v) => void (pos = buf.writeUInt16LE(v, pos)),
    u32: (v) => void (pos = buf.writeUInt32LE(v >>> 0, pos)),
    f64: (v) => void (pos = buf.writeDoubleLE(v, pos)),
    u64: (v) => void (pos = buf.writeBigUInt64LE(v, pos)),
    str16(s) {
      pos = buf.writeUInt16LE(s.length, pos);
      pos += buf.write(s, pos, 'latin1');
    },
    bytes: (b) => void (pos += b.copy(buf, pos)),
    flushBlock,
    out: (b) => out(b),
    get written() {
      return written;
    },
    get blocks() {
      return blocks;
    },
  };
}

/**
 * Opens `path` for a prepared workload. `keepRaw(r)` says whether a request's bytes are kept (false
 * for requests the prepare-time filters hold back: they are kept without their bytes, so a replay
 * still counts them as held back).
 */
export function createPreparedWriter(path: string, header: PreparedHeader, keepRaw: (r: WorkloadRequest, c: WorkloadConnection | undefined) => boolean): PreparedWriter {
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  const b = createBlockOut(fd);
  const { room, u8, u16, u32, f64, str16 } = b;
  let connections = 0;
  let requests = 0;
  /** One past the highest connection id (ids are numbered from 0 in capture order). */
  let idEnd = 0;
  let perConn = new Uint32Array(1024);
  const conns = new Map<number, WorkloadConnection>();
  const dict = new Map<string, number>();
  let closed = false;
  b.out(encodeHeader(header));

  /** Dictionary id of a repeated string (command names, answer statuses), defining it on first use. */
  function strId(s: string): number {
    let id = dict.get(s);
    if (id !== undefined) return id;
    id = dict.size;
    if (id > 0xffff) throw new Error('prepared workload: more than 65536 distinct command names or statuses');
    dict.set(s, id);
    room(1 + 2 + 2 + s.length);
    u8(Rec.Dict);
    u16(id);
    str16(s);
    return id;
  }

  function connection(c: WorkloadConnection): void {
    connections++;
    if (c.id >= perConn.length) {
      const n = new Uint32Array(Math.max(perConn.length * 2, c.id + 1));
      n.set(perConn);
      perConn = n;
    }
    conns.set(c.id, c);
    idEnd = Math.max(idEnd, c.id + 1);
    room(1 + 4 + 1 + 8 + 2 * (2 + c.client.addr.length + 2) + 2 * (c.server.addr.length));
    u8(Rec.Conn);
    u32(c.id);
    u8((c.transport === 'udp' ? 1 : 0) | (c.synSeen ? 2 : 0));
    f64(c.openNs);
    str16(c.client.addr);
    u16(c.client.port);
    str16(c.server.addr);
    u16(c.server.port);
  }

  function request(r: WorkloadRequest): void {
    requests++;
    if (r.connId < perConn.length) perConn[r.connId]!++;
    const cmd = strId(r.cmd);
    // credentials: raw is already empty (extract.ts); keys and sizes are not written either
    const cred = r.credentials;
    const raw = !cred && keepRaw(r, conns.get(r.connId)) ? r.raw : null;
    let n = 1 + 4 + 4 + 8 + 4 + 2 + 4 + 4 + 8 + 8 + 8 + 2 + 2 + 4 + (raw?.length ?? 0);
    for (const k of r.keys) n += 2 + (cred ? 0 : k.length);
    for (const f of r.metaFlags) n += 2 + f.length;
    room(n);
    u8(Rec.Req);
    u32(r.connId);
    u32(r.seq);
    f64(r.tsNs);
    u8(enumIndex(PROTOS, r.proto, 'protocol'));
    u8(enumIndex(CLASSES, r.cls, 'command class'));
    u8(enumIndex(EXPECTS, r.expect, 'expectation'));
    u8((r.quiet ? ReqBit.quiet : 0) | (cred ? ReqBit.credentials : 0) | (raw !== null ? ReqBit.raw : 0) | (r.casStale === true ? ReqBit.casStale : 0));
    u16(cmd);
    u32(cred ? 0 : r.valueLen);
    u32(cred ? 0 : r.flags);
    f64(cred ? -1 : r.exptime);
    b.u64(cred ? 0n : BigInt.asUintN(64, r.cas));
    f64(r.opaque);
    u16(r.keys.length);
    for (const k of r.keys) str16(cred ? '' : k);
    u16(r.metaFlags.length);
    for (const f of r.metaFlags) str16(f);
    u32(raw?.length ?? 0);
    if (raw !== null) b.bytes(raw);
  }

  function outcome(r: WorkloadRequest, o: CapturedOutcome): void {
    const status = strId(o.status);
    room(1 + 4 + 4 + 2 + 1 + 1 + 4 + 4 + 8 + 8 + 8);
    u8(Rec.Out);
    u32(r.connId);
    u32(r.seq);
    u16(status);
    u8(enumIndex(ERRORS, o.error, 'error class'));
    u8(enumIndex(UNANSWERED, o.unanswered, 'unanswered reason'));
    u32(o.hits);
    u32(o.misses);
    f64(o.valueBytes);
    f64(o.bytes);
    f64(o.latencyNs ?? -1);
  }

  function close(connId: number, tsNs: number, reason: CloseReason): void {
    conns.delete(connId);
    room(1 + 4 + 8 + 1);
    u8(Rec.Close);
    u32(connId);
    f64(tsNs);
    u8(enumIndex(CLOSE_REASONS, reason, 'close reason'));
  }

  return {
    sink: { connection, request, outcome, close },
    finish(result) {
      b.flushBlock();
      const trailerAt = b.written;
      const json = Buffer.from(JSON.stringify({ result, connections, requests, blocks: b.blocks }), 'utf8');
      const counts = perConn.subarray(0, idEnd);
      room(1 + 4 + json.length + 4 + counts.length * 4);
      u8(Rec.End);
      u32(json.length);
      b.bytes(json);
      u32(counts.length);
      for (let i = 0; i < counts.length; i++) u32(counts[i]!);
      b.flushBlock();
      const footer = Buffer.alloc(16);
      footer.writeBigUInt64LE(BigInt(trailerAt), 0);
      MCW_END_MAGIC.copy(footer, 8);
      b.out(footer);
      closeSync(fd);
      closed = true;
      renameSync(tmp, path);
      return { bytes: b.written, connections, requests, blocks: b.blocks - 1 };
    },
    abort() {
      if (!closed) closeSync(fd);
      closed = true;
      rmSync(tmp, { force: true });
    },
  };
}
