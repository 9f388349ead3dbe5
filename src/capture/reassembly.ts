// structure: one state machine over a flow's two halves (~650 lines); segment(), the hold queue and
// the gap rules share the per-half bookkeeping on every packet, and the hash-table lookup is the
// first step of every packet (kept here: no hop to another object per packet). Apart: the flow and
// its halves' state (tcp-flow.ts), the LRU lists and the endpoint hash (flow-table.ts).
// TCP reassembly: decoded segments in, per-direction in-order byte streams out (StreamSink).
//
// Each direction ("half") keeps the next expected sequence number. A segment at that number is
// handed on as a view of the frame (no copy); an older one is a retransmission or overlap and only
// its new bytes go on, so every byte is delivered once, first copy wins. A later one is copied into
// a bounded out-of-order queue. A hole in front of that queue is declared lost (gap) when:
//   - the queue exceeds MAX_OOO_BYTES or MAX_OOO_SEGS, or
//   - the peer has acknowledged past the hole (the receiver got the bytes, no retransmission will
//     come) and the hold window below has run out since, or
//   - the hole is HOLE_TIMEOUT_NS old (capture time), or the flow closes or the capture ends.
//
// Causal order. Captures may store a segment after the peer's answer to it: several capture rings
// (multi-queue NICs), `-i any`, merged interfaces, SPAN ports, bonding. A segment whose ACK covers
// bytes of the other direction not handed on yet is held (copied), and everything behind it in its
// direction with it, until those bytes have been handed on; so a request always comes before the
// answer that ACKs it, whatever order the file has. A hold lasts at most HOLD_PACKETS packets of
// the flow, HOLD_NS of capture time or HOLD_BYTES per direction from its oldest segment (and
// HOLD_TOTAL_BYTES over all flows). When it runs out the bytes it waits for are declared lost: the
// hole in front of the other direction's queue, or a gap of the size the ACK says; then the held
// segments go on. Real traffic cannot ACK in a circle, so a hold on both sides only ever ends by
// running out. A flow that goes quiet while it holds is timed out by the sweep (the bytes it waits
// for were acknowledged, so no retransmission will bring them); a quiet flow with only a hole keeps
// waiting for its next packet, which may be the retransmission that fills it.
//
// Bytes drained from a queue carry the time of the segment that completed them (a filled hole) or
// their own time (a declared hole or a hold), never earlier than what the flow already delivered.
//
// Flows live in a hash of the 4-tuple (a symmetric hash of both endpoints, so one lookup finds
// either direction) and in an LRU list by last packet, which frees flows idle for idleTimeoutSec
// of capture time and caps their number, so memory stays bounded on any capture length. Closed
// flows stay CLOSED_LINGER_NS as tombstones so late ACKs and retransmitted FINs do not open
// phantom mid-way flows; a new SYN on a tombstone opens a new flow.
import { dstText, srcText } from './ip.js';
import type { Packet } from './packet.js';
import { EMPTY, Flow, flowInfo, seg, view, type Half, type Seg } from './tcp-flow.js';
import { endpointHash, Lru } from './flow-table.js';
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from './tcp.js';
import type { CaptureStats, CloseReason, Dir, ServerBy, StreamSink } from './types.js';

const MAX_OOO_BYTES = 4 << 20;
const MAX_OOO_SEGS = 2048;
const HOLE_TIMEOUT_NS = 2e9;
/** An ACK further ahead of the bytes seen than this proves nothing (a corrupt header, a huge drop). */
const MAX_ACK_AHEAD = MAX_OOO_BYTES;
const HOLD_PACKETS = 1000;
const HOLD_NS = 100e6;
const HOLD_BYTES = 1 << 20;
const HOLD_TOTAL_BYTES = 64 << 20;
const CLOSED_LINGER_NS = 30e9;
const SWEEP_EVERY_NS = 1e9;

