// The workload model (DESIGN.md): connections, each an ordered list of requests with capture time,
// command, keys, sizes, flags, raw bytes and the captured response. Every field is structured-clone
// safe so requests can be posted to replay workers as they are.
import type { CloseReason, Endpoint } from '../capture/types.js';
import type { CommandClass, Expect, Proto, ResponseErrorClass } from '../protocol/types.js';

export interface WorkloadConnection {
  id: number;
  transport: 'tcp' | 'udp';
  client: Endpoint;
  server: Endpoint;
  /** "addr:port", IPv6 as "[addr]:port"; the captured server this connection talked to. */
  serverKey: string;
  /** Capture time of the connection's first packet, ns since capture start. */
  openNs: number;
  /** False when the capture joined mid-way (no SYN). */
  synSeen: boolean;
}

export interface WorkloadRequest {
  connId: number;
  /** 0-based order of the request inside its connection. */
  seq: number;
  /** Capture time of the request's first byte, ns since capture start; never decreases within a connection. */
  tsNs: number;
  proto: Proto;
  cmd: string;
  cls: CommandClass;
  expect: Expect;
  quiet: boolean;
  /** Keys as latin1 strings (memcached keys are bytes; latin1 round-trips every byte). */
  keys: string[];
  valueLen: number;
  flags: number;
  exptime: number;
  cas: bigint;
  /**
   * The CAS token it carries is not the one the captured server last handed out for its key (a
   * client's stale or made-up token, answered EXISTS in the capture): the replay sends it as
   * captured instead of swapping in the target's token, so it fails there too. Absent when the
   * token was current or no token for the key was seen.
   */
  casStale?: boolean;
  opaque: number;
  metaFlags: string[];
  /** Carries captured credentials: raw is emptied and the request is never replayed. */
  credentials: boolean;
  /** The complete request bytes (owned copy, or a view valid during `request` with rawView). Empty when credentials. */
  raw: Buffer;
}

/** The captured server's answer to one request, as seen at the capture point. */
export interface CapturedOutcome {
  status: string;
  error: ResponseErrorClass;
  hits: number;
  misses: number;
  valueBytes: number;
  bytes: number;
  /** Last response byte − first request byte, ns; null when the answer was not captured. */
  latencyNs: number | null;
  /** Why there is no answer: quiet (expected none), closed, desync, capture-end. */
  unanswered: 'closed' | 'desync' | 'end' | null;
}

/** Receiver of an extracted workload, in capture order. */
export interface WorkloadSink {
  connection(c: WorkloadConnection): void;
  /** A complete request; emitted when its bytes are complete, before its response. */
  request(r: WorkloadRequest): void;
  /**
   * Optional, for sinks that only tally keys (inspect): each request's keys as byte ranges of the
   * capture's buffers (valid during the call only), just before `request`, which then carries ''
   * placeholders in `keys` (the count is real): no string per key is made.
   */
  keyBytes?(b: Buffer, start: number, end: number): void;
  /** The captured answer to an earlier request (same object as passed to `request`). */
  outcome(r: WorkloadRequest, o: CapturedOutcome): void;
  close(connId: number, tsNs: number, reason: CloseReason): void;
  /**
   * Backpressure: called between input chunks; the reader waits for a returned promise before
   * reading on (a replay pauses ingest while it is far enough ahead of the schedule).
   */
  ready?(): Promise<void> | void;
}

/** Options of workload extraction (src/workload/extract.ts). */
export interface IngestOptions {
  /** memcached server ports (default [11211]). */
  serverPorts: number[];
  /** Also decode TCP flows on other ports, taking the SYN's receiver as the server. */
  anyPort?: boolean;
  /** Copy each request's raw bytes (replay needs them; inspect does not). Default true. */
  keepRaw?: boolean;
  /**
   * With keepRaw: `raw` is a view into the capture's buffers instead of a copy, valid only during
   * the `request` callback (a sink that copies the bytes there, as the replay does, saves a copy).
   */
  rawView?: boolean;
  /**
   * The captured servers ran with ascii auth (memcached -Y): the first `set` of every connection
   * carries "user password" and is held back as credentials (--ascii-auth).
   */
  asciiAuth?: boolean;
}

