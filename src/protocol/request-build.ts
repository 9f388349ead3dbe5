// Turns the bytes of one complete request (text/meta line with its data block, or a binary packet)
// into a ParsedRequest, and decides how long a request is from its first line or header.
import {
  BINARY_BY_OPCODE,
  K_ARITH,
  K_CAS,
  K_DELETE,
  K_FLUSH,
  K_GAT,
  K_GET,
  K_MA,
  K_MD,
  K_ME,
  K_MG,
  K_MN,
  K_MS,
  K_OTHER,
  K_STORE,
  K_TOUCH,
  K_VERBOSITY,
  lookupTextWord,
  unknownOpcodeName,
  type TextSpec,
} from './commands.js';
import { TOK_E, TOK_GEN, TOK_S, bytesEqualStr, fnv1a, isWordByte, parseInt32, parseU64, parseUint, tokenize } from './bytes.js';
import type { CommandClass, Expect, ParsedRequest, Proto } from './types.js';

declare module 'node:buffer' {
  interface Buffer {
    /** Node's native latin1 decoder (undocumented but stable since Node 0.x; skips toString's argument checks). */
    latin1Slice(start: number, end: number): string;
  }
}

/** Longest key memcached accepts (KEY_MAX_LENGTH). */
export const MAX_KEY = 250;
/** Longest command word accepted as an unknown command before the line counts as garbage. */
export const MAX_UNKNOWN_WORD = 32;

const NO_KEYS: Buffer[] = [];
const NO_FLAGS: string[] = [];

/** Result of looking at a text line: how many data bytes follow it, or that it is not a request. */
export const LINE_GARBAGE = -2;
export const LINE_NO_DATA = -1;

/**
 * Decides whether buf[s, ce) (the line without its terminator) is a request and how many data-block
 * bytes follow it (without the trailing CRLF). `strict` (while resynchronising) also demands a known
 * command, well-formed fields and a CRLF terminator (`crlf`).
 */
export function textLineNeed(buf: Buffer, s: number, ce: number, crlf: boolean, strict: boolean, maxValueLen: number): number {
  lastBuf = undefined;
  const n = tokenize(buf, s, ce);
  const spec = n > 0 ? lookupTextWord(buf, TOK_S[0], TOK_E[0]) : undefined;
  if (spec === undefined) {
    if (strict) return LINE_GARBAGE;
    if (n === 0) return ce === s ? LINE_NO_DATA : LINE_GARBAGE; // empty line: memcached answers ERROR
    const ws = TOK_S[0];
    const we = TOK_E[0];
    if (ws !== s || we - ws > MAX_UNKNOWN_WORD) return LINE_GARBAGE;
    for (let i = ws; i < we; i++) if (!isWordByte(buf[i])) return LINE_GARBAGE;
    remember(buf, s, n, undefined);
    return LINE_NO_DATA;
  }
  if (TOK_S[0] !== s || (strict && !crlf)) return LINE_GARBAGE;
  const k = spec.kind;
  let need = LINE_NO_DATA;
  if (k === K_STORE || k === K_CAS) {
    if (strict && !strictStore(buf, n, k === K_CAS)) return LINE_GARBAGE;
    // memcached answers ERROR to other token counts and reads no data block.
    const base = k === K_CAS ? 6 : 5;
    if (n === base || n === base + 1) {
      const len = parseUint(buf, TOK_S[4], TOK_E[4]);
      // A malformed length gets CLIENT_ERROR from memcached and no data block is read.
      if (len > maxValueLen) return LINE_GARBAGE;
      if (len >= 0) need = len;
    }
  } else if (k === K_MS) {
    if (strict && !strictMeta(buf, n, 3)) return LINE_GARBAGE;
    const len = msDataLen(buf, n);
    if (strict && len < 0) return LINE_GARBAGE;
    if (len > maxValueLen) return LINE_GARBAGE;
    if (len >= 0) need = len;
  } else if (strict && !strictOther(buf, n, k)) return LINE_GARBAGE;
  remember(buf, s, n, spec);
  return need;
}

// The line textLineNeed just tokenized, so an immediate build need not tokenize again.
let lastBuf: Buffer | undefined;
let lastStart = -1;
let lastN = 0;
let lastSpec: TextSpec | undefined;
let lastGen = -1;

