// Packed work batches: how the coordinator hands the schedule to a worker thread. A batch is one
// Float64Array of fixed-size records, one byte buffer holding every request's bytes and a string
// table (command names, keys, meta flags), and it is transferred, not cloned. Posting an object per
// request cost about 8 µs per request across both threads (structured clone and the garbage it
// leaves); packed, about 2 µs including building and decoding (measured with 2048-item batches).
import type { Expect, Proto } from '../protocol/types.js';
import type { CloseItem, HeldItem, OpenItem, PackedBatch, ReqItem, UnsentItem, WorkItem } from './messages.js';


const K_OPEN = 0;
const K_REQ = 1;
const K_CLOSE = 2;
const K_HELD = 3;
const K_UNSENT = 4;
/** Numbers per record. */
const STRIDE = 12;
/** Bytes a queued request costs beyond its own: its packed record here, its queue entry in the worker. */
export const RECORD_OVERHEAD_BYTES = STRIDE * 8 + 16;

const PROTOS: Proto[] = ['text', 'meta', 'binary'];
const EXPECTS: Expect[] = ['none', 'line', 'values', 'stats', 'meta', 'binary'];
const PROTO_CODE: Record<Proto, number> = { text: 0, meta: 1, binary: 2 };
const EXPECT_CODE: Record<Expect, number> = { none: 0, line: 1, values: 2, stats: 3, meta: 4, binary: 5 };
const B_QUIET = 1 << 2;
const B_PIPELINED = 1 << 3;
const B_CAS = 1 << 4;

/** A request as the coordinator hands it to the packer: the bytes to send and what the matcher needs. */
export interface ReqRecord {
  at: number;
  conn: number;
  proto: Proto;
  cmd: string;
  expect: Expect;
  quiet: boolean;
  opaque: number;
  /** Keys as sent (clone prefix applied). */
  keys: readonly string[];
  metaFlags: readonly string[];
  /** Request bytes as sent, in one or more pieces (prefix and relative expiry already applied); copied by `req`. */
  raw: Buffer | readonly Buffer[];
  /** Absolute expiry to set at send time: this many seconds after the actual send; null = none. */
  absExpSec: number | null;
  /** Replace the captured CAS unique with the target's token for keys[0]. */
  cas: boolean;
  pipelined: boolean;
}

/** Builds one worker's next batch; `take()` hands it over and starts a new one. */
export class BatchWriter {
  private num: Float64Array;
  private n = 0;
  /** Request bytes, copied in as they are added (the capture's buffers are views that move on). */
  private data: Buffer;
  private rawBytes = 0;
  /** Size of the next batch's byte buffer: the last batch's, so a batch rarely grows or wastes. */
  private dataHint = 64 * 1024;
  private strs: string[] = [];
  private strIdx = new Map<string, number>();

  constructor(private readonly capacity: number) {
    this.num = new Float64Array(capacity * STRIDE);
    this.data = Buffer.allocUnsafeSlow(this.dataHint);
  }

  /** Records in the batch. */
  get size(): number {
    return this.n;
  }

  /** Bytes of request data in the batch. */
  get bytes(): number {
    return this.rawBytes;
  }

  /** True when the batch is full and must be taken before the next add. */
  get full(): boolean {
    return this.n >= this.capacity;
  }

  private rec(kind: number, at: number): number {
    const o = this.n++ * STRIDE;
    this.num[o] = kind;
    this.num[o + 1] = at;
    return o;
  }

  /** Index of a string that repeats (command names, reasons): stored once per batch. */
  private shared(s: string): number {
    let i = this.strIdx.get(s);
    if (i === undefined) {
      i = this.strs.push(s) - 1;
      this.strIdx.set(s, i);
    }
    return i;
  }

  open(at: number, conn: number, target: number, early: boolean, udp = false): void {
    const o = this.rec(K_OPEN, at);
    this.num[o + 2] = conn;
    this.num[o + 3] = target;
    // 2: a UDP client socket (never early: there is no connection to have joined mid-way)
    this.num[o + 4] = udp ? 2 : early ? 1 : 0;
  }

  close(at: number, conn: number): void {
    const o = this.rec(K_CLOSE, at);
    this.num[o + 2] = conn;
  }

  held(at: number, cmd: string, reason: string, n: number): void {
    const o = this.rec(K_HELD, at);
    this.num[o + 2] = n;
    this.num[o + 3] = this.shared(cmd);
    this.num[o + 4] = this.shared(reason);
  }

  unsent(cmd: string, n: number): void {
    const o = this.rec(K_UNSENT, 0);
    this.num[o + 2] = n;
    this.num[o + 3] = this.shared(cmd);
  }

