// A replayed connection's requests between "due" and "answered", and the fate of each: the queue of
// requests not yet written (decoded ones, and in max mode ones still packed in their batches), the
// ring of written ones awaiting an answer (for timeouts), the response matcher that pairs the
// target's bytes with them in send order, and the counting of every request as answered, failed by
// class, abandoned or unsent. The socket it writes through, and when that socket is up, belong to
// the connection's life cycle (conn.ts), which this side sees only through ConnLink.
import { createResponseMatcher, encodeRequest } from '../protocol/index.js';
import type { ResponseMatcher, ResponseMatcherEvents } from '../protocol/index.js';
import type { ParsedResponse } from '../protocol/types.js';
import type { CommandSlot } from '../metrics/recorder.js';
import type { ErrorClass } from '../metrics/results-types.js';
import type { ReqItem } from './messages.js';
import { decodeReq, reqCmd, type BatchView } from './batch.js';
import { Ev, trace, tracing } from './trace.js';
import { countError, recordAnswer } from './answer.js';
import type { ConnCtx } from './conn-ctx.js';
import type { Flushable } from './write-order.js';

/** The socket life cycle of a connection (conn.ts's ReplayConn). */
export type ConnState = 'idle' | 'connecting' | 'open' | 'down' | 'done';

/** What the request queues need of their connection's socket life cycle. */
export interface ConnLink extends Flushable {
  readonly state: ConnState;
  /** The class a request fails with now (the latest socket failure's). */
  readonly failClass: ErrorClass;
  /** Requests due now fail at once instead of waiting for a redial (conn.ts explains when). */
  backingOff(now: number): boolean;
  /** Connects now, or once the backoff is over; a no-op when connecting or up. */
  ensureConnect(now: number): void;
  /** Finishes the connection if it was asked to close and nothing is queued or outstanding. */
  maybeFinish(): void;
  /** The target answered a request: the connection is not failing. */
  answered(): void;
  /** Bytes no request explains: the stream cannot be trusted any more. */
  desynced(): void;
}

/** A written request that awaits its answer. */
interface Pending {
  cmd: string;
  slot: CommandSlot;
  intended: number;
  written: number;
  /** May be answered by silence (noreply, quiet binary/meta): never waited for, never times out. */
  silent: boolean;
  done: boolean;
}

const MATCHER_OPTS = { wantCas: true };

/** The requests of one connection; `link` is the connection whose socket they go out on. */
export class RequestQueues implements ResponseMatcherEvents<Pending> {
  matcher: ResponseMatcher<Pending>;
  /** Requests due but not yet written (connecting, backing off, or waiting for answers in max mode). */
  private waitq: ReqItem[] = [];
  private waitHead = 0;
  /** Queued requests that came due while the connection was being dialled: their lag is read at their write (or failure). */
  private lagAtWrite: Set<ReqItem> | null = null;
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
  outstanding = 0;
  /** The connection was dropped at stop: what is still in flight is abandoned, not failed. */
  private abandoning = false;
  /** Bytes written since the link's last flush: everything due in one dispatch batch goes out in one write. */
  outq: Buffer[] = [];
  outqBytes = 0;
  /**
   * Timed mode: the requests of outq. Their write time and lag are read when the link writes outq
   * (takeOutq), right before the syscall: a request queued early in a turn waits there for the
   * turn's other dispatches and writes, and that wait is the replay's delay, not the target's.
   */
  private readonly unstamped: Pending[] = [];

  constructor(
    private readonly link: ConnLink,
    private readonly ctx: ConnCtx,
    private readonly id: number,
    private readonly targetIndex: number,
  ) {
    this.matcher = createResponseMatcher<Pending>(this, MATCHER_OPTS);
  }

  /** Requests queued, not yet written. */
  get queued(): number {
    return this.waitq.length - this.waitHead + this.refI.length - this.refHead;
  }

