// A replay worker's connections: what they see of the worker (the ConnCtx), their creation, the
// dispatch of a work item to its connection, and the connections opened before t0.
import { ReplayConn, type ConnCtx } from './conn.js';
import { newUdpConn } from './udp-conn.js';
import type { CasTable } from './cas-table.js';
import type { IntervalRecorder } from '../metrics/recorder.js';
import { fullGc } from './full-gc.js';
import { READ_BUF_BYTES } from './warmup.js';
import { PREOPEN_NS, type ReqItem, type WorkItem } from './messages.js';
import { farBehind, maybeDone, now, post, type WorkerState } from './worker-state.js';

/** How long the worker waits at start for connections the capture joined mid-way to come up. */
const EARLY_CONNECT_WAIT_MS = 1000;
const PREOPEN_MAX = 2000;

/** The worker as its connections see it; rec and cas are set once the worker is initialised. */
export function newConnCtx(s: WorkerState): ConnCtx {
  const ctx: ConnCtx = {
    rec: null as unknown as IntervalRecorder,
    now: () => now(s),
    timeoutNs: 5e9,
    maxMode: false,
    cas: null as unknown as CasTable,
    totals: s.totals,
    auth: null,
    finished(c) {
      s.conns.delete(c.id);
      maybeDone(s);
    },
    inflight: 0,
    noneInFlight() {
      // the waker was set for a wait with answers outstanding: wait for the next due item afresh
      // (arm: in this thread when it is near), unless a turn or a spin turn is under way
      if (!s.pumping && s.immediate === null && !ctx.maxMode) s.armCb();
    },
    lastWriteNs: 0,
    dialling: 0,
    backlog: [],
    queued: 0,
    drained() {
      if (!s.openWaits) return;
      s.openWaits = false;
      s.immediate ??= setImmediate(s.pumpCb);
    },
    readBuf: Buffer.allocUnsafe(READ_BUF_BYTES),
    reading: false,
    flushDirty: s.flushCb,
    sendDue() {
      // an answer is about to be parsed: requests already due go out first, unless the turn
      // stopped for the answers (then only once the schedule is far behind)
      if (s.pumping || s.t0 === null || s.finishedAll || s.stopped || ctx.maxMode) return;
      const t = now(s);
      if (s.readBreak ? farBehind(s, t) : (s.queue.peekAt() ?? Infinity) <= t) s.readCb();
    },
    // bytes queued outside a dispatch turn go out on the next tick, or at the end of a read callback
    dirty: (c) => s.order.add(c, ctx.reading),
  };
  return ctx;
}

/** Connection `id`, created (to target #`target`) on first use. */
export function conn(s: WorkerState, id: number, target: number, udp = false): ReplayConn {
  let c = s.conns.get(id);
  if (c === undefined) {
    const t = s.init!.targets[target];
    if (t === undefined) throw new Error(`worker ${s.init!.worker}: no target #${target}`);
    c = udp ? newUdpConn(id, target, t, s.ctx) : new ReplayConn(id, target, t, s.ctx);
    s.conns.set(id, c);
  }
  return c;
}

/** Hands one work item to its connection (or counts it) at run time `t`. */
export function dispatch(s: WorkerState, it: WorkItem, t: number): void {
  // in max mode a request leaves the look-ahead only when its connection writes it (or gives it
  // up): everything is due at once there, and counting it here would let the coordinator read the
  // whole capture into the connections' queues
  if (it.k !== 'req' || !s.init!.maxMode || s.stopped) s.totals.consumed++;
  switch (it.k) {
    case 'open':
      if (s.stopped) return;
      s.connTarget.set(it.conn, it.target);
      conn(s, it.conn, it.target, it.udp).open();
      return;
    case 'req': {
      if (s.stopped) {
        s.rec!.count(it.cmd, 'unsent');
        s.totals.unsent++;
        return;
      }
      const c = conn(s, it.conn, s.connTarget.get(it.conn) ?? 0);
      if (s.init!.maxMode) c.enqueue(it);
      else c.submit(it, t);
      return;
    }
    case 'close': {
      s.connTarget.delete(it.conn);
      const c = s.conns.get(it.conn);
      if (c !== undefined) c.requestClose();
      return;
    }
    case 'held':
      s.rec!.heldBack(it.cmd, it.reason, it.n);
      return;
    case 'unsent':
      s.rec!.count(it.cmd, 'unsent', it.n);
      s.totals.unsent += it.n;
      return;
  }
}

/**
 * Before t0: open the connections the capture joined mid-way (they existed before it) or opens in
 * its first moments, and meanwhile `rehearse` the first kinds of requests queued (rehearsal.ts);
 * 'synced' once both are done.
 */
export function sync(s: WorkerState, rehearse: (samples: ReqItem[]) => Promise<void>): void {
  const early: ReplayConn[] = [];
  const info = s.queue.startInfo(s.init!.maxMode ? -1 : PREOPEN_NS);
  for (const cmd of info.cmds) s.rec!.slot(cmd); // histograms of the first commands exist before t0
  for (const it of info.early) {
    if (!it.early && early.length >= PREOPEN_MAX) continue;
    if (!it.early) {
      s.totals.preopened++;
      s.connTarget.set(it.conn, it.target); // its open item later finds it open (a no-op)
    }
    const c = conn(s, it.conn, it.target, it.udp);
    c.open();
    early.push(c);
  }
  const rehearsed = rehearse(info.samples).catch(() => null);
  const until = Date.now() + EARLY_CONNECT_WAIT_MS;
  const wait = (): void => {
    if (early.some((c) => c.connecting) && Date.now() < until) setTimeout(wait, 1);
    else
      void rehearsed.then(() => {
        // the look-ahead is all here (the coordinator fills it before the start): out of the young generation with it
        fullGc();
        post(s, { t: 'synced', worker: s.init!.worker });
      });
  };
  wait();
}
