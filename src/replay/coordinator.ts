// The replay coordinator (main thread): streams the workload out of the capture, shapes it, spreads
// the replayed connections over worker threads, keeps a bounded look-ahead of the schedule
// (backpressure through the workload sink's ready()), merges the workers' interval snapshots and
// stops the run on duration, ramp end, interrupt or the end of the workload.
import { Worker } from 'node:worker_threads';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { extractWorkload, type ExtractResult } from '../workload/extract.js';
import type { CapturedOutcome, WorkloadConnection, WorkloadRequest, WorkloadSink } from '../workload/model.js';
import {
  clonePrefix,
  connectionHold,
  GapSqueezer,
  needsCasToken,
  requestHold,
  translateExpiry,
  type ShapeOptions,
} from '../workload/shape.js';
import { createHasher, type KeyHasher } from '../topology/hashing.js';
import { formatHostPort, targetAddresses, targetFor, type HostPort, type TargetPlan } from '../topology/targets.js';
import { Aggregator, type AggregateResult, type Progress } from '../metrics/aggregate.js';
import { createHistogram, encodeHistogram, initMetrics, percentiles, recordNs, type Histogram } from '../metrics/histogram.js';
import type { CapturedCommand, Interval, ResultsFile } from '../metrics/results-types.js';
import { ExitCode, McError } from '../errors.js';
import { clockBaseSec, monoNs } from './clock.js';
import { makeSchedule, type Schedule } from './schedule.js';
import type { RateSpec } from './parse.js';
import type { FromWorker, TargetAddr, ToWorker, WorkerTotals } from './messages.js';
import { BatchWriter, RECORD_OVERHEAD_BYTES, type ReqRecord } from './batch.js';
import { addTotals, emptyTotals } from './totals.js';
import { CasTable } from './cas-table.js';
import { lowerThreadPriority } from './priority.js';
import { encodeRequest } from '../protocol/index.js';
import type { Expect, Proto } from '../protocol/types.js';
import { captureEpochSec } from './capture-epoch.js';
import { authRequest, binaryFrame, OP_VERSION, readBinaryResponse, saslRefusal, SASL_OP, SASL_STATUS, type AuthCred, type AuthMech } from './auth.js';

/** Everything a replay run needs, already parsed and validated. */
export interface ReplaySetup {
  input: string;
  targets: TargetPlan;
  rate: RateSpec;
  shape: ShapeOptions;
  clone: number;
  cloneKeys: boolean;
  loop: boolean;
  durationNs: number | null;
  /** TTL compression; null = follow the rate in force. */
  ttlScale: number | null;
  workers: number;
  timeoutNs: number;
  serverPorts: number[];
  anyPort: boolean;
  auth: { user: string; password: string } | null;
  allowSourceTarget: boolean;
  intervalNs: number;
  /** How far ahead of the schedule the workload is read, ns (Infinity: as far as the look-ahead bound of requests and bytes allows). */
  lookAheadNs: number;
  warmup: { ns: number | null; requests: number | null };
  /** Sample worker event-loop delay (default true). */
  eventLoop?: boolean;
  /** Interrupt: the run stops, workers abandon in-flight requests after a short grace. */
  signal?: AbortSignal;
  /** Called once per completed interval (all workers), in order. */
  onInterval?(iv: Interval, p: Progress): void;
  /**
   * Called once the schedule's t0 is fixed, with a run clock (ns since t0); per target (in the
   * order of targetAddresses), how it takes the credentials: what a stats poller needs to log in;
   * and warnings about the run that the look-ahead read before t0 already shows.
   */
  onStart?(clock: () => number, targetAuth: ((AuthCred & { mech: AuthMech }) | null)[], warnings: string[]): void;
}

/** Why the run ended. */
export type StopReason = 'complete' | 'duration' | 'ramp-end' | 'interrupted';

/** What a replay run produced, for the results file. */
export interface ReplayOutcome {
  startedAt: Date;
  endedAt: Date;
  stopReason: StopReason;
  aggregate: AggregateResult;
  extract: ExtractResult | null;
  captured: Record<string, CapturedCommand>;
  capture: { connections: number; requests: number; replayable: number };
  totals: WorkerTotals;
  /** Requests in the shaped workload (after clone/pool split): sent + held back + unsent. */
  shapedRequests: number;
  heldBack: Record<string, number>;
  passes: number;
  /** False when the run stopped before the whole capture was read (interrupt, loop). */
  captureFullyRead: boolean;
  targets: TargetAddr[];
  runEndNs: number;
  squeezedNs: number;
  warnings: string[];
  /** CPU of this process (every thread) from t0 until the last worker finished, µs; null if the run never started. */
  replayCpu: { userUs: number; sysUs: number } | null;
}

/**
 * The look-ahead: requests read from the capture and handed to the workers but not yet sent, at
 * most this many and MAX_OUTSTANDING_BYTES (~112 bytes a request beyond its own bytes: its packed
 * record, its queue entry in the worker; see batch.ts). It is filled before t0 and is large so that
 * reading the capture competes as little as possible with the replay it measures: on 2 cores a
 * reading thread costs the sender and the server their CPU (bench/README.md, "Latest results": at
 * 1x the lag p99 went from 1.0–2.9 ms with 2 s of look-ahead to 0.5–0.8 ms with the whole capture
 * read first). `--look-ahead <d>` caps it further in schedule time (timed modes).
 */
