// `diff`: do the new servers answer as the old ones do? The capture's reads (every value-returning
// command of text, meta and binary; a multi-key get per key) are asked of two setups, primary and
// candidate, back to back, and every key's answer is compared: hit or miss, value (by SHA-1) and
// client flags. A third setup, the secondary (a second copy of the primary), gives the noise floor
// the way Diffy does: a difference that also shows between primary and secondary is noise (a key
// that changed between the reads, an eviction), not a difference of the setups.
// Keys are asked with text `get` whatever protocol the capture used, so every server answers the
// same question; writes are forwarded only with `withWrites`, as their captured bytes.
import type { CapturedOutcome, IngestOptions, WorkloadRequest } from '../workload/model.js';
import { extractWorkload } from '../workload/extract.js';
import { createPool, placeKey, placeKeys, type Pool } from '../topology/pool.js';
import type { HashKind } from '../topology/hashing.js';
import type { HostPort } from '../topology/targets.js';
import { McError } from '../errors.js';
import { ConnFailure, openReadConn, openWriteConn, type KeyAnswer, type ReadConn, type WriteConn } from './diff-conn.js';
import { createTally, type DiffFigures } from './diff-tally.js';
import { createJobQueue } from './diff-queue.js';
import { isRead } from './plan.js';

export const DIFF_SCHEMA = 'mcreplay.diff/1';
export { DIFF_KINDS, type DiffKind } from './diff-tally.js';
type SideName = 'primary' | 'candidate' | 'secondary';

export interface DiffOptions {
  capture: string;
  ingest: IngestOptions;
  primary: HostPort[];
  candidate: HostPort[];
  secondary: HostPort[] | null;
  /** How keys are placed when a setup has several servers. */
  hash: HashKind;
  withWrites: boolean;
  /** With withWrites: the captured servers' "ip:port" that are also setups; writing to them is refused (null: allowed). */
  sourceGuard?: Set<string> | null;
  /** Largest share of compared requests that may differ (after noise) for a pass. */
  maxDiff: number;
  /** Example keys kept per kind (shown only when asked). */
  examples: number;
  /** Requests per second, or null for as fast as `inFlight` allows. */
  rate: number | null;
  inFlight: number;
  timeoutMs: number;
  /** A user's stop: no request starts after it; those in flight finish; the result covers what was compared. */
  signal?: AbortSignal;
  progress?(p: { compared: number; different: number }): void;
}

export interface DiffResult extends DiffFigures {
  schema: typeof DIFF_SCHEMA;
  capture: { path: string; problems: string | null };
  setups: { primary: string[]; candidate: string[]; secondary: string[] | null; hash: HashKind };
  withWrites: boolean;
  writes: { sent: number; errors: number };
  maxDiff: number;
  verdict: 'pass' | 'fail';
  /** Stopped by the user (o.signal) before the capture was read to its end: the figures cover what was compared so far. */
  interrupted: boolean;
  elapsedMs: number;
}

/** Whether a key can be asked with a text get: 1-250 bytes, no space or control bytes (binary and meta base64 keys may have them). */
function textable(k: string): boolean {
  if (k.length === 0 || k.length > 250) return false;
  for (let i = 0; i < k.length; i++) {
    const c = k.charCodeAt(i);
    if (c <= 0x20 || c === 0x7f) return false;
  }
  return true;
}

interface Setup {
  name: SideName;
  pool: Pool;
  reads: ReadConn[];
  /** Write connections per member, by protocol family (memcached fixes a connection's protocol at its first byte). */
  writes: Map<string, WriteConn>[];
  members: HostPort[];
}

async function openSetup(name: SideName, members: HostPort[], hash: HashKind, timeoutMs: number): Promise<Setup> {
  try {
    const reads = await Promise.all(members.map((m) => openReadConn(m, timeoutMs)));
    return { name, pool: createPool(members, hash), reads, writes: members.map(() => new Map()), members };
  } catch (e) {
    if (e instanceof ConnFailure) throw new McError(`${name}: ${e.message}`, 'MCR_ERR_TARGET_UNREACHABLE', 'check the address and that memcached runs there');
    throw e;
  }
}

/** Asks one setup for `keys` (split over its servers as a client would); per key, or an error. */
async function ask(s: Setup, keys: readonly string[]): Promise<Map<string, KeyAnswer> | string> {
  const groups = placeKeys(keys, s.pool);
  const answers = await Promise.all(groups.map((g) => s.reads[g.member]!.get(g.keys)));
  const all = new Map<string, KeyAnswer>();
  for (const a of answers) {
    if (!a.ok) return a.error;
    for (const [k, v] of a.keys) all.set(k, v);
  }
  return all;
}

/** Replays the capture's reads against the setups and compares every answer. */
export async function diffCapture(o: DiffOptions): Promise<DiffResult> {
  const started = Date.now();
  const setups: Setup[] = [];
  try {
    setups.push(await openSetup('primary', o.primary, o.hash, o.timeoutMs));
    setups.push(await openSetup('candidate', o.candidate, o.hash, o.timeoutMs));
    if (o.secondary) setups.push(await openSetup('secondary', o.secondary, o.hash, o.timeoutMs));
    return await run(o, setups, started);
  } finally {
    for (const s of setups) {
      for (const c of s.reads) c.close();
      for (const m of s.writes) for (const c of m.values()) c.close();
    }
  }
}

