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

/** Where a partial request stands while its bytes are gathered in the assembly buffer. */
const enum Phase {
  None = 0,
  Line = 1, // text line without its '\n' yet
  BinHeader = 2, // fewer than 24 bytes of a binary header
  Body = 3, // header/line known, gathering up to `total` bytes
  CandText = 4, // resync: a line start that may still become a known command word
  CandBin = 5, // resync: a 0x80 byte with fewer than 24 header bytes behind it
}

type SkipReason = 'resync' | 'garbage' | 'oversize';

/**
 * The parser's state machine. A class rather than a closure: its state is real (one per stream,
 * hundreds of thousands of streams), and its steps are methods small enough to read one by one.
 */
class RequestStreamParser implements RequestParser {
  private readonly maxValueLen: number;
  private readonly maxLine: number;
  private readonly maxGetLine: number;
  private detected: Proto | null = null;
  private seenText = false;
  private seenBinary = false;
  private requests = 0;
  private authPending: boolean;

  // Resync state: `syncing` false means we are scanning for a boundary; `probation` means the last
  // boundary came from a scan, so the request there must pass the strict checks.
  private syncing = true;
  private probation = false;
  private atLineStart = true;
  private skipped = 0;
  private skipReason: SkipReason = 'resync';

  // Assembly buffer for requests that span chunks (the one unavoidable copy); allocated on first
  // use, so the hundreds of thousands of connections a capture may hold open cost no 4 KiB each.
  private acc = NO_ACC;
  private accLen = 0;
  private accTs = 0;
  private phase: Phase = Phase.None;
  private total = 0; // Phase.Body: full request length
  private lineEnd = 0; // Phase.Body text: index after the line's '\n'
  private contentEnd = 0; // Phase.Body text: index of the line's '\r' (or '\n')
  private isBinary = false; // Phase.Body: binary packet
  private lineLimit: number;

  constructor(
    private readonly ev: RequestParserEvents,
    opts: RequestParserOptions,
  ) {
    this.maxValueLen = opts.maxValueLen ?? DEFAULT_MAX_VALUE;
    this.maxLine = opts.maxLine ?? DEFAULT_MAX_LINE;
    this.maxGetLine = opts.maxGetLine ?? DEFAULT_MAX_GET_LINE;
    this.authPending = opts.asciiAuth ?? false;
    this.lineLimit = this.maxLine;
  }

  get proto(): Proto | null {
    return this.detected;
  }

  push(chunk: Buffer, tsNs: number): void {
    if (chunk.length > 0) this.feed(chunk, 0, chunk.length, tsNs);
  }

  pushRange(buf: Buffer, start: number, end: number, tsNs: number): void {
    if (end > start) this.feed(buf, start, end, tsNs);
  }

  desync(): void {
    if (this.phase !== Phase.None) this.skipped += this.accLen;
    this.resetAcc();
    if (this.syncing) this.skipReason = 'resync';
    this.syncing = false;
    this.probation = false;
    this.atLineStart = true;
  }

  end(): number {
    this.flushSkipped();
    const left = this.phase === Phase.None ? 0 : this.accLen;
    this.resetAcc();
    return left;
  }

  private ensure(cap: number): void {
    if (this.acc.length >= cap) return;
    let n = this.acc.length === 0 ? 4096 : this.acc.length * 2;
    while (n < cap) n *= 2;
    const nb = Buffer.allocUnsafe(n);
    this.acc.copy(nb, 0, 0, this.accLen);
    this.acc = nb;
  }

  private append(src: Buffer, s: number, e: number): void {
    this.ensure(this.accLen + e - s);
    src.copy(this.acc, this.accLen, s, e);
    this.accLen += e - s;
  }

  private resetAcc(): void {
    this.accLen = 0;
    this.phase = Phase.None;
    if (this.acc.length > ACC_KEEP) this.acc = Buffer.allocUnsafe(4096);
  }