const MAX_OUTSTANDING_ITEMS = 1_000_000;
const MAX_OUTSTANDING_BYTES = 128 * 1024 * 1024;
const BATCH_ITEMS = 2048;
/**
 * t0 is fixed only once every worker is started, warmed up, holds the first part of the schedule and
 * has its mid-way connections up; the margin covers the 'start' message reaching them.
 */
const START_MARGIN_NS = 20e6;
const INTERRUPT_GRACE_NS = 250e6;

/** Resolves the worker script: dist/replay/worker.js next to this module, or the built copy when run from sources (tests). */
function workerUrl(): URL {
  const here = new URL('./worker.js', import.meta.url);
  if (existsSync(fileURLToPath(here))) return here;
  const built = new URL('../../dist/replay/worker.js', import.meta.url);
  if (existsSync(fileURLToPath(built))) return built;
  throw new Error('replay worker script not found: run `npm run build` first');
}

/** What the probe of a target found: its version and, with credentials, how it takes them. */
export interface ProbeResult {
  version: string;
  /** sasl: binary SASL only (memcached -S); ascii: text only (memcached -Y); none: needs no authentication; null: probed without credentials. */
  auth: AuthMech | 'none' | null;
}

/**
 * Checks that a target answers before any load is sent, and that the credentials work. With
 * credentials, binary SASL first (list mechanisms, PLAIN, binary version: memcached -S speaks only
 * binary), else `version` after ascii auth (memcached -Y speaks only text and closes a binary
 * connection). Rejects with the reason.
 */
export async function probeTargetAuth(t: TargetAddr, timeoutMs = 2000, auth: AuthCred | null = null): Promise<ProbeResult> {
  if (auth !== null) {
    const b = await probeBinary(t, timeoutMs, auth);
    if (b.kind === 'version') return { version: b.version, auth: 'sasl' };
    // a binary answer without SASL: memcached without -S or -Y, nothing to authenticate (and the
    // password is not stored there by an ascii auth `set`)
    if (b.kind === 'no-sasl') return { version: b.version, auth: 'none' };
    return { version: await probeText(t, timeoutMs, auth), auth: 'ascii' };
  }
  try {
    return { version: await probeText(t, timeoutMs, null), auth: null };
  } catch (e) {
    if (!(e instanceof Error) || !/closed before answering|no answer to/.test(e.message)) throw e;
    // a SASL target (memcached -S) speaks only binary and waits for a whole binary header: say so
    // rather than "no answer"
    const b = await probeBinary(t, timeoutMs, null).catch(() => null);
    if (b?.kind === 'sasl') {
      throw new Error(`the target requires SASL authentication (binary protocol only; mechanisms: ${b.mechs.join(' ') || 'none'}): pass --sasl-user and set MCREPLAY_SASL_PASSWORD`);
    }
    throw e;
  }
}

/** probeTargetAuth, for its version only. */
export async function probeTarget(t: TargetAddr, timeoutMs = 2000, auth: AuthCred | null = null): Promise<string> {
  return (await probeTargetAuth(t, timeoutMs, auth)).version;
}

/** Text probe: `version` (after ascii auth when credentials are given). */
async function probeText(t: TargetAddr, timeoutMs: number, auth: AuthCred | null): Promise<string> {
  const { connect } = await import('node:net');
  return new Promise((resolve, reject) => {
    const s = connect({ host: t.host, port: t.port });
    let acc = '';
    const done = (err: Error | null, v = ''): void => {
      clearTimeout(timer);
      s.destroy();
      if (err) reject(err);
      else resolve(v);
    };
    const timer = setTimeout(() => done(new Error(`no answer to "version" within ${timeoutMs} ms`)), timeoutMs);
    s.once('error', (e: NodeJS.ErrnoException) => done(new Error(e.code === 'ECONNREFUSED' ? 'connection refused' : e.message)));
    s.once('connect', () => {
      if (auth !== null) s.write(authRequest('text', auth).request);
      s.write('version\r\n');
    });
    s.on('data', (d: Buffer) => {
      acc += d.toString('latin1');
      for (;;) {
        const nl = acc.indexOf('\r\n');
        if (nl < 0) return;
        const line = acc.slice(0, nl);
        acc = acc.slice(nl + 2);
        if (line === 'STORED' && auth !== null) continue; // the authentication was accepted
        if (line.startsWith('VERSION ')) done(null, line.slice(8));
        else if (/unauthenticated|authentication/i.test(line)) {
          done(new Error(auth ? 'the target refused the credentials (ascii auth; check --sasl-user and MCREPLAY_SASL_PASSWORD)' : 'the target requires authentication: pass --sasl-user and set MCREPLAY_SASL_PASSWORD'));
        } else done(new Error(`unexpected answer to "version": ${JSON.stringify(line.slice(0, 80))}`));
        return;
      }
    });
    s.once('close', () => done(new Error('connection closed before answering "version"')));
  });
}

/**
 * What a binary SASL probe found: the target's version after PLAIN succeeded, the mechanisms of a
 * SASL target (probe without credentials), a target that answers binary but has no SASL, or one
 * that does not answer binary at all (text only, or silent).
 */
type BinaryProbe = { kind: 'version'; version: string } | { kind: 'sasl'; mechs: string[] } | { kind: 'no-sasl'; version: string } | { kind: 'not-binary' };

/**
 * Binary probe: SASL list mechanisms, then (with credentials) PLAIN and a binary `version`. The
 * password is only sent once the target has answered in binary and offered PLAIN.
 */