  req(r: ReqRecord): void {
    const o = this.rec(K_REQ, r.at);
    const num = this.num;
    num[o + 2] = r.conn;
    num[o + 3] = this.rawBytes;
    const start = this.rawBytes;
    if (Buffer.isBuffer(r.raw)) this.append(r.raw);
    else for (const b of r.raw) this.append(b);
    num[o + 4] = this.rawBytes - start;
    num[o + 5] = this.shared(r.cmd);
    // text requests need only their key count on the worker side (the matcher counts a multi-get's
    // misses with it; hits and CAS tokens come with the keys in the answer): their keys stay here,
    // which keeps the worker's heap, and so its garbage collection pauses, small
    if (r.proto === 'text' && !r.cas) num[o + 6] = -1;
    else {
      num[o + 6] = this.strs.length;
      for (const k of r.keys) this.strs.push(k);
    }
    num[o + 7] = r.keys.length;
    let bits = PROTO_CODE[r.proto] | (EXPECT_CODE[r.expect] << 5);
    if (r.quiet) bits |= B_QUIET;
    if (r.pipelined) bits |= B_PIPELINED;
    if (r.cas) bits |= B_CAS;
    num[o + 8] = bits;
    num[o + 9] = r.opaque;
    num[o + 10] = r.metaFlags.length === 0 ? -1 : this.strs.push(r.metaFlags.join(' ')) - 1;
    num[o + 11] = r.absExpSec ?? NaN;
  }

  private append(b: Buffer): void {
    const need = this.rawBytes + b.length;
    if (need > this.data.length) {
      let c = this.data.length * 2;
      while (c < need) c *= 2;
      const nb = Buffer.allocUnsafeSlow(c);
      this.data.copy(nb, 0, 0, this.rawBytes);
      this.data = nb;
    }
    b.copy(this.data, this.rawBytes);
    this.rawBytes = need;
  }

  /** Hands the batch over (buffers to transfer) and starts an empty one. */
  take(): { batch: PackedBatch; transfer: ArrayBuffer[] } {
    const n = this.n;
    const num = this.num.slice(0, n * STRIDE);
    // the whole buffer is transferred (no copy); the view says how much of it is used
    const data = new Uint8Array(this.data.buffer, this.data.byteOffset, this.rawBytes);
    const batch: PackedBatch = { n, num, data, strs: this.strs };
    this.dataHint = Math.max(4096, this.rawBytes + (this.rawBytes >> 3));
    this.data = Buffer.allocUnsafeSlow(this.dataHint);
    this.n = 0;
    this.rawBytes = 0;
    this.strs = [];
    this.strIdx = new Map();
    return { batch, transfer: [num.buffer as ArrayBuffer, data.buffer as ArrayBuffer] };
  }
}

/** Decodes record `i` of a packed batch (`data` is the batch's bytes as a Buffer). */
function decodeAt(b: PackedBatch, data: Buffer, i: number): WorkItem {
  const num = b.num;
  const strs = b.strs;
  const o = i * STRIDE;
  const kind = num[o]!;
  const at = num[o + 1]!;
  if (kind === K_REQ) {
    const off = num[o + 3]!;
    const ks = num[o + 6]!;
    const kn = num[o + 7]!;
    const bits = num[o + 8]!;
    const keys = ks < 0 ? countOnly(kn) : kn === 1 ? [strs[ks]!] : strs.slice(ks, ks + kn);
    const mi = num[o + 10]!;
    const exp = num[o + 11]!;
    return {
      k: 'req',
      at,
      conn: num[o + 2]!,
      proto: PROTOS[bits & 3]!,
      cmd: strs[num[o + 5]!]!,
      expect: EXPECTS[(bits >> 5) & 7]!,
      quiet: (bits & B_QUIET) !== 0,
      opaque: num[o + 9]!,
      keys,
      metaFlags: mi >= 0 ? strs[mi]!.split(' ') : NO_FLAGS,
      raw: data.subarray(off, off + num[o + 4]!),
      absExpSec: Number.isNaN(exp) ? null : exp,
      casKey: (bits & B_CAS) !== 0 && kn > 0 ? keys[0]! : null,
      pipelined: (bits & B_PIPELINED) !== 0,
    } satisfies ReqItem;
  }
  if (kind === K_OPEN) {
    const it: OpenItem = { k: 'open', at, conn: num[o + 2]!, target: num[o + 3]!, early: num[o + 4] === 1 };
    if (num[o + 4] === 2) it.udp = true;
    return it;
  }
  if (kind === K_CLOSE) return { k: 'close', at, conn: num[o + 2]! } satisfies CloseItem;
  if (kind === K_HELD) return { k: 'held', at, n: num[o + 2]!, cmd: strs[num[o + 3]!]!, reason: strs[num[o + 4]!]! } satisfies HeldItem;
  return { k: 'unsent', at, n: num[o + 2]!, cmd: strs[num[o + 3]!]! } satisfies UnsentItem;
}

