// Pairs the server→client bytes of one connection with the requests sent on it, in order. Knows
// every response shape: VALUE…END, STAT…END, single lines, errors, meta codes with quiet (q)
// requests answered by silence, binary packets with quiet opcodes and multi-packet stats.
//
// structure: kept whole (~840 lines). One incremental state machine over Buffers: its text-line,
// meta, binary-packet and resync steps all read and write the same per-connection state (the
// response being assembled, the byte-level state, the binary packet in progress) and call each
// other mid-response (a binary header found while scanning completes a text request's silence, a
// skipped value block ends in a binary finish). Split across classes or objects, every step would
// reach that state through a hop or an inheritance chain on the per-byte path that ingest and replay
// both run. What could stand alone is apart: the pending-request ring (pending-ring.ts) and the
// vocabulary (matcher-codes.ts: kinds, flags, states, bytes, the binary header; meta command kinds
// and opcodes come from the command table, commands.ts).
import { BINARY_BY_OPCODE, BINARY_STATUS, K_MA, K_MD, K_MG, K_MN, K_MS, binarySpecByName, binaryStatusError, binaryStatusName } from './commands.js';
import { MAX_KEY } from './request-build.js';
import { PendingRing } from './pending-ring.js';
import { After, Bin, Cand, Ch, Flag, Kind, Multi, OP_NOOP, St, errorClassOf, keyEquals, metaKind, opcodeOfUnknown, sameBytes, textCand } from './matcher-codes.js';
import { TOK_E, TOK_S, indexOfByte, parseU64, parseUint, tokenize } from './bytes.js';
import {
  MAX_RESPONSE_WORD,
  WORD_NAME,
  W_END,
  W_EN,
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
  W_STAT,
  W_VA,
  W_VALUE,
  isErrorWord,
  isMetaWord,
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

const MAX_LINE = 64 * 1024;
/**
 * Memory bound for requests answered by silence: a text noreply request can only ever get an error
 * line, so after this many later requests it is settled; quiet meta/binary requests (whose hits do
 * come back) get a far larger window before they are taken as silent.
 */
const NOREPLY_WINDOW = 1024;
const QUIET_WINDOW = 65536;
const DEFAULT_MAX_VALUE = 1024 * 1024 * 1024;

/**
 * The matcher's state machine. A class rather than a closure: its state is real (one per
 * connection), and its steps are methods small enough to read one by one.
 */
class ResponseStreamMatcher<T> implements ResponseMatcher<T> {
  private readonly wantCas: boolean;
  private readonly maxValueLen: number;

  /** Pending requests in send order (pending-ring.ts). */
  private readonly q = new PendingRing<MatchInfo, T>();

  // Response being assembled for the head request.
  private multi: Multi = Multi.None;
  private curHits = 0;
  private curMisses = 0;
  private curValueBytes = 0;
  private curBytes = 0;
  private curCas: Map<string, bigint> | undefined;

  // Byte-level state.
  private state: St = St.Idle;
  private lost = false; // scanning for the next response boundary
  private atLineStart = true;
  private seenText = false;
  private seenBinary = false;
  private acc = Buffer.allocUnsafe(256);
  private accLen = 0;
  private skipLeft = 0;
  private skipThen: After = After.Nothing;
  private skipUnexpected = false;
  private unexpectedBytes = 0;
  private lastTs = 0;
  private vaStatus = 'VA';

  // Binary packet in progress.
  private bOp = 0;
  private bKeyLen = 0;
  private bExtLen = 0;
  private bStatus = 0;
  private bBody = 0;
  private bOpaque = 0;
  private bCas = 0n;
  private bMatched = false;
  private bComplete = false;

  constructor(
    private readonly ev: ResponseMatcherEvents<T>,
    opts: ParserOptions,
  ) {
    this.wantCas = opts.wantCas ?? false;
    this.maxValueLen = opts.maxValueLen ?? DEFAULT_MAX_VALUE;
  }

  expect(req: MatchInfo, tag: T): void {
    let kind: number;
    let sub = 0;
    let flags = 0;
    if (req.proto === 'binary') {
      kind = Kind.Bin;
      const spec = binarySpecByName(req.cmd);
      sub = spec ? spec.opcode : opcodeOfUnknown(req.cmd);
      if (req.quiet || req.expect === 'none') flags |= Flag.Silent;
      if (spec?.retrieves) flags |= Flag.Retrieves;
      if (spec?.echoesKey) flags |= Flag.EchoKey;
      if (req.expect === 'stats') flags |= Flag.BinStats;
    } else if (req.proto === 'meta') {
      kind = Kind.Meta;
      sub = metaKind(req.cmd);
      if (req.quiet) flags |= Flag.Silent;
      if (sub === K_MG) flags |= Flag.Retrieves;
    } else {
      switch (req.expect) {
        case 'values':
          kind = Kind.Values;
          flags |= Flag.Retrieves;
          break;
        case 'stats':
          kind = Kind.Stats;
          break;
        case 'none':
          kind = Kind.None;
          flags |= Flag.Silent;
          break;
        default:
          kind = Kind.Line;
      }
      if (req.quiet) flags |= Flag.Silent;
    }
    this.q.push(req, tag, kind, sub, flags);
    if (this.q.count > NOREPLY_WINDOW && this.multi === Multi.None && this.state === St.Idle) this.settleOldSilent();
  }

  push(chunk: Buffer, tsNs: number): void {
    this.lastTs = tsNs;
    if (chunk.length > 0) this.feed(chunk, 0, chunk.length, tsNs);
    this.flushUnexpected();
  }

  pushRange(buf: Buffer, start: number, end: number, tsNs: number): void {
    this.lastTs = tsNs;
    if (end > start) this.feed(buf, start, end, tsNs);
    this.flushUnexpected();
  }

  desync(): void {
    this.state = St.Idle;
    this.dropAcc();
    this.unanswerAll('desync');
    this.lost = true;
    this.atLineStart = true;
    this.flushUnexpected();
  }

  get pending(): number {
    return this.q.count;
  }

  close(): void {
    this.flushUnexpected();
    // Only whole responses count: a half-received one is no answer.
    this.resetCur();
    this.state = St.Idle;
    this.dropAcc();
    while (this.q.count > 0) {
      if ((this.q.flags[this.q.head] & Flag.Silent) !== 0) this.completeNone(this.lastTs);
      else {
        const tag = this.q.tag[this.q.head] as T;
        this.q.pop();
        this.ev.unanswered(tag, 'closed');
      }
    }
  }

  private resetCur(): void {
    this.multi = Multi.None;
    this.curHits = 0;
    this.curMisses = 0;
    this.curValueBytes = 0;
    this.curBytes = 0;
    this.curCas = undefined;
  }

  private flushUnexpected(): void {
    if (this.unexpectedBytes > 0) {
      const n = this.unexpectedBytes;
      this.unexpectedBytes = 0;
      this.ev.unexpected(n);
    }
  }

  /** Completes the head request with the response assembled so far. */
  private complete(status: string, error: ResponseErrorClass, ts: number): void {
    const tag = this.q.tag[this.q.head] as T;
    const resp: ParsedResponse = {
      status,
      error,
      hits: this.curHits,
      misses: this.curMisses,
      valueBytes: this.curValueBytes,
      bytes: this.curBytes,
      casByKey: this.curCas,
    };
    this.q.pop();
    this.resetCur();
    this.ev.response(tag, resp, ts);
  }

  /** The head request was answered by silence (quiet/noreply): a quiet retrieval is a miss. */
  private completeNone(ts: number): void {
    const tag = this.q.tag[this.q.head] as T;
    const retrieves = (this.q.flags[this.q.head] & Flag.Retrieves) !== 0;
    this.q.pop();
    const resp: ParsedResponse = { status: 'none', error: null, hits: 0, misses: retrieves ? 1 : 0, valueBytes: 0, bytes: 0, casByKey: undefined };
    this.ev.response(tag, resp, ts);
  }

  /** Keeps long runs of silent requests from piling up when nothing later is ever answered. */
  private settleOldSilent(): void {
    while (this.q.count > NOREPLY_WINDOW && (this.q.flags[this.q.head] & Flag.Silent) !== 0 && (this.q.kind[this.q.head] === Kind.None || this.q.count > QUIET_WINDOW)) this.completeNone(this.lastTs);
  }

  private unanswerAll(reason: 'closed' | 'desync'): void {
    this.resetCur();
    while (this.q.count > 0) {
      const tag = this.q.tag[this.q.head] as T;
      this.q.pop();
      this.ev.unanswered(tag, reason);
    }
  }

  private keyString(i: number): string | undefined {
    const k = this.q.info[i]?.keys[0];
    if (k === undefined) return undefined;
    return typeof k === 'string' ? k : k.toString('latin1');
  }

  private addCas(key: string | undefined, cas: bigint): void {
    if (key === undefined) return;
    (this.curCas ??= new Map()).set(key, cas);
  }

  // ---- text lines -------------------------------------------------------------------------------

  private onLine(buf: Buffer, s: number, ce: number, total: number, ts: number): void {
    let we = s;
    while (we < ce && buf[we] !== Ch.Space) we++;
    const code = we > s ? responseWord(buf, s, we) : W_OTHER;
    this.seenText = true;
    if (this.multi === Multi.Values) {
      this.curBytes += total;
      if (code === W_VALUE) return this.valueLine(buf, s, ce);
      if (code === W_END) {
        const want = this.q.info[this.q.head]!.keys.length;
        this.curMisses = want > this.curHits ? want - this.curHits : 0;
        return this.complete(this.curHits > 0 ? 'VALUE' : 'END', null, ts);
      }
      if (isErrorWord(code)) return this.complete(WORD_NAME[code], errorClassOf(code), ts);
      this.unexpectedBytes += total;
      return this.garbage();
    }
    if (this.multi === Multi.Stats) {
      this.curBytes += total;
      if (code === W_END) return this.complete('END', null, ts);
      if (isErrorWord(code)) return this.complete(WORD_NAME[code], errorClassOf(code), ts);
      return;
    }
    if (code === W_MN) this.syncToMn(ts);
    for (;;) {
      if (this.q.count === 0) return this.unexpectedLine(buf, s, ce, total, code);
      const kind = this.q.kind[this.q.head];
      const silent = (this.q.flags[this.q.head] & Flag.Silent) !== 0;
      if (kind === Kind.Bin) {
        if (silent) {
          this.completeNone(ts);
          continue;
        }
        return this.unexpectedLine(buf, s, ce, total, code);
      }
      if (silent && !this.quietMayAnswer(code, buf, s, ce)) {
        this.completeNone(ts);
        continue;
      }
      break;
    }
    this.curBytes = total;
    if (isErrorWord(code)) return this.complete(WORD_NAME[code], errorClassOf(code), ts);
    const kind = this.q.kind[this.q.head];
    // A line no memcached would send to this request means we lost our place in the stream.
    const c0 = buf[s];
    if (
      (ce > s && (c0 < Ch.Space || c0 > Ch.Tilde)) ||
      (kind === Kind.Values && code !== W_VALUE && code !== W_END) ||
      (kind === Kind.Meta && !isMetaWord(code) && code !== W_OK)
    ) {
      this.curBytes = 0;
      this.unexpectedBytes += total;
      return this.garbage();
    }
    if (kind === Kind.Values) {
      if (code === W_VALUE) {
        this.multi = Multi.Values;
        return this.valueLine(buf, s, ce);
      }
      if (code === W_END) {
        this.curMisses = this.q.info[this.q.head]!.keys.length;
        return this.complete('END', null, ts);
      }
      return this.complete(this.statusOf(code, buf, s, we), null, ts);
    }
    if (kind === Kind.Stats) {
      if (code === W_END) return this.complete('END', null, ts);
      const c = buf[s];
      if (code === W_STAT || code === W_ITEM || code === W_PREFIX || we === s || !(c >= Ch.A && c <= Ch.Z)) {
        this.multi = Multi.Stats;
        return;
      }
      return this.complete(this.statusOf(code, buf, s, we), null, ts);
    }
    if (kind === Kind.Meta) return this.metaLine(code, buf, s, ce, we, ts);
    this.complete(this.statusOf(code, buf, s, we), null, ts);
  }

  private statusOf(code: number, buf: Buffer, s: number, we: number): string {
    return code === W_OTHER || code === W_NUMBER ? buf.toString('latin1', s, we) : WORD_NAME[code];
  }

  /** "VALUE <key> <flags> <bytes> [<cas>]": count the hit and skip its data block. */
  private valueLine(buf: Buffer, s: number, ce: number): void {
    const n = tokenize(buf, s, ce);
    const size = n > 3 ? parseUint(buf, TOK_S[3], TOK_E[3]) : -1;
    if (size < 0) return this.garbage();
    this.curHits++;
    this.curValueBytes += size;
    if (this.wantCas && n > 4) {
      const cas = parseU64(buf, TOK_S[4], TOK_E[4]);
      if (cas >= 0n) this.addCas(buf.toString('latin1', TOK_S[1], TOK_E[1]), cas);
    }
    this.startSkip(size + 2, After.Value, false);
  }

  private metaLine(code: number, buf: Buffer, s: number, ce: number, we: number, ts: number): void {
    const sub = this.q.sub[this.q.head];
    const n = tokenize(buf, s, ce);
    let firstFlag = 1;
    let size = -1;
    if (code === W_VA) {
      size = n > 1 ? parseUint(buf, TOK_S[1], TOK_E[1]) : -1;
      if (size < 0) return this.garbage();
      firstFlag = 2;
    }
    if (sub === K_MG) {
      if (code === W_VA || code === W_HD || code === W_OK) {
        // W without X: the key was missing and N (vivify) just created it empty, so a miss;
        // W with X is a stale value handed out for recache, which the client did get
        if (this.hasLoneFlag(buf, firstFlag, n, Ch.W) && !this.hasLoneFlag(buf, firstFlag, n, Ch.X)) this.curMisses = 1;
        else this.curHits = 1;
        if (size > 0) this.curValueBytes = size;
      } else if (code === W_EN) this.curMisses = 1;
    } else if (size > 0) this.curValueBytes = size;
    if (this.wantCas) {
      for (let i = firstFlag; i < n; i++) {
        if (buf[TOK_S[i]] === Ch.c) {
          const cas = parseU64(buf, TOK_S[i] + 1, TOK_E[i]);
          if (cas >= 0n) this.addCas(this.keyString(this.q.head), cas);
        }
      }
    }
    const status = this.statusOf(code, buf, s, we);
    if (code === W_VA) {
      this.vaStatus = status;
      return this.startSkip(size + 2, After.Va, false);
    }
    this.complete(status, null, ts);
  }

  /** True when one of the line's flag tokens is exactly the single letter `flag`. */
  private hasLoneFlag(buf: Buffer, first: number, n: number, flag: number): boolean {
    for (let i = first; i < n; i++) if (TOK_E[i] - TOK_S[i] === 1 && buf[TOK_S[i]] === flag) return true;
    return false;
  }

  /** Can this line be the answer to the quiet request at the head, or did that one stay silent? */
  private quietMayAnswer(code: number, buf: Buffer, s: number, ce: number): boolean {
    if (isErrorWord(code)) return true; // errors are always sent and answer the oldest request
    if (this.q.kind[this.q.head] !== Kind.Meta) return false;
    if (!isMetaWord(code) && code !== W_OK) return false;
    switch (this.q.sub[this.q.head]) {
      case K_MG:
        if (code !== W_VA && code !== W_HD && code !== W_OK) return false;
        break;
      case K_MS:
        if (code !== W_NS && code !== W_EX && code !== W_NF) return false;
        break;
      case K_MD:
        if (code !== W_NF && code !== W_EX) return false;
        break;
      case K_MA:
        if (code !== W_NF && code !== W_NS && code !== W_EX) return false;
        break;
      default:
        if (code === W_MN) return false;
    }
    return this.metaTokensFit(code, buf, s, ce);
  }

  /** Opaque (O) and key (k) tokens of the line agree with the head request's flags. */
  private metaTokensFit(code: number, buf: Buffer, s: number, ce: number): boolean {
    const info = this.q.info[this.q.head]!;
    let reqO: string | undefined;
    let reqB64 = false;
    for (const f of info.metaFlags) {
      const c = f.charCodeAt(0);
      if (c === Ch.O) reqO = f;
      else if (c === Ch.b) reqB64 = true;
    }
    const n = tokenize(buf, s, ce);
    let lineHasO = false;
    for (let i = code === W_VA ? 2 : 1; i < n; i++) {
      const ts = TOK_S[i];
      const te = TOK_E[i];
      const c = buf[ts];
      if (c === Ch.O) {
        lineHasO = true;
        if (reqO === undefined || !sameBytes(buf, ts, te, reqO)) return false;
      } else if (c === Ch.k && te - ts > 1) {
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
  private syncToMn(ts: number): void {
    let i = this.q.indexOf(Kind.Meta, K_MN);
    if (i === this.q.count) return;
    while (i-- > 0) this.settleBefore(ts);
  }

  /** Settles the head before a sync point: quiet ones were silent, others lost their answer. */
  private settleBefore(ts: number): void {
    if ((this.q.flags[this.q.head] & Flag.Silent) !== 0) this.completeNone(ts);
    else {
      const tag = this.q.tag[this.q.head] as T;
      this.q.pop();
      this.resetCur();
      this.ev.unanswered(tag, 'desync');
    }
  }

  private unexpectedLine(buf: Buffer, s: number, ce: number, total: number, code: number): void {
    this.unexpectedBytes += total;
    if (code === W_VALUE || code === W_VA) {
      const n = tokenize(buf, s, ce);
      const ti = code === W_VALUE ? 3 : 1;
      const size = n > ti ? parseUint(buf, TOK_S[ti], TOK_E[ti]) : -1;
      if (size >= 0) this.startSkip(size + 2, After.Nothing, true);
    }
  }

  private startSkip(n: number, then: After, unexpected: boolean): void {
    this.skipLeft = n;
    this.skipThen = then;
    this.skipUnexpected = unexpected;
    this.state = St.Skip;
  }

  private afterSkip(ts: number): void {
    this.state = St.Idle;
    switch (this.skipThen) {
      case After.Va:
        this.complete(this.vaStatus, null, ts);
        break;
      case After.Bin:
        this.binFinish(ts);
        break;
    }
  }

  // ---- binary packets ---------------------------------------------------------------------------

  /** Reads the response header at buf[s, s+24); false when it is not a plausible response. */
  private binHeader(buf: Buffer, s: number, strict: boolean): boolean {
    if (buf[s] !== Bin.ResponseMagic) return false;
    this.bOp = buf[s + Bin.OffOpcode];
    this.bKeyLen = buf.readUInt16BE(s + Bin.OffKeyLen);
    this.bExtLen = buf[s + Bin.OffExtLen];
    this.bStatus = buf.readUInt16BE(s + Bin.OffStatus);
    this.bBody = buf.readUInt32BE(s + Bin.OffBodyLen);
    this.bOpaque = buf.readUInt32BE(s + Bin.OffOpaque);
    const hi = buf.readUInt32BE(s + Bin.OffCasHi);
    const lo = buf.readUInt32BE(s + Bin.OffCasLo);
    this.bCas = hi === 0 && lo === 0 ? 0n : (BigInt(hi) << 32n) | BigInt(lo);
    if (this.bKeyLen + this.bExtLen > this.bBody || this.bBody - this.bKeyLen - this.bExtLen > this.maxValueLen) return false;
    if (strict) {
      if (BINARY_BY_OPCODE[this.bOp] === undefined || buf[s + Bin.OffDataType] !== 0 || BINARY_STATUS[this.bStatus] === undefined) return false;
      if (this.bKeyLen > MAX_KEY || (this.bExtLen !== 0 && this.bExtLen !== 4 && this.bExtLen !== 8)) return false;
    }
    return true;
  }

  /** Header and extras+key known: find the request this packet answers. */
  private binDecide(kb: Buffer, ks: number, ts: number): void {
    this.seenBinary = true;
    const ek = this.bExtLen + this.bKeyLen;
    this.bMatched = false;
    if (this.multi === Multi.BinStats) {
      this.bMatched = true;
    } else {
      if (this.bOp === OP_NOOP) this.syncToNoop(ts);
      for (;;) {
        if (this.q.count === 0) break;
        const flags = this.q.flags[this.q.head];
        if (this.q.kind[this.q.head] !== Kind.Bin) {
          if ((flags & Flag.Silent) !== 0) {
            this.completeNone(ts);
            continue;
          }
          break;
        }
        if ((flags & Flag.Silent) !== 0) {
          const info = this.q.info[this.q.head]!;
          const fits =
            this.bOp === this.q.sub[this.q.head] &&
            (info.opaque < 0 || this.bOpaque === info.opaque >>> 0) &&
            ((flags & Flag.EchoKey) === 0 || this.bKeyLen === 0 || keyEquals(info.keys[0], kb, ks + this.bExtLen, ks + ek));
          if (!fits) {
            this.completeNone(ts);
            continue;
          }
        }
        this.bMatched = true;
        break;
      }
    }
    if (!this.bMatched) {
      this.unexpectedBytes += Bin.HeaderLen + ek;
      this.startSkip(this.bBody - ek, After.Nothing, true);
      return;
    }
    this.curBytes += Bin.HeaderLen + ek;
    const flags = this.q.flags[this.q.head];
    this.bComplete = true;
    if ((flags & Flag.BinStats) !== 0) {
      if (this.bKeyLen > 0 && this.bStatus === Bin.StatusOk) {
        this.multi = Multi.BinStats;
        this.bComplete = false;
      }
    } else if ((flags & Flag.Retrieves) !== 0) {
      if (this.bStatus === Bin.StatusOk) {
        this.curHits++;
        this.curValueBytes += this.bBody - ek;
        if (this.wantCas) this.addCas(this.keyString(this.q.head), this.bCas);
      } else if (this.bStatus === Bin.StatusKeyNotFound) this.curMisses++;
    } else if (this.wantCas && this.bStatus === Bin.StatusOk && this.bCas !== 0n) {
      this.addCas(this.keyString(this.q.head), this.bCas);
    }
    this.startSkip(this.bBody - ek, After.Bin, false);
  }

  private binFinish(ts: number): void {
    if (this.bMatched && this.bComplete) this.complete(binaryStatusName(this.bStatus), binaryStatusError(this.bStatus), ts);
  }

  /** A noop response answers the first pending noop: everything before it is settled now. */
  private syncToNoop(ts: number): void {
    let i = this.q.indexOf(Kind.Bin, OP_NOOP);
    if (i === this.q.count) return;
    while (i-- > 0) this.settleBefore(ts);
  }

  // ---- losing and finding our place -------------------------------------------------------------

  private garbage(): void {
    // The stream does not parse: drop the pending requests and look for the next response.
    this.state = St.Idle;
    this.accLen = 0;
    this.unanswerAll('desync');
    this.lost = true;
    this.atLineStart = false;
  }

  private scan(chunk: Buffer, pos: number, n: number): number {
    const allowText = this.seenText || !this.seenBinary;
    const allowBin = this.seenBinary || !this.seenText;
    let nlAt = -2;
    let b81At = -2;
    while (pos < n) {
      if (this.atLineStart && allowText) {
        const v = textCand(chunk, pos, n);
        if (v === Cand.Yes) {
          this.lost = false;
          return pos;
        }
        if (v === Cand.More) return this.holdCandidate(chunk, pos, n, St.CandText);
      }
      if (allowBin && chunk[pos] === Bin.ResponseMagic) {
        const v = n - pos < Bin.HeaderLen ? Cand.More : this.binHeader(chunk, pos, true) ? Cand.Yes : Cand.No;
        if (v === Cand.Yes) {
          this.lost = false;
          return pos;
        }
        if (v === Cand.More) return this.holdCandidate(chunk, pos, n, St.CandBin);
      }
      if (allowText && nlAt !== -1 && nlAt < pos) nlAt = indexOfByte(chunk, Ch.LF, pos, n);
      if (allowBin && b81At !== -1 && b81At <= pos) b81At = indexOfByte(chunk, Bin.ResponseMagic, pos + 1, n);
      const a = allowText && nlAt >= 0 ? nlAt + 1 : n + 1;
      const b = allowBin && b81At >= 0 ? b81At : n + 1;
      const next = a < b ? a : b;
      if (next > n) {
        this.unexpectedBytes += n - pos;
        this.atLineStart = false;
        return n;
      }
      this.unexpectedBytes += next - pos;
      this.atLineStart = next === a;
      pos = next;
    }
    return pos;
  }

  private holdCandidate(chunk: Buffer, pos: number, n: number, st: St): number {
    this.accLen = 0;
    this.append(chunk, pos, n);
    this.state = st;
    return n;
  }

  private append(src: Buffer, s: number, e: number): void {
    const need = this.accLen + e - s;
    if (this.acc.length < need) {
      let c = this.acc.length * 2;
      while (c < need) c *= 2;
      const nb = Buffer.allocUnsafe(c);
      this.acc.copy(nb, 0, 0, this.accLen);
      this.acc = nb;
    }
    src.copy(this.acc, this.accLen, s, e);
    this.accLen = need;
  }

  private dropAcc(): void {
    this.accLen = 0;
    if (this.acc.length > MAX_LINE) this.acc = Buffer.allocUnsafe(256);
  }

  // ---- the byte loop ----------------------------------------------------------------------------

  private feed(chunk: Buffer, pos: number, n: number, ts: number): void {
    while (pos < n) {
      switch (this.state) {
        case St.Idle: {
          if (this.lost) {
            pos = this.scan(chunk, pos, n);
            break;
          }
          if (chunk[pos] === Bin.ResponseMagic) {
            if (n - pos < Bin.HeaderLen) {
              this.accLen = 0;
              this.append(chunk, pos, n);
              this.state = St.BinHeader;
              pos = n;
              break;
            }
            if (!this.binHeader(chunk, pos, false)) {
              this.garbage();
              break;
            }
            pos += Bin.HeaderLen;
            pos = this.binAfterHeader(chunk, pos, n, ts);
            break;
          }
          const nl = indexOfByte(chunk, Ch.LF, pos, n);
          if (nl < 0) {
            if (n - pos > MAX_LINE) {
              this.garbage();
              break;
            }
            this.accLen = 0;
            this.append(chunk, pos, n);
            this.state = St.Line;
            pos = n;
            break;
          }
          const ce = nl > pos && chunk[nl - 1] === Ch.CR ? nl - 1 : nl;
          const total = nl + 1 - pos;
          const s = pos;
          pos = nl + 1;
          this.onLine(chunk, s, ce, total, ts);
          break;
        }
        case St.Line: {
          const nl = indexOfByte(chunk, Ch.LF, pos, n);
          const stop = nl < 0 ? n : nl + 1;
          if (this.accLen + stop - pos > MAX_LINE) {
            this.unexpectedBytes += this.accLen;
            this.dropAcc();
            this.state = St.Idle;
            this.garbage();
            break;
          }
          this.append(chunk, pos, stop);
          pos = stop;
          if (nl < 0) break;
          this.state = St.Idle;
          const le = this.accLen;
          const ce = le >= 2 && this.acc[le - 2] === Ch.CR ? le - 2 : le - 1;
          this.onLine(this.acc, 0, ce, le, ts);
          this.dropAcc();
          break;
        }
        case St.Skip: {
          const take = this.skipLeft < n - pos ? this.skipLeft : n - pos;
          this.skipLeft -= take;
          if (this.skipUnexpected) this.unexpectedBytes += take;
          else this.curBytes += take;
          pos += take;
          if (this.skipLeft === 0) this.afterSkip(ts);
          break;
        }
        case St.BinHeader: {
          const take = Math.min(Bin.HeaderLen - this.accLen, n - pos);
          this.append(chunk, pos, pos + take);
          pos += take;
          if (this.accLen < Bin.HeaderLen) break;
          this.state = St.Idle;
          if (!this.binHeader(this.acc, 0, false)) {
            this.unexpectedBytes += this.accLen;
            this.dropAcc();
            this.garbage();
            break;
          }
          this.accLen = 0;
          pos = this.binAfterHeader(chunk, pos, n, ts);
          break;
        }
        case St.BinExtKey: {
          const ek = this.bExtLen + this.bKeyLen;
          const take = Math.min(ek - this.accLen, n - pos);
          this.append(chunk, pos, pos + take);
          pos += take;
          if (this.accLen < ek) break;
          this.state = St.Idle;
          this.binDecide(this.acc, 0, ts);
          this.accLen = 0;
          if ((this.state as St) === St.Skip && this.skipLeft === 0) this.afterSkip(ts);
          break;
        }
        case St.CandText:
        case St.CandBin: {
          const want = this.state === St.CandBin ? Bin.HeaderLen : MAX_RESPONSE_WORD + 1;
          const take = Math.min(want - this.accLen, n - pos);
          this.append(chunk, pos, pos + take);
          pos += take;
          const v = this.state === St.CandBin ? (this.accLen < Bin.HeaderLen ? Cand.More : this.binHeader(this.acc, 0, true) ? Cand.Yes : Cand.No) : textCand(this.acc, 0, this.accLen);
          if (v === Cand.More && pos === n) break;
          const bytes = Buffer.from(this.acc.subarray(0, this.accLen));
          this.dropAcc();
          this.state = St.Idle;
          if (v === Cand.Yes) {
            this.lost = false;
            this.feed(bytes, 0, bytes.length, ts);
          } else {
            this.unexpectedBytes += 1;
            this.atLineStart = false;
            this.feed(bytes, 1, bytes.length, ts);
          }
          break;
        }
      }
    }
  }

  /** After a complete header at chunk[pos-24]: gather extras+key from chunk[pos, n), decide, skip the value. */
  private binAfterHeader(chunk: Buffer, pos: number, n: number, ts: number): number {
    const ek = this.bExtLen + this.bKeyLen;
    if (ek === 0 || n - pos >= ek) {
      this.binDecide(chunk, pos, ts);
      pos += ek;
      if (this.state === St.Skip && this.skipLeft === 0) this.afterSkip(ts);
      return pos;
    }
    this.accLen = 0;
    this.append(chunk, pos, n);
    this.state = St.BinExtKey;
    return n;
  }
}

/** Creates a matcher for one connection's server→client stream. */
export function createResponseMatcher<T>(ev: ResponseMatcherEvents<T>, opts: ParserOptions = {}): ResponseMatcher<T> {
  return new ResponseStreamMatcher<T>(ev, opts);
}