/** Per-capture TCP state: flows, reassembly, lifecycle. */
export class TcpReassembler {
  /** Hash table of flows: bucket key & (length - 1), chained through Flow.hashNext. */
  private buckets: (Flow | null)[] = new Array<Flow | null>(1024).fill(null);
  private inTable = 0;
  /** Flow of the previous lookup, and the direction find() matched. */
  private last: Flow | null = null;
  private dir: Dir = 0;
  private readonly live = new Lru();
  private readonly dead = new Lru();
  /** Flows that hold segments, for the sweep to time out when they go quiet. */
  private waiting: Flow[] = [];
  /** Bytes held over all flows. */
  private heldTotal = 0;
  private nextId = 1;
  private nextSweep = -Infinity;
  private readonly idleNs: number;
  private readonly maxFlows: number;
  /** The sink takes byte ranges (dataAt) rather than views. */
  private readonly rangeSink: boolean;

  constructor(
    private readonly sink: StreamSink,
    private readonly stats: CaptureStats,
    private readonly isServer: Uint8Array,
    private readonly followSyn: boolean,
    idleTimeoutSec = 900,
    maxFlows = 262144,
  ) {
    this.idleNs = idleTimeoutSec * 1e9;
    this.maxFlows = Math.max(1, maxFlows);
    this.rangeSink = typeof sink.dataAt === 'function';
  }

  /** Handles one decoded TCP segment captured at ts. */
  segment(p: Packet, ts: number): void {
    if (ts >= this.nextSweep) this.sweep(ts);
    const sS = this.isServer[p.sport]!;
    const dS = this.isServer[p.dport]!;
    if (sS === 0 && dS === 0 && !this.followSyn) {
      this.stats.notServerPort++;
      if ((p.flags & (TCP_SYN | TCP_ACK | TCP_RST)) === TCP_SYN) countOtherSyn(this.stats.otherSynPorts, p.dport);
      return;
    }
    let f = this.find(p);
    let dir: Dir = this.dir;
    const fl = p.flags;
    const total = p.payLen + p.missing;
    const bareSyn = (fl & (TCP_SYN | TCP_ACK | TCP_RST)) === TCP_SYN;
    if (f === null) {
      // Pure ACKs, FINs and RSTs of unknown flows open nothing (late packets of freed flows).
      if ((fl & TCP_RST) !== 0 || ((fl & TCP_SYN) === 0 && total === 0)) return;
      f = this.open(p, this.keyOf(p), ts, sS, dS);
      dir = f.cport === p.sport && f.c0 === p.s0 && f.c1 === p.s1 && f.c2 === p.s2 && f.c3 === p.s3 ? 0 : 1;
    } else if (bareSyn && !(dir === 0 && f.synSeen && p.seq === f.clientIsn)) {
      // A new SYN on a known 4-tuple: a new connection (a retransmitted SYN has the same ISN).
      this.stats.reusedTuples++;
      if (f.closed) {
        this.unlink(f);
        this.dead.remove(f);
      } else this.close(f, ts, 'reused');
      f = this.open(p, this.keyOf(p), ts, sS, dS);
      dir = f.cport === p.sport && f.c0 === p.s0 && f.c1 === p.s1 && f.c2 === p.s2 && f.c3 === p.s3 ? 0 : 1;
    } else if (f.closed) {
      return;
    }
    f.lastSeen = ts;
    this.live.touch(f);
    const h = dir === 0 ? f.h0 : f.h1;
    const o = dir === 0 ? f.h1 : f.h0;
    if ((fl & TCP_RST) !== 0) {
      this.close(f, ts, 'rst');
      return;
    }
    let seq = p.seq;
    if ((fl & TCP_SYN) !== 0) {
      seq = (seq + 1) >>> 0;
      if ((fl & TCP_ACK) !== 0) {
        // SYN-ACK: the server's ISN, and the client's next byte in its ACK.
        if (!h.known) {
          h.known = true;
          h.next = seq;
        }
        if (!o.known) {
          o.known = true;
          o.next = p.ack;
        }
      }
    }
    if ((fl & TCP_ACK) !== 0 && (!o.peerAckValid || ((p.ack - o.peerAck) | 0) > 0)) {
      o.peerAck = p.ack;
      o.peerAckValid = true;
    }
    if (total > 0) this.data(f, dir, h, o, seq, p, ts, (fl & TCP_ACK) !== 0 ? p.ack : this.ackPos(o));
    if ((fl & TCP_FIN) !== 0) {
      if (!h.finSeen) {
        h.finSeen = true;
        h.finSeq = (seq + total) >>> 0;
      }
      if (!h.known || (h.next === h.finSeq && h.ooo === null && h.held === null)) h.done = true;
    }
    if ((f.oooDirs | f.holdDirs) !== 0) {
      f.pkts++;
      this.checkHoles(f, ts);
    }
    if (f.h0.done && f.h1.done) this.close(f, ts, 'fin');
  }

