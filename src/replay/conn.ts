// One replayed connection inside a worker: a socket to a target, the response matcher that pairs the
// target's bytes with the requests in send order, and the bookkeeping of every request's fate
// (answered, error by class, abandoned at stop). Reconnects with backoff when the target goes away.
//
// structure: kept whole (~800 lines). The request queues (waitq, batch refs,
// the written-request ring) and the socket life cycle (connect, backoff, down, teardown) share the
// per-request hot path write -> pending -> matcher -> resolve, and both sides read the same fields
// (closing, abandoning, outstanding). Splitting them into two objects puts a property hop and a
// call between them on every request; the seam, if it is ever cut, is the queue methods
// (headWait, unpackAll, flushWait, enqueue*, pumpMax) against connectNow/up/down/teardown.
import { connect, type Socket } from 'node:net';
import { createResponseMatcher, encodeRequest } from '../protocol/index.js';
import type { ResponseMatcher, ResponseMatcherEvents } from '../protocol/index.js';
import type { ParsedResponse } from '../protocol/types.js';
import type { CommandSlot, IntervalRecorder } from '../metrics/recorder.js';
import type { ErrorClass } from '../metrics/results-types.js';
import type { ReqItem, TargetAddr, WorkerTotals } from './messages.js';
import { decodeReq, reqCmd, type BatchView } from './batch.js';
import { authRequest, type AuthState } from '../protocol/auth.js';
import type { CasTable } from './cas-table.js';
import { Ev, trace, tracing } from './trace.js';
import { recordAnswer, type AnswerCtx } from './answer.js';
import { writeProgress, writeStalled } from './stall.js';

/** What a connection needs of its worker. */
export interface ConnCtx extends AnswerCtx {
  rec: IntervalRecorder;
  /** Run-clock now; also closes finished intervals before anything is recorded after them. */
  now(): number;
  timeoutNs: number;
  maxMode: boolean;
  /** Latest CAS unique the target handed out, by target index and key; shared by all workers. */
  cas: CasTable;
  totals: WorkerTotals;
  auth: { user: string; password: string } | null;
  /** The connection is finished (closed on schedule, nothing outstanding). */
  finished(c: ReplayConn): void;
  /** The connection has bytes queued: call its flush() once the current dispatch batch is over. */
  dirty(c: ReplayConn): void;
  /**
   * One receive buffer for every socket of the worker (net's `onread`): answers are parsed
   * synchronously and the matcher copies what it keeps, so no chunk outlives its callback.
   */
  readBuf: Buffer;
  /** True while a socket's read callback runs: writes it causes are flushed at its end, not on a tick. */
  reading: boolean;
  /** Writes every dirty connection's queued bytes now. */
  flushDirty(): void;
  /** An answer is about to be parsed: send what is due first (its arrival time is already taken). */
  sendDue(): void;
  /** Written requests of all connections whose answer is still due (the worker stays awake for them). */
  inflight: number;
  /** Run-clock time of the latest write. */
  lastWriteNs: number;
  /** Max mode: requests handed to connections and not yet written, failed or counted unsent. */
  queued: number;
  /** Max mode: `queued` fell to 0. */
  drained(): void;
}

interface Pending {
  cmd: string;
  slot: CommandSlot;
  intended: number;
  written: number;
  /** May be answered by silence (noreply, quiet binary/meta): never waited for, never times out. */
  silent: boolean;
  done: boolean;
}

const BACKOFF_MIN_NS = 50e6;
const BACKOFF_MAX_NS = 1e9;
/**
 * What memcached writes, then closes, when it is at its connection limit (-c): a refusal of the
 * connection, not an answer to the first request (which never reached the cache).
 */
const TOO_MANY_CONNS = Buffer.from('ERROR Too many open connections', 'latin1');

type State = 'idle' | 'connecting' | 'open' | 'down' | 'done';

// Per-connection cost (a capture of many short connections opens thousands): the socket's
// handlers are shared functions that find their connection on the socket (Node calls them with
// the socket as `this`), and the connection is its own matcher's listener, so a connection costs
// no closures. A socket whose connection has moved on to another one is ignored (conn.sock !== s).
const CONN: unique symbol = Symbol('mcreplay.conn');
type ConnSocket = Socket & { [CONN]: ReplayConn };
const MATCHER_OPTS = { wantCas: true };
const ignore = (): void => {};