async function probeBinary(t: TargetAddr, timeoutMs: number, auth: AuthCred | null): Promise<BinaryProbe> {
  const { connect } = await import('node:net');
  return new Promise((resolve, reject) => {
    const s = connect({ host: t.host, port: t.port });
    let acc: Buffer = Buffer.alloc(0);
    let answered = false;
    let sasl = true;
    const done = (err: Error | null, v: BinaryProbe = { kind: 'not-binary' }): void => {
      clearTimeout(timer);
      s.removeAllListeners('close');
      s.destroy();
      if (err) reject(err);
      else resolve(v);
    };
    // a text-only target may just wait for a line end: no binary answer in time means "not binary"
    const timer = setTimeout(() => {
      if (answered) done(new Error(`no answer to the binary SASL exchange within ${timeoutMs} ms`));
      else done(null);
    }, timeoutMs);
    s.once('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ECONNREFUSED') done(new Error('connection refused'));
      else if (!answered) done(null);
      else done(new Error(`${e.message} during the binary SASL exchange`));
    });
    // the opaque (echoed by a binary server) holds a line end, so that a text-only server
    // (memcached -Y) answers at once with an error instead of waiting for one
    s.once('connect', () => s.write(binaryFrame(SASL_OP.listMechs, undefined, undefined, 0x0d0a0000)));
    s.on('data', (d: Buffer) => {
      acc = acc.length === 0 ? d : Buffer.concat([acc, d]);
      if (!answered && acc[0] !== 0x81) return done(null); // a text answer (ERROR, CLIENT_ERROR ...)
      for (;;) {
        const f = readBinaryResponse(acc);
        if (f === null) return;
        answered = true;
        acc = acc.subarray(f.end);
        const op = f.opcode;
        const status = f.status;
        const body = f.value;
        if (op === SASL_OP.listMechs) {
          if (status === SASL_STATUS.unknownCommand) {
            sasl = false;
            s.write(binaryFrame(OP_VERSION));
            continue;
          }
          if (status !== SASL_STATUS.ok) return done(new Error(`the target answered SASL list mechanisms with status 0x${status.toString(16)}`));
          const mechs = body.toString('latin1').split(/\s+/).filter((m) => m !== '');
          if (auth === null) return done(null, { kind: 'sasl', mechs });
          if (!mechs.includes('PLAIN')) {
            return done(new Error(`the target offers the SASL mechanisms ${mechs.join(' ') || '(none)'}, mcreplay authenticates with PLAIN only: add PLAIN to the target's SASL mech_list`));
          }
          s.write(authRequest('binary', auth).request);
        } else if (op === SASL_OP.auth) {
          if (status !== SASL_STATUS.ok) return done(new Error(saslRefusal(status)));
          s.write(binaryFrame(OP_VERSION));
        } else if (op === OP_VERSION) {
          if (status !== SASL_STATUS.ok) return done(new Error(`the target answered binary version with status 0x${status.toString(16)}`));
          const version = body.toString('latin1');
          return done(null, sasl ? { kind: 'version', version } : { kind: 'no-sasl', version });
        } else return done(new Error(`unexpected binary answer (opcode 0x${op.toString(16)}) during the SASL exchange`));
      }
    });
    s.once('close', () => {
      if (!answered) done(null);
      else done(new Error('the target closed the connection during the binary SASL exchange'));
    });
  });
}

/**
 * The credentials the workers' connections use: with the mechanism the targets take when they agree
 * on one (a connection does not know its protocol before its first request), none when no target
 * needs authentication.
 */
function workerAuth(auth: AuthCred | null, probed: ProbeResult[], warnings: string[]): AuthCred | null {
  if (auth === null) return null;
  const kinds = new Set(probed.map((p) => p.auth));
  if (kinds.size === 1 && kinds.has('none')) {
    warnings.push('the targets need no authentication: --sasl-user is not used');
    return null;
  }
  if (kinds.size === 1 && (kinds.has('sasl') || kinds.has('ascii'))) return { ...auth, mech: [...kinds][0] as AuthMech };
  // targets that differ: each connection authenticates by its own protocol
  return { user: auth.user, password: auth.password };
}

async function resolveAll(host: string): Promise<string[]> {
  if (isIP(host)) return [host];
  try {
    return (await lookup(host, { all: true })).map((a) => a.address);
  } catch {
    return [];
  }
}

interface CapturedAcc {
  count: number;
  hits: number;
  misses: number;
  latency: Histogram;
}

/** Per captured connection while it is open in the capture (one pass). */
interface ConnState {
  hold: string | null;
  worker: number;
  /** Replayed connection ids: [clone][member]. */
  ids: number[][];
  /** Requests seen whose captured answer has not come yet (pipelining detection). */
  unanswered: number;
  lastAt: number;
}