  private flushSkipped(): void {
    if (this.skipped > 0) {
      const n = this.skipped;
      this.skipped = 0;
      this.ev.skipped(n, this.skipReason);
    }
  }

  /** Leaves sync: what follows is scanned for the next boundary. */
  private lose(reason: SkipReason, lineStart: boolean): void {
    // A candidate that failed its strict checks continues the episode that found it.
    if (!this.probation) this.skipReason = reason;
    this.syncing = false;
    this.probation = false;
    this.atLineStart = lineStart;
  }

  private emit(req: ParsedRequest, ts: number): void {
    if (req.proto === 'binary') this.seenBinary = true;
    else this.seenText = true;
    if (this.detected === null) this.detected = req.proto;
    this.requests++;
    this.probation = false;
    this.ev.request(req, ts);
  }

  private emitText(buf: Buffer, s: number, ce: number, le: number, end: number, ts: number): void {
    const req = buildTextRequest(buf, s, ce, le, end, this.authPending);
    // a -Y server answers commands before the login with CLIENT_ERROR unauthenticated: the
    // credentials are in the first `set`, whatever came before it
    if (req.credentials) this.authPending = false;
    this.emit(req, ts);
  }

  /** A text request is in buf[s, end) with its line ending at ce/le; checks the data terminator. */
  private finishText(buf: Buffer, s: number, ce: number, le: number, end: number, ts: number): boolean {
    if (end > le && this.probation && (buf[end - 2] !== 13 || buf[end - 1] !== 10)) return false;
    this.emitText(buf, s, ce, le, end, ts);
    return true;
  }

  /** Parses at a request boundary in chunk[pos, n); returns the new position. */
  private parseAt(chunk: Buffer, pos: number, n: number, ts: number): number {
    if (chunk[pos] === 0x80) {
      if (n - pos < BIN_HEADER) {
        this.append(chunk, pos, n);
        this.accTs = ts;
        this.phase = Phase.BinHeader;
        return n;
      }
      // A stream's first packet may be the middle of something else: demand a known, well-formed one.
      const len = binaryRequestLength(chunk, pos, this.probation || this.requests === 0, this.maxValueLen);
      if (len < 0) {
        this.lose('garbage', false);
        return pos;
      }
      if (n - pos >= len) {
        this.emit(buildBinaryRequest(chunk, pos, pos + len), ts);
        return pos + len;
      }
      this.startBody(chunk, pos, n, len, true, 0, 0, ts);
      return n;
    }
    const nl = indexOfByte(chunk, 10, pos, n);
    if (nl < 0) {
      if (!lineMayContinue(chunk, pos, n)) {
        this.lose('garbage', false);
        return pos;
      }
      this.lineLimit = isGetWord(chunk, pos, n) ? this.maxGetLine : this.maxLine;
      if (n - pos > this.lineLimit) {
        this.lose('oversize', false);
        return pos;
      }
      this.append(chunk, pos, n);
      this.accTs = ts;
      this.phase = Phase.Line;
      return n;
    }
    const crlf = nl > pos && chunk[nl - 1] === 13;
    const ce = crlf ? nl - 1 : nl;
    const le = nl + 1;
    if (ce - pos > (isGetWord(chunk, pos, ce) ? this.maxGetLine : this.maxLine)) {
      this.lose('oversize', false);
      return pos;
    }
    const need = textLineNeed(chunk, pos, ce, crlf, this.probation, this.maxValueLen);
    if (need === LINE_GARBAGE) {
      this.lose('garbage', false);
      return pos;
    }
    if (need === LINE_NO_DATA) {
      this.emitText(chunk, pos, ce, le, le, ts);
      return le;
    }
    const end = le + need + 2;
    if (end <= n) {
      if (!this.finishText(chunk, pos, ce, le, end, ts)) {
        this.skipped += end - pos;
        this.lose('garbage', false);
      }
      return end;
    }
    this.startBody(chunk, pos, n, end - pos, false, ce - pos, le - pos, ts);
    return n;
  }

