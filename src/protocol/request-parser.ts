// Incremental memcached request parser for one client→server byte stream. Detects text/meta/binary
// per request, frames lines, data blocks and binary packets across any chunk split, and
// resynchronises after lost bytes or garbage at the next plausible command boundary.
import { BIN_HEADER, LINE_GARBAGE, LINE_NO_DATA, binaryRequestLength, buildBinaryRequest, buildTextRequest, textLineNeed } from './request-build.js';
import { MAX_TEXT_WORD, isTextWordPrefix, lookupTextWord } from './commands.js';
import { indexOfByte } from './bytes.js';
import type { ParserOptions, ParsedRequest, Proto, RequestParserEvents } from './types.js';

/** Incremental parser of one request stream. */
export interface RequestParser {
  /** Protocol detected on this stream (first byte 0x80 = binary, else text/meta), null before any request. */
  readonly proto: Proto | null;
  push(chunk: Buffer, tsNs: number): void;
  /** Like push(buf.subarray(start, end), tsNs), without making the view. */
  pushRange(buf: Buffer, start: number, end: number, tsNs: number): void;
  /** Bytes were lost: drop any partial request and resynchronise at the next command boundary. */
  desync(): void;
  /** Stream over; returns the bytes left incomplete (not a request). */
  end(): number;
}

/** Options of the request parser beyond the shared ParserOptions. */
export interface RequestParserOptions extends ParserOptions {
  /** Server runs with ascii auth (-Y): the first `set` of the stream (whatever precedes it) carries "user pass" credentials. */
  asciiAuth?: boolean;
  /** Longest text command line other than get/gets/gat/gats (memcached's own limit is 2048). */
  maxLine?: number;
  /** Longest get/gets/gat/gats line (multi-gets are unbounded in memcached). */
  maxGetLine?: number;
}

const DEFAULT_MAX_VALUE = 1024 * 1024 * 1024;
const DEFAULT_MAX_LINE = 8192;
const DEFAULT_MAX_GET_LINE = 16 * 1024 * 1024;
/** The assembly buffer shrinks back to this after a request larger than it. */
const ACC_KEEP = 64 * 1024;
const NO_ACC = Buffer.alloc(0);

// Where a partial request stands while its bytes are gathered in the assembly buffer.
const P_NONE = 0;
const P_LINE = 1; // text line without its '\n' yet
const P_BINHDR = 2; // fewer than 24 bytes of a binary header
const P_BODY = 3; // header/line known, gathering up to `total` bytes
const P_CAND_TEXT = 4; // resync: a line start that may still become a known command word
const P_CAND_BIN = 5; // resync: a 0x80 byte with fewer than 24 header bytes behind it

type SkipReason = 'resync' | 'garbage' | 'oversize';