  private keyOf(p: Packet): number {
    return (endpointHash(p.family, p.s0, p.s1, p.s2, p.s3, p.sport) + endpointHash(p.family, p.d0, p.d1, p.d2, p.d3, p.dport)) & 0x3fffffff;
  }

  /** The flow of p's 4-tuple (the last one found first: packets come in bursts), setting this.dir. */
  private find(p: Packet): Flow | null {
    let f = this.last;
    if (f !== null && f.family === p.family) {
      if (f.cport === p.sport && f.sport === p.dport && f.c0 === p.s0 && f.s0 === p.d0 && f.c1 === p.s1 && f.c2 === p.s2 && f.c3 === p.s3 && f.s1 === p.d1 && f.s2 === p.d2 && f.s3 === p.d3) {
        this.dir = 0;
        return f;
      }
      if (f.cport === p.dport && f.sport === p.sport && f.c0 === p.d0 && f.s0 === p.s0 && f.c1 === p.d1 && f.c2 === p.d2 && f.c3 === p.d3 && f.s1 === p.s1 && f.s2 === p.s2 && f.s3 === p.s3) {
        this.dir = 1;
        return f;
      }
    }
    for (f = this.buckets[this.keyOf(p) & (this.buckets.length - 1)]; f !== null; f = f.hashNext) {
      if (f.family !== p.family) continue;
      if (f.cport === p.sport && f.sport === p.dport && f.c0 === p.s0 && f.s0 === p.d0 && f.c1 === p.s1 && f.c2 === p.s2 && f.c3 === p.s3 && f.s1 === p.d1 && f.s2 === p.d2 && f.s3 === p.d3) {
        this.dir = 0;
        this.last = f;
        return f;
      }
      if (f.cport === p.dport && f.sport === p.sport && f.c0 === p.d0 && f.s0 === p.s0 && f.c1 === p.d1 && f.c2 === p.d2 && f.c3 === p.d3 && f.s1 === p.s1 && f.s2 === p.s2 && f.s3 === p.s3) {
        this.dir = 1;
        this.last = f;
        return f;
      }
    }
    return null;
  }

  /** End of input: flushes and closes every open flow ('end', or 'fin' if that completes both FINs). */
  finish(ts: number): void {
    while (this.live.head !== null) {
      const f = this.live.head;
      this.flush(f, ts);
      this.close(f, ts, f.h0.done && f.h1.done ? 'fin' : 'end');
    }
    while (this.dead.head !== null) {
      const f = this.dead.head;
      this.unlink(f);
      this.dead.remove(f);
    }
  }

  /** Open flows right now (for tests of memory bounds). */
  get openFlows(): number {
    return this.live.size;
  }

