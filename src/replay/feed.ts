// The feed: turns the workload events of a source (connections, requests, captured answers,
// closes) into the items the worker pool replays: holds (safety rules, filters), per-server mapping,
// pool routing, clones, expiry translation, per-connection order. When each item is due comes from
// the schedule stage (FeedClock); backpressure (ready) belongs to the source.
import type { CapturedOutcome, WorkloadConnection, WorkloadRequest, WorkloadSink } from '../workload/model.js';
import { clonePrefix, connectionHold, needsCasToken, requestHold, translateExpiry, type ShapeOptions } from '../workload/shape.js';
import type { KeyHasher } from '../topology/hashing.js';
import { formatHostPort, targetFor, type TargetPlan } from '../topology/targets.js';
import { McError } from '../errors.js';
import type { WorkerPool } from './worker-pool.js';
import type { CapturedSink } from './results-sink.js';
import { poolParts, reqRecord, routePool, type PoolPart } from './pool-route.js';
import { PREOPEN_NS } from './messages.js';

/**
 * A connection the capture opens during the run is connected this long before its captured open: a
 * connect costs the worker 20–400 µs of CPU and its handshake a round trip, so 64 connections a
 * capture (or each pass of --loop) opens together, each followed at once by its first request, held
 * those requests back by 10+ ms when they were dialled at the captured moment (README, "The first
 * moments count"). The server sees those connections that much early: with a client that opens
 * 2,000 connections/s, about 100 more are open at a time. --connect-ahead 0 dials as captured.
 * The ones opened in the first PREOPEN_NS are connected before t0 anyway: their open items stay at
 * their captured times (moved to 0, the 64-connection capture's first burst had a 0.3 ms worse lag
 * p99 in 8 alternating runs, for nothing gained).
 */
export const CONNECT_AHEAD_NS = 50e6;

/** Counters of the shaped workload, across passes. */
export interface FeedState {
  nextConnId: number;
  rr: number;
  /** Requests in the shaped workload (after clone/pool split): sent + held back + unsent. */
  shapedRequests: number;
  heldBack: Record<string, number>;
  /** Requests beyond the end of the run, counted while reading on. */
  unsentByCmd: Map<string, number>;
  capConnections: number;
  capRequests: number;
  capUnreplayable: number;
  /** Text/meta requests headed for binary-only (SASL) targets. */
  textToBinaryOnly: number;
  /** A request of the workload fell beyond the run's end (--duration, a ramp's end): the schedule was cut there. */
  pastCutoff: boolean;
}

/** A new FeedState. */
export function newFeedState(): FeedState {
  return { nextConnId: 1, rr: 0, shapedRequests: 0, heldBack: {}, unsentByCmd: new Map(), capConnections: 0, capRequests: 0, capUnreplayable: 0, textToBinaryOnly: 0, pastCutoff: false };
}

/** The schedule stage as the feed sees it: when a captured moment is due on the run clock. */
export interface FeedClock {
  /** Run-clock due time of capture time `ts` (null: past the end of a ramp). */
  dueAt(ts: number): number | null;
  /** TTL compression in force at run-clock `at`. */
  ttlScaleAt(at: number): number;
  /** The item is beyond the run's end (null: beyond the schedule). */
  past(at: number | null): boolean;
}

/** What the feed needs of the run. */
export interface FeedRun {
  setup: { shape: ShapeOptions; cloneKeys: boolean; loop: boolean; allowSourceTarget: boolean; connectAheadNs?: number };
  plan: TargetPlan;
  hasher: KeyHasher | null;
  clones: number;
  targetIndex: Map<string, number>;
  /** Resolved addresses of the targets ("addr:port"). */
  targetEndpoints: Set<string>;
  epochSec: number | null;
  binaryOnly: boolean;
  pool: WorkerPool;
  captured: CapturedSink;
  st: FeedState;
  /** The run is stopping (items are no longer sent). */
  stopped(): boolean;
  /** After a stop without loop: reading on only to count the rest as unsent. */
  counting(): boolean;
  /** The schedule reached the run's end while reading. */
  beyondEnd(): void;
  /**
   * Extra filter after the shaping rules (mirror: --sample, the bounded backlog): a hold reason,
   * the part of the request to send instead (a multi-get cut to some of its keys), or null (as is).
   */
  filter?(r: WorkloadRequest): string | PoolPart | null;
  /** --shard: false for captured connections another shard replays (src/replay/shard.ts). */
  keepConnection?(connId: number): boolean;
}

