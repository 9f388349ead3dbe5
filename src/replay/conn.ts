// One replayed connection inside a worker: the life cycle of its socket to a target (connect,
// authenticate, up, reads, down, backoff and redial, teardown, finish). Its requests, from due to
// answered or failed, are in its RequestQueues (conn-queues.ts), which write through it and hear
// from it when the socket comes up or goes away.
import { connect, type Socket } from 'node:net';
import type { ErrorClass } from '../metrics/results-types.js';
import type { ReqItem, TargetAddr } from './messages.js';
import type { BatchView } from './batch.js';
import { authRequest, type AuthState } from '../protocol/auth.js';
import { Ev, trace, tracing } from './trace.js';
import { writeProgress, writeStalled } from './stall.js';
import type { ConnCtx } from './conn-ctx.js';
import { RequestQueues, type ConnLink, type ConnState } from './conn-queues.js';

export type { ConnCtx } from './conn-ctx.js';

const BACKOFF_MIN_NS = 50e6;
const BACKOFF_MAX_NS = 1e9;
/**
 * What memcached writes, then closes, when it is at its connection limit (-c): a refusal of the
 * connection, not an answer to the first request (which never reached the cache).
 */
const TOO_MANY_CONNS = Buffer.from('ERROR Too many open connections', 'latin1');

// Per-connection cost (a capture of many short connections opens thousands): the socket's
// handlers are shared functions that find their connection on the socket (Node calls them with
// the socket as `this`), and the connection's queues are their own matcher's listener, so a
// connection costs no closures. A socket whose connection has moved on to another one is ignored
// (conn.sock !== s).
const CONN: unique symbol = Symbol('mcreplay.conn');
type ConnSocket = Socket & { [CONN]: ReplayConn };
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
export class ReplayConn implements ConnLink {
  private sock: Socket | null = null;
  /** Where the socket is in its life cycle; the queues read it to know whether they may write. */
  state: ConnState = 'idle';
  /** The class a request fails with now: the latest socket failure's. */
  failClass: ErrorClass = 'reset';
  private readonly q: RequestQueues;
  private closing = false;
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
  /** Whether the target takes what is written (stall.ts). */
  private readonly writes = writeProgress();

  constructor(
    readonly id: number,
    readonly targetIndex: number,
    private readonly target: TargetAddr,
    private readonly ctx: ConnCtx,
  ) {
    this.q = new RequestQueues(this, ctx, id, targetIndex);
  }

  /** True when nothing is queued or outstanding. */
  get idle(): boolean {
    return this.q.outstanding === 0 && this.q.queued === 0;
  }

  /** A connection attempt is under way. */
  get connecting(): boolean {
    return this.state === 'connecting';
  }

  /** Every change of state goes through here: the worker counts the connections being set up (ctx.dialling). */
  private setState(to: ConnState): void {
    if (this.state === 'connecting') this.ctx.dialling--;
    if (to === 'connecting') this.ctx.dialling++;
    this.state = to;
  }

  /** Opens the socket now (captured connection open). */
  open(): void {
    if (this.state === 'idle' || (this.state === 'down' && this.retryTimer === null)) this.connectNow();
  }

  /** Open loop: request `it` is due now; it is written at once or queued until the socket is up. */
  submit(it: ReqItem, now: number): void {
    this.q.submit(it, now);
  }

  /** Max mode: queue `it`; it goes as soon as the answers it waited for in the capture are in. */
  enqueue(it: ReqItem): void {
    this.q.enqueue(it);
  }

  /** Max mode: queue request record `i` of batch `v` without decoding it yet. */
  enqueueRef(v: BatchView, i: number): void {
    this.q.enqueueRef(v, i);
  }

  /**
   * The connection backs off from a target that refuses it, or that has failed it for longer than
   * the timeout without answering anything: until the backoff is over, requests due on it fail at
   * once with the failure's class instead of waiting for a redial each (a dead target would
   * otherwise cost a backoff per request, and max mode would crawl through its whole queue).
   */
  backingOff(now: number): boolean {
    return this.state === 'down' && now < this.retryAt && (this.refusing || now - this.failingSince >= this.ctx.timeoutNs);
  }

  /** The target answered: the backoff starts over and the connection is not failing. */
  answered(): void {
    this.backoffNs = 0;
    this.failingSince = -1;
  }