  private startBody(chunk: Buffer, s: number, e: number, len: number, bin: boolean, ce: number, le: number, ts: number): void {
    this.accLen = 0;
    this.append(chunk, s, e);
    this.accTs = ts;
    this.phase = Phase.Body;
    this.total = len;
    this.isBinary = bin;
    this.contentEnd = ce;
    this.lineEnd = le;
  }

  /** A complete request sits in this.acc[0, this.total). */
  private finishBody(): void {
    const ts = this.accTs;
    if (this.isBinary) {
      const req = buildBinaryRequest(this.acc, 0, this.total);
      this.phase = Phase.None;
      this.emit(req, ts);
    } else {
      this.phase = Phase.None;
      if (!this.finishText(this.acc, 0, this.contentEnd, this.lineEnd, this.total, ts)) {
        this.skipped += this.total;
        this.lose('garbage', false);
      }
    }
    this.resetAcc();
  }

  /** Continues a partial request with chunk[pos, n); returns the new position. */
  private continuePartial(chunk: Buffer, pos: number, n: number): number {
    switch (this.phase) {
      case Phase.Body: {
        const take = Math.min(this.total - this.accLen, n - pos);
        // append grows the buffer with the bytes that came, not to the length the header claims
        this.append(chunk, pos, pos + take);
        if (this.accLen === this.total) this.finishBody();
        return pos + take;
      }
      case Phase.BinHeader: {
        const take = Math.min(BIN_HEADER - this.accLen, n - pos);
        this.append(chunk, pos, pos + take);
        if (this.accLen < BIN_HEADER) return pos + take;
        const len = binaryRequestLength(this.acc, 0, this.probation || this.requests === 0, this.maxValueLen);
        if (len < 0) {
          // Not a request after all: rescan its bytes after the first one.
          const rest = Buffer.from(this.acc.subarray(1, this.accLen));
          const t = this.accTs;
          this.resetAcc();
          this.skipped += 1;
          this.lose('garbage', false);
          this.feed(rest, 0, rest.length, t);
          return pos + take;
        }
        this.phase = Phase.Body;
        this.total = len;
        this.isBinary = true;
        if (this.accLen === this.total) this.finishBody();
        return pos + take;
      }
      case Phase.Line: {
        const nl = indexOfByte(chunk, 10, pos, n);
        const stop = nl < 0 ? n : nl + 1;
        if (this.accLen + stop - pos > this.lineLimit + 2) {
          this.skipped += this.accLen;
          this.resetAcc();
          this.lose('oversize', false);
          return pos;
        }
        this.append(chunk, pos, stop);
        if (nl < 0) {
          if (this.accLen <= MAX_TEXT_WORD + 2 && !lineMayContinue(this.acc, 0, this.accLen)) {
            const rest = Buffer.from(this.acc.subarray(0, this.accLen));
            const t = this.accTs;
            this.resetAcc();
            this.lose('garbage', false);
            this.atLineStart = false;
            this.feed(rest, 0, rest.length, t);
          }
          return stop;
        }
        const le = this.accLen;
        const crlf = le >= 2 && this.acc[le - 2] === 13;
        const ce = crlf ? le - 2 : le - 1;
        const need = textLineNeed(this.acc, 0, ce, crlf, this.probation, this.maxValueLen);
        if (need === LINE_GARBAGE) {
          this.skipped += this.accLen;
          this.resetAcc();
          this.lose('garbage', true);
          return stop;
        }
        if (need === LINE_NO_DATA) {
          const t = this.accTs;
          this.phase = Phase.None;
          this.emitText(this.acc, 0, ce, le, le, t);
          this.resetAcc();
          return stop;
        }
        this.phase = Phase.Body;
        this.isBinary = false;
        this.total = le + need + 2;
        this.contentEnd = ce;
        this.lineEnd = le;
        return stop;
      }
      case Phase.CandText:
      case Phase.CandBin: {
        const want = this.phase === Phase.CandBin ? BIN_HEADER : MAX_TEXT_WORD + 1;
        const take = Math.min(want - this.accLen, n - pos);
        this.append(chunk, pos, pos + take);
        const verdict = this.phase === Phase.CandBin ? binCandidate(this.acc, 0, this.accLen) : textCandidate(this.acc, 0, this.accLen);
        if (verdict === C_MORE && pos + take === n) return n;
        // Decided (or as decided as it gets): replay the gathered bytes through the scanner.
        const bytes = Buffer.from(this.acc.subarray(0, this.accLen));
        const t = this.accTs;
        this.resetAcc();
        if (verdict === C_YES) {
          this.flushSkipped();
          this.syncing = true;
          this.probation = true;
          this.feed(bytes, 0, bytes.length, t);
        } else {
          this.skipped += 1;
          this.atLineStart = false;
          this.feed(bytes, 1, bytes.length, t);
        }
        return pos + take;
      }
    }
    return pos;
  }

