// One replayed memcached UDP "connection" (a captured client socket) inside a worker: a datagram
// socket to the target, each request in its own datagram under a request id of ours, the answer's
// datagrams put back together, and every request's fate recorded as ReplayConn records it over TCP
// (same counters, same timing rules). An answer that never completes (a datagram lost, nothing
// listening, a target that drops them) fails as a timeout once the run's --timeout has passed.
import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { createResponseMatcher, encodeRequest } from '../protocol/index.js';
import type { ResponseMatcher } from '../protocol/index.js';
import type { ParsedResponse } from '../protocol/types.js';
import { countError, recordAnswer } from './answer.js';
import type { CommandSlot } from '../metrics/recorder.js';
import type { ErrorClass } from '../metrics/results-types.js';
import type { ReqItem, TargetAddr } from './messages.js';
import { decodeReq, type BatchView } from './batch.js';
import type { ConnCtx, ReplayConn } from './conn.js';
import { UDP_HEADER_BYTES, UdpAnswer, udpHeader } from './udp-frame.js';

/** A request written and not yet answered, failed or known to need no answer. */
interface UdpPending {
  cmd: string;
  slot: CommandSlot;
  intended: number;
  written: number;
  silent: boolean;
  rid: number;
  answer: UdpAnswer;
  matcher: ResponseMatcher<UdpPending>;
  done: boolean;
}

type State = 'idle' | 'connecting' | 'open' | 'done';

/**
 * memcached reads a UDP request from one datagram (protocol.txt: multi-datagram requests are not
 * supported); a larger one cannot be replayed over UDP and fails as a client error.
 */
const MAX_REQUEST_BYTES = 65507 - UDP_HEADER_BYTES;

/** A replayed UDP client socket; the worker drives it exactly like a ReplayConn (see newUdpConn). */
export class UdpConn {
  private sock: Socket | null = null;
  private state: State = 'idle';
  /** Requests due but not yet written: the socket is being set up, or (max mode) answers are awaited. */
  private waitq: ReqItem[] = [];
  /** Written requests whose answer is due, by request id. */
  private readonly pending = new Map<number, UdpPending>();
  private nextRid = 0;
  private closing = false;

  constructor(
    readonly id: number,
    readonly targetIndex: number,
    private readonly target: TargetAddr,
    private readonly ctx: ConnCtx,
  ) {}

  /** Never true: a UDP socket is usable as soon as it is bound (the worker's start-up waits on TCP connects only). */
  get connecting(): boolean {
    return false;
  }

  /** Requests queued, not yet written. */
  private get queued(): number {
    return this.waitq.length;
  }

  /** Creates the socket (the captured client's first datagram). */
  open(): void {
    if (this.state !== 'idle') return;
    this.state = 'connecting';
    this.ctx.dialling++;
    const s = createSocket({ type: isIPv6(this.target.host) ? 'udp6' : 'udp4' });
    this.sock = s;
    s.on('message', (msg) => this.onMessage(msg));
    // ICMP port unreachable and the like: the requests in flight time out, as a lost answer does
    s.on('error', () => {});
    // connected: the kernel drops datagrams from anyone but the target, and sends need no address
    s.connect(this.target.port, this.target.host, () => {
      if (this.sock !== s || this.state !== 'connecting') return;
      this.state = 'open';
      this.ctx.dialling--;
      this.ctx.totals.openConns++;
      this.sendQueued(this.ctx.now());
    });
  }

  /** Open loop: request `it` is due now. */
  submit(it: ReqItem, now: number): void {
    this.ctx.rec.count(it.cmd, 'intended');
    this.ctx.rec.recordLag(now - it.at);
    if (this.state === 'open' && this.waitq.length === 0) {
      this.write(it, it.at, now);
      return;
    }
    this.waitq.push(it);
    if (this.state === 'idle') this.open();
  }

  /** Max mode: queue `it`; it goes as soon as the answers it waited for in the capture are in. */
  enqueue(it: ReqItem): void {
    this.ctx.queued++;
    this.waitq.push(it);
    if (this.state === 'open') this.sendQueued(this.ctx.now());
    else if (this.state === 'idle') this.open();
  }