  private open(p: Packet, key: number, ts: number, sS: number, dS: number): Flow {
    const fl = p.flags;
    const syn = (fl & TCP_SYN) !== 0;
    const synAck = syn && (fl & TCP_ACK) !== 0;
    let srvIsDst: boolean;
    let by: ServerBy;
    if (sS !== dS) {
      srvIsDst = dS !== 0;
      by = 'port';
    } else if (syn) {
      srvIsDst = !synAck;
      by = 'syn';
    } else {
      srvIsDst = p.dport < p.sport || (p.dport === p.sport && p.d0 < p.s0);
      by = 'guess';
    }
    if (this.live.size >= this.maxFlows) this.close(this.live.head!, ts, 'idle');
    const f = srvIsDst
      ? new Flow(this.nextId++, key, p.family, p.s0, p.s1, p.s2, p.s3, p.sport, p.d0, p.d1, p.d2, p.d3, p.dport, syn)
      : new Flow(this.nextId++, key, p.family, p.d0, p.d1, p.d2, p.d3, p.dport, p.s0, p.s1, p.s2, p.s3, p.sport, syn);
    if (syn && !synAck) {
      f.h0.known = true;
      f.h0.next = (p.seq + 1) >>> 0;
      f.clientIsn = p.seq;
    } else if (synAck) {
      f.clientIsn = (p.ack - 1) >>> 0;
    } else {
      f.h0.resync = f.h1.resync = true;
      this.stats.midstreamConnections++;
    }
    const b = key & (this.buckets.length - 1);
    f.hashNext = this.buckets[b];
    this.buckets[b] = f;
    if (++this.inTable > this.buckets.length) this.growTable();
    f.lastSeen = f.lastTs = ts;
    this.live.push(f);
    this.stats.tcpConnections++;
    const src = { addr: srcText(p), port: p.sport };
    const dst = { addr: dstText(p), port: p.dport };
    this.sink.open(flowInfo(f.id, srvIsDst ? src : dst, srvIsDst ? dst : src, ts, syn, by));
    return f;
  }

  // data() is split so that its common case (the next bytes, nothing held) stays small enough for
  // V8 to inline into segment(): each path below is a function of its own.
  private data(f: Flow, dir: Dir, h: Half, o: Half, seq: number, p: Packet, ts: number, need: number): void {
    if (!h.known) this.learn(f, h, seq);
    if (seq === h.next) this.accept(f, dir, h, o, p.buf, p.payOff, p.payLen, p.missing, ts, need);
    else this.offNext(f, dir, h, o, seq, p, ts, need);
  }

  /** The first bytes of a direction: where its stream starts. */
  private learn(f: Flow, h: Half, seq: number): void {
    h.known = true;
    if (f.synSeen && h.peerAckValid) {
      // Handshake seen but not this side's SYN: the peer's ACK says where its data starts.
      h.next = h.peerAck;
    } else {
      h.next = seq;
      h.resync = true;
    }
  }

  /** Bytes at h.next: handed on (or held behind the peer's bytes they ACK), then what they make contiguous. */
  private accept(f: Flow, dir: Dir, h: Half, o: Half, buf: Buffer, off: number, avail: number, missing: number, ts: number, need: number): void {
    if (h.held === null && o.held === null && ((need - o.next) | 0) <= 0) this.deliver(f, dir, h, buf, off, avail, missing, ts);
    else this.deliverOrHold(f, dir, h, o, buf, off, avail, missing, ts, need);
    h.next = (h.next + avail + missing) >>> 0;
    if (h.ooo !== null) this.drain(f, dir, h, ts, false);
    if (h.finSeen && h.next === h.finSeq && h.ooo === null && h.held === null) h.done = true;
  }

