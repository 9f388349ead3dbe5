// Pairs the server→client bytes of one connection with the requests sent on it, in order. Knows
// every response shape: VALUE…END, STAT…END, single lines, errors, meta codes with quiet (q)
// requests answered by silence, binary packets with quiet opcodes and multi-packet stats.
//
// structure: kept whole (~960 lines). createResponseMatcher is one incremental state machine over
// Buffers whose state (~40 locals: the pending-request ring of parallel typed arrays, the byte-level
// state, the binary packet in progress) lives in one closure (plain local reads, no object hops);
// the ring is read on every response, on the per-byte path that ingest and replay both
// run. Its states, request kinds, meta subtypes and flags are named constants (S_*, R_*, M_*, F_*,
// MULTI_*, AFTER_*). Moving the ring into its own object is the next step once bench/ shows it free.
import { BINARY_BY_OPCODE, BINARY_STATUS, binarySpecByName, binaryStatusError, binaryStatusName } from './commands.js';
import { TOK_E, TOK_S, indexOfByte, parseU64, parseUint, tokenize } from './bytes.js';
import {
  MAX_RESPONSE_WORD,
  WORD_NAME,
  W_CLIENT_ERROR,
  W_END,
  W_EN,
  W_ERROR,
  W_EX,
  W_HD,
  W_ITEM,
  W_MN,
  W_NF,
  W_NS,
  W_NUMBER,
  W_OK,
  W_OTHER,
  W_PREFIX,
  W_SERVER_ERROR,
  W_STAT,
  W_VA,
  W_VALUE,
  isErrorWord,
  isMetaWord,
  isResponseWordPrefix,
  responseWord,
} from './response-words.js';
import type { Expect, ParsedResponse, ParserOptions, Proto, ResponseErrorClass } from './types.js';

/** What the matcher needs of a request (a ParsedRequest or a WorkloadRequest fits). */
export interface MatchInfo {
  proto: Proto;
  cmd: string;
  expect: Expect;
  quiet: boolean;
  opaque: number;
  metaFlags: readonly string[];
  keys: readonly (Buffer | string)[];
}

export interface ResponseMatcherEvents<T> {
  /** The complete answer to the request tagged `tag`; `tsNs` is the time of the chunk holding its last byte. */
  response(tag: T, resp: ParsedResponse, tsNs: number): void;
  /** The request will get no answer: the connection closed or the stream lost its place. */
  unanswered(tag: T, reason: 'closed' | 'desync'): void;
  /** Server bytes that no pending request explains. */
  unexpected(bytes: number): void;
}

export interface ResponseMatcher<T> {
  /** Registers a sent request, in the order the requests were sent. */
  expect(req: MatchInfo, tag: T): void;
  push(chunk: Buffer, tsNs: number): void;
  /** Like push(buf.subarray(start, end), tsNs), without making the view. */
  pushRange(buf: Buffer, start: number, end: number, tsNs: number): void;
  /** Bytes were lost: pending requests become unanswered('desync'); parsing resumes at the next response. */
  desync(): void;
  readonly pending: number;
  /** Connection over: quiet requests complete as answered by silence, the others become unanswered('closed'). */
  close(): void;
}

// Request kinds, computed once in expect().
const R_LINE = 1;
const R_VALUES = 2;
const R_STATS = 3;
const R_META = 4;
const R_BIN = 5;
const R_NONE = 6; // text noreply / quit: silence is the answer

// Meta subtypes.
const M_OTHER = 0;
const M_MG = 1;
const M_MS = 2;
const M_MD = 3;
const M_MA = 4;
const M_MN = 5;

// Request flag bits.
const F_SILENT = 1; // may be answered by silence (quiet, noreply, quit)
const F_RETRIEVES = 2; // counts hits/misses
const F_ECHOKEY = 4; // binary response echoes the key
const F_BSTATS = 8; // binary stat: packets until the empty key

// Open multi-part responses.
const MULTI_NONE = 0;
const MULTI_VALUES = 1;
const MULTI_STATS = 2;
const MULTI_BSTATS = 3;

// Byte-level states.
const S_IDLE = 0;
const S_LINE = 1;
const S_SKIP = 2;
const S_BINHDR = 3;
const S_BINEK = 4;
const S_CAND_TEXT = 5;
const S_CAND_BIN = 6;