/** Runs a replay to its end and returns what it measured. Throws McError on setup problems (unreachable target: exit 3). */
export async function runReplay(setup: ReplaySetup): Promise<ReplayOutcome> {
  const warnings: string[] = [];
  if (setup.loop && setup.input === '-') throw new McError('--loop needs a capture file, not stdin', ExitCode.usage);
  await initMetrics();

  // ---- targets -------------------------------------------------------------------------------
  const plan = setup.targets;
  const addrs: HostPort[] = plan.kind === 'pool' ? plan.members : targetAddresses(plan);
  const targets: TargetAddr[] = addrs.map((hp) => ({ host: hp.host, port: hp.port, name: formatHostPort(hp) }));
  const targetIndex = new Map<string, number>(targets.map((t, i) => [t.name, i]));
  const hasher: KeyHasher | null = plan.kind === 'pool' ? createHasher(plan.hash, plan.members) : null;

  // every target must answer before any load is sent (checked below, while the workers start)
  const probing = Promise.all(targets.map((t) => probeTargetAuth(t, 2000, setup.auth).catch((e: Error) => `${t.name}: ${e.message}`)));
  // addresses of the targets, for the "replaying into the captured server" guard
  const targetEndpoints = new Set<string>();
  const resolving = Promise.all(
    targets.map(async (t) => {
      for (const a of await resolveAll(t.host)) targetEndpoints.add(`${a.includes(':') ? `[${a}]` : a}:${t.port}`);
    }),
  );
  const epochP = captureEpochSec(setup.input);
  const schedule: Schedule = makeSchedule(setup.rate);
  const maxMode = setup.rate.mode === 'max';
  const clones = Math.max(1, setup.clone);

  // ---- workers -------------------------------------------------------------------------------
  const baseSec = clockBaseSec();
  const nWorkers = Math.max(1, setup.workers);
  // one table for all workers: a pooled client reads a token on one connection and uses it on another
  const casTable = CasTable.create();
  const url = workerUrl();
  const workers: Worker[] = [];
  const workerTotals: WorkerTotals[] = [];
  const posted: number[] = [];
  const batches: BatchWriter[] = [];
  const synced: boolean[] = [];
  const done: boolean[] = [];
  let fatal: Error | null = null;
  /** The run state below exists (handlers may stop the run); before that a failure only records `fatal`. */
  let running = false;
  let runEndNs = 0;
  let readyCount = 0;
  let resolveAllDone!: () => void;
  const allDone = new Promise<void>((r) => (resolveAllDone = r));
  let resolveReady!: () => void;
  const allReady = new Promise<void>((r) => (resolveReady = r));
  const readySeen: boolean[] = [];
  /** A worker is ready (or gone: the run then fails, but nothing waits for it forever). */
  const markReady = (w: number): void => {
    if (readySeen[w]) return;
    readySeen[w] = true;
    if (++readyCount === nWorkers) resolveReady();
  };
  let syncWaiter: (() => void) | null = null;
  const checkSynced = (): void => {
    if (syncWaiter !== null && synced.every((x, i) => x || done[i])) {
      const f = syncWaiter;
      syncWaiter = null;
      f();
    }
  };
  let progressWaiter: (() => void) | null = null;

  const agg = new Aggregator({
    workers: nWorkers,
    intervalNs: setup.intervalNs,
    rate: setup.rate.mode === 'factor' ? { mode: 'factor', factor: setup.rate.factor } : setup.rate,
    warmup: setup.warmup,
    onInterval: (iv) => setup.onInterval?.(iv, agg.progress()),
  });

  const send = (w: number, m: ToWorker): void => {
    if (!done[w]) workers[w]!.postMessage(m);
  };

  for (let w = 0; w < nWorkers; w++) {
    const worker = new Worker(url);
    workers.push(worker);
    workerTotals.push(emptyTotals());
    posted.push(0);
    batches.push(new BatchWriter(BATCH_ITEMS));
    done.push(false);
    synced.push(false);
    worker.on('message', (m: FromWorker) => {
      switch (m.t) {
        case 'ready':
          markReady(w);
          return;
        case 'synced':
          synced[m.worker] = true;
          checkSynced();
          return;
        case 'snap':
          agg.add(m.snap);
          return;
        case 'progress':
          workerTotals[m.worker] = m.totals;
          if (progressWaiter) {
            const f = progressWaiter;
            progressWaiter = null;
            f();
          }
          return;
        case 'done':
          workerTotals[m.worker] = m.totals;
          done[m.worker] = true;
          if (m.endNs > runEndNs) runEndNs = m.endNs;
          agg.workerDone(m.worker);
          if (progressWaiter) {
            const f = progressWaiter;
            progressWaiter = null;
            f();
          }
          if (done.every(Boolean)) resolveAllDone();
          checkSynced();
          return;
        case 'fatal':
          fatal ??= new Error(`replay worker ${w} failed: ${m.message}`);
          // its state cannot be trusted to finish the protocol: end it (its 'exit' marks it done)
          void worker.terminate();
          if (running) stopRun('interrupted');
          return;
      }
    });
    worker.on('error', (err) => {
      fatal ??= err;
      done[w] = true;
      markReady(w);
      agg.workerDone(w);
      if (done.every(Boolean)) resolveAllDone();
      checkSynced();
      if (running) stopRun('interrupted');
    });
    worker.on('exit', () => {
      if (!done[w]) {
        done[w] = true;
        fatal ??= new Error(`replay worker ${w} exited early`);
        markReady(w);
        agg.workerDone(w);
        if (done.every(Boolean)) resolveAllDone();
        checkSynced();
      }
    });
  }
  const probed = await probing;
  const bad = probed.filter((p): p is string => typeof p === 'string');
  if (bad.length > 0) {
    await Promise.all(workers.map((w) => w.terminate().catch(() => 0)));
    agg.destroy();
    const authIssue = bad.some((b) => /authentication|credentials|SASL/.test(b));
    throw new McError(
      `${authIssue ? 'target authentication failed' : 'target unreachable'}, nothing was sent: ${bad.join('; ')}`,
      ExitCode.targetUnreachable,
      authIssue
        ? "give the target's user with --sasl-user and its password in MCREPLAY_SASL_PASSWORD (binary SASL PLAIN for memcached -S, ascii auth for memcached -Y)"
        : 'check the address and that memcached runs there (--target host:port)',
    );
  }
  // init (and with it the workers' first connections) only once the credentials proved right and
  // it is known how the targets take them
  const auth = workerAuth(setup.auth, probed as ProbeResult[], warnings);
  // memcached -S speaks only the binary protocol: text and meta requests sent to it fail
  const binaryOnly = auth?.mech === 'sasl';
  let textToBinaryOnly = 0;
  workers.forEach((worker, w) => {
    if (done[w]) return;
    worker.postMessage({
      t: 'init',
      init: { worker: w, baseSec, targets, timeoutNs: setup.timeoutNs, maxMode, intervalNs: setup.intervalNs, auth, eventLoop: setup.eventLoop ?? true, casTable: casTable.buffer },
    } satisfies ToWorker);
  });
  await resolving;
  const epochSec = await epochP;
  await allReady;
  // the workers' threads exist now and keep their priority: this thread gives way to them
  const restorePriority = lowerThreadPriority();
  if (fatal) {
    restorePriority();
    // a worker failed while starting (before any load)
    await Promise.all(workers.map((w) => w.terminate().catch(() => 0)));
    agg.destroy();
    throw fatal;
  }

  // ---- run state -----------------------------------------------------------------------------
  let t0: number | null = null;
  const runNow = (): number => (t0 === null ? 0 : monoNs(baseSec) - t0);
  let stopReason: StopReason | null = null;
  let counting = false; // after a stop without loop: read on only to count the rest as unsent
  let lastAt = 0;
  let postedBytes = 0;
  let postedItems = 0;
  let nextConnId = 1;
  let rr = 0;
  let shapedRequests = 0;
  const heldBack: Record<string, number> = {};
  const unsentByCmd = new Map<string, number>();
  const captured = new Map<string, CapturedAcc>();
  // replayed requests of the first pass whose captured answer is still to come (a WeakSet cost
  // noticeably more in garbage collection at 40k requests/s)
  const capturedReqs = new Set<WorkloadRequest>();
  let capConnections = 0;
  let capRequests = 0;
  let capUnreplayable = 0;
  let durationTimer: NodeJS.Timeout | null = null;
  const extractAbort = new AbortController();
  let captureFullyRead = true;

  function flush(w: number): void {
    const b = batches[w]!;
    if (b.size === 0) return;
    const { batch, transfer } = b.take();
    if (done[w]) return;
    workers[w]!.postMessage({ t: 'batch', b: batch } satisfies ToWorker, transfer);
  }
  function flushAll(): void {
    for (let w = 0; w < nWorkers; w++) flush(w);
  }
  /** Counts an item posted to worker `w` (due at `at`); sends the batch when it is full. */
  function posted1(w: number, at: number, bytes: number): void {
    if (at > lastAt) lastAt = at;
    posted[w]!++;
    postedItems++;
    postedBytes += bytes;
    if (batches[w]!.full) flush(w);
  }

  let startP: Promise<void> | null = null;
  let cpuAtT0: NodeJS.CpuUsage | null = null;
  /** Fixes t0 once every worker holds the start of the schedule (idempotent). */
  function start(): Promise<void> {
    startP ??= (async () => {
      flushAll();
      for (let w = 0; w < nWorkers; w++) send(w, { t: 'sync' });
      await new Promise<void>((r) => {
        syncWaiter = r;
        checkSynced();
      });
      t0 = monoNs(baseSec) + START_MARGIN_NS;
      cpuAtT0 = process.cpuUsage();
      for (let w = 0; w < nWorkers; w++) send(w, { t: 'start', t0Ns: t0 });
      flushAll();
      const early: string[] = [];
      if (textToBinaryOnly > 0) {
        early.push(
          `${textToBinaryOnly} of the first ${shapedRequests} requests are text/meta for targets that take binary SASL (memcached -S), which speak only the binary protocol: they will fail (reset, timeout); replay such a capture against a target without -S`,
        );
      }
      setup.onStart?.(
        runNow,
        probed.map((p) => (setup.auth !== null && typeof p !== 'string' && (p.auth === 'sasl' || p.auth === 'ascii') ? { ...setup.auth, mech: p.auth } : null)),
        early,
      );
      const cutoff = Math.min(setup.durationNs ?? Infinity, schedule.endNs ?? Infinity);
      if (Number.isFinite(cutoff)) {
        const arm = (): void => {
          const left = cutoff - runNow();
          if (left <= 0) stopRun(setup.durationNs !== null && setup.durationNs <= (schedule.endNs ?? Infinity) ? 'duration' : 'ramp-end');
          else durationTimer = setTimeout(arm, Math.min(2 ** 31 - 1, Math.ceil(left / 1e6)));
        };
        if (stopReason === null) arm();
      }
      if (stopReason !== null) sendStop();
    })();
    return startP;
  }

  function sendStop(): void {
    flushAll();
    const grace = stopReason === 'interrupted' ? INTERRUPT_GRACE_NS : setup.timeoutNs;
    for (let w = 0; w < nWorkers; w++) send(w, { t: 'stop', graceNs: grace });
  }

  function stopRun(reason: StopReason): void {
    if (stopReason !== null) return;
    stopReason = reason;
    if (durationTimer) clearTimeout(durationTimer);
    // before t0 the stop goes out right after the start
    if (t0 !== null) sendStop();
    else void start();
    if (reason === 'interrupted' || setup.loop) {
      captureFullyRead = false;
      extractAbort.abort();
    } else {
      counting = true;
    }
    if (progressWaiter) {
      const f = progressWaiter;
      progressWaiter = null;
      f();
    }
  }

  running = true;
  const onAbort = (): void => stopRun('interrupted');
  if (setup.signal) {
    if (setup.signal.aborted) onAbort();
    else setup.signal.addEventListener('abort', onAbort, { once: true });
  }

  function outstanding(): number {
    let consumed = 0;
    for (const t of workerTotals) consumed += t.consumed;
    return postedItems - consumed;
  }

  function hold(cmd: string, reason: string, at: number, n: number, w: number): void {
    heldBack[reason] = (heldBack[reason] ?? 0) + n;
    shapedRequests += n;
    batches[w]!.held(at, cmd, reason, n);
    posted1(w, 0, 0);
  }

  function unsent(cmd: string, n: number): void {
    shapedRequests += n;
    unsentByCmd.set(cmd, (unsentByCmd.get(cmd) ?? 0) + n);
  }

  function capturedRecord(r: WorkloadRequest, o: CapturedOutcome): void {
    let c = captured.get(r.cmd);
    if (c === undefined) {
      c = { count: 0, hits: 0, misses: 0, latency: createHistogram(true) };
      captured.set(r.cmd, c);
    }
    c.count++;
    c.hits += o.hits;
    c.misses += o.misses;
    if (o.latencyNs !== null) recordNs(c.latency, o.latencyNs);
  }

  // ---- one pass over the capture -------------------------------------------------------------
  let passes = 0;
  let passOffset = 0; // capture ns added to this pass (loop)
  let passSpan = 0;
  let firstExtract: ExtractResult | null = null;

  async function runPass(pass: number): Promise<ExtractResult | null> {
    const conns = new Map<number, ConnState>();
    const squeeze = new GapSqueezer(setup.shape.maxGapNs);
    let ts0: number | null = null;
    let maxTs = 0;
    const from = setup.shape.fromNs;

    /** Run-clock due time of capture time `ts` (null: past the end of a ramp). */
    const dueAt = (ts: number): number | null => {
      let t = squeeze.map(ts);
      if (ts0 === null) ts0 = Math.max(t, from ?? t);
      if (t > maxTs) maxTs = t;
      t = Math.max(0, t - ts0);
      const a = schedule.at(t + passOffset);
      return a;
    };
    const ttlScaleAt = (at: number): number => setup.ttlScale ?? schedule.rateAt(at) ?? 1;
    const past = (at: number | null): boolean => at === null || (setup.durationNs !== null && at >= setup.durationNs);

    const sink: WorkloadSink = {
      connection(c: WorkloadConnection): void {
        if (pass === 0) capConnections++;
        let hold: string | null = connectionHold(c, setup.shape);
        let tIdx = 0;
        if (hold === null && plan.kind !== 'pool') {
          const hp = targetFor(plan, c.serverKey);
          if (hp === null) hold = 'unmapped';
          else tIdx = targetIndex.get(formatHostPort(hp)) ?? 0;
        }
        if (hold === null && !setup.allowSourceTarget && targetEndpoints.has(c.serverKey)) {
          throw new McError(
            `refusing to replay into ${c.serverKey}: it is a server of the capture (connection ${c.id} talked to it)`,
            ExitCode.usage,
            'replaying captured traffic into the server it was captured from is almost surely a mistake; pass --allow-source-target if it is not',
          );
        }
        const w = rr++ % nWorkers;
        const cs: ConnState = { hold, worker: w, ids: [], unanswered: 0, lastAt: 0 };
        conns.set(c.id, cs);
        if (hold !== null || stopReason !== null) return;
        const at0 = dueAt(c.openNs);
        const at = at0 === null ? 0 : at0;
        const early = !c.synSeen || (from !== null && c.openNs < from);
        cs.lastAt = at;
        const members = plan.kind === 'pool' ? plan.members.length : 1;
        for (let k = 0; k < clones; k++) {
          const ids: number[] = [];
          for (let m = 0; m < members; m++) {
            const id = nextConnId++;
            ids.push(id);
            batches[w]!.open(at, id, plan.kind === 'pool' ? m : tIdx, early, c.transport === 'udp');
            posted1(w, at, 0);
          }
          cs.ids.push(ids);
        }
      },

      request(r: WorkloadRequest): void {
        if (pass === 0) capRequests++;
        const cs = conns.get(r.connId);
        if (cs === undefined) return;
        const pipelined = cs.unanswered > 0;
        cs.unanswered++;
        let reason = cs.hold ?? requestHold(r, setup.shape);
        if (pass === 0 && (reason === 'udp' || reason === 'credentials')) capUnreplayable++;
        const at0 = dueAt(r.tsNs);
        if (counting || stopReason !== null || past(at0)) {
          if (reason === null) {
            let n = 0;
            for (let k = 0; k < clones; k++) n += hasher === null ? 1 : poolParts(r, setup.cloneKeys ? clonePrefix(k) : '', hasher);
            unsent(r.cmd, n);
          } else hold(r.cmd, reason, 0, clones, cs.worker);
          if (!counting && stopReason === null && past(at0) && (setup.loop || at0 === null)) {
            // beyond the end of the run: with --loop (or a ramp) the rest of the capture is not needed
            stopRunAtCutoff();
          }
          return;
        }
        const at = Math.max(at0!, cs.lastAt);
        cs.lastAt = at;
        if (reason !== null) {
          hold(r.cmd, reason, at, clones, cs.worker);
          return;
        }
        if (pass === 0) capturedReqs.add(r);
        if (binaryOnly && r.proto !== 'binary') textToBinaryOnly += clones;
        const exp = r.exptime > 0 ? translateExpiry(r.exptime, epochSec === null ? null : epochSec + r.tsNs / 1e9, ttlScaleAt(at)) : null;
        const relExp = exp !== null && exp.kind === 'relative' ? exp.sec : null;
        const absExpSec = exp !== null && exp.kind === 'absolute' ? exp.remainSec : null;
        const cas = needsCasToken(r);
        const w = cs.worker;
        for (let k = 0; k < clones; k++) {
          const prefix = setup.cloneKeys ? clonePrefix(k) : '';
          const ids = cs.ids[k]!;
          if (hasher === null) {
            shapedRequests++;
            batches[w]!.req(reqRecord(ids[0]!, at, r, r, prefix, relExp, absExpSec, cas, pipelined));
            posted1(w, at, r.raw.length);
            continue;
          }
          for (const [m, sub] of routePool(r, prefix, hasher)) {
            shapedRequests++;
            batches[w]!.req(reqRecord(ids[m]!, at, r, sub, prefix, relExp, absExpSec, cas, pipelined));
            posted1(w, at, sub.raw.length);
          }
        }
      },

      outcome(r: WorkloadRequest, o: CapturedOutcome): void {
        const cs = conns.get(r.connId);
        if (cs !== undefined && cs.unanswered > 0) cs.unanswered--;
        if (capturedReqs.delete(r)) capturedRecord(r, o);
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
            batches[cs.worker]!.close(at, id);
            posted1(cs.worker, at, 0);
          }
        }
      },

      async ready(): Promise<void> {
        if (fatal) throw fatal;
        flushAll();
        if (counting || stopReason !== null) return;
        const avg = postedItems > 0 ? postedBytes / postedItems : 100;
        const maxItems = Math.max(1000, Math.min(MAX_OUTSTANDING_ITEMS, Math.floor(MAX_OUTSTANDING_BYTES / (avg + RECORD_OVERHEAD_BYTES))));
        if (t0 === null) {
          // fill the whole look-ahead before t0: reading after t0 competes for the CPU with the
          // workers (worst while they start: with a quarter read first, the first second of a 38k
          // requests/s replay had the run's worst lag)
          if (postedItems >= maxItems || (!maxMode && lastAt >= setup.lookAheadNs)) await start();
          else return;
        }
        for (;;) {
          if (stopReason !== null || fatal) return;
          const tooMany = outstanding() > maxItems;
          const ahead = maxMode ? 0 : lastAt - runNow() - setup.lookAheadNs;
          if (!tooMany && ahead <= 0) return;
          if (tooMany) {
            await new Promise<void>((res) => {
              progressWaiter = res;
              setTimeout(res, 100);
            });
            progressWaiter = null;
          } else {
            await new Promise<void>((res) => setTimeout(res, Math.max(1, Math.min(100, Math.floor(ahead / 1e6)))));
          }
        }
      },
    };

    function stopRunAtCutoff(): void {
      // the schedule reached the run's end: the timer stops the run when the clock gets there
      readingBeyondCutoff = true;
      if (setup.loop) extractAbort.abort();
    }

    let res: ExtractResult | null = null;
    try {
      res = await extractWorkload(setup.input, { serverPorts: setup.serverPorts, anyPort: setup.anyPort, rawView: true }, sink, extractAbort.signal);
    } catch (err) {
      if (!extractAbort.signal.aborted) throw err;
    }
    passSpan = Math.max(0, maxTs - (ts0 ?? 0)) + 1e6;
    if (pass === 0) squeezedNs = squeeze.squeezedNs;
    // connections the capture left open are closed by the workers at the end
    return res;
  }

  let readingBeyondCutoff = false;
  let squeezedNs = 0;
  const startedAt = new Date();
  try {
    for (;;) {
      const res = await runPass(passes);
      if (passes === 0) firstExtract = res;
      passes++;
      if (!setup.loop || stopReason !== null || extractAbort.signal.aborted || fatal) break;
      passOffset += passSpan;
      if (readingBeyondCutoff) break;
    }
  } catch (err) {
    if (!fatal && !(err instanceof McError)) fatal = err instanceof Error ? err : new Error(String(err));
    else if (err instanceof McError) fatal = err;
    stopRun('interrupted');
  }
  await start();
  // requests beyond the end of the run that were counted while reading
  for (const [cmd, n] of unsentByCmd) {
    batches[0]!.unsent(cmd, n);
    posted1(0, 0, 0);
  }
  flushAll();
  for (let w = 0; w < nWorkers; w++) send(w, { t: 'end' });
  await allDone;
  const cpu = cpuAtT0 === null ? null : process.cpuUsage(cpuAtT0);
  restorePriority();
  if (durationTimer) clearTimeout(durationTimer);
  setup.signal?.removeEventListener('abort', onAbort);
  await Promise.all(workers.map((w) => w.terminate().catch(() => 0)));
  if (fatal) {
    agg.destroy();
    for (const c of captured.values()) c.latency.destroy();
    throw fatal;
  }

  const aggregate = agg.finish(runEndNs);
  const capturedOut: Record<string, CapturedCommand> = {};
  for (const [cmd, c] of [...captured].sort((a, b) => a[0].localeCompare(b[0]))) {
    const lookups = c.hits + c.misses;
    capturedOut[cmd] = {
      count: c.count,
      hits: c.hits,
      misses: c.misses,
      hitRatio: lookups > 0 ? c.hits / lookups : null,
      latency: c.latency.totalCount > 0 ? percentiles(c.latency) : null,
      latencyHist: c.latency.totalCount > 0 ? encodeHistogram(c.latency) : null,
    };
    c.latency.destroy();
  }
  const totals = emptyTotals();
  for (const t of workerTotals) addTotals(totals, t);
  if (totals.unexpectedBytes > 0) warnings.push(`${totals.unexpectedBytes} bytes from the target answered no request (counted as desync)`);
  if (textToBinaryOnly > 0) {
    warnings.push(
      `${textToBinaryOnly} text/meta request(s) went to targets that take binary SASL (memcached -S), which speak only the binary protocol: they fail (reset, timeout); replay such a capture against a target without -S`,
    );
  }
  if (totals.authRefused > 0) {
    warnings.push(`the target refused authentication on ${totals.authRefused} connection attempt(s) after the start-up check had passed; their requests failed as client_error (check --sasl-user / MCREPLAY_SASL_PASSWORD and the target's auth setup)`);
  }
  return {
    startedAt,
    endedAt: new Date(),
    stopReason: stopReason ?? 'complete',
    aggregate,
    extract: firstExtract,
    captured: capturedOut,
    capture: { connections: capConnections, requests: capRequests, replayable: capRequests - capUnreplayable },
    totals,
    shapedRequests,
    heldBack,
    passes,
    captureFullyRead,
    targets,
    runEndNs,
    squeezedNs,
    warnings,
    replayCpu: cpu === null ? null : { userUs: cpu.user, sysUs: cpu.system },
  };
}