function remember(buf: Buffer, s: number, n: number, spec: TextSpec | undefined): void {
  lastGen = TOK_GEN;
  lastBuf = buf;
  lastStart = s;
  lastN = n;
  lastSpec = spec;
}

function keyOk(i: number): boolean {
  const l = TOK_E[i] - TOK_S[i];
  return l > 0 && l <= MAX_KEY;
}

function strictStore(buf: Buffer, n: number, cas: boolean): boolean {
  const base = cas ? 6 : 5;
  if (n !== base && !(n === base + 1 && bytesEqualStr(buf, TOK_S[base], TOK_E[base], 'noreply'))) return false;
  if (!keyOk(1)) return false;
  if (parseUint(buf, TOK_S[2], TOK_E[2]) < 0) return false;
  if (Number.isNaN(parseInt32(buf, TOK_S[3], TOK_E[3]))) return false;
  if (parseUint(buf, TOK_S[4], TOK_E[4]) < 0) return false;
  if (cas && parseU64(buf, TOK_S[5], TOK_E[5]) < 0n) return false;
  return true;
}

function strictMeta(buf: Buffer, n: number, firstFlag: number): boolean {
  if (n < 2 || !keyOk(1)) return false;
  for (let i = firstFlag; i < n; i++) {
    const c = buf[TOK_S[i]];
    if (!((c >= 65 && c <= 90) || (c >= 97 && c <= 122))) return false;
  }
  return true;
}

function strictOther(buf: Buffer, n: number, k: number): boolean {
  switch (k) {
    case K_GET:
      if (n < 2) return false;
      for (let i = 1; i < n; i++) if (!keyOk(i)) return false;
      return true;
    case K_GAT:
      if (n < 3 || Number.isNaN(parseInt32(buf, TOK_S[1], TOK_E[1]))) return false;
      for (let i = 2; i < n; i++) if (!keyOk(i)) return false;
      return true;
    case K_ARITH:
      return (n === 3 || (n === 4 && isNoreply(buf, 3))) && keyOk(1) && parseU64(buf, TOK_S[2], TOK_E[2]) >= 0n;
    case K_DELETE:
      return n >= 2 && n <= 4 && keyOk(1);
    case K_TOUCH:
      return (n === 3 || (n === 4 && isNoreply(buf, 3))) && keyOk(1) && !Number.isNaN(parseInt32(buf, TOK_S[2], TOK_E[2]));
    case K_FLUSH:
      return n <= 3;
    case K_VERBOSITY:
      return n >= 2 && n <= 3;
    case K_MN:
      return n === 1;
    case K_MG:
    case K_MD:
    case K_MA:
    case K_ME:
      return strictMeta(buf, n, 2);
    default:
      return n <= 8;
  }
}

function isNoreply(buf: Buffer, i: number): boolean {
  return bytesEqualStr(buf, TOK_S[i], TOK_E[i], 'noreply');
}

/** Data length of a meta set: the token after the key, or an old-style S flag; -1 when absent. */
function msDataLen(buf: Buffer, n: number): number {
  if (n < 3) return -1;
  const v = parseUint(buf, TOK_S[2], TOK_E[2]);
  if (v >= 0) return v;
  for (let i = 2; i < n; i++) if (buf[TOK_S[i]] === 83 /* S */) return parseUint(buf, TOK_S[i] + 1, TOK_E[i]);
  return -1;
}

/**
 * A parsed request whose `raw`, `keys` and `metaFlags` are made on first access: a Buffer view
 * costs a few hundred ns, and consumers such as `inspect` never look at most of them. Like views,
 * they are valid only during the request callback. Fields live on the prototype as accessors:
 * copy them out by name rather than with object spread.
 */
export class LazyRequest implements ParsedRequest {
  constructor(
    readonly proto: Proto,
    readonly cmd: string,
    readonly cls: CommandClass,
    readonly expect: Expect,
    readonly quiet: boolean,
    readonly valueLen: number,
    readonly flags: number,
    readonly exptime: number,
    readonly cas: bigint,
    readonly opaque: number,
    readonly credentials: boolean,
    private readonly buf: Buffer,
    private readonly s: number,
    private readonly e: number,
    /** Single key range (ks < 0: none), unless `eagerKeys` holds the keys. */
    private readonly ks: number,
    private readonly ke: number,
    private eagerKeys: Buffer[] | undefined,
    /** Meta flags range (fs < 0: none). */
    private readonly fs: number,
    private readonly fe: number,
  ) {}