// What to do when a skipped data block ends.
const AFTER_NOTHING = 0;
const AFTER_VALUE = 1;
const AFTER_VA = 2;
const AFTER_BIN = 3;

const BIN_HEADER = 24;
const MAX_LINE = 64 * 1024;
/**
 * Memory bound for requests answered by silence: a text noreply request can only ever get an error
 * line, so after this many later requests it is settled; quiet meta/binary requests (whose hits do
 * come back) get a far larger window before they are taken as silent.
 */
const NOREPLY_WINDOW = 1024;
const QUIET_WINDOW = 65536;
const DEFAULT_MAX_VALUE = 1024 * 1024 * 1024;

function errorClassOf(code: number): ResponseErrorClass {
  return code === W_ERROR ? 'ERROR' : code === W_CLIENT_ERROR ? 'CLIENT_ERROR' : code === W_SERVER_ERROR ? 'SERVER_ERROR' : null;
}

function metaSub(cmd: string): number {
  switch (cmd) {
    case 'mg':
      return M_MG;
    case 'ms':
      return M_MS;
    case 'md':
      return M_MD;
    case 'ma':
      return M_MA;
    case 'mn':
      return M_MN;
    default:
      return M_OTHER;
  }
}

/** Creates a matcher for one connection's server→client stream. */
export function createResponseMatcher<T>(ev: ResponseMatcherEvents<T>, opts: ParserOptions = {}): ResponseMatcher<T> {
  const wantCas = opts.wantCas ?? false;
  const maxValueLen = opts.maxValueLen ?? DEFAULT_MAX_VALUE;

  // Pending requests: a ring of parallel arrays (no object per request).
  let cap = 64;
  let qInfo: (MatchInfo | undefined)[] = new Array(cap);
  let qTag: (T | undefined)[] = new Array(cap);
  let qKind = new Int32Array(cap);
  let qSub = new Int32Array(cap); // meta subtype or binary opcode
  let qFlags = new Int32Array(cap);
  let head = 0;
  let count = 0;

  // Response being assembled for the head request.
  let multi = MULTI_NONE;
  let curHits = 0;
  let curMisses = 0;
  let curValueBytes = 0;
  let curBytes = 0;
  let curCas: Map<string, bigint> | undefined;

  // Byte-level state.
  let state = S_IDLE;
  let lost = false; // scanning for the next response boundary
  let atLineStart = true;
  let seenText = false;
  let seenBinary = false;
  let acc = Buffer.allocUnsafe(256);
  let accLen = 0;
  let skipLeft = 0;
  let skipThen = AFTER_NOTHING;
  let skipUnexpected = false;
  let unexpectedBytes = 0;
  let lastTs = 0;

  // Binary packet in progress.
  let bOp = 0;
  let bKeyLen = 0;
  let bExtLen = 0;
  let bStatus = 0;
  let bBody = 0;
  let bOpaque = 0;
  let bCas = 0n;
  let bMatched = false;
  let bComplete = false;

  function grow(): void {
    const ncap = cap * 2;
    const ni: (MatchInfo | undefined)[] = new Array(ncap);
    const nt: (T | undefined)[] = new Array(ncap);
    const nk = new Int32Array(ncap);
    const ns = new Int32Array(ncap);
    const nf = new Int32Array(ncap);
    for (let i = 0; i < count; i++) {
      const j = (head + i) & (cap - 1);
      ni[i] = qInfo[j];
      nt[i] = qTag[j];
      nk[i] = qKind[j];
      ns[i] = qSub[j];
      nf[i] = qFlags[j];
    }
    qInfo = ni;
    qTag = nt;
    qKind = nk;
    qSub = ns;
    qFlags = nf;
    head = 0;
    cap = ncap;
  }

  function pop(): void {
    qInfo[head] = undefined;
    qTag[head] = undefined;
    head = (head + 1) & (cap - 1);
    count--;
  }

  function resetCur(): void {
    multi = MULTI_NONE;
    curHits = 0;
    curMisses = 0;
    curValueBytes = 0;
    curBytes = 0;
    curCas = undefined;
  }

  function flushUnexpected(): void {
    if (unexpectedBytes > 0) {
      const n = unexpectedBytes;
      unexpectedBytes = 0;
      ev.unexpected(n);
    }
  }

  /** Completes the head request with the response assembled so far. */
  function complete(status: string, error: ResponseErrorClass, ts: number): void {
    const tag = qTag[head] as T;
    const resp: ParsedResponse = {
      status,
      error,
      hits: curHits,
      misses: curMisses,
      valueBytes: curValueBytes,
      bytes: curBytes,
      casByKey: curCas,
    };
    pop();
    resetCur();
    ev.response(tag, resp, ts);
  }

  /** The head request was answered by silence (quiet/noreply): a quiet retrieval is a miss. */
  function completeNone(ts: number): void {
    const tag = qTag[head] as T;
    const retrieves = (qFlags[head] & F_RETRIEVES) !== 0;
    pop();
    const resp: ParsedResponse = { status: 'none', error: null, hits: 0, misses: retrieves ? 1 : 0, valueBytes: 0, bytes: 0, casByKey: undefined };
    ev.response(tag, resp, ts);
  }

  /** Keeps long runs of silent requests from piling up when nothing later is ever answered. */
  function settleOldSilent(): void {
    while (count > NOREPLY_WINDOW && (qFlags[head] & F_SILENT) !== 0 && (qKind[head] === R_NONE || count > QUIET_WINDOW)) completeNone(lastTs);
  }

  function unanswerAll(reason: 'closed' | 'desync'): void {
    resetCur();
    while (count > 0) {
      const tag = qTag[head] as T;
      pop();
      ev.unanswered(tag, reason);
    }
  }

  function keyString(i: number): string | undefined {
    const k = qInfo[i]?.keys[0];
    if (k === undefined) return undefined;
    return typeof k === 'string' ? k : k.toString('latin1');
  }

  function addCas(key: string | undefined, cas: bigint): void {
    if (key === undefined) return;
    (curCas ??= new Map()).set(key, cas);
  }

  // ---- text lines -------------------------------------------------------------------------------

  function onLine(buf: Buffer, s: number, ce: number, total: number, ts: number): void {
    let we = s;
    while (we < ce && buf[we] !== 32) we++;
    const code = we > s ? responseWord(buf, s, we) : W_OTHER;
    seenText = true;
    if (multi === MULTI_VALUES) {
      curBytes += total;
      if (code === W_VALUE) return valueLine(buf, s, ce);
      if (code === W_END) {
        const want = qInfo[head]!.keys.length;
        curMisses = want > curHits ? want - curHits : 0;
        return complete(curHits > 0 ? 'VALUE' : 'END', null, ts);
      }
      if (isErrorWord(code)) return complete(WORD_NAME[code], errorClassOf(code), ts);
      unexpectedBytes += total;
      return garbage();
    }
    if (multi === MULTI_STATS) {
      curBytes += total;
      if (code === W_END) return complete('END', null, ts);
      if (isErrorWord(code)) return complete(WORD_NAME[code], errorClassOf(code), ts);
      return;
    }
    if (code === W_MN) syncToMn(ts);
    for (;;) {
      if (count === 0) return unexpectedLine(buf, s, ce, total, code);
      const kind = qKind[head];
      const silent = (qFlags[head] & F_SILENT) !== 0;
      if (kind === R_BIN) {
        if (silent) {
          completeNone(ts);
          continue;
        }
        return unexpectedLine(buf, s, ce, total, code);
      }
      if (silent && !quietMayAnswer(code, buf, s, ce)) {
        completeNone(ts);
        continue;
      }
      break;
    }
    curBytes = total;
    if (isErrorWord(code)) return complete(WORD_NAME[code], errorClassOf(code), ts);
    const kind = qKind[head];
    // A line no memcached would send to this request means we lost our place in the stream.
    const c0 = buf[s];
    if (
      (ce > s && (c0 < 32 || c0 > 126)) ||
      (kind === R_VALUES && code !== W_VALUE && code !== W_END) ||
      (kind === R_META && !isMetaWord(code) && code !== W_OK)
    ) {
      curBytes = 0;
      unexpectedBytes += total;
      return garbage();
    }
    if (kind === R_VALUES) {
      if (code === W_VALUE) {
        multi = MULTI_VALUES;
        return valueLine(buf, s, ce);
      }
      if (code === W_END) {
        curMisses = qInfo[head]!.keys.length;
        return complete('END', null, ts);
      }
      return complete(statusOf(code, buf, s, we), null, ts);
    }
    if (kind === R_STATS) {
      if (code === W_END) return complete('END', null, ts);
      const c = buf[s];
      if (code === W_STAT || code === W_ITEM || code === W_PREFIX || we === s || !(c >= 65 && c <= 90)) {
        multi = MULTI_STATS;
        return;
      }
      return complete(statusOf(code, buf, s, we), null, ts);
    }
    if (kind === R_META) return metaLine(code, buf, s, ce, we, ts);
    complete(statusOf(code, buf, s, we), null, ts);
  }

  function statusOf(code: number, buf: Buffer, s: number, we: number): string {
    return code === W_OTHER || code === W_NUMBER ? buf.toString('latin1', s, we) : WORD_NAME[code];
  }

  /** "VALUE <key> <flags> <bytes> [<cas>]": count the hit and skip its data block. */
  function valueLine(buf: Buffer, s: number, ce: number): void {
    const n = tokenize(buf, s, ce);
    const size = n > 3 ? parseUint(buf, TOK_S[3], TOK_E[3]) : -1;
    if (size < 0) return garbage();
    curHits++;
    curValueBytes += size;
    if (wantCas && n > 4) {
      const cas = parseU64(buf, TOK_S[4], TOK_E[4]);
      if (cas >= 0n) addCas(buf.toString('latin1', TOK_S[1], TOK_E[1]), cas);
    }
    startSkip(size + 2, AFTER_VALUE, false);
  }

  function metaLine(code: number, buf: Buffer, s: number, ce: number, we: number, ts: number): void {
    const sub = qSub[head];
    const n = tokenize(buf, s, ce);
    let firstFlag = 1;
    let size = -1;
    if (code === W_VA) {
      size = n > 1 ? parseUint(buf, TOK_S[1], TOK_E[1]) : -1;
      if (size < 0) return garbage();
      firstFlag = 2;
    }
    if (sub === M_MG) {
      if (code === W_VA || code === W_HD || code === W_OK) {
        // W without X: the key was missing and N (vivify) just created it empty, so a miss;
        // W with X is a stale value handed out for recache, which the client did get
        if (hasLoneFlag(buf, firstFlag, n, 87 /* W */) && !hasLoneFlag(buf, firstFlag, n, 88 /* X */)) curMisses = 1;
        else curHits = 1;
        if (size > 0) curValueBytes = size;
      } else if (code === W_EN) curMisses = 1;
    } else if (size > 0) curValueBytes = size;
    if (wantCas) {
      for (let i = firstFlag; i < n; i++) {
        if (buf[TOK_S[i]] === 99 /* c */) {
          const cas = parseU64(buf, TOK_S[i] + 1, TOK_E[i]);
          if (cas >= 0n) addCas(keyString(head), cas);
        }
      }
    }
    const status = statusOf(code, buf, s, we);
    if (code === W_VA) {
      vaStatus = status;
      return startSkip(size + 2, AFTER_VA, false);
    }
    complete(status, null, ts);
  }
  let vaStatus = 'VA';

  /** True when one of the line's flag tokens is exactly the single letter `flag`. */
  function hasLoneFlag(buf: Buffer, first: number, n: number, flag: number): boolean {
    for (let i = first; i < n; i++) if (TOK_E[i] - TOK_S[i] === 1 && buf[TOK_S[i]] === flag) return true;
    return false;
  }

  /** Can this line be the answer to the quiet request at the head, or did that one stay silent? */
  function quietMayAnswer(code: number, buf: Buffer, s: number, ce: number): boolean {
    if (isErrorWord(code)) return true; // errors are always sent and answer the oldest request
    if (qKind[head] !== R_META) return false;
    if (!isMetaWord(code) && code !== W_OK) return false;
    switch (qSub[head]) {
      case M_MG:
        if (code !== W_VA && code !== W_HD && code !== W_OK) return false;
        break;
      case M_MS:
        if (code !== W_NS && code !== W_EX && code !== W_NF) return false;
        break;
      case M_MD:
        if (code !== W_NF && code !== W_EX) return false;
        break;
      case M_MA:
        if (code !== W_NF && code !== W_NS && code !== W_EX) return false;
        break;
      default:
        if (code === W_MN) return false;
    }
    return metaTokensFit(code, buf, s, ce);
  }

  /** Opaque (O) and key (k) tokens of the line agree with the head request's flags. */
  function metaTokensFit(code: number, buf: Buffer, s: number, ce: number): boolean {
    const info = qInfo[head]!;
    let reqO: string | undefined;
    let reqB64 = false;
    for (const f of info.metaFlags) {
      const c = f.charCodeAt(0);
      if (c === 79) reqO = f;
      else if (c === 98) reqB64 = true;
    }
    const n = tokenize(buf, s, ce);
    let lineHasO = false;
    for (let i = code === W_VA ? 2 : 1; i < n; i++) {
      const ts = TOK_S[i];
      const te = TOK_E[i];
      const c = buf[ts];
      if (c === 79) {
        lineHasO = true;
        if (reqO === undefined || !sameBytes(buf, ts, te, reqO)) return false;
      } else if (c === 107 && te - ts > 1) {
        const key = info.keys[0];
        if (key !== undefined) {
          const want = reqB64 ? Buffer.from(key as Buffer).toString('base64') : typeof key === 'string' ? key : key.toString('latin1');
          if (!sameBytes(buf, ts + 1, te, want)) return false;
        }
      }
    }
    return lineHasO || reqO === undefined;
  }

  /** MN answers the first pending mn: everything before it is settled now. */
  function syncToMn(ts: number): void {
    let i = 0;
    while (i < count && !(qKind[(head + i) & (cap - 1)] === R_META && qSub[(head + i) & (cap - 1)] === M_MN)) i++;
    if (i === count) return;
    while (i-- > 0) settleBefore(ts);
  }

  /** Settles the head before a sync point: quiet ones were silent, others lost their answer. */
  function settleBefore(ts: number): void {
    if ((qFlags[head] & F_SILENT) !== 0) completeNone(ts);
    else {
      const tag = qTag[head] as T;
      pop();
      resetCur();
      ev.unanswered(tag, 'desync');
    }
  }

  function unexpectedLine(buf: Buffer, s: number, ce: number, total: number, code: number): void {
    unexpectedBytes += total;
    if (code === W_VALUE || code === W_VA) {
      const n = tokenize(buf, s, ce);
      const ti = code === W_VALUE ? 3 : 1;
      const size = n > ti ? parseUint(buf, TOK_S[ti], TOK_E[ti]) : -1;
      if (size >= 0) startSkip(size + 2, AFTER_NOTHING, true);
    }
  }

  function startSkip(n: number, then: number, unexpected: boolean): void {
    skipLeft = n;
    skipThen = then;
    skipUnexpected = unexpected;
    state = S_SKIP;
  }

  function afterSkip(ts: number): void {
    state = S_IDLE;
    switch (skipThen) {
      case AFTER_VA:
        complete(vaStatus, null, ts);
        break;
      case AFTER_BIN:
        binFinish(ts);
        break;
    }
  }

  // ---- binary packets ---------------------------------------------------------------------------

  /** Reads the response header at buf[s, s+24); false when it is not a plausible response. */
  function binHeader(buf: Buffer, s: number, strict: boolean): boolean {
    if (buf[s] !== 0x81) return false;
    bOp = buf[s + 1];
    bKeyLen = buf.readUInt16BE(s + 2);
    bExtLen = buf[s + 4];
    bStatus = buf.readUInt16BE(s + 6);
    bBody = buf.readUInt32BE(s + 8);
    bOpaque = buf.readUInt32BE(s + 12);
    const hi = buf.readUInt32BE(s + 16);
    const lo = buf.readUInt32BE(s + 20);
    bCas = hi === 0 && lo === 0 ? 0n : (BigInt(hi) << 32n) | BigInt(lo);
    if (bKeyLen + bExtLen > bBody || bBody - bKeyLen - bExtLen > maxValueLen) return false;
    if (strict) {
      if (BINARY_BY_OPCODE[bOp] === undefined || buf[s + 5] !== 0 || BINARY_STATUS[bStatus] === undefined) return false;
      if (bKeyLen > 250 || (bExtLen !== 0 && bExtLen !== 4 && bExtLen !== 8)) return false;
    }
    return true;
  }

  /** Header and extras+key known: find the request this packet answers. */
  function binDecide(kb: Buffer, ks: number, ts: number): void {
    seenBinary = true;
    const ek = bExtLen + bKeyLen;
    bMatched = false;
    if (multi === MULTI_BSTATS) {
      bMatched = true;
    } else {
      if (bOp === 0x0a) syncToNoop(ts);
      for (;;) {
        if (count === 0) break;
        const flags = qFlags[head];
        if (qKind[head] !== R_BIN) {
          if ((flags & F_SILENT) !== 0) {
            completeNone(ts);
            continue;
          }
          break;
        }
        if ((flags & F_SILENT) !== 0) {
          const info = qInfo[head]!;
          const fits =
            bOp === qSub[head] &&
            (info.opaque < 0 || bOpaque === info.opaque >>> 0) &&
            ((flags & F_ECHOKEY) === 0 || bKeyLen === 0 || keyEquals(info.keys[0], kb, ks + bExtLen, ks + ek));
          if (!fits) {
            completeNone(ts);
            continue;
          }
        }
        bMatched = true;
        break;
      }
    }
    if (!bMatched) {
      unexpectedBytes += BIN_HEADER + ek;
      startSkip(bBody - ek, AFTER_NOTHING, true);
      return;
    }
    curBytes += BIN_HEADER + ek;
    const flags = qFlags[head];
    bComplete = true;
    if ((flags & F_BSTATS) !== 0) {
      if (bKeyLen > 0 && bStatus === 0) {
        multi = MULTI_BSTATS;
        bComplete = false;
      }
    } else if ((flags & F_RETRIEVES) !== 0) {
      if (bStatus === 0) {
        curHits++;
        curValueBytes += bBody - ek;
        if (wantCas) addCas(keyString(head), bCas);
      } else if (bStatus === 1) curMisses++;
    } else if (wantCas && bStatus === 0 && bCas !== 0n) {
      addCas(keyString(head), bCas);
    }
    startSkip(bBody - ek, AFTER_BIN, false);
  }

  function binFinish(ts: number): void {
    if (bMatched && bComplete) complete(binaryStatusName(bStatus), binaryStatusError(bStatus), ts);
  }

  /** A noop response answers the first pending noop: everything before it is settled now. */
  function syncToNoop(ts: number): void {
    let i = 0;
    while (i < count && !(qKind[(head + i) & (cap - 1)] === R_BIN && qSub[(head + i) & (cap - 1)] === 0x0a)) i++;
    if (i === count) return;
    while (i-- > 0) settleBefore(ts);
  }

  // ---- losing and finding our place -------------------------------------------------------------

  function garbage(): void {
    // The stream does not parse: drop the pending requests and look for the next response.
    state = S_IDLE;
    accLen = 0;
    unanswerAll('desync');
    lost = true;
    atLineStart = false;
  }

  function scan(chunk: Buffer, pos: number, n: number): number {
    const allowText = seenText || !seenBinary;
    const allowBin = seenBinary || !seenText;
    let nlAt = -2;
    let b81At = -2;
    while (pos < n) {
      if (atLineStart && allowText) {
        const v = textCand(chunk, pos, n);
        if (v === C_YES) {
          lost = false;
          return pos;
        }
        if (v === C_MORE) return holdCandidate(chunk, pos, n, S_CAND_TEXT);
      }
      if (allowBin && chunk[pos] === 0x81) {
        const v = n - pos < BIN_HEADER ? C_MORE : binHeader(chunk, pos, true) ? C_YES : C_NO;
        if (v === C_YES) {
          lost = false;
          return pos;
        }
        if (v === C_MORE) return holdCandidate(chunk, pos, n, S_CAND_BIN);
      }
      if (allowText && nlAt !== -1 && nlAt < pos) nlAt = indexOfByte(chunk, 10, pos, n);
      if (allowBin && b81At !== -1 && b81At <= pos) b81At = indexOfByte(chunk, 0x81, pos + 1, n);
      const a = allowText && nlAt >= 0 ? nlAt + 1 : n + 1;
      const b = allowBin && b81At >= 0 ? b81At : n + 1;
      const next = a < b ? a : b;
      if (next > n) {
        unexpectedBytes += n - pos;
        atLineStart = false;
        return n;
      }
      unexpectedBytes += next - pos;
      atLineStart = next === a;
      pos = next;
    }
    return pos;
  }

  function holdCandidate(chunk: Buffer, pos: number, n: number, st: number): number {
    accLen = 0;
    append(chunk, pos, n);
    state = st;
    return n;
  }

  function append(src: Buffer, s: number, e: number): void {
    const need = accLen + e - s;
    if (acc.length < need) {
      let c = acc.length * 2;
      while (c < need) c *= 2;
      const nb = Buffer.allocUnsafe(c);
      acc.copy(nb, 0, 0, accLen);
      acc = nb;
    }
    src.copy(acc, accLen, s, e);
    accLen = need;
  }

  function dropAcc(): void {
    accLen = 0;
    if (acc.length > MAX_LINE) acc = Buffer.allocUnsafe(256);
  }

  // ---- the byte loop ----------------------------------------------------------------------------

  function feed(chunk: Buffer, pos: number, n: number, ts: number): void {
    while (pos < n) {
      switch (state) {
        case S_IDLE: {
          if (lost) {
            pos = scan(chunk, pos, n);
            break;
          }
          if (chunk[pos] === 0x81) {
            if (n - pos < BIN_HEADER) {
              accLen = 0;
              append(chunk, pos, n);
              state = S_BINHDR;
              pos = n;
              break;
            }
            if (!binHeader(chunk, pos, false)) {
              garbage();
              break;
            }
            pos += BIN_HEADER;
            pos = binAfterHeader(chunk, pos, n, ts);
            break;
          }
          const nl = indexOfByte(chunk, 10, pos, n);
          if (nl < 0) {
            if (n - pos > MAX_LINE) {
              garbage();
              break;
            }
            accLen = 0;
            append(chunk, pos, n);
            state = S_LINE;
            pos = n;
            break;
          }
          const ce = nl > pos && chunk[nl - 1] === 13 ? nl - 1 : nl;
          const total = nl + 1 - pos;
          const s = pos;
          pos = nl + 1;
          onLine(chunk, s, ce, total, ts);
          break;
        }
        case S_LINE: {
          const nl = indexOfByte(chunk, 10, pos, n);
          const stop = nl < 0 ? n : nl + 1;
          if (accLen + stop - pos > MAX_LINE) {
            unexpectedBytes += accLen;
            dropAcc();
            state = S_IDLE;
            garbage();
            break;
          }
          append(chunk, pos, stop);
          pos = stop;
          if (nl < 0) break;
          state = S_IDLE;
          const le = accLen;
          const ce = le >= 2 && acc[le - 2] === 13 ? le - 2 : le - 1;
          onLine(acc, 0, ce, le, ts);
          dropAcc();
          break;
        }
        case S_SKIP: {
          const take = skipLeft < n - pos ? skipLeft : n - pos;
          skipLeft -= take;
          if (skipUnexpected) unexpectedBytes += take;
          else curBytes += take;
          pos += take;
          if (skipLeft === 0) afterSkip(ts);
          break;
        }
        case S_BINHDR: {
          const take = Math.min(BIN_HEADER - accLen, n - pos);
          append(chunk, pos, pos + take);
          pos += take;
          if (accLen < BIN_HEADER) break;
          state = S_IDLE;
          if (!binHeader(acc, 0, false)) {
            unexpectedBytes += accLen;
            dropAcc();
            garbage();
            break;
          }
          accLen = 0;
          pos = binAfterHeader(chunk, pos, n, ts);
          break;
        }
        case S_BINEK: {
          const ek = bExtLen + bKeyLen;
          const take = Math.min(ek - accLen, n - pos);
          append(chunk, pos, pos + take);
          pos += take;
          if (accLen < ek) break;
          state = S_IDLE;
          binDecide(acc, 0, ts);
          accLen = 0;
          if (state === S_SKIP && skipLeft === 0) afterSkip(ts);
          break;
        }
        case S_CAND_TEXT:
        case S_CAND_BIN: {
          const want = state === S_CAND_BIN ? BIN_HEADER : MAX_RESPONSE_WORD + 1;
          const take = Math.min(want - accLen, n - pos);
          append(chunk, pos, pos + take);
          pos += take;
          const v = state === S_CAND_BIN ? (accLen < BIN_HEADER ? C_MORE : binHeader(acc, 0, true) ? C_YES : C_NO) : textCand(acc, 0, accLen);
          if (v === C_MORE && pos === n) break;
          const bytes = Buffer.from(acc.subarray(0, accLen));
          dropAcc();
          state = S_IDLE;
          if (v === C_YES) {
            lost = false;
            feed(bytes, 0, bytes.length, ts);
          } else {
            unexpectedBytes += 1;
            atLineStart = false;
            feed(bytes, 1, bytes.length, ts);
          }
          break;
        }
      }
    }
  }

  /** After a complete header at chunk[pos-24]: gather extras+key from chunk[pos, n), decide, skip the value. */
  function binAfterHeader(chunk: Buffer, pos: number, n: number, ts: number): number {
    const ek = bExtLen + bKeyLen;
    if (ek === 0 || n - pos >= ek) {
      binDecide(chunk, pos, ts);
      pos += ek;
      if (state === S_SKIP && skipLeft === 0) afterSkip(ts);
      return pos;
    }
    accLen = 0;
    append(chunk, pos, n);
    state = S_BINEK;
    return n;
  }

  return {
    expect(req: MatchInfo, tag: T): void {
      if (count === cap) grow();
      const i = (head + count) & (cap - 1);
      let kind: number;
      let sub = 0;
      let flags = 0;
      if (req.proto === 'binary') {
        kind = R_BIN;
        const spec = binarySpecByName(req.cmd);
        sub = spec ? spec.opcode : opcodeOfUnknown(req.cmd);
        if (req.quiet || req.expect === 'none') flags |= F_SILENT;
        if (spec?.retrieves) flags |= F_RETRIEVES;
        if (spec?.echoesKey) flags |= F_ECHOKEY;
        if (req.expect === 'stats') flags |= F_BSTATS;
      } else if (req.proto === 'meta') {
        kind = R_META;
        sub = metaSub(req.cmd);
        if (req.quiet) flags |= F_SILENT;
        if (sub === M_MG) flags |= F_RETRIEVES;
      } else {
        switch (req.expect) {
          case 'values':
            kind = R_VALUES;
            flags |= F_RETRIEVES;
            break;
          case 'stats':
            kind = R_STATS;
            break;
          case 'none':
            kind = R_NONE;
            flags |= F_SILENT;
            break;
          default:
            kind = R_LINE;
        }
        if (req.quiet) flags |= F_SILENT;
      }
      qInfo[i] = req;
      qTag[i] = tag;
      qKind[i] = kind;
      qSub[i] = sub;
      qFlags[i] = flags;
      count++;
      if (count > NOREPLY_WINDOW && multi === MULTI_NONE && state === S_IDLE) settleOldSilent();
    },
    push(chunk: Buffer, tsNs: number): void {
      lastTs = tsNs;
      if (chunk.length > 0) feed(chunk, 0, chunk.length, tsNs);
      flushUnexpected();
    },
    pushRange(buf: Buffer, start: number, end: number, tsNs: number): void {
      lastTs = tsNs;
      if (end > start) feed(buf, start, end, tsNs);
      flushUnexpected();
    },
    desync(): void {
      state = S_IDLE;
      dropAcc();
      unanswerAll('desync');
      lost = true;
      atLineStart = true;
      flushUnexpected();
    },
    get pending() {
      return count;
    },
    close(): void {
      flushUnexpected();
      // Only whole responses count: a half-received one is no answer.
      resetCur();
      state = S_IDLE;
      dropAcc();
      while (count > 0) {
        if ((qFlags[head] & F_SILENT) !== 0) completeNone(lastTs);
        else {
          const tag = qTag[head] as T;
          pop();
          ev.unanswered(tag, 'closed');
        }
      }
    },
  };
}