function onSockRead(this: ConnSocket, n: number, buf: Uint8Array): boolean {
  return this[CONN].onRead(this, n, buf as Buffer);
}
function onSockConnect(this: ConnSocket): void {
  this[CONN].onConnect(this);
}
function onSockError(this: ConnSocket, err: NodeJS.ErrnoException): void {
  this[CONN].onError(this, err);
}
function onSockClose(this: ConnSocket): void {
  this[CONN].onClose(this);
}

/** A replayed connection. Requests arrive through `submit` (open loop) or `enqueue` (max mode). */
export class ReplayConn implements ResponseMatcherEvents<Pending> {
  private sock: Socket | null = null;
  private state: State = 'idle';
  private matcher: ResponseMatcher<Pending>;
  /** Requests due but not yet written (connecting, backing off, or waiting for answers in max mode). */
  private waitq: ReqItem[] = [];
  private waitHead = 0;
  /**
   * Max mode: requests behind the waitq, still packed in their batches (batch, record index) and
   * decoded only when they are next: the look-ahead would otherwise be tens of thousands of live
   * objects that every scavenge copies and promotes.
   */
  private refV: BatchView[] = [];
  private refI: number[] = [];
  private refHead = 0;
  /** Written requests that must be answered, in send order, for timeouts; done ones are skipped lazily. */
  private out: Pending[] = [];
  private outHead = 0;
  /** Written requests that must be answered and are not yet (silent ones are not counted). */
  private outstanding = 0;
  private closing = false;
  private failClass: ErrorClass = 'reset';
  private abandoning = false;
  private connectStart = 0;
  private backoffNs = 0;
  private retryAt = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private authState: AuthState | null = null;
  private everConnected = false;
  /** No byte has come from the target on this socket yet (a refusal by the server comes first). */
  private firstRead = true;
  /** The server refused the connection after accepting it (at its connection limit, or the credentials). */
  private refusedByServer = false;
  /** Run-clock time of the first failure since the target last answered, or -1 (not failing). */
  private failingSince = -1;
  /** The latest failure was a refusal (nothing listens, connection limit, credentials refused). */
  private refusing = false;
  /** Bytes written since the last flush: everything due in one dispatch batch goes out in one write. */
  private outq: Buffer[] = [];
  private outqBytes = 0;
  /** Whether the target takes what is written (stall.ts). */
  private readonly writes = writeProgress();

  constructor(
    readonly id: number,
    readonly targetIndex: number,
    private readonly target: TargetAddr,
    private readonly ctx: ConnCtx,
  ) {
    this.matcher = this.newMatcher();
  }

  /** True when nothing is queued or outstanding. */
  get idle(): boolean {
    return this.outstanding === 0 && this.queued === 0;
  }

  /** Requests queued, not yet written. */
  private get queued(): number {
    return this.waitq.length - this.waitHead + this.refI.length - this.refHead;
  }

  /** The next queued request, decoding it from its batch if it is still packed. */
  private headWait(): ReqItem | undefined {
    if (this.waitHead < this.waitq.length) return this.waitq[this.waitHead];
    if (this.refHead === this.refI.length) return undefined;
    const it = decodeReq(this.refV[this.refHead]!, this.refI[this.refHead]!);
    this.refV[this.refHead] = undefined as unknown as BatchView;
    this.refHead++;
    if (this.refHead === this.refI.length) {
      this.refV = [];
      this.refI = [];
      this.refHead = 0;
    } else if (this.refHead > 4096 && this.refHead * 2 > this.refI.length) {
      this.refV = this.refV.slice(this.refHead);
      this.refI = this.refI.slice(this.refHead);
      this.refHead = 0;
    }
    if (this.waitHead > 0) {
      this.waitq = [];
      this.waitHead = 0;
    }
    this.waitq.push(it);
    return it;
  }

  /** Decodes every still-packed request into the waitq (stop, failures: rare paths). */
  private unpackAll(): void {
    while (this.refHead < this.refI.length) {
      this.waitq.push(decodeReq(this.refV[this.refHead]!, this.refI[this.refHead]!));
      this.refHead++;
    }
    this.refV = [];
    this.refI = [];
    this.refHead = 0;
  }

  /** A connection attempt is under way. */
  get connecting(): boolean {
    return this.state === 'connecting';
  }