/**
 * The record of one replayed request: clone prefix and relative expiry are written into its bytes
 * here (once, off the worker's hot path); the CAS token and an absolute expiry are set at send time.
 */
function reqRecord(
  conn: number,
  at: number,
  r: WorkloadRequest,
  part: PoolPart,
  prefix: string,
  relExp: number | null,
  absExpSec: number | null,
  cas: boolean,
  pipelined: boolean,
): ReqRecord {
  let raw: Buffer | readonly Buffer[] = part.raw;
  if (prefix !== '' || relExp !== null) {
    const edit: { keyPrefix?: Buffer; exptime?: number } = {};
    if (prefix !== '') edit.keyPrefix = Buffer.from(prefix, 'latin1');
    if (relExp !== null) edit.exptime = relExp;
    raw = encodeRequest(part, edit);
  }
  return {
    at,
    conn,
    proto: r.proto,
    cmd: r.cmd,
    expect: r.expect,
    quiet: r.quiet,
    opaque: r.opaque,
    keys: prefix === '' ? part.keys : part.keys.map((k) => prefix + k),
    metaFlags: r.metaFlags,
    raw,
    absExpSec,
    cas,
    pipelined,
  };
}

/** What pool routing needs of a request, and what a split part of it is. */
export interface PoolPart {
  proto: Proto;
  cmd: string;
  expect: Expect;
  keys: readonly string[];
  raw: Buffer;
  exptime: number;
}

