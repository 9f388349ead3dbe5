// Messages between the replay coordinator (main thread) and its worker threads. Everything here is
// structured-clone safe. Times are run-clock ns (0 = t0 of the schedule).
import type { Expect, Proto } from '../protocol/types.js';
import type { SenderMode } from './priority.js';
import type { IntervalSnapshot } from '../metrics/recorder.js';
import type { ErrorClass } from '../metrics/results-types.js';
import type { AuthCred } from '../protocol/auth.js';

/**
 * Connections the capture opens in its first PREOPEN_NS are connected before t0 (results.json
 * config.options.preopened counts them): a connect costs the worker 20–400 µs of CPU on the send
 * path and the answer of the handshake comes back a turn later, so 64 connections opened at t0 held
 * the first requests back by 10–16 ms (README, "Design notes"). Only in timed modes: in max mode
 * everything is due at once and a connection opens when the capture's order lets it. The feed
 * leaves these opens at their captured time (--connect-ahead is for the ones after).
 */
export const PREOPEN_NS = 100e6;

/** A target server as a worker dials it. */
export interface TargetAddr {
  host: string;
  port: number;
  /** "host:port" as printed. */
  name: string;
}

/** Open a replayed connection to `target` at `at` (immediately when `early`: the capture joined it mid-way). */
export interface OpenItem {
  k: 'open';
  at: number;
  conn: number;
  target: number;
  early: boolean;
  /** Replay over UDP (the captured client spoke memcached's UDP protocol): see udp-conn.ts. */
  udp?: boolean;
}

/**
 * Send one request at `at` (open loop) or as soon as the connection allows (max mode). Carries what
 * the response matcher needs (it is a MatchInfo) and the bytes as sent: clone prefix and relative
 * expiry are applied by the coordinator; the CAS token and absolute expiry are set at send time.
 */
export interface ReqItem {
  k: 'req';
  at: number;
  conn: number;
  proto: Proto;
  cmd: string;
  expect: Expect;
  quiet: boolean;
  opaque: number;
  /**
   * Keys as sent, for meta and binary requests and text cas (the matcher compares them with the
   * answer); for other text requests only the count is real: '' placeholders, shared.
   */
  keys: string[];
  metaFlags: string[];
  raw: Buffer;
  /** Absolute expiry: this many seconds after the actual send (set at send time); null = as in raw. */
  absExpSec: number | null;
  /** Replace the captured CAS unique with the target's token for this key. */
  casKey: string | null;
  /** Sent in the capture before the previous answers arrived (max mode keeps that pipelining). */
  pipelined: boolean;
}

/** Close the replayed connection at `at`, once its outstanding answers are in. */
export interface CloseItem {
  k: 'close';
  at: number;
  conn: number;
}

/** A request held back on purpose, counted in the interval of its intended time. */
export interface HeldItem {
  k: 'held';
  at: number;
  cmd: string;
  reason: string;
  n: number;
}

/** Requests of the workload that will not be sent (run stopped), counted at once. */
export interface UnsentItem {
  k: 'unsent';
  at: number;
  cmd: string;
  n: number;
}

export type WorkItem = OpenItem | ReqItem | CloseItem | HeldItem | UnsentItem;

/** Work items packed by batch.ts as posted to a worker (its buffers are transferred). */
export interface PackedBatch {
  n: number;
  num: Float64Array;
  data: Uint8Array;
  strs: string[];
}


/** Worker settings. */
export interface WorkerInit {
  worker: number;
  /** process.hrtime() second that run-clock readings are taken against. */
  baseSec: number;
  targets: TargetAddr[];
  timeoutNs: number;
  maxMode: boolean;
  intervalNs: number;
  /** Credentials for the target (SASL PLAIN on binary connections, ascii auth otherwise); never captured ones. */
  auth: AuthCred | null;
  /** Sample event-loop delay (default true). */
  eventLoop: boolean;
  /** The CAS token table all workers share (cas-table.ts); attach with `new CasTable(casTable)`. */
  casTable: SharedArrayBuffer;
  /** How the worker (and its waker) ask for the CPU (priority.ts senderPriority). */
  priority: SenderMode;
}

export type ToWorker =
  | { t: 'init'; init: WorkerInit }
  /** Answer 'synced' once everything posted before is in the schedule (the coordinator then fixes t0). */
  | { t: 'sync' }
  /** t0 of the schedule as a monoNs(baseSec) reading. */
  | { t: 'start'; t0Ns: number }
  | { t: 'batch'; b: PackedBatch }
  /** Stop sending; answers still outstanding get `graceNs` before they are abandoned. */
  | { t: 'stop'; graceNs: number }
  /** No more items will come: finish, post the last snapshot and 'done'. */
  | { t: 'end' };

/** Totals a worker reports with its progress and at the end. */
export interface WorkerTotals {
  /** Items taken off the schedule (sent, held, counted unsent): posted − consumed = look-ahead in the worker. */
  consumed: number;
  sent: number;
  completed: number;
  errors: number;
  byClass: Record<ErrorClass, number>;
  /** Requests written but never answered when the run stopped. */
  abandoned: number;
  unsent: number;
  openConns: number;
  reconnects: number;
  /** Server bytes that answered no request (protocol desync on a connection). */
  unexpectedBytes: number;
  /** Connections whose authentication the target refused (after the start-up probe had passed). */
  authRefused: number;
  /** Connections the capture opened in its first moments, opened (and connected) before t0 instead. */
  preopened: number;
  /** Requests that came due while their connection was still connecting (they waited for the handshake; their lag counts to their write). */
  connectWaits: number;
  /** Requests the rehearsal before t0 sent to its in-process target (rehearsal.ts; never to a real one), and how many of them it had answered. */
  rehearsalRequests: number;
  rehearsed: number;
  /** Kinds of request the rehearsal ran (the most of any worker). */
  rehearsalKinds: number;
}

export type FromWorker =
  /** Metrics initialised and every target dialled once (warm-up): the worker can keep a schedule. */
  /** `priority`: what the worker thread runs at ('SCHED_FIFO 1', 'nice -10', 'unchanged'). */
  | { t: 'ready'; worker: number; priority: string }
  | { t: 'synced'; worker: number }
  | { t: 'progress'; worker: number; totals: WorkerTotals }
  | { t: 'snap'; snap: IntervalSnapshot }
  | { t: 'done'; worker: number; endNs: number; totals: WorkerTotals }
  | { t: 'fatal'; worker: number; message: string };