  /** Opens the socket now (captured connection open). */
  open(): void {
    if (this.state === 'idle' || (this.state === 'down' && this.retryTimer === null)) this.connectNow();
  }

  /** Open loop: request `it` is due now; it is written at once or queued until the socket is up. */
  submit(it: ReqItem, now: number): void {
    this.ctx.rec.count(it.cmd, 'intended');
    this.ctx.rec.recordLag(now - it.at);
    if (tracing) trace(Ev.Submit, now, now - it.at, this.id);
    if (this.backingOff(now)) {
      this.failUnwritten(it, it.at, now);
      return;
    }
    if (this.state === 'open' && this.waitq.length === this.waitHead && !this.blocked(it)) {
      this.write(it, it.at, now);
      return;
    }
    this.waitq.push(it);
    if (this.state === 'open') this.flushWait(now);
    else this.ensureConnect(now);
  }

  /**
   * A cas the capture sent after its answers came back waits for them here too: it needs the token
   * of the replayed gets before it. Its response time still counts from its intended time.
   */
  private blocked(it: ReqItem): boolean {
    return it.casKey !== null && !it.pipelined && this.outstanding > 0;
  }

  /**
   * The connection backs off from a target that refuses it, or that has failed it for longer than
   * the timeout without answering anything: until the backoff is over, requests due on it fail at
   * once with the failure's class instead of waiting for a redial each (a dead target would
   * otherwise cost a backoff per request, and max mode would crawl through its whole queue).
   */
  private backingOff(now: number): boolean {
    return this.state === 'down' && now < this.retryAt && (this.refusing || now - this.failingSince >= this.ctx.timeoutNs);
  }

  /** Open loop: writes queued requests in order, up to a cas that still waits for its token. */
  private flushWait(now: number): void {
    while (this.state === 'open' && this.waitHead < this.waitq.length) {
      const it = this.waitq[this.waitHead]!;
      if (this.blocked(it)) break;
      this.waitq[this.waitHead++] = undefined as unknown as ReqItem;
      this.write(it, it.at, now);
    }
    if (this.waitHead === this.waitq.length) {
      this.waitq = [];
      this.waitHead = 0;
    }
  }

  /** Max mode: queue `it`; it goes as soon as the answers it waited for in the capture are in. */
  enqueue(it: ReqItem): void {
    this.ctx.queued++;
    const now = this.ctx.now();
    if (this.queued === 0 && this.backingOff(now)) {
      this.took();
      this.failUnwritten(it, now, now);
      return;
    }
    this.unpackAll();
    this.waitq.push(it);
    if (this.state === 'open') this.pumpMax(this.ctx.now());
    else this.ensureConnect(this.ctx.now());
  }

  /** Max mode: queue request record `i` of batch `v` without decoding it yet. */
  enqueueRef(v: BatchView, i: number): void {
    this.ctx.queued++;
    const wasEmpty = this.queued === 0;
    if (wasEmpty && this.state === 'down') {
      const now = this.ctx.now();
      if (this.backingOff(now)) {
        this.took();
        this.failCmd(reqCmd(v, i), now, now);
        return;
      }
    }
    this.refV.push(v);
    this.refI.push(i);
    // a non-empty queue has a head that cannot go yet: the new request waits behind it
    if (!wasEmpty) return;
    if (this.state === 'open') this.pumpMax(this.ctx.now());
    else this.ensureConnect(this.ctx.now());
  }

  /** The captured connection closed: finish once everything outstanding is answered. */
  requestClose(): void {
    this.closing = true;
    this.maybeFinish();
  }

  /**
   * Periodic check: a head request past the timeout (or a connect that hangs) fails its connection;
   * a connection that has been failing for longer than the timeout fails what it still queues.
   */
  check(now: number): void {
    if (this.state === 'down' && this.queued > 0 && this.backingOff(now)) {
      this.failQueued(now);
      this.maybeFinish();
      return;
    }
    if (this.state === 'connecting' && now - this.connectStart > this.ctx.timeoutNs) {
      this.failClass = 'timeout';
      this.down(now);
      return;
    }
    // a target that stopped reading (stall.ts): fails the connection even when nothing awaits an answer
    if (this.state === 'open' && writeStalled(this.sock, this.writes, now, this.ctx.timeoutNs)) {
      this.failClass = 'timeout';
      this.down(now);
      return;
    }
    if (this.outstanding === 0) return;
    while (this.outHead < this.out.length && this.out[this.outHead]!.done) this.outHead++;
    const head = this.out[this.outHead];
    if (head !== undefined && now - head.written > this.ctx.timeoutNs) {
      this.failClass = 'timeout';
      this.down(now);
    }
  }