/** How many requests a pool turns this one into (keyless: one per member; a multi-get: one per member it touches). */
function poolParts(r: WorkloadRequest, prefix: string, hasher: KeyHasher): number {
  if (r.keys.length === 0) return hasher.size;
  if (r.keys.length === 1 || !(r.proto === 'text' && TEXT_MULTI.has(r.cmd))) return 1;
  const members = new Set<number>();
  for (const k of r.keys) members.add(hasher.place(prefix + k));
  return members.size;
}

const TEXT_MULTI = new Set(['get', 'gets', 'gat', 'gats']);

/**
 * Routes a request over a pool as a client would: by key; a text multi-get is split into one get
 * per member holding some of its keys; a keyless request (stats, version, noop ...) goes to every member.
 */
export function routePool(r: PoolPart, prefix: string, hasher: KeyHasher): [number, PoolPart][] {
  if (r.keys.length === 0) {
    const all: [number, PoolPart][] = [];
    for (let m = 0; m < hasher.size; m++) all.push([m, r]);
    return all;
  }
  if (r.keys.length === 1 || !(r.proto === 'text' && TEXT_MULTI.has(r.cmd))) return [[hasher.place(prefix + r.keys[0]!), r]];
  const by = new Map<number, string[]>();
  for (const k of r.keys) {
    const m = hasher.place(prefix + k);
    let l = by.get(m);
    if (l === undefined) by.set(m, (l = []));
    l.push(k);
  }
  if (by.size === 1) return [[by.keys().next().value!, r]];
  const out: [number, PoolPart][] = [];
  const head = r.cmd === 'gat' || r.cmd === 'gats' ? `${r.cmd} ${r.exptime}` : r.cmd;
  for (const [m, keys] of by) {
    const raw = Buffer.from(`${head} ${keys.join(' ')}\r\n`, 'latin1');
    out.push([m, { proto: r.proto, cmd: r.cmd, expect: r.expect, exptime: r.exptime, keys, raw }]);
  }
  return out;
}

/** The `config.rate` value of results.json for a rate spec. */
export function rateConfig(rate: RateSpec): ResultsFile['config']['rate'] {
  return rate;
}