const C_NO = 0;
const C_YES = 1;
const C_MORE = 2;

/** Could buf[s, e) (at a line start) begin a response line? */
function textCand(buf: Buffer, s: number, e: number): number {
  const lim = Math.min(e, s + MAX_RESPONSE_WORD + 1);
  for (let i = s; i < lim; i++) {
    const c = buf[i];
    if (c === 32 || c === 13 || c === 10) {
      if (i === s) return C_NO;
      const w = responseWord(buf, s, i);
      return w !== W_OTHER && w !== W_NUMBER ? C_YES : C_NO;
    }
    if (!((c >= 65 && c <= 90) || c === 95)) return C_NO;
  }
  if (lim === e && isResponseWordPrefix(buf, s, e)) return C_MORE;
  return C_NO;
}

function sameBytes(buf: Buffer, s: number, e: number, str: string): boolean {
  if (e - s !== str.length) return false;
  for (let i = 0; i < str.length; i++) if (buf[s + i] !== (str.charCodeAt(i) & 0xff)) return false;
  return true;
}

function keyEquals(key: Buffer | string | undefined, buf: Buffer, s: number, e: number): boolean {
  if (key === undefined) return true;
  if (typeof key === 'string') return sameBytes(buf, s, e, key);
  return key.length === e - s && key.equals(buf.subarray(s, e));
}

function opcodeOfUnknown(cmd: string): number {
  return cmd.startsWith('op_0x') ? parseInt(cmd.slice(5), 16) : -1;
}
