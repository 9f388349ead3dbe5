// The prepared-workload file (.mcw, `mcreplay prepare`): the workload events extraction emits
// (connections, requests, captured answers, closes) in capture order, so a replay reads them instead
// of parsing the capture again. Layout (little endian):
//
//   magic (8: 89 'MCW' 0d 0a 1a 0a) · u32 format version · u32 header length · header JSON · u32 crc32
//   blocks: u32 payload length · u32 crc32 of the payload · payload (records, each a type byte + fields)
//   the trailer block (its only record is END: the extraction's statistics and requests per connection)
//   footer: u64 offset of the trailer block · 'MCWEND\0\0'
//
// Records never span blocks, so a reader holds one block at a time (bounded memory) and a damaged
// block is found by its checksum before any of its records is used.
import * as zlib from 'node:zlib';
import type { CommandClass, Expect, Proto, ResponseErrorClass } from '../protocol/types.js';
import type { CloseReason } from '../capture/types.js';
import type { CapturedOutcome } from './model.js';

/** First bytes of every prepared file (the PNG trick: a text-mode copy or a 7-bit channel breaks it visibly). */
export const MCW_MAGIC = Buffer.from([0x89, 0x4d, 0x43, 0x57, 0x0d, 0x0a, 0x1a, 0x0a]);
/** Last 8 bytes of a complete prepared file. */
export const MCW_END_MAGIC = Buffer.from('MCWEND\0\0', 'latin1');
/** The layout version this mcreplay writes and reads. */
export const MCW_FORMAT_VERSION = 1;
export const FOOTER_BYTES = 16;
export const BLOCK_HEADER_BYTES = 8;
/** Blocks are cut at about this size (a record larger than it gets a block of its own). */
export const BLOCK_TARGET_BYTES = 1 << 20;
/** Largest block a reader accepts: a memcached value is at most 1 GiB, plus its request line. */
export const MAX_BLOCK_BYTES = (1 << 30) + (1 << 20);
/** Largest header a reader accepts. */
export const MAX_HEADER_BYTES = 1 << 20;

/** Record types. */
export const Rec = { Conn: 1, Req: 2, Out: 3, Close: 4, Dict: 5, End: 0xff } as const;

/** Request flag bits. */
export const ReqBit = { quiet: 1, credentials: 2, raw: 4, casStale: 8 } as const;

// Enumerations are written as their index in these tables (append only: indexes are the format).
export const PROTOS: readonly Proto[] = ['text', 'meta', 'binary'];
export const CLASSES: readonly CommandClass[] = ['read', 'write', 'delete', 'arith', 'touch', 'info', 'destructive', 'auth', 'session', 'unknown'];
export const EXPECTS: readonly Expect[] = ['none', 'line', 'values', 'stats', 'meta', 'binary'];
export const ERRORS: readonly ResponseErrorClass[] = [null, 'ERROR', 'CLIENT_ERROR', 'SERVER_ERROR'];
export const UNANSWERED: readonly CapturedOutcome['unanswered'][] = [null, 'closed', 'desync', 'end'];
export const CLOSE_REASONS: readonly CloseReason[] = ['fin', 'rst', 'end', 'reused', 'idle'];

/** Index of `v` in `table` (the writer's side; values outside the table are a programming error). */
export function enumIndex<T>(table: readonly T[], v: T, what: string): number {
  const i = table.indexOf(v);
  if (i < 0) throw new Error(`prepared workload: no code for ${what} ${String(v)}`);
  return i;
}

/** The options that shaped a prepared workload: they decide which requests it holds and how. */
export interface PreparedShape {
  serverPorts: number[];
  anyPort: boolean;
  asciiAuth: boolean;
  /** Filters applied when it was prepared (requests they hold back are kept without their bytes); null = none. */
  commands: string[] | null;
  readOnly: boolean;
  servers: string[] | null;
  fromNs: number | null;
  toNs: number | null;
}

/** The header of a prepared file (JSON after the magic and format version). */
export interface PreparedHeader {
  /** mcreplay's version that wrote it: extraction may differ between versions, so a reader insists on its own. */
  mcreplay: string;
  createdAt: string;
  capture: {
    /** As given to prepare. */
    path: string;
    name: string;
    sha256: string;
    bytes: number;
    /** Epoch seconds of the capture's first frame (absolute expiry times are rebased from it); null if unknown. */
    epochSec: number | null;
  };
  shape: PreparedShape;
}

/** What the trailer holds: the extraction's own results and requests per connection (index = connection id). */
export interface PreparedTrailer {
  /** ExtractResult of src/workload/extract.ts, as JSON. */
  result: unknown;
  connections: number;
  requests: number;
  blocks: number;
  requestsPerConnection: Uint32Array;
}

/** Encodes the magic, format version and header. */
export function encodeHeader(h: PreparedHeader, version = MCW_FORMAT_VERSION): Buffer {
  const json = Buffer.from(JSON.stringify(h), 'utf8');
  const out = Buffer.alloc(MCW_MAGIC.length + 8 + json.length + 4);
  MCW_MAGIC.copy(out, 0);
  out.writeUInt32LE(version, 8);
  out.writeUInt32LE(json.length, 12);
  json.copy(out, 16);
  out.writeUInt32LE(crc32(json), 16 + json.length);
  return out;
}

/** True when the bytes start like a prepared file. */
export function isPreparedBytes(b: Buffer): boolean {
  return b.length >= MCW_MAGIC.length && b.compare(MCW_MAGIC, 0, MCW_MAGIC.length, 0, MCW_MAGIC.length) === 0;
}

let table: Int32Array | null = null;
/** CRC-32 in JS, for Node 20 before 20.15 (no zlib.crc32). */
function crc32js(b: Uint8Array): number {
  if (table === null) {
    table = new Int32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c;
    }
  }
  let c = -1;
  for (let i = 0; i < b.length; i++) c = table[(c ^ b[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

/** CRC-32 (zlib's: native from Node 20.15, in JS before). */
export const crc32: (b: Uint8Array) => number = typeof (zlib as { crc32?: unknown }).crc32 === 'function' ? (b) => zlib.crc32(b) : crc32js;