  private rawView: Buffer | undefined;
  private flagList: string[] | undefined;

  get raw(): Buffer {
    return (this.rawView ??= this.buf.subarray(this.s, this.e));
  }

  get keys(): Buffer[] {
    if (this.eagerKeys === undefined) this.eagerKeys = this.ks < 0 ? NO_KEYS : [this.buf.subarray(this.ks, this.ke)];
    return this.eagerKeys;
  }

  get metaFlags(): string[] {
    if (this.flagList === undefined) {
      if (this.fs < 0) this.flagList = NO_FLAGS;
      else {
        // One native slice and split is cheaper than a string per flag.
        const f = this.buf.latin1Slice(this.fs, this.fe).split(' ');
        this.flagList = f.includes('') ? f.filter((x) => x.length > 0) : f;
      }
    }
    return this.flagList;
  }

  /** Key i as a latin1 string, without making a Buffer view on the common path. */
  keyString(i: number): string {
    if (this.eagerKeys === undefined && i === 0 && this.ks >= 0) return this.buf.latin1Slice(this.ks, this.ke);
    return this.keys[i].latin1Slice(0, this.keys[i].length);
  }

  /** Hands each key as a byte range of the capture's buffer, without making views or strings. */
  visitKeys(f: (b: Buffer, s: number, e: number) => void): void {
    if (this.eagerKeys === undefined) {
      if (this.ks >= 0) f(this.buf, this.ks, this.ke);
      return;
    }
    for (const k of this.eagerKeys) f(k, 0, k.length);
  }

  /** Number of keys, without making views. */
  get keyCount(): number {
    return this.eagerKeys !== undefined ? this.eagerKeys.length : this.ks < 0 ? 0 : 1;
  }

  /** An owned copy of the request bytes (one allocation, no intermediate view). */
  copyRaw(): Buffer {
    const c = Buffer.allocUnsafe(this.e - this.s);
    this.buf.copy(c, 0, this.s, this.e);
    return c;
  }
}

