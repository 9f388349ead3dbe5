// The order in which a dispatch turn writes its connections (src/replay/write-order.ts), driven the
// way the worker's pump drives it: requests in due order, each queued on its connection, then the
// connections the turn has moved past are written. The truth is the rule itself, checked on random
// bursts: two consecutive requests of one connection share a write exactly when they are due within
// the coalescing window of each other (a pipeline stays one write, requests further apart do not),
// every request is written once, writes go out in the due order of their first requests (across
// connections too), and a connection is written as soon as the turn has passed it and every
// connection queued before it (it does not wait for the rest of the burst).
import { describe, expect, it } from 'vitest';
import { WriteOrder, type Flushable } from '../../src/replay/write-order.js';
import { rng } from '../helpers/rng.js';

const WINDOW = 10e3;

interface Req {
  conn: number;
  at: number;
}

/** Runs one turn over `reqs` (sorted by due time); returns the writes: each connection's requests it carried, and how many requests were queued before it. */
function turn(reqs: Req[]): { conn: number; reqs: Req[]; queuedBefore: number }[] {
  const order = new WriteOrder();
  const pending = new Map<number, Req[]>();
  const writes: { conn: number; reqs: Req[]; queuedBefore: number }[] = [];
  let queued = 0;
  const conns = new Map<number, Flushable>();
  const connOf = (id: number): Flushable => {
    let c = conns.get(id);
    if (c === undefined) {
      c = {
        id,
        flush() {
          writes.push({ conn: id, reqs: pending.get(id) ?? [], queuedBefore: queued });
          pending.delete(id);
        },
      };
      conns.set(id, c);
    }
    return c;
  };
  for (let i = 0; i < reqs.length; i++) {
    const r = reqs[i]!;
    // what ReplayConn.write does: the first bytes since its last write make the connection dirty
    if (!pending.has(r.conn)) {
      pending.set(r.conn, []);
      order.add(connOf(r.conn));
    }
    pending.get(r.conn)!.push(r);
    queued++;
    order.queued(r.conn, r.at);
    const next = reqs[i + 1];
    if (next !== undefined) order.writeBefore(next.at, WINDOW);
  }
  order.writeAll();
  return writes;
}

describe('write order of a dispatch turn', () => {
  it('keeps a pipeline in one write, splits requests further apart than the window, writes in due order as soon as the turn has passed', () => {
    const rand = rng(10);
    let apart = 0;
    let separate = 0;
    for (let round = 0; round < 200; round++) {
      const nConns = 1 + Math.floor(rand() * 64);
      const n = 1 + Math.floor(rand() * 300);
      const reqs: Req[] = [];
      let at = 0;
      for (let i = 0; i < n; i++) {
        // gaps from 0 (the same instant) to 40 µs: pipelines, bursts of many connections, stragglers
        at += Math.floor(rand() * 4) === 0 ? 0 : Math.floor(rand() * 40e3);
        reqs.push({ conn: Math.floor(rand() * nConns), at });
      }
      const writes = turn(reqs);
      // every request written exactly once, in its connection's order
      expect(writes.reduce((a, w) => a + w.reqs.length, 0)).toBe(n);
      const writeOf = new Map<Req, number>();
      writes.forEach((w, k) => w.reqs.forEach((r) => writeOf.set(r, k)));
      const byConn = new Map<number, Req[]>();
      for (const r of reqs) (byConn.get(r.conn) ?? byConn.set(r.conn, []).get(r.conn)!).push(r);
      for (const list of byConn.values()) {
        for (let i = 1; i < list.length; i++) {
          const same = writeOf.get(list[i]!) === writeOf.get(list[i - 1]!);
          // a pipeline stays one write (requests further apart share one only while a connection
          // queued before theirs holds the order)
          if (list[i]!.at - list[i - 1]!.at <= WINDOW) expect(same, `conn ${list[i]!.conn}: requests at ${list[i - 1]!.at} and ${list[i]!.at}`).toBe(true);
          else {
            apart++;
            if (!same) separate++;
          }
        }
      }
      // writes go out in the due order of their first requests: a request never reaches the target
      // before a request of another connection due before it (a get must not overtake the set it reads)
      const firsts = writes.map((w) => reqs.indexOf(w.reqs[0]!));
      expect(firsts).toEqual([...firsts].sort((a, b) => a - b));
      // and as soon as that order allows: once the turn has moved past a write's last request, and
      // past those of every write before it, no further request is queued before it goes out
      let held = -Infinity;
      for (const w of writes) {
        held = Math.max(held, w.reqs[w.reqs.length - 1]!.at);
        const queuedBefore = reqs.slice(0, w.queuedBefore);
        expect(queuedBefore.filter((r) => r.at > held + WINDOW).length).toBeLessThanOrEqual(0);
      }
    }
    // requests of one connection further apart than the window go in separate writes, except
    // while an earlier connection holds the order (all in one write per turn would make this 0)
    expect(separate / apart).toBeGreaterThan(0.9);
  });

  it('a burst of connections due one after another goes out one connection at a time, not all at the end', () => {
    const reqs = Array.from({ length: 64 }, (_, k) => ({ conn: k, at: k * 15e3 }));
    const writes = turn(reqs);
    expect(writes.map((w) => w.conn)).toEqual(reqs.map((r) => r.conn));
    // the first connection was written when the second was queued, not after the 64th
    expect(writes[0]!.queuedBefore).toBe(1);
    expect(writes[62]!.queuedBefore).toBe(63);
  });
});