async function run(o: DiffOptions, setups: Setup[], started: number): Promise<DiffResult> {
  const [primary, candidate, secondary] = setups as [Setup, Setup, Setup | undefined];
  const t = createTally(o.examples, secondary !== undefined);
  const { requests } = t;
  const writes = { sent: 0, errors: 0 };

  const q = createJobQueue(o.inFlight);
  let barrier: Promise<void> = Promise.resolve();
  let sent = 0;
  const t0 = performance.now();
  let refused = false; // --with-writes into a captured server: nothing more is sent, the run fails
  const stopped = (): boolean => o.signal?.aborted === true;
  /** With --rate, the job waits for its own turn: request i at t0 + i/rate. */
  const due = (): number => (o.rate === null ? 0 : t0 + (sent * 1000) / o.rate);
  // a user's stop: the jobs not started are counted, not sent; those waiting for their turn give it up
  o.signal?.addEventListener('abort', () => void (requests.skipped.interrupted += q.stop()), { once: true });

  const readJob = (r: WorkloadRequest, keys: string[]): void => {
    const at = due();
    q.enqueue(async () => {
      await barrier;
      await q.until(at);
      if (stopped()) {
        requests.skipped.interrupted++;
        return;
      }
      // back to back: every setup is asked in the same tick
      const answers = await Promise.all(setups.map((s) => ask(s, keys)));
      t.compare(r.cmd, keys, answers);
      o.progress?.({ compared: requests.compared, different: requests.different });
    });
  };

  const writeJob = (r: WorkloadRequest): void => {
    const at = due();
    // a write waits for the jobs started before it; the reads started after it wait for it
    q.enqueue(() => (barrier = write(r, [...q.inflight], barrier, at)));
  };

  const write = async (r: WorkloadRequest, before: Promise<void>[], prev: Promise<void>, at: number): Promise<void> => {
    await prev;
    await Promise.all(before);
    await q.until(at);
    if (stopped()) {
      requests.skipped.interrupted++;
      return;
    }
    const key = r.keys[0];
    const results = await Promise.all(
      setups.map(async (s) => {
        const member = key === undefined ? 0 : placeKey(s.pool, key);
        const family = r.proto === 'binary' ? 'binary' : 'text';
        let conn = s.writes[member]!.get(family);
        if (!conn) {
          conn = await openWriteConn(s.members[member]!, o.timeoutMs);
          s.writes[member]!.set(family, conn);
        }
        return conn.send(r.raw, r);
      }),
    );
    writes.sent++;
    for (const e of results) if (e) {
      writes.errors++;
      t.error(`write: ${e}`);
    }
  };

  let source: string | null = null;
  const sink = {
    connection(c: { serverKey: string }): void {
      if (o.withWrites && o.sourceGuard?.has(c.serverKey) && source === null) {
        source = c.serverKey;
        refused = true;
      }
    },
    close(): void {},
    outcome(_r: WorkloadRequest, _o: CapturedOutcome): void {},
    request(r: WorkloadRequest): void {
      if (refused) return;
      if (r.credentials) {
        requests.skipped.credentials++;
        return;
      }
      if (r.cls === 'destructive' || r.cls === 'auth') {
        requests.skipped.destructive++;
        return;
      }
      if (isRead(r) && r.keys.length > 0) {
        const keys = r.keys.filter(textable);
        if (keys.length < r.keys.length) requests.skipped.untextable++;
        if (keys.length === 0) return;
        // the rest of the chunk being read at the stop, and what the capture's end flushes after it
        if (stopped()) requests.skipped.interrupted++;
        else {
          sent++;
          readJob(r, keys);
        }
      } else if (r.keys.length > 0 && r.cls !== 'info') {
        if (!o.withWrites) requests.skipped.writes++;
        else if (stopped()) requests.skipped.interrupted++;
        else {
          sent++;
          writeJob(r);
        }
      }
    },
    /** Backpressure: the next chunk is read once this one's jobs have all started. */
    async ready(): Promise<void> {
      await q.started();
    },
  };
  const res = await extractWorkload(o.capture, { ...o.ingest, keepRaw: o.withWrites }, sink, o.signal);
  await q.started();
  await q.idle();
  if (source !== null) {
    throw new McError(`--with-writes: ${source} is one of the captured servers; refusing to write the capture's traffic into it`, 'MCR_ERR_UNSAFE_TARGET', 'writing production traffic into production is the worst thing this tool can do; add --allow-source-target if you really mean it');
  }
  const figures = t.figures();
  return {
    schema: DIFF_SCHEMA,
    capture: { path: o.capture, problems: res.capture.error ?? null },
    setups: { primary: primary.reads.map((c) => c.server), candidate: candidate.reads.map((c) => c.server), secondary: secondary ? secondary.reads.map((c) => c.server) : null, hash: o.hash },
    withWrites: o.withWrites,
    ...figures,
    writes,
    maxDiff: o.maxDiff,
    verdict: figures.share <= o.maxDiff && requests.errors === 0 ? 'pass' : 'fail',
    interrupted: stopped(),
    elapsedMs: Date.now() - started,
  };
}


