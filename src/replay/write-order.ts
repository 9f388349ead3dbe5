// Which connections have bytes queued in a dispatch turn, and when each may be written. A turn used
// to queue everything due and then write every connection at its end: on a burst of 64 connections
// due together (memaslap-64conns at 4x) the first connection's bytes waited for the dispatch of all
// 64 (10–16 µs each on a loaded 2-core machine) and the 64th for 63 write syscalls (8–15 µs each),
// while its lag was recorded at the turn's start. Now a connection is written as soon as the turn
// has passed its coalescing window (nothing else of it can be due with it, so a pipeline captured µs
// apart stays one write) and every connection queued before it has gone: the writes keep the due
// order across connections, and the first ones are not held behind the rest of the burst.

/** A connection that writes what it queued in one go. */
export interface Flushable {
  readonly id: number;
  flush(): void;
}

/** The connections with queued bytes, in the order they first queued, each with the due time of its latest request in the turn. */
export class WriteOrder {
  private conns: Flushable[] = [];
  /** Due time (run clock) of the latest request queued on conns[i] in this turn; -Infinity: queued outside a turn. */
  private lastAt: number[] = [];
  private tickQueued = false;
  private readonly tick = (): void => this.writeAll();

  /** Connections waiting to be written. */
  get size(): number {
    return this.conns.length;
  }

  /**
   * `c` queued its first bytes since its last write. Bytes queued outside a dispatch turn (on
   * connect, on an answer) go out once the current callback is over, together with whatever else it
   * wrote: on the next tick, or at the end of the read callback when `reading` (it writes them all).
   */
  add(c: Flushable, reading = true): void {
    this.conns.push(c);
    this.lastAt.push(-Infinity);
    if (!this.tickQueued && !reading) {
      this.tickQueued = true;
      process.nextTick(this.tick);
    }
  }

  /**
   * A turn dispatched an item due at `at` (a request of connection `conn`, or null for anything
   * else); `nextAt` is the due time of the turn's next item: every connection it has passed is written.
   */
  passed(conn: number | null, at: number, nextAt: number | undefined, windowNs: number): void {
    if (conn !== null) this.queued(conn, at);
    if (nextAt !== undefined && this.conns.length > 0) this.writeBefore(nextAt, windowNs);
  }

  /** A request of connection `id`, due at `at`, was just queued on it (if it was written rather than held). */
  queued(id: number, at: number): void {
    // the entry is near the end: connections are written as the turn moves on, so the list stays short
    for (let i = this.conns.length - 1; i >= 0; i--) {
      if (this.conns[i]!.id === id) {
        if (at > this.lastAt[i]!) this.lastAt[i] = at;
        return;
      }
    }
  }

  /**
   * Writes the connections, in the order they queued, whose latest request is more than `windowNs`
   * before `nextAt` (the due time of the next item of the turn: no later request of the turn can
   * join their write), up to the first one that may still grow: a connection never goes out before
   * one whose earlier request is held, so requests of different connections reach the target in
   * due order (a get on one connection must not overtake the set on another that it reads).
   */
  writeBefore(nextAt: number, windowNs: number): void {
    const n = this.conns.length;
    let i = 0;
    while (i < n && this.lastAt[i]! + windowNs < nextAt) this.conns[i++]!.flush();
    if (i === 0) return;
    this.conns.splice(0, i);
    this.lastAt.splice(0, i);
  }

  /** Writes every queued connection now. */
  writeAll(): void {
    this.tickQueued = false;
    if (this.conns.length === 0) return;
    const d = this.conns;
    this.conns = [];
    this.lastAt = [];
    for (const c of d) c.flush();
  }
}
