// `warm`: copies keys from old servers to new ones. Each key is fetched with `mg <key> v f t` (value,
// client flags, remaining TTL) and written with `ms <key> <len> ME F<flags> T<ttl>`: mode E is
// meta's `add`, so a key the new server already holds (written by a mirror or the application,
// perhaps newer) is never overwritten. Paced (keys a second), a bounded number of workers, each
// with its own pipelined connection per server.
import type { AuthCred } from '../protocol/auth.js';
import { createPool, placeKey, type Pool } from '../topology/pool.js';
import { formatHostPort, targetFor, type HostPort, type TargetPlan } from '../topology/targets.js';
import { ConnError, metaFlag, MetaConn, type MetaReply } from './conn.js';
import { createPacer } from './pace.js';

/** One key to copy; `source` is the index in `from` when known (metadump), else null (try them). */
export interface WarmKey {
  key: string;
  source: number | null;
  /** The captured server that was asked ("addr:port"), to pick the old server; '' when unknown. */
  captured: string;
  /** Absolute expiry known in advance (metadump), unix seconds; undefined when not known. */
  exp?: number;
}

/** What happened to the keys, by outcome. */
export interface WarmCounts {
  considered: number;
  copied: number;
  alreadyPresent: number;
  missingOld: number;
  expired: number;
  tooLarge: number;
  /** Keys not copied for another reason, by class ("old unreachable", "new out of memory" ...). */
  errors: Record<string, number>;
  bytesCopied: number;
}

/** Settings of one warm-up run. */
export interface WarmSetup {
  from: HostPort[];
  to: TargetPlan;
  auth: AuthCred | null;
  /** Keys fetched from the old servers a second. */
  rate: number;
  concurrency: number;
  /** Ask the new server first and skip keys it holds (no fetch from the old one). */
  resume: boolean;
  timeoutMs: number;
  signal: AbortSignal;
  /** Keys whose presence is already known (the coverage pass before); with resume, those are skipped unasked. */
  knownPresent?: (key: string) => boolean | undefined;
}

/** Up to this many keys are named per problem class. */
const EXAMPLES = 5;

/** Remaining TTLs above this are absolute unix times for memcached (30 days). */
const REL_MAX = 60 * 60 * 24 * 30;

/** Counts and named examples of a run, updated as it goes. */
export interface WarmState {
  counts: WarmCounts;
  examples: Record<string, string[]>;
}

/** Connections of one worker, one per server, opened on first use. */
type Conns = Map<string, MetaConn>;

function connOf(conns: Conns, hp: HostPort, setup: Pick<WarmSetup, 'timeoutMs' | 'auth'>): MetaConn {
  const k = formatHostPort(hp);
  let c = conns.get(k);
  if (c === undefined) {
    c = new MetaConn(hp, setup.timeoutMs, setup.auth);
    conns.set(k, c);
  }
  return c;
}

/** Where a key goes on the new side. */
export interface Placement {
  pool: Pool | null;
  plan: TargetPlan;
}

/** Builds the placement of `to` (hashing cache included for a pool). */
export function placement(plan: TargetPlan): Placement {
  return { plan, pool: plan.kind === 'pool' ? createPool(plan.members, plan.hash) : null };
}

/** The new server of `key`, found on old server `source`; null when a mapping has no entry for it. */
export function destOf(p: Placement, key: string, source: HostPort): HostPort | null {
  if (p.pool !== null) return p.pool.members[placeKey(p.pool, key)]!;
  return targetFor(p.plan, formatHostPort(source));
}

/** The old servers to ask for a key, in order: the one it was captured on, or all of them. */
export function sourcesOf(from: HostPort[], k: WarmKey): HostPort[] {
  if (k.source !== null) return [from[k.source]!];
  if (from.length === 1) return from;
  const same = from.find((f) => formatHostPort(f) === k.captured);
  return same ? [same, ...from.filter((f) => f !== same)] : from;
}

function note(st: WarmState, cls: string, key: string): void {
  const ex = (st.examples[cls] ??= []);
  if (ex.length < EXAMPLES) ex.push(key);
}

function fail(st: WarmState, cls: string, key: string): void {
  st.counts.errors[cls] = (st.counts.errors[cls] ?? 0) + 1;
  note(st, cls, key);
}

/** The error class of a meta answer that is not one of the expected codes. */
function errorClass(side: 'old' | 'new', r: MetaReply): string {
  if (r.code === 'ERROR') return `${side} server has no meta commands (memcached < 1.6)`;
  const msg = (r.tokens[0] ?? '').replace(/\s+\S*\d\S*$/, '');
  return `${side}: ${r.code}${msg ? ` ${msg}` : ''}`;
}

function connClass(side: 'old' | 'new', e: unknown): string {
  if (e instanceof ConnError) return e.auth ? `${side} ${e.server} refused the credentials` : `${side} ${e.server} unreachable`;
  return `${side}: ${(e as Error).message}`;
}

type Fetched = { kind: 'value'; value: Buffer; flags: number; ttl: number } | { kind: 'missing' } | { kind: 'error'; cls: string };

/** Fetches value, flags and remaining TTL of `key` from the first old server that has it. */
async function fetchOld(conns: Conns, setup: WarmSetup, srcs: HostPort[], key: string): Promise<{ f: Fetched; src: HostPort }> {
  let firstErr: { f: Fetched; src: HostPort } | null = null;
  for (const src of srcs) {
    let r: MetaReply;
    try {
      r = await connOf(conns, src, setup).mg(key, 'v f t');
    } catch (e) {
      firstErr ??= { f: { kind: 'error', cls: connClass('old', e) }, src };
      continue;
    }
    if (r.code === 'VA' && r.value !== null) return { f: { kind: 'value', value: r.value, flags: metaFlag(r, 'f') ?? 0, ttl: metaFlag(r, 't') ?? -1 }, src };
    if (r.code !== 'EN') firstErr ??= { f: { kind: 'error', cls: errorClass('old', r) }, src };
  }
  return firstErr ?? { f: { kind: 'missing' }, src: srcs[0]! };
}

