// Shaping: what of a captured workload is replayed, and how requests are rewritten on the way
// (filters, time window, squeezed gaps, safety holds, clone key namespaces, TTL translation).
// Pure decisions over the workload model; the replay coordinator applies them.
import type { WorkloadConnection, WorkloadRequest } from './model.js';

/** Why a request was not sent on purpose; counted per command in the results' heldBack. */
export type HoldReason = 'udp' | 'credentials' | 'destructive' | 'filtered' | 'window' | 'unmapped';

/** The user's shaping choices. */
export interface ShapeOptions {
  /** Only these command names (lower case) are replayed; null = all. */
  commands: ReadonlySet<string> | null;
  /** Only commands that do not change the cache (reads, info, quit). */
  readOnly: boolean;
  /** Only connections to these captured server endpoints ("addr:port", IPv6 "[addr]:port"); null = all. */
  servers: ReadonlySet<string> | null;
  /** Capture-time window, ns since the capture's start; null = open. */
  fromNs: number | null;
  toNs: number | null;
  /** Idle periods longer than this (between consecutive capture events) are squeezed to it; null = keep. */
  maxGapNs: number | null;
  /** Destructive commands the user allowed by name (flush_all, verbosity, ...). */
  allow: ReadonlySet<string>;
}

/** Default shaping: everything replayable, nothing destructive. */
export function defaultShape(): ShapeOptions {
  return { commands: null, readOnly: false, servers: null, fromNs: null, toNs: null, maxGapNs: null, allow: new Set() };
}

// binary opcodes and the text command a user names them by in --allow / --commands
const ALIASES: Record<string, string> = {
  flush: 'flush_all',
  flushq: 'flush_all',
  verbosity: 'verbosity',
  quitq: 'quit',
};

/** The name a user would use for a command in --allow (binary quiet/opcode names map to the text name). */
export function userName(cmd: string): string {
  return ALIASES[cmd] ?? cmd;
}

/** Command names that a user may pass to --allow: the destructive ones. */
export const DESTRUCTIVE_NAMES = ['flush_all', 'shutdown', 'verbosity', 'slabs', 'lru_crawler', 'cache_memlimit', 'watch', 'lru', 'debugtime', 'misbehave'];

/** Is the whole connection out of the replay (--server filter, unmapped)? Its requests are all held for that reason. UDP clients are replayed over UDP. */
export function connectionHold(c: WorkloadConnection, o: ShapeOptions): HoldReason | null {
  if (o.servers !== null && !o.servers.has(c.serverKey)) return 'filtered';
  return null;
}

const READ_ONLY_CLASSES = new Set(['read', 'info', 'session']);

/**
 * Why a request is held back, or null when it is replayed. Order matters: credentials and
 * destructive holds win over filters so the report counts every one of them.
 */
export function requestHold(r: WorkloadRequest, o: ShapeOptions): HoldReason | null {
  if (r.credentials || r.cls === 'auth') return 'credentials';
  if (r.cls === 'destructive' && !o.allow.has(userName(r.cmd)) && !o.allow.has(r.cmd)) return 'destructive';
  if (o.fromNs !== null && r.tsNs < o.fromNs) return 'window';
  if (o.toNs !== null && r.tsNs > o.toNs) return 'window';
  if (o.commands !== null && !o.commands.has(r.cmd) && !o.commands.has(userName(r.cmd))) return 'filtered';
  if (o.readOnly && !READ_ONLY_CLASSES.has(r.cls)) return 'filtered';
  // a read-only run must not create items through meta get's vivify flag (N)
  if (o.readOnly && r.proto === 'meta' && r.metaFlags.some((f) => f.startsWith('N'))) return 'filtered';
  return null;
}

/**
 * Squeezes idle periods of the capture clock: any stretch with no event longer than `maxGapNs`
 * becomes `maxGapNs`. Events come in capture order; `map` returns the shifted time.
 */
export class GapSqueezer {
  private last = Number.NaN;
  private shift = 0;
  constructor(private readonly maxGapNs: number | null) {}

  /** Shifted capture time of an event at `tsNs`. */
  map(tsNs: number): number {
    if (this.maxGapNs === null) return tsNs;
    if (Number.isNaN(this.last)) this.last = tsNs;
    else if (tsNs > this.last) {
      const gap = tsNs - this.last;
      if (gap > this.maxGapNs) this.shift += gap - this.maxGapNs;
      this.last = tsNs;
    }
    return tsNs - this.shift;
  }

  /** Total ns squeezed out so far. */
  get squeezedNs(): number {
    return this.shift;
  }
}

/** Key prefix of clone `k` (0 = the original, no prefix) when --clone-keys namespaces keys. */
export function clonePrefix(k: number): string {
  return k === 0 ? '' : `c${k}:`;
}

/** memcached treats expiry values above 30 days as absolute unix times. */
export const RELATIVE_EXPIRY_MAX = 60 * 60 * 24 * 30;

/** How a request's expiry is rewritten for the replay. */
export type ExpiryEdit =
  | { kind: 'keep' }
  /** Set a relative expiry (seconds). */
  | { kind: 'relative'; sec: number }
  /** Set an absolute expiry this many seconds after the replay's send time (> 30 days). */
  | { kind: 'absolute'; remainSec: number };

/**
 * Translates an expiry for a replay whose clock runs `ttlScale` times faster than the capture's:
 * relative TTLs shrink by the scale (at least 1 s, so an item with a TTL never becomes permanent),
 * absolute ones (> 30 days) are rebased from the capture's time to the replay's. `captureEpochSec`
 * is the wall time of the request in the capture (null when unknown: absolute ones are kept).
 */
export function translateExpiry(exptime: number, captureEpochSec: number | null, ttlScale: number): ExpiryEdit {
  if (exptime <= 0) return { kind: 'keep' }; // none (-1), never (0), or already expired (< 0)
  if (exptime <= RELATIVE_EXPIRY_MAX) {
    if (ttlScale === 1) return { kind: 'keep' };
    return { kind: 'relative', sec: Math.max(1, Math.round(exptime / ttlScale)) };
  }
  if (captureEpochSec === null) return { kind: 'keep' };
  const remain = exptime - captureEpochSec;
  // already expired when captured: keep it expired on the target too
  if (remain <= 0) return { kind: 'relative', sec: -1 };
  const scaled = Math.max(1, Math.round(remain / ttlScale));
  return scaled <= RELATIVE_EXPIRY_MAX ? { kind: 'relative', sec: scaled } : { kind: 'absolute', remainSec: scaled };
}

/** Does the request carry a CAS unique that must be replaced by the target's own token? */
export function needsCasToken(r: Pick<WorkloadRequest, 'proto' | 'cmd' | 'cas' | 'metaFlags' | 'keys'>): boolean {
  if (r.keys.length !== 1) return false;
  if (r.proto === 'text') return r.cmd === 'cas';
  if (r.proto === 'meta') return r.metaFlags.some((f) => f.length > 1 && f[0] === 'C');
  return r.cas !== 0n;
}