/** Per captured connection while it is open in the capture (one pass). */
export interface ConnState {
  hold: string | null;
  worker: number;
  /** Replayed connection ids: [clone][member]. */
  ids: number[][];
  /** Requests seen whose captured answer has not come yet (pipelining detection). */
  unanswered: number;
  lastAt: number;
  /** Another shard replays this connection: only the captured-side counts see it. */
  foreign?: boolean;
}

/** The feed of one pass: a WorkloadSink without backpressure (the source adds `ready`). */
export function createFeed(run: FeedRun, clock: FeedClock, pass: number): Required<Omit<WorkloadSink, 'ready' | 'keyBytes'>> & { conns: Map<number, ConnState> } {
  const { setup, plan, hasher, clones, targetIndex, targetEndpoints, binaryOnly, pool, captured, st } = run;
  const conns = new Map<number, ConnState>();
  const from = setup.shape.fromNs;
  const { dueAt, ttlScaleAt, past } = clock;

  return {
    conns,
    connection(c: WorkloadConnection): void {
      if (pass === 0) st.capConnections++;
      let hold: string | null = connectionHold(c, setup.shape);
      if (run.keepConnection !== undefined && !run.keepConnection(c.id)) {
        conns.set(c.id, { hold, worker: 0, ids: [], unanswered: 0, lastAt: 0, foreign: true });
        return;
      }
      let tIdx = 0;
      if (hold === null && plan.kind !== 'pool') {
        const hp = targetFor(plan, c.serverKey);
        if (hp === null) hold = 'unmapped';
        else tIdx = targetIndex.get(formatHostPort(hp)) ?? 0;
      }
      if (hold === null && !setup.allowSourceTarget && targetEndpoints.has(c.serverKey)) {
        throw new McError(
          `refusing to replay into ${c.serverKey}: it is a server of the capture (connection ${c.id} talked to it)`,
          'MCR_ERR_UNSAFE_TARGET',
          'replaying captured traffic into the server it was captured from is almost surely a mistake; pass --allow-source-target if it is not',
        );
      }
      const w = st.rr++ % pool.nWorkers;
      const cs: ConnState = { hold, worker: w, ids: [], unanswered: 0, lastAt: 0 };
      conns.set(c.id, cs);
      if (hold !== null || run.stopped()) return;
      const at0 = dueAt(c.openNs);
      const at = at0 === null ? 0 : at0;
      const early = !c.synSeen || (from !== null && c.openNs < from);
      cs.lastAt = at;
      const members = plan.kind === 'pool' ? plan.members.length : 1;
      const ahead = setup.connectAheadNs ?? CONNECT_AHEAD_NS;
      for (let k = 0; k < clones; k++) {
        const ids: number[] = [];
        for (let m = 0; m < members; m++) {
          const id = st.nextConnId++;
          ids.push(id);
          pool.batches[w]!.open(early || at <= PREOPEN_NS ? at : Math.max(PREOPEN_NS, at - ahead), id, plan.kind === 'pool' ? m : tIdx, early, c.transport === 'udp');
          pool.posted1(w, at, 0);
        }
        cs.ids.push(ids);
      }
    },

    request(r: WorkloadRequest): void {
      if (pass === 0) st.capRequests++;
      const cs = conns.get(r.connId);
      if (cs === undefined) return;
      const pipelined = cs.unanswered > 0;
      cs.unanswered++;
      let reason = cs.hold ?? requestHold(r, setup.shape);
      if (pass === 0 && (reason === 'udp' || reason === 'credentials')) st.capUnreplayable++;
      if (cs.foreign === true) return;
      const at0 = dueAt(r.tsNs);
      if (past(at0)) st.pastCutoff = true;
      if (run.counting() || run.stopped() || past(at0)) {
        if (reason === null) {
          let n = 0;
          for (let k = 0; k < clones; k++) n += hasher === null ? 1 : poolParts(r, setup.cloneKeys ? clonePrefix(k) : '', hasher);
          unsent(r.cmd, n);
        } else hold(r.cmd, reason, 0, clones, cs.worker);
        if (!run.counting() && !run.stopped() && past(at0) && (setup.loop || at0 === null)) {
          // beyond the end of the run: with --loop (or a ramp) the rest of the capture is not needed
          run.beyondEnd();
        }
        return;
      }
      const at = Math.max(at0!, cs.lastAt);
      cs.lastAt = at;
      if (reason !== null) {
        hold(r.cmd, reason, at, clones, cs.worker);
        return;
      }
      const part = run.filter?.(r) ?? r;
      if (typeof part === 'string') {
        hold(r.cmd, part, at, clones, cs.worker);
        return;
      }
      if (pass === 0) captured.pending.set(r, at);
      if (binaryOnly && r.proto !== 'binary') st.textToBinaryOnly += clones;
      const exp = r.exptime > 0 ? translateExpiry(r.exptime, run.epochSec === null ? null : run.epochSec + r.tsNs / 1e9, ttlScaleAt(at)) : null;
      const relExp = exp !== null && exp.kind === 'relative' ? exp.sec : null;
      const absExpSec = exp !== null && exp.kind === 'absolute' ? exp.remainSec : null;
      // a token that was already stale when captured goes out as captured: it must fail again
      const cas = needsCasToken(r) && r.casStale !== true;
      const w = cs.worker;
      for (let k = 0; k < clones; k++) {
        const prefix = setup.cloneKeys ? clonePrefix(k) : '';
        const ids = cs.ids[k]!;
        if (hasher === null) {
          st.shapedRequests++;
          pool.batches[w]!.req(reqRecord(ids[0]!, at, r, part, prefix, relExp, absExpSec, cas, pipelined));
          pool.posted1(w, at, part.raw.length);
          continue;
        }
        for (const [m, sub] of routePool(part, prefix, hasher)) {
          st.shapedRequests++;
          pool.batches[w]!.req(reqRecord(ids[m]!, at, r, sub, prefix, relExp, absExpSec, cas, pipelined));
          pool.posted1(w, at, sub.raw.length);
        }
      }
    },

    outcome(r: WorkloadRequest, o: CapturedOutcome): void {
      const cs = conns.get(r.connId);
      if (cs !== undefined && cs.unanswered > 0) cs.unanswered--;
      captured.outcome(r, o);
    },

    close(connId: number, tsNs: number): void {
      const cs = conns.get(connId);
      if (cs === undefined) return;
      conns.delete(connId);
      if (cs.hold !== null || cs.ids.length === 0) return;
      const at0 = dueAt(tsNs);
      const at = Math.max(at0 ?? cs.lastAt, cs.lastAt);
      for (const ids of cs.ids) {
        for (const id of ids) {
          pool.batches[cs.worker]!.close(at, id);
          pool.posted1(cs.worker, at, 0);
        }
      }
    },
  };

  function hold(cmd: string, reason: string, at: number, n: number, w: number): void {
    st.heldBack[reason] = (st.heldBack[reason] ?? 0) + n;
    st.shapedRequests += n;
    pool.batches[w]!.held(at, cmd, reason, n);
    pool.posted1(w, 0, 0);
  }

  function unsent(cmd: string, n: number): void {
    st.shapedRequests += n;
    st.unsentByCmd.set(cmd, (st.unsentByCmd.get(cmd) ?? 0) + n);
  }
}