/** Decodes a whole packed batch into work items (tests and small batches). */
export function decodeBatch(b: PackedBatch): WorkItem[] {
  const data = Buffer.from(b.data.buffer, b.data.byteOffset, b.data.byteLength);
  const out: WorkItem[] = [];
  for (let i = 0; i < b.n; i++) out.push(decodeAt(b, data, i));
  return out;
}

/** Requests looked at for the rehearsal's kinds (startInfo), and most kinds it keeps. */
const SAMPLE_SCAN = 100_000;
const SAMPLE_KINDS = 64;

/** What sets a request's answer path apart: command, protocol, expected answer, quiet, CAS, one or many keys, meta flag letters. */
function reqKind(b: PackedBatch, o: number, cmd: string): string {
  const num = b.num;
  let sig = cmd + ' ' + (num[o + 8]! & ~B_PIPELINED) + (num[o + 7]! > 1 ? ' m' : ' 1');
  const mi = num[o + 10]!;
  if (mi >= 0) {
    // flag letters only: tokens (opaque, TTL) differ per request
    for (const f of b.strs[mi]!.split(' ')) sig += f.charAt(0);
  }
  return sig;
}

/** A received batch and its bytes as a Buffer: what a queued reference to one of its records needs. */
export interface BatchView {
  readonly b: PackedBatch;
  readonly data: Buffer;
}

/** The command of request record `i` of a batch, without decoding the record. */
export function reqCmd(v: BatchView, i: number): string {
  return v.b.strs[v.b.num[i * STRIDE + 5]!]!;
}

/** Decodes request record `i` of a batch (the caller knows it is one). */
export function decodeReq(v: BatchView, i: number): ReqItem {
  return decodeAt(v.b, v.data, i) as ReqItem;
}

/** One batch in the worker's queue: its records in due order, and how far it has been consumed. */
interface Run extends BatchView {
  /** Record indices sorted by (at, index). */
  order: Int32Array;
  pos: number;
  /** Arrival order of the batch: ties in `at` between batches go to the earlier one. */
  seq: number;
  /** Due time of order[pos]. */
  at: number;
}

/**
 * The worker's schedule: packed batches kept as they arrived and merged by due time. Items are
 * decoded only when they are dispatched, so the look-ahead (seconds of requests) stays in a few
 * large typed arrays instead of one object per request that the garbage collector would copy and
 * mark over and over (a 2 s look-ahead at 40k requests/s cost GC pauses of 100+ ms).
 * Order: by due time, then arrival (batch, then position in it): requests of one connection due at
 * the same nanosecond keep their captured order.
 */
export class RunQueue {
  private heap: Run[] = [];
  private seq = 0;
  private left = 0;

  /** Items not yet taken. */
  get size(): number {
    return this.left;
  }

  /**
   * Adds a batch. `claim` may take the open records of connections the capture joined mid-way at
   * once (they are opened on arrival): when it returns true the record is not queued.
   */
  add(b: PackedBatch, claim?: (it: OpenItem) => boolean): void {
    const num = b.num;
    const data = Buffer.from(b.data.buffer, b.data.byteOffset, b.data.byteLength);
    const idx: number[] = [];
    let sorted = true;
    let last = -Infinity;
    for (let i = 0; i < b.n; i++) {
      const o = i * STRIDE;
      if (claim !== undefined && num[o] === K_OPEN && num[o + 4] === 1 && claim(decodeAt(b, data, i) as OpenItem)) continue;
      const at = num[o + 1]!;
      if (at < last) sorted = false;
      last = at;
      idx.push(i);
    }
    if (idx.length === 0) return;
    if (!sorted) idx.sort((x, y) => num[x * STRIDE + 1]! - num[y * STRIDE + 1]! || x - y);
    const order = Int32Array.from(idx);
    const r: Run = { b, data, order, pos: 0, seq: this.seq++, at: num[order[0]! * STRIDE + 1]! };
    this.left += order.length;
    this.push(r);
  }

  /** Due time of the earliest item, or undefined. */
  peekAt(): number | undefined {
    return this.heap[0]?.at;
  }

  /** The earliest item is a request: `headView()`/`headIndex()`/`headConn()` name it without decoding it. */
  headIsReq(): boolean {
    const r = this.heap[0];
    return r !== undefined && r.b.num[r.order[r.pos]! * STRIDE] === K_REQ;
  }