  /**
   * The run stopped: requests not yet written are counted unsent and returned as a count; those in
   * flight get `graceNs` (the caller waits) and are then abandoned with `abandon()`.
   */
  stop(): number {
    let n = 0;
    for (let i = this.waitHead; i < this.waitq.length; i++) {
      this.ctx.rec.count(this.waitq[i]!.cmd, 'unsent');
      this.took();
      n++;
    }
    // still packed (max mode: up to the whole look-ahead): counted without decoding them
    for (let i = this.refHead; i < this.refI.length; i++) {
      this.ctx.rec.count(reqCmd(this.refV[i]!, this.refI[i]!), 'unsent');
      this.took();
      n++;
    }
    this.refV = [];
    this.refI = [];
    this.refHead = 0;
    this.waitq = [];
    this.waitHead = 0;
    this.closing = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.maybeFinish();
    return n;
  }

  /**
   * The drain is over (worker.ts): whatever this connection still waits for fails now as a timeout,
   * queued or in flight, and the connection is done. Bounds the end of a run whatever the target does.
   */
  expire(now: number): void {
    if (this.state === 'done') return;
    this.closing = true;
    this.failClass = 'timeout';
    this.failQueued(now);
    this.teardown();
    // in-flight requests fail through the matcher (unanswered -> failClass)
    this.matcher.close();
    this.out = [];
    this.outHead = 0;
    this.finish();
  }

  /** Drops the connection; requests still in flight are abandoned (not counted as errors). */
  abandon(): void {
    this.abandoning = true;
    this.ctx.totals.abandoned += this.outstanding;
    this.teardown();
    this.matcher.close();
    this.finish();
  }

  private newMatcher(): ResponseMatcher<Pending> {
    return createResponseMatcher<Pending>(this, MATCHER_OPTS);
  }

  /** Matcher event: the answer to `p`. */
  response(p: Pending, resp: ParsedResponse, ts: number): void {
    this.onResponse(p, resp, ts);
  }

  /** Matcher event: `p` will get no answer. */
  unanswered(p: Pending, reason: 'closed' | 'desync'): void {
    this.onUnanswered(p, reason);
  }

  /** Matcher event: bytes no request explains. */
  unexpected(bytes: number): void {
    this.onUnexpected(bytes);
  }

  private ensureConnect(now: number): void {
    if (this.state === 'connecting' || this.state === 'open' || this.state === 'done') return;
    if (this.state === 'down' && now < this.retryAt) {
      if (this.retryTimer === null) {
        this.retryTimer = setTimeout(() => {
          this.retryTimer = null;
          this.connectNow();
        }, Math.max(1, Math.ceil((this.retryAt - now) / 1e6)));
      }
      return;
    }
    this.connectNow();
  }

  private connectNow(): void {
    if (this.state === 'connecting' || this.state === 'open' || this.state === 'done') return;
    this.state = 'connecting';
    this.failClass = 'reset';
    this.firstRead = true;
    this.refusedByServer = false;
    this.connectStart = this.ctx.now();
    if (tracing) trace(Ev.Connect, this.connectStart, this.id);
    if (this.everConnected) this.ctx.totals.reconnects++;
    // `onread` skips the Readable stream (a new buffer, a push and an emit per read): the answers
    // are parsed straight out of the worker's receive buffer
    const s = connect({
      host: this.target.host,
      port: this.target.port,
      noDelay: true,
      onread: { buffer: this.ctx.readBuf, callback: onSockRead },
    }) as ConnSocket;
    s[CONN] = this;
    this.sock = s;
    s.on('connect', onSockConnect);
    s.on('error', onSockError);
    s.on('close', onSockClose);
  }