  /** Scans chunk[pos, n) for the next plausible request start while out of sync. */
  private scan(chunk: Buffer, pos: number, n: number, ts: number): number {
    const allowText = this.seenText || !this.seenBinary;
    const allowBin = this.seenBinary || !this.seenText;
    let nlAt = -2; // cached index of the next '\n' at/after pos (-1: none in this chunk)
    let b80At = -2; // cached index of the next 0x80 after pos
    while (pos < n) {
      if (this.atLineStart && allowText) {
        const v = textCandidate(chunk, pos, n);
        if (v === C_YES) return this.resume(pos);
        if (v === C_MORE) return this.partialCandidate(chunk, pos, n, ts, Phase.CandText);
      }
      if (allowBin && chunk[pos] === 0x80) {
        const v = binCandidate(chunk, pos, n);
        if (v === C_YES) return this.resume(pos);
        if (v === C_MORE) return this.partialCandidate(chunk, pos, n, ts, Phase.CandBin);
      }
      if (allowText && nlAt !== -1 && nlAt < pos) nlAt = indexOfByte(chunk, 10, pos, n);
      if (allowBin && b80At !== -1 && b80At <= pos) b80At = indexOfByte(chunk, 0x80, pos + 1, n);
      const a = allowText && nlAt >= 0 ? nlAt + 1 : n + 1;
      const b = allowBin && b80At >= 0 ? b80At : n + 1;
      const next = a < b ? a : b;
      if (next > n) {
        this.skipped += n - pos;
        this.atLineStart = false;
        return n;
      }
      this.skipped += next - pos;
      this.atLineStart = next === a;
      pos = next;
    }
    return pos;
  }

  private resume(pos: number): number {
    this.flushSkipped();
    this.syncing = true;
    this.probation = true;
    return pos;
  }

  private partialCandidate(chunk: Buffer, pos: number, n: number, ts: number, ph: Phase): number {
    this.accLen = 0;
    this.append(chunk, pos, n);
    this.accTs = ts;
    this.phase = ph;
    return n;
  }

  /** Feeds chunk[pos, n) through the state machine (also used to rescan bytes a failed candidate held). */
  private feed(chunk: Buffer, pos: number, n: number, ts: number): void {
    while (pos < n) {
      if (this.phase !== Phase.None) pos = this.continuePartial(chunk, pos, n);
      else if (this.syncing) pos = this.parseAt(chunk, pos, n, ts);
      else pos = this.scan(chunk, pos, n, ts);
    }
  }
}

/** Creates a parser for one client→server stream; requests are delivered through `ev.request`. */
export function createRequestParser(ev: RequestParserEvents, opts: RequestParserOptions = {}): RequestParser {
  return new RequestStreamParser(ev, opts);
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