/** Builds the request from buf[s, end): line buf[s, ce), line terminator up to le, data block buf[le, end). */
export function buildTextRequest(buf: Buffer, s: number, ce: number, le: number, end: number, asciiAuth: boolean): ParsedRequest {
  let n: number;
  let spec: TextSpec | undefined;
  if (lastBuf === buf && lastStart === s && lastGen === TOK_GEN) {
    n = lastN;
    spec = lastSpec;
  } else {
    n = tokenize(buf, s, ce);
    spec = n > 0 ? lookupTextWord(buf, TOK_S[0], TOK_E[0]) : undefined;
  }
  lastBuf = undefined;
  const valueLen = end > le ? end - le - 2 : 0;
  if (spec === undefined) {
    const name = n > 0 ? buf.latin1Slice(TOK_S[0], TOK_E[0]) : '(empty)';
    return new LazyRequest('text', name, 'unknown', 'line', false, 0, 0, -1, 0n, -1, false, buf, s, end, -1, -1, undefined, -1, -1);
  }
  const k = spec.kind;
  if (k >= K_MG) return buildMeta(buf, n, spec, s, end, valueLen);
  let ks = -1;
  let ke = -1;
  let keys: Buffer[] | undefined;
  let quiet = false;
  let flags = 0;
  let exptime = -1;
  let cas = 0n;
  let cls: CommandClass = spec.cls;
  let expect: Expect = spec.expect;
  let credentials = false;
  switch (k) {
    case K_GET:
    case K_GAT: {
      const first = k === K_GAT ? 2 : 1;
      if (k === K_GAT && n > 1) exptime = num32(buf, 1);
      if (n === first + 1) {
        ks = TOK_S[first];
        ke = TOK_E[first];
      } else if (n > first + 1) keys = collectKeys(buf, first, n);
      break;
    }
    case K_STORE:
    case K_CAS: {
      if (n > 2) flags = Math.max(0, parseUint(buf, TOK_S[2], TOK_E[2]));
      if (n > 3) exptime = num32(buf, 3);
      if (k === K_CAS && n > 5) cas = u64(buf, 5);
      quiet = n === (k === K_CAS ? 7 : 6) && isNoreply(buf, n - 1);
      if (asciiAuth && spec.name === 'set') {
        credentials = true;
        cls = 'auth';
      }
      break;
    }
    // Like memcached's set_noreply_maybe: within the token counts each command accepts (others get
    // ERROR), a last token "noreply" silences the answer, even "verbosity noreply".
    case K_ARITH:
      quiet = (n === 3 || n === 4) && isNoreply(buf, n - 1);
      break;
    case K_DELETE:
      quiet = (n === 3 || n === 4) && isNoreply(buf, n - 1);
      break;
    case K_TOUCH:
      if (n > 2) exptime = num32(buf, 2);
      quiet = (n === 3 || n === 4) && isNoreply(buf, n - 1);
      break;
    case K_FLUSH:
      if (n > 1 && !isNoreply(buf, 1)) exptime = num32(buf, 1);
      quiet = (n === 2 || n === 3) && isNoreply(buf, n - 1);
      break;
    case K_VERBOSITY:
      quiet = (n === 2 || n === 3) && isNoreply(buf, n - 1);
      break;
    case K_OTHER:
      if (spec.name === 'cache_memlimit' || spec.name === 'refresh_certs') quiet = n >= 2 && n <= 3 && isNoreply(buf, n - 1);
      // lru_crawler metadump/mgdump answer with many lines ending in END, like stats.
      if (n > 1 && spec.name === 'lru_crawler' && (bytesEqualStr(buf, TOK_S[1], TOK_E[1], 'metadump') || bytesEqualStr(buf, TOK_S[1], TOK_E[1], 'mgdump')))
        expect = 'stats';
      break;
  }
  if (ks < 0 && keys === undefined && n > 1 && (k === K_STORE || k === K_CAS || k === K_ARITH || k === K_DELETE || k === K_TOUCH)) {
    ks = TOK_S[1];
    ke = TOK_E[1];
  }
  if (quiet) expect = 'none';
  return new LazyRequest('text', spec.name, cls, expect, quiet, valueLen, flags, exptime, cas, -1, credentials, buf, s, end, ks, ke, keys, -1, -1);
}

function num32(buf: Buffer, i: number): number {
  const v = parseInt32(buf, TOK_S[i], TOK_E[i]);
  return Number.isNaN(v) ? -1 : v;
}

function u64(buf: Buffer, i: number): bigint {
  const v = parseU64(buf, TOK_S[i], TOK_E[i]);
  return v < 0n ? 0n : v;
}

function collectKeys(buf: Buffer, from: number, n: number): Buffer[] {
  const keys = new Array<Buffer>(n - from);
  for (let i = from; i < n; i++) keys[i - from] = buf.subarray(TOK_S[i], TOK_E[i]);
  return keys;
}

function buildMeta(buf: Buffer, n: number, spec: TextSpec, s: number, end: number, valueLen: number): ParsedRequest {
  const k = spec.kind;
  let keyTok = -1;
  let firstFlag = 1;
  if (k !== K_MN && n > 1) {
    keyTok = 1;
    firstFlag = 2;
    if (k === K_MS && n > 2 && parseUint(buf, TOK_S[2], TOK_E[2]) >= 0) firstFlag = 3;
  }
  let quiet = false;
  let flags = 0;
  let exptime = -1;
  let cas = 0n;
  let opaque = -1;
  let b64 = false;
  for (let i = firstFlag; i < n; i++) {
    const ts = TOK_S[i];
    const te = TOK_E[i];
    switch (buf[ts]) {
      case 113: // q
        quiet = true;
        break;
      case 98: // b
        b64 = true;
        break;
      case 79: {
        // O
        const v = parseUint(buf, ts + 1, te);
        opaque = v >= 0 && v <= 0xffffffff ? v : fnv1a(buf, ts + 1, te);
        break;
      }
      case 84: {
        // T
        const v = parseInt32(buf, ts + 1, te);
        if (!Number.isNaN(v)) exptime = v;
        break;
      }
      case 67: {
        // C
        const v = parseU64(buf, ts + 1, te);
        if (v >= 0n) cas = v;
        break;
      }
      case 70: {
        // F
        const v = parseUint(buf, ts + 1, te);
        if (v >= 0) flags = v;
        break;
      }
    }
  }
  let ks = -1;
  let ke = -1;
  let keys: Buffer[] | undefined;
  if (keyTok > 0) {
    if (b64) keys = [Buffer.from(buf.latin1Slice(TOK_S[keyTok], TOK_E[keyTok]), 'base64')];
    else {
      ks = TOK_S[keyTok];
      ke = TOK_E[keyTok];
    }
  }
  const fs = n > firstFlag ? TOK_S[firstFlag] : -1;
  const fe = n > firstFlag ? TOK_E[n - 1] : -1;
  return new LazyRequest('meta', spec.name, spec.cls, spec.expect, quiet, valueLen, flags, exptime, cas, opaque, false, buf, s, end, ks, ke, keys, fs, fe);
}