  /** Socket event (onSockConnect). */
  onConnect(s: Socket): void {
    if (this.sock !== s) return;
    this.everConnected = true;
    if (tracing) trace(Ev.Connected, this.ctx.now(), this.id);
    this.ctx.totals.openConns++;
    if (this.ctx.auth !== null) {
      // authenticate before any replayed request; the answer is consumed here, not by the matcher
      this.authState = authRequest(this.protoOfQueue(), this.ctx.auth);
      s.write(this.authState.request);
      return;
    }
    this.up();
  }

  /** Socket event (onSockError): the failure's class; 'close' follows. */
  onError(s: Socket, err: NodeJS.ErrnoException): void {
    if (this.sock !== s) return;
    const code = err.code ?? '';
    if (code === 'ECONNREFUSED') this.failClass = 'refused';
    else if (code === 'ETIMEDOUT') this.failClass = 'timeout';
    else if (this.failClass !== 'timeout' && this.failClass !== 'desync') this.failClass = 'reset';
  }

  /** Socket event (onSockClose). */
  onClose(s: Socket): void {
    if (this.sock !== s) return;
    this.down(this.ctx.now());
  }

  /** Bytes from the target, in the worker's shared receive buffer (valid only during this call). */
  onRead(s: Socket, n: number, buf: Buffer): boolean {
    if (this.sock !== s || n <= 0) return true;
    const ctx = this.ctx;
    if (tracing) trace(Ev.Read, ctx.now(), n, this.id);
    const nested = ctx.reading;
    ctx.reading = true;
    try {
      if (this.firstRead) {
        this.firstRead = false;
        if (n >= TOO_MANY_CONNS.length && buf.compare(TOO_MANY_CONNS, 0, TOO_MANY_CONNS.length, 0, TOO_MANY_CONNS.length) === 0) {
          this.refusedByServer = true;
          this.failClass = 'refused';
          this.down(ctx.now());
          return true;
        }
      }
      let start = 0;
      if (this.authState !== null) {
        // the exchange may span reads, so it gets its own copy of the bytes
        const rest = this.authState.push(Buffer.from(buf.subarray(0, n)));
        if (rest === null) return true; // answer incomplete
        const ok = this.authState.ok;
        this.authState = null;
        if (!ok) {
          ctx.totals.authRefused++;
          this.failClass = 'client_error';
          this.refusedByServer = true;
          this.down(ctx.now());
          return true;
        }
        this.up();
        if (rest.length === 0) return true;
        start = n - rest.length;
      }
      const ts = ctx.now();
      // requests due by now are written before this answer is parsed: a burst of answers (64
      // connections' multi-gets) otherwise held the schedule back by its whole parsing time
      ctx.sendDue();
      if (this.sock !== s) return true;
      this.matcher.pushRange(buf, start, n, ts);
    } finally {
      if (!nested) {
        ctx.reading = false;
        ctx.flushDirty();
      }
      if (tracing) trace(Ev.ReadEnd, ctx.now(), n, this.id);
    }
    return true;
  }

  private protoOfQueue(): 'text' | 'meta' | 'binary' {
    return this.headWait()?.proto ?? 'text';
  }

  private up(): void {
    // the backoff is reset by the first answer, not here: a proxy in front of a dead server accepts
    // and then closes every connection, and resetting on connect would redial it in a tight loop
    this.state = 'open';
    const now = this.ctx.now();
    if (this.ctx.maxMode) {
      this.pumpMax(now);
      return;
    }
    // everything that came due while connecting goes out now, pipelined as it would have been
    this.flushWait(now);
    this.maybeFinish();
  }

  /** Max mode: writes queued requests while the capture's pipelining allows. */
  private pumpMax(now: number): void {
    while (this.state === 'open') {
      const it = this.headWait();
      if (it === undefined || (this.outstanding > 0 && !it.pipelined)) break;
      this.waitq[this.waitHead++] = undefined as unknown as ReqItem;
      this.took();
      this.ctx.rec.count(it.cmd, 'intended'); // in max mode a request is intended when it becomes sendable
      this.write(it, now, now);
    }
    if (this.waitHead === this.waitq.length) {
      this.waitq = [];
      this.waitHead = 0;
    } else if (this.waitHead > 1024) {
      this.waitq = this.waitq.slice(this.waitHead);
      this.waitHead = 0;
    }
    this.maybeFinish();
  }