  /** A segment not at h.next: a retransmission, an overlap (only its new bytes go on), or one to queue. */
  private offNext(f: Flow, dir: Dir, h: Half, o: Half, seq: number, p: Packet, ts: number, need: number): void {
    let off = p.payOff;
    let avail = p.payLen;
    let missing = p.missing;
    const total = avail + missing;
    const rel = (seq - h.next) | 0;
    if (rel > 0) {
      this.queue(f, dir, h, seq, p.buf, off, avail, missing, ts, need);
      return;
    }
    if (rel + total <= 0) {
      this.stats.retransmittedSegments++;
      this.stats.retransmittedBytes += total;
      return;
    }
    const skip = -rel;
    this.stats.overlapBytes += skip;
    if (skip <= avail) {
      off += skip;
      avail -= skip;
    } else {
      missing -= skip - avail;
      off += avail;
      avail = 0;
    }
    this.accept(f, dir, h, o, p.buf, off, avail, missing, ts, need);
  }

  /** data()'s path when either direction holds or this segment ACKs bytes of o not seen yet. */
  private deliverOrHold(f: Flow, dir: Dir, h: Half, o: Half, buf: Buffer, off: number, len: number, missing: number, ts: number, need: number): void {
    // the peer's held segments ACK these bytes: they came late
    if (o.held !== null) this.stats.outOfOrderSegments++;
    if (h.held === null && !this.blocked(o, need)) this.deliver(f, dir, h, buf, off, len, missing, ts);
    else this.hold(f, dir, h, h.next, buf, off, len, missing, ts, need, false);
  }

  /** Where an ACK of o's bytes points once everything o handed on so far is acknowledged. */
  private ackPos(o: Half): number {
    if (o.held !== null) return o.held[0]!.seq;
    // a FIN takes a sequence number of its own
    return o.finSeen && o.next === o.finSeq && o.ooo === null ? (o.next + 1) >>> 0 : o.next;
  }

  /** True if `need` (an ACK) covers bytes of o that have not been handed on: they are late or lost. */
  private blocked(o: Half, need: number): boolean {
    if (!o.known) return false;
    const d = (need - this.ackPos(o)) | 0;
    return d > 0 && d <= MAX_ACK_AHEAD;
  }

  /** Keeps h's bytes until what they acknowledge has gone on; copies them unless `owned` (a queued copy). */
  private hold(f: Flow, dir: Dir, h: Half, seq: number, buf: Buffer, off: number, len: number, missing: number, ts: number, need: number, owned: boolean): void {
    let data: Buffer;
    if (owned) data = off === 0 && len === buf.length ? buf : buf.subarray(off, off + len);
    else {
      // not from the shared pool, as in queue()
      data = Buffer.allocUnsafeSlow(len);
      buf.copy(data, 0, off, off + len);
    }
    const s = seg(seq, data, missing, ts, need, f.pkts);
    if (h.held === null) {
      h.held = [s];
      f.holdDirs |= 1 << dir;
      this.wait(f);
    } else h.held.push(s);
    h.heldBytes += len;
    this.heldTotal += len;
  }

  private deliverHeld(f: Flow, dir: Dir, h: Half, s: Seg): void {
    this.deliver(f, dir, h, s.data, 0, s.data.length, s.missing, s.ts);
    h.heldBytes -= s.data.length;
    this.heldTotal -= s.data.length;
  }

  /** Drops the first n held segments (handed on). */
  private unhold(f: Flow, dir: Dir, h: Half, n: number): void {
    const q = h.held!;
    if (n < q.length) {
      q.splice(0, n);
      return;
    }
    h.held = null;
    f.holdDirs &= ~(1 << dir);
    if (h.finSeen && h.next === h.finSeq && h.ooo === null) h.done = true;
  }

  /** Hands on held segments whose acknowledged bytes have gone on, both ways, until nothing moves. */
  private pump(f: Flow): void {
    for (let moved = true; moved; ) {
      moved = false;
      for (let d = 0; d < 2; d++) {
        const h = d === 0 ? f.h0 : f.h1;
        const q = h.held;
        if (q === null) continue;
        const o = d === 0 ? f.h1 : f.h0;
        let i = 0;
        while (i < q.length && !this.blocked(o, q[i]!.need)) this.deliverHeld(f, d as Dir, h, q[i++]!);
        if (i > 0) {
          this.unhold(f, d as Dir, h, i);
          moved = true;
        }
      }
    }
  }