/** Creates a parser for one client→server stream; requests are delivered through `ev.request`. */
export function createRequestParser(ev: RequestParserEvents, opts: RequestParserOptions = {}): RequestParser {
  const maxValueLen = opts.maxValueLen ?? DEFAULT_MAX_VALUE;
  const maxLine = opts.maxLine ?? DEFAULT_MAX_LINE;
  const maxGetLine = opts.maxGetLine ?? DEFAULT_MAX_GET_LINE;
  const asciiAuth = opts.asciiAuth ?? false;

  let proto: Proto | null = null;
  let seenText = false;
  let seenBinary = false;
  let requests = 0;
  let authPending = asciiAuth;

  // Resync state: `syncing` false means we are scanning for a boundary; `probation` means the last
  // boundary came from a scan, so the request there must pass the strict checks.
  let syncing = true;
  let probation = false;
  let atLineStart = true;
  let skipped = 0;
  let skipReason: SkipReason = 'resync';

  // Assembly buffer for requests that span chunks (the one unavoidable copy); allocated on first
  // use, so the hundreds of thousands of connections a capture may hold open cost no 4 KiB each.
  let acc = NO_ACC;
  let accLen = 0;
  let accTs = 0;
  let phase = P_NONE;
  let total = 0; // P_BODY: full request length
  let lineEnd = 0; // P_BODY text: index after the line's '\n'
  let contentEnd = 0; // P_BODY text: index of the line's '\r' (or '\n')
  let isBinary = false; // P_BODY: binary packet
  let lineLimit = maxLine;

  function ensure(cap: number): void {
    if (acc.length >= cap) return;
    let n = acc.length === 0 ? 4096 : acc.length * 2;
    while (n < cap) n *= 2;
    const nb = Buffer.allocUnsafe(n);
    acc.copy(nb, 0, 0, accLen);
    acc = nb;
  }

  function append(src: Buffer, s: number, e: number): void {
    ensure(accLen + e - s);
    src.copy(acc, accLen, s, e);
    accLen += e - s;
  }

  function resetAcc(): void {
    accLen = 0;
    phase = P_NONE;
    if (acc.length > ACC_KEEP) acc = Buffer.allocUnsafe(4096);
  }

  function flushSkipped(): void {
    if (skipped > 0) {
      const n = skipped;
      skipped = 0;
      ev.skipped(n, skipReason);
    }
  }

  /** Leaves sync: what follows is scanned for the next boundary. */
  function lose(reason: SkipReason, lineStart: boolean): void {
    // A candidate that failed its strict checks continues the episode that found it.
    if (!probation) skipReason = reason;
    syncing = false;
    probation = false;
    atLineStart = lineStart;
  }

  function emit(req: ParsedRequest, ts: number): void {
    if (req.proto === 'binary') seenBinary = true;
    else seenText = true;
    if (proto === null) proto = req.proto;
    requests++;
    probation = false;
    ev.request(req, ts);
  }

  function emitText(buf: Buffer, s: number, ce: number, le: number, end: number, ts: number): void {
    const req = buildTextRequest(buf, s, ce, le, end, authPending);
    // a -Y server answers commands before the login with CLIENT_ERROR unauthenticated: the
    // credentials are in the first `set`, whatever came before it
    if (req.credentials) authPending = false;
    emit(req, ts);
  }

  /** A text request is in buf[s, end) with its line ending at ce/le; checks the data terminator. */
  function finishText(buf: Buffer, s: number, ce: number, le: number, end: number, ts: number): boolean {
    if (end > le && probation && (buf[end - 2] !== 13 || buf[end - 1] !== 10)) return false;
    emitText(buf, s, ce, le, end, ts);
    return true;
  }

  /** Parses at a request boundary in chunk[pos, n); returns the new position. */
  function parseAt(chunk: Buffer, pos: number, n: number, ts: number): number {
    if (chunk[pos] === 0x80) {
      if (n - pos < BIN_HEADER) {
        append(chunk, pos, n);
        accTs = ts;
        phase = P_BINHDR;
        return n;
      }
      // A stream's first packet may be the middle of something else: demand a known, well-formed one.
      const len = binaryRequestLength(chunk, pos, probation || requests === 0, maxValueLen);
      if (len < 0) {
        lose('garbage', false);
        return pos;
      }
      if (n - pos >= len) {
        emit(buildBinaryRequest(chunk, pos, pos + len), ts);
        return pos + len;
      }
      startBody(chunk, pos, n, len, true, 0, 0, ts);
      return n;
    }
    const nl = indexOfByte(chunk, 10, pos, n);
    if (nl < 0) {
      if (!lineMayContinue(chunk, pos, n)) {
        lose('garbage', false);
        return pos;
      }
      lineLimit = isGetWord(chunk, pos, n) ? maxGetLine : maxLine;
      if (n - pos > lineLimit) {
        lose('oversize', false);
        return pos;
      }
      append(chunk, pos, n);
      accTs = ts;
      phase = P_LINE;
      return n;
    }
    const crlf = nl > pos && chunk[nl - 1] === 13;
    const ce = crlf ? nl - 1 : nl;
    const le = nl + 1;
    if (ce - pos > (isGetWord(chunk, pos, ce) ? maxGetLine : maxLine)) {
      lose('oversize', false);
      return pos;
    }
    const need = textLineNeed(chunk, pos, ce, crlf, probation, maxValueLen);
    if (need === LINE_GARBAGE) {
      lose('garbage', false);
      return pos;
    }
    if (need === LINE_NO_DATA) {
      emitText(chunk, pos, ce, le, le, ts);
      return le;
    }
    const end = le + need + 2;
    if (end <= n) {
      if (!finishText(chunk, pos, ce, le, end, ts)) {
        skipped += end - pos;
        lose('garbage', false);
      }
      return end;
    }
    startBody(chunk, pos, n, end - pos, false, ce - pos, le - pos, ts);
    return n;
  }

  function startBody(chunk: Buffer, s: number, e: number, len: number, bin: boolean, ce: number, le: number, ts: number): void {
    accLen = 0;
    append(chunk, s, e);
    accTs = ts;
    phase = P_BODY;
    total = len;
    isBinary = bin;
    contentEnd = ce;
    lineEnd = le;
  }

  /** A complete request sits in acc[0, total). */
  function finishBody(): void {
    const ts = accTs;
    if (isBinary) {
      const req = buildBinaryRequest(acc, 0, total);
      phase = P_NONE;
      emit(req, ts);
    } else {
      phase = P_NONE;
      if (!finishText(acc, 0, contentEnd, lineEnd, total, ts)) {
        skipped += total;
        lose('garbage', false);
      }
    }
    resetAcc();
  }

  /** Continues a partial request with chunk[pos, n); returns the new position. */
  function continuePartial(chunk: Buffer, pos: number, n: number): number {
    switch (phase) {
      case P_BODY: {
        const take = Math.min(total - accLen, n - pos);
        // append grows the buffer with the bytes that came, not to the length the header claims
        append(chunk, pos, pos + take);
        if (accLen === total) finishBody();
        return pos + take;
      }
      case P_BINHDR: {
        const take = Math.min(BIN_HEADER - accLen, n - pos);
        append(chunk, pos, pos + take);
        if (accLen < BIN_HEADER) return pos + take;
        const len = binaryRequestLength(acc, 0, probation || requests === 0, maxValueLen);
        if (len < 0) {
          // Not a request after all: rescan its bytes after the first one.
          const rest = Buffer.from(acc.subarray(1, accLen));
          const t = accTs;
          resetAcc();
          skipped += 1;
          lose('garbage', false);
          feed(rest, 0, rest.length, t);
          return pos + take;
        }
        phase = P_BODY;
        total = len;
        isBinary = true;
        if (accLen === total) finishBody();
        return pos + take;
      }
      case P_LINE: {
        const nl = indexOfByte(chunk, 10, pos, n);
        const stop = nl < 0 ? n : nl + 1;
        if (accLen + stop - pos > lineLimit + 2) {
          skipped += accLen;
          resetAcc();
          lose('oversize', false);
          return pos;
        }
        append(chunk, pos, stop);
        if (nl < 0) {
          if (accLen <= MAX_TEXT_WORD + 2 && !lineMayContinue(acc, 0, accLen)) {
            const rest = Buffer.from(acc.subarray(0, accLen));
            const t = accTs;
            resetAcc();
            lose('garbage', false);
            atLineStart = false;
            feed(rest, 0, rest.length, t);
          }
          return stop;
        }
        const le = accLen;
        const crlf = le >= 2 && acc[le - 2] === 13;
        const ce = crlf ? le - 2 : le - 1;
        const need = textLineNeed(acc, 0, ce, crlf, probation, maxValueLen);
        if (need === LINE_GARBAGE) {
          skipped += accLen;
          resetAcc();
          lose('garbage', true);
          return stop;
        }
        if (need === LINE_NO_DATA) {
          const t = accTs;
          phase = P_NONE;
          emitText(acc, 0, ce, le, le, t);
          resetAcc();
          return stop;
        }
        phase = P_BODY;
        isBinary = false;
        total = le + need + 2;
        contentEnd = ce;
        lineEnd = le;
        return stop;
      }
      case P_CAND_TEXT:
      case P_CAND_BIN: {
        const want = phase === P_CAND_BIN ? BIN_HEADER : MAX_TEXT_WORD + 1;
        const take = Math.min(want - accLen, n - pos);
        append(chunk, pos, pos + take);
        const verdict = phase === P_CAND_BIN ? binCandidate(acc, 0, accLen) : textCandidate(acc, 0, accLen);
        if (verdict === C_MORE && pos + take === n) return n;
        // Decided (or as decided as it gets): replay the gathered bytes through the scanner.
        const bytes = Buffer.from(acc.subarray(0, accLen));
        const t = accTs;
        resetAcc();
        if (verdict === C_YES) {
          flushSkipped();
          syncing = true;
          probation = true;
          feed(bytes, 0, bytes.length, t);
        } else {
          skipped += 1;
          atLineStart = false;
          feed(bytes, 1, bytes.length, t);
        }
        return pos + take;
      }
    }
    return pos;
  }

  /** Scans chunk[pos, n) for the next plausible request start while out of sync. */
  function scan(chunk: Buffer, pos: number, n: number, ts: number): number {
    const allowText = seenText || !seenBinary;
    const allowBin = seenBinary || !seenText;
    let nlAt = -2; // cached index of the next '\n' at/after pos (-1: none in this chunk)
    let b80At = -2; // cached index of the next 0x80 after pos
    while (pos < n) {
      if (atLineStart && allowText) {
        const v = textCandidate(chunk, pos, n);
        if (v === C_YES) return resume(pos);
        if (v === C_MORE) return partialCandidate(chunk, pos, n, ts, P_CAND_TEXT);
      }
      if (allowBin && chunk[pos] === 0x80) {
        const v = binCandidate(chunk, pos, n);
        if (v === C_YES) return resume(pos);
        if (v === C_MORE) return partialCandidate(chunk, pos, n, ts, P_CAND_BIN);
      }
      if (allowText && nlAt !== -1 && nlAt < pos) nlAt = indexOfByte(chunk, 10, pos, n);
      if (allowBin && b80At !== -1 && b80At <= pos) b80At = indexOfByte(chunk, 0x80, pos + 1, n);
      const a = allowText && nlAt >= 0 ? nlAt + 1 : n + 1;
      const b = allowBin && b80At >= 0 ? b80At : n + 1;
      const next = a < b ? a : b;
      if (next > n) {
        skipped += n - pos;
        atLineStart = false;
        return n;
      }
      skipped += next - pos;
      atLineStart = next === a;
      pos = next;
    }
    return pos;
  }

  function resume(pos: number): number {
    flushSkipped();
    syncing = true;
    probation = true;
    return pos;
  }

  function partialCandidate(chunk: Buffer, pos: number, n: number, ts: number, ph: number): number {
    accLen = 0;
    append(chunk, pos, n);
    accTs = ts;
    phase = ph;
    return n;
  }

  /** Feeds chunk[pos, n) through the state machine (also used to rescan bytes a failed candidate held). */
  function feed(chunk: Buffer, pos: number, n: number, ts: number): void {
    while (pos < n) {
      if (phase !== P_NONE) pos = continuePartial(chunk, pos, n);
      else if (syncing) pos = parseAt(chunk, pos, n, ts);
      else pos = scan(chunk, pos, n, ts);
    }
  }

  return {
    get proto() {
      return proto;
    },
    push(chunk: Buffer, tsNs: number): void {
      if (chunk.length > 0) feed(chunk, 0, chunk.length, tsNs);
    },
    pushRange(buf: Buffer, start: number, end: number, tsNs: number): void {
      if (end > start) feed(buf, start, end, tsNs);
    },
    desync(): void {
      if (phase !== P_NONE) skipped += accLen;
      resetAcc();
      if (syncing) skipReason = 'resync';
      syncing = false;
      probation = false;
      atLineStart = true;
    },
    end(): number {
      flushSkipped();
      const left = phase === P_NONE ? 0 : accLen;
      resetAcc();
      return left;
    },
  };
}