  private write(it: ReqItem, intended: number, now: number): void {
    let cas: bigint | undefined;
    if (it.casKey !== null) cas = this.ctx.cas.get(this.targetIndex, it.casKey);
    let bytes = 0;
    if (cas === undefined && it.absExpSec === null) {
      bytes = it.raw.length;
      this.outq.push(it.raw);
    } else {
      const edit: { cas?: bigint; exptime?: number } = {};
      if (cas !== undefined) edit.cas = cas;
      if (it.absExpSec !== null) edit.exptime = Math.floor(Date.now() / 1000) + it.absExpSec;
      for (const b of encodeRequest(it, edit)) {
        bytes += b.length;
        this.outq.push(b);
      }
    }
    if (this.outqBytes === 0) this.ctx.dirty(this);
    this.outqBytes += bytes;
    const rec = this.ctx.rec;
    const slot = rec.slot(it.cmd);
    const silent = it.expect === 'none' || it.quiet;
    const p: Pending = { cmd: it.cmd, slot, intended, written: now, silent, done: false };
    if (!silent) {
      this.out.push(p);
      this.outstanding++;
      this.ctx.inflight++;
    }
    this.ctx.lastWriteNs = now;
    rec.count(it.cmd, 'sent');
    rec.count(it.cmd, 'bytesOut', bytes);
    this.ctx.totals.sent++;
    this.matcher.expect(it, p);
    if (this.outHead > 4096 && this.outHead * 2 > this.out.length) {
      this.out = this.out.slice(this.outHead);
      this.outHead = 0;
    }
  }

  private resolve(p: Pending): void {
    p.done = true;
    if (!p.silent) {
      this.outstanding--;
      this.ctx.inflight--;
      // everything written is answered: drop the answered entries now, before a scavenge has to
      // copy them (kept until the compaction below they would be promoted by the thousand)
      if (this.outstanding === 0) {
        this.out.length = 0;
        this.outHead = 0;
      }
    }
  }

  private onResponse(p: Pending, resp: ParsedResponse, ts: number): void {
    if (p.done) return;
    this.resolve(p);
    this.backoffNs = 0;
    this.failingSince = -1;
    recordAnswer(this.ctx, this.targetIndex, p, resp, ts);
    if (this.ctx.maxMode) this.pumpMax(ts);
    else {
      if (this.waitHead < this.waitq.length && this.state === 'open') this.flushWait(ts);
      this.maybeFinish();
    }
  }

  private onUnanswered(p: Pending, reason: 'closed' | 'desync'): void {
    if (p.done) return;
    this.resolve(p);
    if (this.abandoning) return;
    const now = this.ctx.now();
    this.countError(p, reason === 'desync' ? 'desync' : this.failClass, now);
  }

  private countError(p: Pending, cls: ErrorClass, ts: number): void {
    this.ctx.rec.error(p.cmd, cls, ts - p.intended);
    this.ctx.totals.errors++;
    this.ctx.totals.byClass[cls]++;
  }

  private onUnexpected(bytes: number): void {
    // bytes no request explains: counted (results warnings), and the stream can no longer be
    // trusted, so what is still pending fails as desync and the connection starts over. Errors are
    // only ever counted against requests, so sent = completed + errors + abandoned holds.
    this.ctx.totals.unexpectedBytes += bytes;
    if (this.state !== 'open') return;
    this.failClass = 'desync';
    this.down(this.ctx.now());
  }

  /**
   * Every request queued (not written) fails with the current class, at once: the connection backs
   * off, and a request that waited for it would only fail later (max mode: one per redial).
   */
  private failQueued(now: number): void {
    if (this.ctx.maxMode) {
      // still-packed ones are failed without decoding the whole look-ahead into objects first
      for (let i = this.waitHead; i < this.waitq.length; i++) {
        this.took();
        this.failUnwritten(this.waitq[i]!, now, now);
      }
      this.waitq = [];
      this.waitHead = 0;
      while (this.refHead < this.refI.length) {
        const v = this.refV[this.refHead]!;
        const i = this.refI[this.refHead]!;
        this.refHead++;
        this.took();
        this.failCmd(reqCmd(v, i), now, now);
      }
      this.refV = [];
      this.refI = [];
      this.refHead = 0;
      return;
    }
    for (let i = this.waitHead; i < this.waitq.length; i++) this.failUnwritten(this.waitq[i]!, this.waitq[i]!.at, now);
    this.waitq = [];
    this.waitHead = 0;
  }

