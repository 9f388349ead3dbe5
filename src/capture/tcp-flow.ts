// A TCP flow of the reassembler (reassembly.ts) and the state of its two directions ("halves"):
// next expected sequence number, FIN, the out-of-order queue and the held segments of each
// direction, and the segments they hold. Plain state: the reassembler's steps act on it.
import { SETTLE_DOUBLE } from './packet.js';
import type { Endpoint, ServerBy, TcpFlowInfo } from './types.js';

// A Buffer view made without Buffer#subarray's argument checks: one per delivered segment.
class View extends Uint8Array {}
Object.setPrototypeOf(View.prototype, Buffer.prototype);
export function view(b: Buffer, off: number, len: number): Buffer {
  return new View(b.buffer as ArrayBuffer, b.byteOffset + off, len) as unknown as Buffer;
}

export interface Seg {
  seq: number;
  data: Buffer;
  missing: number;
  ts: number;
  /** Its ACK: the peer's bytes it answers, which must be handed on before it. */
  need: number;
  /** The flow's packet count when it came (the hold window). */
  pkt: number;
}

export const EMPTY = Buffer.alloc(0);

export function seg(seq: number, data: Buffer, missing: number, ts: number, need: number, pkt: number): Seg {
  return { seq, data, missing, ts, need, pkt };
}

/** One direction of a flow. Sequence numbers are uint32; comparisons use (a - b) | 0. */
export class Half {
  known = false;
  next = 0;
  /** gap(-1) is owed before the first bytes (mid-way join). */
  resync = false;
  finSeen = false;
  finSeq = 0;
  done = false;
  ooo: Seg[] | null = null;
  oooBytes = 0;
  /** In-order segments (and gaps) behind one waiting for the peer's bytes it acknowledges. */
  held: Seg[] | null = null;
  heldBytes = 0;
  /** Highest ACK the peer sent for this direction. */
  peerAck = 0;
  peerAckValid = false;
  /** The peer acknowledged past the hole in front of ooo: since which packet of the flow, and when. */
  acked = false;
  ackPkt = 0;
  ackSince = 0;
}

export class Flow {
  closed = false;
  lastSeen = 0;
  /** Last time handed to the sink for this flow: keeps its calls non-decreasing in time. */
  lastTs = 0;
  prev: Flow | null = null;
  next: Flow | null = null;
  hashNext: Flow | null = null;
  readonly h0 = new Half();
  readonly h1 = new Half();
  oooDirs = 0;
  holdDirs = 0;
  /** Packets of the flow while it waits for a hole or a hold (their windows count them). */
  pkts = 0;
  /** In TcpReassembler.waiting (holds that the sweep must time out). */
  waiting = false;
  clientIsn = 0;
  constructor(
    readonly id: number,
    readonly key: number,
    readonly family: number,
    readonly c0: number,
    readonly c1: number,
    readonly c2: number,
    readonly c3: number,
    readonly cport: number,
    readonly s0: number,
    readonly s1: number,
    readonly s2: number,
    readonly s3: number,
    readonly sport: number,
    readonly synSeen: boolean,
  ) {}
}

export function flowInfo(id: number, client: Endpoint, server: Endpoint, startNs: number, synSeen: boolean, serverBy: ServerBy): TcpFlowInfo {
  return { id, client, server, startNs, synSeen, serverBy };
}

// Sequence numbers and capture times outgrow small integers: see SETTLE_DOUBLE.
{
  const d = SETTLE_DOUBLE;
  const f = new Flow(0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, false);
  f.lastSeen = f.lastTs = f.clientIsn = d;
  f.h0.next = f.h0.finSeq = f.h0.peerAck = f.h0.ackSince = d;
  seg(d, EMPTY, 0, d, d, 0);
  flowInfo(0, { addr: '', port: 0 }, { addr: '', port: 0 }, d, false, 'port');
}