  /** Max mode: queue request record `i` of batch `v` (decoded at once: UDP traffic is light). */
  enqueueRef(v: BatchView, i: number): void {
    this.enqueue(decodeReq(v, i));
  }

  /** The captured client is done: finish once everything outstanding is answered or timed out. */
  requestClose(): void {
    this.closing = true;
    this.maybeFinish();
  }

  /** Periodic check: answers older than the timeout fail as timeouts (a datagram was lost). */
  check(now: number): void {
    for (const p of this.pending.values()) {
      if (now - p.written > this.ctx.timeoutNs) this.fail(p, 'timeout', now);
    }
    this.maybeFinish();
  }

  /** The run stopped: queued requests are counted unsent (returned); those in flight wait for abandon(). */
  stop(): number {
    const n = this.waitq.length;
    for (const it of this.waitq) {
      this.ctx.rec.count(it.cmd, 'unsent');
      this.took();
    }
    this.waitq = [];
    this.closing = true;
    this.maybeFinish();
    return n;
  }

  /**
   * The drain is over (worker.ts): answers still awaited fail now as timeouts, requests never
   * written count as unsent, and the connection is done (bounds the end of a run, as for TCP).
   */
  expire(now: number): void {
    for (const p of this.pending.values()) this.fail(p, 'timeout', now);
    this.stop();
    this.finish();
  }

  /** Drops the socket; requests still in flight are abandoned (not counted as errors). */
  abandon(): void {
    this.ctx.totals.abandoned += this.pending.size;
    for (const p of this.pending.values()) this.resolve(p);
    this.finish();
  }

  /** Datagrams are sent as requests are written; nothing is batched. */
  flush(): void {}

  private sendQueued(now: number): void {
    while (this.state === 'open' && this.waitq.length > 0) {
      const it = this.waitq[0]!;
      // max mode keeps the capture's pipelining: a request sent after the previous answer waits for it
      if (this.ctx.maxMode && this.pending.size > 0 && !it.pipelined) break;
      this.waitq.shift();
      if (this.ctx.maxMode) {
        this.took();
        this.ctx.rec.count(it.cmd, 'intended');
        this.write(it, now, now);
      } else this.write(it, it.at, now);
    }
    this.maybeFinish();
  }

  /** A request id not in flight on this socket (16 bits, wrapping). */
  private freeRid(): number {
    for (;;) {
      const rid = this.nextRid;
      this.nextRid = (this.nextRid + 1) & 0xffff;
      if (!this.pending.has(rid)) return rid;
    }
  }

  private write(it: ReqItem, intended: number, now: number): void {
    const rec = this.ctx.rec;
    let body: Buffer[];
    const cas = it.casKey !== null ? this.ctx.cas.get(this.targetIndex, it.casKey) : undefined;
    if (cas === undefined && it.absExpSec === null) body = [it.raw];
    else {
      const edit: { cas?: bigint; exptime?: number } = {};
      if (cas !== undefined) edit.cas = cas;
      if (it.absExpSec !== null) edit.exptime = Math.floor(Date.now() / 1000) + it.absExpSec;
      body = encodeRequest(it, edit);
    }
    let bytes = 0;
    for (const b of body) bytes += b.length;
    rec.count(it.cmd, 'sent');
    this.ctx.totals.sent++;
    this.ctx.lastWriteNs = now;
    if (bytes > MAX_REQUEST_BYTES) {
      rec.error(it.cmd, 'client_error', now - intended);
      this.ctx.totals.errors++;
      this.ctx.totals.byClass.client_error++;
      return;
    }
    const rid = this.freeRid();
    rec.count(it.cmd, 'bytesOut', bytes + UDP_HEADER_BYTES);
    this.sock!.send([udpHeader(rid), ...body]);
    if (it.expect === 'none' || it.quiet) {
      // nothing will come back (noreply): done when sent, with no latency to record
      rec.count(it.cmd, 'completed');
      this.ctx.totals.completed++;
      return;
    }
    const p: UdpPending = {
      cmd: it.cmd,
      slot: rec.slot(it.cmd),
      intended,
      written: now,
      silent: false,
      rid,
      answer: new UdpAnswer(),
      matcher: createResponseMatcher<UdpPending>(
        {
          response: (q, resp, ts) => this.onResponse(q, resp, ts),
          // only close() can leave a request unanswered here: the socket is going away
          unanswered: () => {},
          unexpected: (n) => {
            this.ctx.totals.unexpectedBytes += n;
            p.answer.broken = true;
          },
        },
        { wantCas: true },
      ),
      done: false,
    };
    p.matcher.expect(it, p);
    this.pending.set(rid, p);
    this.ctx.inflight++;
  }