  /**
   * The oldest held segment of dir waited too long: the peer's bytes it acknowledges are lost.
   * Declares them (the holes in front of the peer's queue, or a gap of the acknowledged size) and
   * hands the segment on.
   */
  private expireFront(f: Flow, dir: Dir, ts: number): void {
    const h = dir === 0 ? f.h0 : f.h1;
    const od: Dir = dir === 0 ? 1 : 0;
    const o = od === 0 ? f.h0 : f.h1;
    const s = h.held![0]!;
    // o.held !== null: o waits for h in turn (no real traffic does that); s goes on regardless
    while (o.held === null && o.ooo !== null && this.blocked(o, s.need)) this.declareHole(f, od, o, ts);
    if (o.held === null && o.ooo === null && this.blocked(o, s.need)) {
      let upTo = s.need;
      if (o.finSeen && ((upTo - o.finSeq) | 0) > 0) upTo = o.finSeq;
      const bytes = (upTo - o.next) | 0;
      if (bytes > 0) {
        this.lost(f, od, o, bytes, s.ts);
        o.next = upTo;
        if (o.finSeen && o.next === o.finSeq) o.done = true;
      }
    }
    if (h.held !== null && h.held[0] === s) {
      this.deliverHeld(f, dir, h, s);
      this.unhold(f, dir, h, 1);
    }
    this.pump(f);
  }

  /** Reports n bytes at h.next that the capture does not hold. */
  private lost(f: Flow, dir: Dir, h: Half, n: number, ts: number): void {
    const t = ts < f.lastTs ? f.lastTs : ts;
    f.lastTs = t;
    if (h.resync) {
      h.resync = false;
      this.sink.gap(f.id, dir, -1, t);
    } else {
      this.sink.gap(f.id, dir, n, t);
      this.stats.gapEvents++;
      this.stats.gapBytes += n;
    }
  }

  /** Ends every wait of the flow: holes are declared lost, held segments handed on. */
  private flush(f: Flow, ts: number): void {
    for (;;) {
      if (f.holdDirs !== 0) this.pump(f);
      if (f.h0.held !== null) this.expireFront(f, 0, ts);
      else if (f.h1.held !== null) this.expireFront(f, 1, ts);
      else if (f.h0.ooo !== null) this.declareHole(f, 0, f.h0, ts);
      else if (f.h1.ooo !== null) this.declareHole(f, 1, f.h1, ts);
      else return;
    }
  }

  private wait(f: Flow): void {
    if (f.waiting) return;
    f.waiting = true;
    this.waiting.push(f);
  }

  private deliver(f: Flow, dir: Dir, h: Half, buf: Buffer, off: number, len: number, missing: number, ts: number): void {
    if (ts < f.lastTs) ts = f.lastTs;
    else f.lastTs = ts;
    if (h.resync) {
      h.resync = false;
      this.sink.gap(f.id, dir, -1, ts);
    }
    if (len > 0) {
      if (this.rangeSink) this.sink.dataAt!(f.id, dir, buf, off, len, ts);
      else this.sink.data(f.id, dir, view(buf, off, len), ts);
    }
    if (missing > 0) this.sink.gap(f.id, dir, missing, ts);
  }