/** The `T` token for a remaining TTL: none for no expiry, absolute time beyond 30 days. */
function ttlToken(ttl: number): string {
  if (ttl < 0) return '';
  return ` T${ttl > REL_MAX ? Math.floor(Date.now() / 1000) + ttl : ttl}`;
}

/** Copies one key; updates the state. */
async function copyKey(conns: Conns, setup: WarmSetup, place: Placement, st: WarmState, k: WarmKey, take: () => Promise<boolean>): Promise<boolean> {
  const c = st.counts;
  const srcs = sourcesOf(setup.from, k);
  if (k.exp !== undefined && k.exp >= 0 && k.exp - Date.now() / 1000 < 1) {
    c.considered++;
    c.expired++;
    return true;
  }
  if (setup.resume) {
    const dest = destOf(place, k.key, srcs[0]!);
    if (dest !== null) {
      let present = setup.knownPresent?.(k.key);
      if (present === undefined) {
        try {
          present = (await connOf(conns, dest, setup).mg(k.key, '')).code === 'HD';
        } catch {
          present = false; // the write below meets the same failure and counts it
        }
      }
      if (present) {
        c.considered++;
        c.alreadyPresent++;
        return true;
      }
    }
  }
  if (!(await take())) return false;
  c.considered++;
  const { f, src } = await fetchOld(conns, setup, srcs, k.key);
  if (f.kind === 'missing') {
    c.missingOld++;
    return true;
  }
  if (f.kind === 'error') {
    fail(st, f.cls, k.key);
    return true;
  }
  // t0: under a second to live; copying it would only race its expiry
  if (f.ttl === 0) {
    c.expired++;
    return true;
  }
  const dest = destOf(place, k.key, src);
  if (dest === null) {
    fail(st, `no --to mapping for old server ${formatHostPort(src)}`, k.key);
    return true;
  }
  let r: MetaReply;
  try {
    r = await connOf(conns, dest, setup).ms(k.key, f.value, `ME F${f.flags}${ttlToken(f.ttl)}`);
  } catch (e) {
    fail(st, connClass('new', e), k.key);
    return true;
  }
  if (r.code === 'HD') {
    c.copied++;
    c.bytesCopied += f.value.length;
  } else if (r.code === 'NS') c.alreadyPresent++;
  else if (r.code === 'SERVER_ERROR' && /too large/.test(r.tokens[0] ?? '')) {
    c.tooLarge++;
    note(st, 'too large for the new server', k.key);
  } else if (r.code === 'SERVER_ERROR' && /out of memory/.test(r.tokens[0] ?? '')) fail(st, 'new server out of memory', k.key);
  else fail(st, errorClass('new', r), k.key);
  return true;
}

/** A fresh state with every count at zero. */
export function newWarmState(): WarmState {
  return { counts: { considered: 0, copied: 0, alreadyPresent: 0, missingOld: 0, expired: 0, tooLarge: 0, errors: {}, bytesCopied: 0 }, examples: {} };
}

/**
 * Copies the keys of `keys` (taken in order, hottest first for a capture) until they run out or
 * the signal stops the run; `st` is updated as keys complete, so a progress view can read it.
 */
export async function runWarm(setup: WarmSetup, keys: AsyncIterable<WarmKey> | Iterable<WarmKey>, st: WarmState): Promise<void> {
  const place = placement(setup.to);
  const take = createPacer(setup.rate, setup.signal);
  const it: AsyncIterator<WarmKey> | Iterator<WarmKey> = Symbol.asyncIterator in keys ? keys[Symbol.asyncIterator]() : keys[Symbol.iterator]();
  // workers share one iterator; an async one must not be asked twice at once
  let pulling: Promise<unknown> = Promise.resolve();
  const next = (): Promise<IteratorResult<WarmKey>> => {
    const p = pulling.then(() => it.next());
    pulling = p.catch(() => undefined);
    return p;
  };
  const worker = async (): Promise<void> => {
    const conns: Conns = new Map();
    try {
      while (!setup.signal.aborted) {
        const n = await next();
        if (n.done) return;
        if (!(await copyKey(conns, setup, place, st, n.value, take))) return;
      }
    } finally {
      for (const c of conns.values()) c.close();
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, setup.concurrency) }, worker));
  } finally {
    await it.return?.();
  }
}

/**
 * Which of `keys` the new servers hold now (`mg <key>` without flags: a hit, no value moved), as a
 * bitmap in key order; `destFor` picks each key's server. Unreachable servers count as "not held".
 */
export async function presence(keys: readonly string[], destFor: (i: number) => HostPort | null, setup: Pick<WarmSetup, 'timeoutMs' | 'auth' | 'concurrency' | 'signal'>): Promise<Uint8Array> {
  const held = new Uint8Array(keys.length);
  let i = 0;
  const worker = async (): Promise<void> => {
    const conns: Conns = new Map();
    try {
      while (i < keys.length && !setup.signal.aborted) {
        const j = i++;
        const dest = destFor(j);
        if (dest === null) continue;
        try {
          if ((await connOf(conns, dest, setup).mg(keys[j]!, '')).code === 'HD') held[j] = 1;
        } catch {
          /* unreachable: not held */
        }
      }
    } finally {
      for (const c of conns.values()) c.close();
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, setup.concurrency) }, worker));
  return held;
}