  /** The protocol of the next request to go (the authentication speaks it), text when none waits. */
  headProto(): 'text' | 'meta' | 'binary' {
    return this.headWait()?.proto ?? 'text';
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

  /** Open loop: request `it` is due now; it is written at once or queued until the socket is up. */
  submit(it: ReqItem, now: number): void {
    this.ctx.rec.count(it.cmd, 'intended');
    const link = this.link;
    const open = link.state === 'open';
    if (!open && link.backingOff(now)) {
      this.ctx.rec.recordLag(now - it.at);
      this.failCmd(it.cmd, it.at, now);
      return;
    }
    if (!open && link.state !== 'down') {
      // due while its connection is still being dialled: the wait for the handshake is the
      // replay's delay too (its lag is read when it is written, or when it fails unwritten)
      this.ctx.totals.connectWaits++;
      (this.lagAtWrite ??= new Set()).add(it);
    } else if (tracing) trace(Ev.Submit, now, now - it.at, this.id);
    if (open && this.waitq.length === this.waitHead && !this.blocked(it)) {
      this.write(it, it.at, now);
      return;
    }
    this.waitq.push(it);
    if (open) this.flushWait(now);
    else link.ensureConnect(now);
  }

  /**
   * A cas the capture sent after its answers came back waits for them here too: it needs the token
   * of the replayed gets before it. Its response time still counts from its intended time.
   */
  private blocked(it: ReqItem): boolean {
    return it.casKey !== null && !it.pipelined && this.outstanding > 0;
  }

  /** The socket is up: what came due while it was not goes out now, pipelined as it would have been. */
  sendQueued(now: number): void {
    if (this.ctx.maxMode) {
      this.pumpMax(now);
      return;
    }
    this.flushWait(now);
    this.link.maybeFinish();
  }

  /** Open loop: writes queued requests in order, up to a cas that still waits for its token. */
  private flushWait(now: number): void {
    while (this.link.state === 'open' && this.waitHead < this.waitq.length) {
      const it = this.waitq[this.waitHead]!;
      if (this.blocked(it)) break;
      this.waitq[this.waitHead++] = undefined as unknown as ReqItem;
      if (this.lagAtWrite !== null && this.lagAtWrite.delete(it) && tracing) trace(Ev.Submit, now, now - it.at, this.id);
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
    if (this.queued === 0 && this.link.backingOff(now)) {
      this.took();
      this.failCmd(it.cmd, now, now);
      return;
    }
    this.unpackAll();
    this.waitq.push(it);
    if (this.link.state === 'open') this.pumpMax(this.ctx.now());
    else this.link.ensureConnect(this.ctx.now());
  }

  /** Max mode: queue request record `i` of batch `v` without decoding it yet. */
  enqueueRef(v: BatchView, i: number): void {
    this.ctx.queued++;
    const wasEmpty = this.queued === 0;
    const link = this.link;
    if (wasEmpty && link.state === 'down') {
      const now = this.ctx.now();
      if (link.backingOff(now)) {
        this.took();
        this.failCmd(reqCmd(v, i), now, now);
        return;
      }
    }
    this.refV.push(v);
    this.refI.push(i);
    // a non-empty queue has a head that cannot go yet: the new request waits behind it
    if (!wasEmpty) return;
    if (link.state === 'open') this.pumpMax(this.ctx.now());
    else link.ensureConnect(this.ctx.now());
  }

  /** Max mode: writes queued requests while the capture's pipelining allows. */
  private pumpMax(now: number): void {
    while (this.link.state === 'open') {
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
    this.link.maybeFinish();
  }

  private write(it: ReqItem, intended: number, now: number): void {
    const ctx = this.ctx;
    let cas: bigint | undefined;
    if (it.casKey !== null) cas = ctx.cas.get(this.targetIndex, it.casKey);
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
    if (this.outqBytes === 0) ctx.dirty(this.link);
    this.outqBytes += bytes;
    const rec = ctx.rec;
    const slot = rec.slot(it.cmd);
    const silent = it.expect === 'none' || it.quiet;
    const p: Pending = { cmd: it.cmd, slot, intended, written: now, silent, done: false };
    if (!ctx.maxMode) this.unstamped.push(p);
    if (!silent) {
      this.out.push(p);
      this.outstanding++;
      ctx.inflight++;
    }
    ctx.lastWriteNs = now;
    rec.count(it.cmd, 'sent');
    rec.count(it.cmd, 'bytesOut', bytes);
    ctx.totals.sent++;
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
      if (--this.ctx.inflight === 0) this.ctx.noneInFlight();
      // everything written is answered: drop the answered entries now, before a scavenge has to
      // copy them (kept until the compaction below they would be promoted by the thousand)
      if (this.outstanding === 0) {
        this.out.length = 0;
        this.outHead = 0;
      }
    }
  }

  /** Matcher event: the answer to `p`. */
  response(p: Pending, resp: ParsedResponse, ts: number): void {
    if (p.done) return;
    this.resolve(p);
    this.link.answered();
    recordAnswer(this.ctx, this.targetIndex, p, resp, ts);
    if (this.ctx.maxMode) this.pumpMax(ts);
    else {
      if (this.waitHead < this.waitq.length && this.link.state === 'open') this.flushWait(ts);
      this.link.maybeFinish();
    }
  }

  /** Matcher event: `p` will get no answer. */
  unanswered(p: Pending, reason: 'closed' | 'desync'): void {
    if (p.done) return;
    this.resolve(p);
    if (this.abandoning) return;
    countError(this.ctx, p, reason === 'desync' ? 'desync' : this.link.failClass, this.ctx.now());
  }

  /** Matcher event: bytes no request explains. */
  unexpected(bytes: number): void {
    // counted (results warnings), and the stream can no longer be trusted, so what is still pending
    // fails as desync and the connection starts over. Errors are only ever counted against
    // requests, so sent = completed + errors + abandoned holds.
    this.ctx.totals.unexpectedBytes += bytes;
    if (this.link.state === 'open') this.link.desynced();
  }

  /** True when the oldest written request still unanswered was written more than `timeoutNs` before `now`. */
  headTimedOut(now: number, timeoutNs: number): boolean {
    if (this.outstanding === 0) return false;
    while (this.outHead < this.out.length && this.out[this.outHead]!.done) this.outHead++;
    const head = this.out[this.outHead];
    return head !== undefined && now - head.written > timeoutNs;
  }

  /** The socket is gone: pending answers will never come on it (they fail with the link's class); a new socket gets a new matcher. */
  socketGone(): void {
    const m = this.matcher;
    this.matcher = createResponseMatcher<Pending>(this, MATCHER_OPTS);
    m.close();
    this.out = [];
    this.outHead = 0;
  }

  /** The connection is over: what is still pending is done (silent ones), failed (the link's class) or abandoned. */
  closeMatcher(): void {
    this.matcher.close();
    this.out = [];
    this.outHead = 0;
  }

  /** The connection is dropped at stop: requests still in flight are abandoned (counted as such, not as errors). */
  abandon(): void {
    this.abandoning = true;
    this.ctx.totals.abandoned += this.outstanding;
  }

  /**
   * The link takes outq to write it at `t` (or to drop it: the socket is gone, and its requests fail
   * with it): each of its requests was written at `t`, and its lag ends there.
   */
  takeOutq(t: number): void {
    this.outq = [];
    this.outqBytes = 0;
    const u = this.unstamped;
    if (u.length === 0) return; // always in max mode
    const rec = this.ctx.rec;
    for (let i = 0; i < u.length; i++) {
      const p = u[i]!;
      p.written = t;
      rec.recordLag(t - p.intended);
    }
    u.length = 0; // kept: one array per connection, not one per write
    this.ctx.lastWriteNs = t;
  }

  /** The run stopped: every request not yet written is counted unsent; returns how many. */
  countUnsent(): number {
    this.settleLag(this.ctx.now());
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
    return n;
  }

  /**
   * Every request queued (not written) fails with the link's class, at once: the connection backs
   * off, and a request that waited for it would only fail later (max mode: one per redial).
   */
  failQueued(now: number): void {
    if (this.ctx.maxMode) {
      // still-packed ones are failed without decoding the whole look-ahead into objects first
      for (let i = this.waitHead; i < this.waitq.length; i++) {
        this.took();
        this.failCmd(this.waitq[i]!.cmd, now, now);
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
    this.settleLag(now);
    for (let i = this.waitHead; i < this.waitq.length; i++) this.failCmd(this.waitq[i]!.cmd, this.waitq[i]!.at, now);
    this.waitq = [];
    this.waitHead = 0;
  }

  /** Requests that waited for the handshake and will not be written: their lag ends now (every intended request has one). */
  private settleLag(now: number): void {
    if (this.lagAtWrite === null) return;
    for (const it of this.lagAtWrite) this.ctx.rec.recordLag(now - it.at);
    this.lagAtWrite = null;
  }

  /** Max mode: a queued request left the connection's queue (written, failed or unsent): it is off the look-ahead. */
  private took(): void {
    if (!this.ctx.maxMode) return;
    this.ctx.totals.consumed++;
    if (--this.ctx.queued === 0) this.ctx.drained();
  }

  /** A request of command `cmd` that was due and tried but never written: sent, failed with the link's class. */
  private failCmd(cmd: string, intended: number, now: number): void {
    const rec = this.ctx.rec;
    const cls = this.link.failClass;
    if (this.ctx.maxMode) rec.count(cmd, 'intended');
    rec.count(cmd, 'sent');
    this.ctx.totals.sent++;
    rec.error(cmd, cls, now - intended);
    this.ctx.totals.errors++;
    this.ctx.totals.byClass[cls]++;
  }
}