  /** The earliest item opens a connection. */
  headIsOpen(): boolean {
    const r = this.heap[0];
    return r !== undefined && r.b.num[r.order[r.pos]! * STRIDE] === K_OPEN;
  }

  /** The batch of the earliest item (queue not empty). */
  headView(): BatchView {
    return this.heap[0]!;
  }

  /** Record index of the earliest item in its batch (queue not empty). */
  headIndex(): number {
    const r = this.heap[0]!;
    return r.order[r.pos]!;
  }

  /** Connection of the earliest item, a request (queue not empty). */
  headConn(): number {
    const r = this.heap[0]!;
    return r.b.num[r.order[r.pos]! * STRIDE + 2]!;
  }

  /** Removes and decodes the earliest item. */
  pop(): WorkItem | undefined {
    const r = this.heap[0];
    if (r === undefined) return undefined;
    const it = decodeAt(r.b, r.data, r.order[r.pos]!);
    this.skip();
    return it;
  }

  /** Removes the earliest item without decoding it (queue not empty). */
  skip(): void {
    const r = this.heap[0]!;
    this.left--;
    r.pos++;
    if (r.pos < r.order.length) {
      r.at = r.b.num[r.order[r.pos]! * STRIDE + 1]!;
      this.siftDown(0);
    } else {
      const lastRun = this.heap.pop()!;
      if (this.heap.length > 0) {
        this.heap[0] = lastRun;
        this.siftDown(0);
      }
    }
  }

  /**
   * Before t0, without decoding the queue (tens of thousands of objects that would be garbage in
   * the first second of the schedule): the command names of its requests, its open records of
   * connections the capture joined mid-way or opens by run-clock `soonNs`, and one decoded request
   * of each kind among the first SAMPLE_SCAN (command, protocol, expected answer, quiet, CAS, multi-key,
   * meta flag letters): what the worker's rehearsal (rehearsal.ts) runs before t0.
   */
  startInfo(soonNs = -1): { cmds: Set<string>; early: OpenItem[]; samples: ReqItem[] } {
    const cmds = new Set<string>();
    const early: OpenItem[] = [];
    const samples: ReqItem[] = [];
    const kinds = new Set<string>();
    let scanned = 0;
    for (const r of [...this.heap].sort((x, y) => x.seq - y.seq)) {
      const num = r.b.num;
      for (let p = r.pos; p < r.order.length; p++) {
        const i = r.order[p]!;
        const o = i * STRIDE;
        const kind = num[o];
        if (kind === K_REQ) {
          const cmd = r.b.strs[num[o + 5]!]!;
          cmds.add(cmd);
          if (scanned++ < SAMPLE_SCAN && samples.length < SAMPLE_KINDS) {
            const sig = reqKind(r.b, o, cmd);
            if (!kinds.has(sig)) {
              kinds.add(sig);
              samples.push(decodeAt(r.b, r.data, i) as ReqItem);
            }
          }
        } else if (kind === K_OPEN && (num[o + 4] === 1 || num[o + 1]! <= soonNs)) early.push(decodeAt(r.b, r.data, i) as OpenItem);
      }
    }
    return { cmds, early, samples };
  }

  /**
   * Removes everything in due order: requests are handed over by command name only, the rest
   * decoded. A stop must not decode the whole look-ahead (up to a million requests:
   * a second of stalled event loop, and that much garbage).
   */
  drainCounted(onReq: (cmd: string) => void, onOther: (it: WorkItem) => void): void {
    while (this.heap.length > 0) {
      const r = this.heap[0]!;
      const i = r.order[r.pos]!;
      if (r.b.num[i * STRIDE] === K_REQ) {
        onReq(reqCmd(r, i));
        this.skip();
      } else onOther(this.pop()!);
    }
  }

  private push(r: Run): void {
    const a = this.heap;
    a.push(r);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(r, a[p]!)) break;
      a[i] = a[p]!;
      i = p;
    }
    a[i] = r;
  }

  private siftDown(i: number): void {
    const a = this.heap;
    const n = a.length;
    const x = a[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const rr = l + 1;
      const c = rr < n && before(a[rr]!, a[l]!) ? rr : l;
      if (!before(a[c]!, x)) break;
      a[i] = a[c]!;
      i = c;
    }
    a[i] = x;
  }
}

function before(a: Run, b: Run): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

const NO_FLAGS: string[] = [];
const COUNT_ONLY: string[][] = [];

/** Keys of a text request on the worker side: `n` placeholders (shared, never modified). */
function countOnly(n: number): string[] {
  if (n > 256) return new Array<string>(n).fill('');
  return (COUNT_ONLY[n] ??= new Array<string>(n).fill(''));
}
