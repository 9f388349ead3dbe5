// What a replayed TCP connection (conn.ts, and its request queues in conn-queues.ts) needs of its
// worker. Its own file so that both halves of the connection can see it without importing each other.
import type { IntervalRecorder } from '../metrics/recorder.js';
import type { WorkerTotals } from './messages.js';
import type { CasTable } from './cas-table.js';
import type { AnswerCtx } from './answer.js';
import type { Flushable } from './write-order.js';

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
  finished(c: Flushable): void;
  /** The connection has bytes queued: call its flush() once the current dispatch batch is over. */
  dirty(c: Flushable): void;
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
  /** `inflight` fell to 0: the worker may now wait for its next due request in its own thread. */
  noneInFlight(): void;
  /** Run-clock time of the latest write. */
  lastWriteNs: number;
  /** Connections being set up (dialled, or authenticating): their events must not wait for the worker's in-thread sleep. */
  dialling: number;
  /** Sockets that kept bytes of a write for later (the kernel's buffer was full): the event loop must write them before the worker sleeps in its thread. */
  backlog: { readonly writableLength: number }[];
  /** Max mode: requests handed to connections and not yet written, failed or counted unsent. */
  queued: number;
  /** Max mode: `queued` fell to 0. */
  drained(): void;
}