const C_NO = 0;
const C_YES = 1;
const C_MORE = 2;

/** Could buf[s, e) (at a line start) begin a known text command? */
function textCandidate(buf: Buffer, s: number, e: number): number {
  const lim = Math.min(e, s + MAX_TEXT_WORD + 1);
  for (let i = s; i < lim; i++) {
    const c = buf[i];
    if (c === 32 || c === 13 || c === 10) return lookupTextWord(buf, s, i) !== undefined ? C_YES : C_NO;
    if (!((c >= 97 && c <= 122) || c === 95)) return C_NO; // known words are [a-z_]
  }
  if (lim === e && e - s <= MAX_TEXT_WORD && isTextWordPrefix(buf, s, e)) return C_MORE;
  // A complete word with no delimiter yet (e.g. "version" at the very end of the bytes we have).
  if (lim === e && lookupTextWord(buf, s, e) !== undefined) return C_MORE;
  return C_NO;
}

/** Could buf[s, e) (at a 0x80 byte) begin a binary request? */
function binCandidate(buf: Buffer, s: number, e: number): number {
  if (e - s < BIN_HEADER) {
    if (e - s >= 2 && buf[s + 1] > 0x24) return C_NO; // no opcode memcached implements beyond 0x24
    return C_MORE;
  }
  return binaryRequestLength(buf, s, true, Number.MAX_SAFE_INTEGER) >= 0 ? C_YES : C_NO;
}

/** While a line has no '\n' yet: can buf[s, e) still be the start of a command line? */
function lineMayContinue(buf: Buffer, s: number, e: number): boolean {
  const lim = Math.min(e, s + 33);
  for (let i = s; i < lim; i++) {
    const c = buf[i];
    if (c === 32 || c === 13) return true;
    if (!((c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 95)) return false;
  }
  return lim - s <= 32;
}

/** Does the line at buf[s..] start with get/gets/gat/gats (allowed to be very long)? */
function isGetWord(buf: Buffer, s: number, e: number): boolean {
  if (e - s < 4 || buf[s] !== 103 || buf[s + 2] !== 116) return false;
  const m = buf[s + 1];
  if (m !== 101 && m !== 97) return false; // ge / ga
  const c3 = buf[s + 3];
  return c3 === 32 || (c3 === 115 && e - s > 4 && buf[s + 4] === 32);
}