  private queue(f: Flow, dir: Dir, h: Half, seq: number, buf: Buffer, off: number, avail: number, missing: number, ts: number, need: number): void {
    const rel = (seq - h.next) | 0;
    const total = avail + missing;
    let q = h.ooo;
    let at = 0;
    if (q === null) {
      q = h.ooo = [];
      f.oooDirs |= 1 << dir;
      h.acked = false;
    } else {
      at = q.length;
      while (at > 0 && ((q[at - 1]!.seq - h.next) | 0) > rel) at--;
      if (at > 0) {
        const prev = q[at - 1]!;
        const pRel = (prev.seq - h.next) | 0;
        if (pRel + prev.data.length + prev.missing >= rel + total) {
          // Wholly inside a queued segment: a duplicate.
          this.stats.retransmittedSegments++;
          this.stats.retransmittedBytes += total;
          return;
        }
      }
    }
    // Not from the shared pool: a queued copy must not pin an 8 KiB slab of unrelated bytes.
    const data = Buffer.allocUnsafeSlow(avail);
    buf.copy(data, 0, off, off + avail);
    q.splice(at, 0, seg(seq, data, missing, ts, need, f.pkts));
    h.oooBytes += avail;
    this.stats.outOfOrderSegments++;
    while (h.ooo !== null && (h.oooBytes > MAX_OOO_BYTES || h.ooo.length > MAX_OOO_SEGS)) this.declareHole(f, dir, h, ts);
  }

  /** Hands on queued segments that are now contiguous. `ownTs`: use each segment's own time. */
  private drain(f: Flow, dir: Dir, h: Half, ts: number, ownTs: boolean): void {
    const q = h.ooo!;
    const o = dir === 0 ? f.h1 : f.h0;
    let i = 0;
    while (i < q.length) {
      const s = q[i]!;
      const rel = (s.seq - h.next) | 0;
      if (rel > 0) break;
      i++;
      h.oooBytes -= s.data.length;
      const total = s.data.length + s.missing;
      if (rel + total <= 0) {
        this.stats.retransmittedSegments++;
        this.stats.retransmittedBytes += total;
        continue;
      }
      let off = 0;
      let avail = s.data.length;
      let missing = s.missing;
      if (rel < 0) {
        const skip = -rel;
        this.stats.overlapBytes += skip;
        if (skip <= avail) {
          off = skip;
          avail -= skip;
        } else {
          missing -= skip - avail;
          off = avail;
          avail = 0;
        }
      }
      const t = ownTs ? s.ts : ts;
      if (h.held === null && !this.blocked(o, s.need)) this.deliver(f, dir, h, s.data, off, avail, missing, t);
      else this.hold(f, dir, h, h.next, s.data, off, avail, missing, t, s.need, true);
      h.next = (h.next + avail + missing) >>> 0;
    }
    if (i === q.length) {
      h.ooo = null;
      h.oooBytes = 0;
      f.oooDirs &= ~(1 << dir);
    } else if (i > 0) q.splice(0, i);
    h.acked = false;
    if (h.finSeen && h.next === h.finSeq && h.ooo === null && h.held === null) h.done = true;
  }

  /** The bytes in front of the first queued segment will not come: report them lost, drain. */
  private declareHole(f: Flow, dir: Dir, h: Half, ts: number): void {
    const s = h.ooo![0]!;
    const bytes = (s.seq - h.next) | 0;
    if (bytes > 0) {
      if (h.held === null) this.lost(f, dir, h, bytes, s.ts);
      else {
        // behind bytes still held: the gap waits its turn with them
        h.held.push(seg(h.next, EMPTY, bytes, s.ts, h.held[h.held.length - 1]!.need, f.pkts));
        this.stats.gapEvents++;
        this.stats.gapBytes += bytes;
      }
      h.next = s.seq;
    }
    this.drain(f, dir, h, ts, true);
  }