  private onMessage(msg: Buffer): void {
    const now = this.ctx.now();
    const part = this.state === 'done' ? null : UdpAnswer.parse(msg);
    if (part === null) {
      this.ctx.totals.unexpectedBytes += msg.length;
      return;
    }
    const p = this.pending.get(part.rid);
    if (p === undefined) {
      // an answer after its request timed out, or to no request of ours
      this.ctx.totals.unexpectedBytes += msg.length - UDP_HEADER_BYTES;
      return;
    }
    const ctx = this.ctx;
    const nested = ctx.reading;
    ctx.reading = true;
    try {
      // a broken answer (a datagram missing) is left to time out: its parts cannot be trusted
      for (const b of p.answer.add(part.seq, part.total, msg, UDP_HEADER_BYTES)) if (!p.answer.broken) p.matcher.push(b, now);
    } finally {
      if (!nested) {
        ctx.reading = false;
        ctx.flushDirty();
      }
    }
  }

  private resolve(p: UdpPending): void {
    if (p.done) return;
    p.done = true;
    this.pending.delete(p.rid);
    if (--this.ctx.inflight === 0) this.ctx.noneInFlight();
  }

  private onResponse(p: UdpPending, resp: ParsedResponse, ts: number): void {
    if (p.done) return;
    this.resolve(p);
    recordAnswer(this.ctx, this.targetIndex, p, resp, ts);
    if (this.ctx.maxMode) this.sendQueued(ts);
    else this.maybeFinish();
  }

  private fail(p: UdpPending, cls: ErrorClass, now: number): void {
    if (p.done) return;
    this.resolve(p);
    countError(this.ctx, p, cls, now);
    if (this.ctx.maxMode) this.sendQueued(now);
  }

  /** Max mode: a queued request left the queue (written or unsent): it is off the look-ahead. */
  private took(): void {
    if (!this.ctx.maxMode) return;
    this.ctx.totals.consumed++;
    if (--this.ctx.queued === 0) this.ctx.drained();
  }

  private maybeFinish(): void {
    if (!this.closing || this.state === 'done') return;
    if (this.pending.size > 0 || this.queued > 0) return;
    this.finish();
  }

  private finish(): void {
    if (this.state === 'done') return;
    if (this.state === 'open') this.ctx.totals.openConns--;
    if (this.state === 'connecting') this.ctx.dialling--;
    this.state = 'done';
    const s = this.sock;
    this.sock = null;
    if (s !== null) s.close();
    // the worker's bookkeeping only reads the id: the structural twin stands in for a ReplayConn
    this.ctx.finished(this as unknown as ReplayConn);
  }
}

// What the worker calls on a connection: UdpConn must offer all of it, with the same signatures.
type ConnSurface = Pick<ReplayConn, 'id' | 'connecting' | 'open' | 'submit' | 'enqueue' | 'enqueueRef' | 'requestClose' | 'check' | 'stop' | 'expire' | 'abandon' | 'flush'>;
const _sameSurface = (u: UdpConn): ConnSurface => u;
void _sameSurface;

/** A UDP connection typed as the ReplayConn the worker keeps (their public surfaces are checked equal above). */
export function newUdpConn(id: number, targetIndex: number, target: TargetAddr, ctx: ConnCtx): ReplayConn {
  return new UdpConn(id, targetIndex, target, ctx) as unknown as ReplayConn;
}