  /** The queues saw bytes no request explains: what is pending fails as desync and the socket starts over. */
  desynced(): void {
    this.failClass = 'desync';
    this.down(this.ctx.now());
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
    if (this.state === 'down' && this.q.queued > 0 && this.backingOff(now)) {
      this.q.failQueued(now);
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
    if (this.q.headTimedOut(now, this.ctx.timeoutNs)) {
      this.failClass = 'timeout';
      this.down(now);
    }
  }

  /**
   * The run stopped: requests not yet written are counted unsent and returned as a count; those in
   * flight get `graceNs` (the caller waits) and are then abandoned with `abandon()`.
   */
  stop(): number {
    const n = this.q.countUnsent();
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
    this.q.failQueued(now);
    this.teardown();
    // in-flight requests fail through the matcher (unanswered -> failClass)
    this.q.closeMatcher();
    this.finish();
  }

  /** Drops the connection; requests still in flight are abandoned (not counted as errors). */
  abandon(): void {
    this.q.abandon();
    this.teardown();
    this.q.closeMatcher();
    this.finish();
  }

  /** Connects now, or once the backoff is over; a no-op when connecting, up or done. */
  ensureConnect(now: number): void {
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
    this.setState('connecting');
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
      this.authState = authRequest(this.q.headProto(), this.ctx.auth);
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
        start = this.authAnswer(buf, n);
        if (start < 0) return true;
      }
      const ts = ctx.now();
      // requests due by now are written before this answer is parsed: a burst of answers (64
      // connections' multi-gets) otherwise held the schedule back by its whole parsing time
      ctx.sendDue();
      if (this.sock !== s) return true;
      this.q.matcher.pushRange(buf, start, n, ts);
    } finally {
      if (!nested) {
        ctx.reading = false;
        ctx.flushDirty();
      }
      if (tracing) trace(Ev.ReadEnd, ctx.now(), n, this.id);
    }
    return true;
  }

  /**
   * The authentication's answer, in the first `n` bytes of `buf`: where the replayed answers start
   * in `buf` once it is complete and accepted, or -1 (incomplete, refused, or nothing after it).
   */
  private authAnswer(buf: Buffer, n: number): number {
    // the exchange may span reads, so it gets its own copy of the bytes
    const rest = this.authState!.push(Buffer.from(buf.subarray(0, n)));
    if (rest === null) return -1; // answer incomplete
    const ok = this.authState!.ok;
    this.authState = null;
    if (!ok) {
      this.ctx.totals.authRefused++;
      this.failClass = 'client_error';
      this.refusedByServer = true;
      this.down(this.ctx.now());
      return -1;
    }
    this.up();
    if (rest.length === 0) return -1;
    return n - rest.length;
  }

  private up(): void {
    // the backoff is reset by the first answer, not here: a proxy in front of a dead server accepts
    // and then closes every connection, and resetting on connect would redial it in a tight loop
    this.setState('open');
    this.q.sendQueued(this.ctx.now());
  }

  /** Writes what the last dispatch batch queued: one write (one syscall) per connection and batch. */
  flush(): void {
    const q = this.q;
    const n = q.outq.length;
    if (n === 0) return;
    const bufs = q.outq;
    const total = q.outqBytes;
    // the clock is read right before the syscall: the requests' write time (service time) and lag
    // (max mode keeps no schedule and reads no clock here: CPU per request is its figure)
    const t = this.ctx.maxMode ? 0 : this.ctx.now();
    q.takeOutq(t);
    const s = this.sock;
    if (s === null || this.state !== 'open') return; // the socket went away: its pending requests failed already
    if (tracing) trace(Ev.Flush, this.ctx.maxMode ? this.ctx.now() : t, total, this.id);
    if (n === 1) s.write(bufs[0]!);
    else if (total <= 64 * 1024) s.write(Buffer.concat(bufs, total));
    else {
      // large values: let the socket gather them (writev) rather than copy them
      s.cork();
      for (const b of bufs) s.write(b);
      s.uncork();
    }
    if (s.writableLength > 0) this.ctx.backlog.push(s);
  }

  private teardown(): void {
    const s = this.sock;
    this.sock = null;
    this.authState = null;
    if (this.q.outqBytes > 0) this.q.takeOutq(this.ctx.now());
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
    this.setState('down');
    // pending answers will never come on this socket
    this.q.socketGone();
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
    if (this.backingOff(now)) this.q.failQueued(now);
    if (this.q.queued > 0) this.ensureConnect(now);
    this.maybeFinish();
  }

  /** Finishes the connection if it was asked to close and nothing is queued or outstanding. */
  maybeFinish(): void {
    if (!this.closing || this.state === 'done') return;
    if (this.q.outstanding > 0 || this.q.queued > 0) return;
    const s = this.sock;
    const wasOpen = this.state === 'open';
    // requests answered by silence (noreply, quiet) written last in this turn wait in outq for the
    // turn's flush, which a finished connection skips: they go out now, ahead of the FIN
    if (wasOpen && this.q.outqBytes > 0) this.flush();
    this.setState('done');
    // requests that may be answered by silence are done now: nothing more will come
    this.q.closeMatcher();
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
    this.setState('done');
    this.cleanup();
  }

  private cleanup(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.ctx.finished(this);
  }
}