  /** Ends the holds and declares the holes whose window has run out; ts is the capture time now. */
  private checkHoles(f: Flow, ts: number): void {
    if (f.holdDirs !== 0) this.pump(f);
    for (let d = 0; d < 2; d++) {
      const h = d === 0 ? f.h0 : f.h1;
      while (h.held !== null) {
        const s = h.held[0]!;
        if (f.pkts - s.pkt < HOLD_PACKETS && ts - s.ts < HOLD_NS && h.heldBytes <= HOLD_BYTES && this.heldTotal <= HOLD_TOTAL_BYTES) break;
        this.expireFront(f, d as Dir, ts);
      }
      const q = h.ooo;
      if (q === null) continue;
      if (!h.acked && h.peerAckValid && ((h.peerAck - h.next) | 0) > 0) {
        h.acked = true;
        h.ackPkt = f.pkts;
        h.ackSince = ts;
      }
      if (ts - q[0]!.ts >= HOLE_TIMEOUT_NS || (h.acked && (f.pkts - h.ackPkt >= HOLD_PACKETS || ts - h.ackSince >= HOLD_NS))) {
        this.declareHole(f, d as Dir, h, ts);
        if (f.holdDirs !== 0) this.pump(f);
      }
    }
  }

  private close(f: Flow, ts: number, reason: CloseReason): void {
    this.flush(f, ts);
    const t = ts < f.lastTs ? f.lastTs : ts;
    f.closed = true;
    this.live.remove(f);
    this.sink.close(f.id, t, reason);
    if (reason === 'fin' || reason === 'rst') {
      f.lastSeen = ts;
      this.dead.push(f);
      if (this.dead.size > this.maxFlows) {
        const old = this.dead.head!;
        this.unlink(old);
        this.dead.remove(old);
      }
    } else this.unlink(f);
  }

  private unlink(f: Flow): void {
    if (this.last === f) this.last = null;
    const b = f.key & (this.buckets.length - 1);
    let p = this.buckets[b];
    if (p === f) {
      this.buckets[b] = f.hashNext;
      this.inTable--;
    } else {
      while (p !== null && p.hashNext !== f) p = p.hashNext;
      if (p !== null) {
        p.hashNext = f.hashNext;
        this.inTable--;
      }
    }
    f.hashNext = null;
  }

  /** Doubles the bucket array once flows outnumber buckets (a 4-tuple has one flow in the table). */
  private growTable(): void {
    const old = this.buckets;
    const buckets = new Array<Flow | null>(old.length * 2).fill(null);
    const mask = buckets.length - 1;
    for (let i = 0; i < old.length; i++) {
      for (let f = old[i]; f !== null; ) {
        const next = f.hashNext;
        f.hashNext = buckets[f.key & mask];
        buckets[f.key & mask] = f;
        f = next;
      }
    }
    this.buckets = buckets;
  }

  private sweep(now: number): void {
    this.nextSweep = now + SWEEP_EVERY_NS;
    while (this.dead.head !== null && this.dead.head.lastSeen + CLOSED_LINGER_NS <= now) {
      const f = this.dead.head;
      this.unlink(f);
      this.dead.remove(f);
    }
    if (this.waiting.length !== 0) {
      // a flow that went quiet while it holds: its hold windows run out on capture time alone
      const list = this.waiting;
      this.waiting = [];
      for (const f of list) {
        f.waiting = false;
        if (f.closed || f.holdDirs === 0) continue;
        this.checkHoles(f, now);
        if (f.h0.done && f.h1.done) this.close(f, now, 'fin');
        else if (f.holdDirs !== 0) this.wait(f);
      }
    }
    while (this.live.head !== null && this.live.head.lastSeen + this.idleNs <= now) {
      const f = this.live.head;
      this.close(f, f.lastSeen, 'idle');
    }
  }
}

/** Most distinct ports kept in CaptureStats.otherSynPorts (a port scan must not grow it). */
export const OTHER_SYN_PORTS_MAX = 32;

/** Counts a connection opening to `port` on traffic the chosen server ports left out. */
function countOtherSyn(m: Record<number, number>, port: number): void {
  const n = m[port];
  if (n !== undefined) m[port] = n + 1;
  else if (Object.keys(m).length < OTHER_SYN_PORTS_MAX) m[port] = 1;
}