  /** Max mode: a queued request left the connection's queue (written, failed or unsent): it is off the look-ahead. */
  private took(): void {
    if (!this.ctx.maxMode) return;
    this.ctx.totals.consumed++;
    if (--this.ctx.queued === 0) this.ctx.drained();
  }

  private failUnwritten(it: ReqItem, intended: number, now: number): void {
    this.failCmd(it.cmd, intended, now);
  }

  /** A request of command `cmd` that was due and tried but never written: sent, failed with the current class. */
  private failCmd(cmd: string, intended: number, now: number): void {
    const rec = this.ctx.rec;
    if (this.ctx.maxMode) rec.count(cmd, 'intended');
    rec.count(cmd, 'sent');
    this.ctx.totals.sent++;
    rec.error(cmd, this.failClass, now - intended);
    this.ctx.totals.errors++;
    this.ctx.totals.byClass[this.failClass]++;
  }

  /** Writes what the last dispatch batch queued: one write (one syscall) per connection and batch. */
  flush(): void {
    const n = this.outq.length;
    if (n === 0) return;
    const q = this.outq;
    const total = this.outqBytes;
    this.outq = [];
    this.outqBytes = 0;
    const s = this.sock;
    if (s === null || this.state !== 'open') return; // the socket went away: its pending requests failed already
    if (tracing) trace(Ev.Flush, this.ctx.now(), total, this.id);
    if (n === 1) s.write(q[0]!);
    else if (total <= 64 * 1024) s.write(Buffer.concat(q, total));
    else {
      // large values: let the socket gather them (writev) rather than copy them
      s.cork();
      for (const b of q) s.write(b);
      s.uncork();
    }
  }

  private teardown(): void {
    const s = this.sock;
    this.sock = null;
    this.authState = null;
    this.outq = [];
    this.outqBytes = 0;
    if (s !== null) {
      s.on('error', ignore);
      s.destroy();
    }
    if (this.state === 'open') this.ctx.totals.openConns--;
  }

  /** The socket is gone (closed, reset, refused, timed out, desynced). */
  private down(now: number): void {
    const wasOpen = this.state === 'open';
    const wasConnecting = this.state === 'connecting';
    this.teardown();
    if (this.state === 'done') return;
    this.state = 'down';
    // pending answers will never come on this socket
    const m = this.matcher;
    this.matcher = this.newMatcher();
    m.close();
    this.out = [];
    this.outHead = 0;
    if (wasConnecting || !wasOpen || this.refusedByServer) {
      this.backoffNs = this.backoffNs === 0 ? BACKOFF_MIN_NS : Math.min(BACKOFF_MAX_NS, this.backoffNs * 2);
      this.retryAt = now + this.backoffNs;
    } else {
      // an established connection went away: reconnect at once (first time), then back off
      this.retryAt = now + this.backoffNs;
      this.backoffNs = this.backoffNs === 0 ? BACKOFF_MIN_NS : Math.min(BACKOFF_MAX_NS, this.backoffNs * 2);
    }
    this.refusing = this.failClass === 'refused' || this.refusedByServer;
    this.refusedByServer = false;
    if (this.failingSince < 0) this.failingSince = now;
    // backing off: what waits for this connection fails now (see backingOff)
    if (this.backingOff(now)) this.failQueued(now);
    if (this.queued > 0) this.ensureConnect(now);
    this.maybeFinish();
  }

  private maybeFinish(): void {
    if (!this.closing || this.state === 'done') return;
    if (this.outstanding > 0 || this.queued > 0) return;
    const s = this.sock;
    const wasOpen = this.state === 'open';
    // requests answered by silence (noreply, quiet) written last in this turn wait in outq for the
    // turn's flush, which a finished connection skips: they go out now, ahead of the FIN
    if (wasOpen && this.outqBytes > 0) this.flush();
    this.state = 'done';
    // requests that may be answered by silence are done now: nothing more will come
    this.matcher.close();
    if (s !== null && wasOpen) {
      this.sock = null;
      this.ctx.totals.openConns--;
      s.on('error', ignore);
      s.end();
    } else {
      this.teardown();
    }
    this.cleanup();
  }

  private finish(): void {
    if (this.state === 'done') return;
    this.state = 'done';
    this.cleanup();
  }

  private cleanup(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.ctx.finished(this);
  }
}