/** Length of a binary packet header. */
export const BIN_HEADER = 24;

/**
 * Checks the binary request header at buf[s, s+24): returns the total packet length, or -1 when it
 * is not a plausible request. `strict` (while resynchronising) demands a known opcode whose extras,
 * key and value lengths fit what that opcode carries.
 */
export function binaryRequestLength(buf: Buffer, s: number, strict: boolean, maxValueLen: number): number {
  if (buf[s] !== 0x80) return -1;
  const op = buf[s + 1];
  const keyLen = buf.readUInt16BE(s + 2);
  const extLen = buf[s + 4];
  const bodyLen = buf.readUInt32BE(s + 8);
  if (keyLen + extLen > bodyLen) return -1;
  if (bodyLen - keyLen - extLen > maxValueLen) return -1;
  if (strict) {
    const spec = BINARY_BY_OPCODE[op];
    if (spec === undefined) return -1;
    if (buf[s + 5] !== 0 || buf[s + 6] !== 0 || buf[s + 7] !== 0) return -1; // datatype, vbucket
    if (!spec.extras.includes(extLen)) return -1;
    if (keyLen > MAX_KEY) return -1;
    if (spec.key === 1 && keyLen === 0) return -1;
    if (spec.key === 0 && keyLen !== 0) return -1;
    if (!spec.value && bodyLen !== keyLen + extLen) return -1;
  }
  return BIN_HEADER + bodyLen;
}

/** Builds the binary request in buf[s, end) (header already checked). */
export function buildBinaryRequest(buf: Buffer, s: number, end: number): ParsedRequest {
  const op = buf[s + 1];
  const keyLen = (buf[s + 2] << 8) | buf[s + 3];
  const extLen = buf[s + 4];
  const bodyLen = buf.readUInt32BE(s + 8);
  const opaque = buf.readUInt32BE(s + 12);
  const casHi = buf.readUInt32BE(s + 16);
  const casLo = buf.readUInt32BE(s + 20);
  const cas = casHi === 0 && casLo === 0 ? 0n : (BigInt(casHi) << 32n) | BigInt(casLo);
  const ks = s + BIN_HEADER + extLen;
  const valueLen = bodyLen - extLen - keyLen;
  const kS = keyLen > 0 ? ks : -1;
  const kE = keyLen > 0 ? ks + keyLen : -1;
  const spec = BINARY_BY_OPCODE[op];
  if (spec === undefined) {
    return new LazyRequest('binary', unknownOpcodeName(op), 'unknown', 'binary', false, valueLen, 0, -1, cas, opaque, false, buf, s, end, kS, kE, undefined, -1, -1);
  }
  let flags = 0;
  let exptime = -1;
  const es = s + BIN_HEADER;
  if (spec.expOff >= 0 && extLen >= spec.expOff + 4) exptime = buf.readUInt32BE(es + spec.expOff);
  // increment/decrement: an expiration of all one-bits is no time at all but "fail when the key is
  // missing" (no auto-create, Dalli's incr without a default): never an expiry to translate
  if (exptime === 0xffffffff && spec.cls === 'arith') exptime = -1;
  if (spec.extras[0] === 8 && extLen >= 8) flags = buf.readUInt32BE(es);
  return new LazyRequest('binary', spec.name, spec.cls, spec.expect, spec.quiet, valueLen, flags, exptime, cas, opaque, spec.credentials, buf, s, end, kS, kE, undefined, -1, -1);
}
