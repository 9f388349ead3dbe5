// `plan`: what a change of the server pool costs, predicted from a capture's keys without
// contacting any server. Every keyed request of the capture is read once (streaming); per distinct
// key the read count, the last known value size and the first read time are kept (up to
// KEY_LIMIT keys; past it the request figures stay exact, the key and byte figures cover the keys
// tracked, and the result says so). At the end each key is placed on the old and the new pool by
// each hashing scheme: a key "moves" when the server (by address, not by list position) differs.
import type { IngestOptions, WorkloadRequest, CapturedOutcome } from '../workload/model.js';
import { extractWorkload, type ExtractResult } from '../workload/extract.js';
import { createHasher, type HashKind, type KeyHasher } from '../topology/hashing.js';
import { formatHostPort, type HostPort, type MemberList } from '../topology/targets.js';

export const PLAN_SCHEMA = 'mcreplay.plan/1';
/** Distinct keys tracked one by one (~150 bytes each); requests past it are still counted exactly. */
export const KEY_LIMIT = 2_000_000;
/** Seconds of the cold-miss series kept in the result (the whole series is summarised). */
const SERIES_SECONDS = 600;

/** Whether a request reads values (get/gets/mg and the value-returning touches: gat/gats, binary gat*). */
export function isRead(r: Pick<WorkloadRequest, 'cls' | 'cmd'>): boolean {
  return r.cls === 'read' || (r.cls === 'touch' && r.cmd.startsWith('gat'));
}

interface KeyStat {
  reads: number;
  size: number;
  /** Capture second of the first read, -1 when never read. */
  firstRead: number;
}

export interface PlanOptions {
  capture: string;
  ingest: IngestOptions;
  from: MemberList;
  to: MemberList;
  hashes: HashKind[];
  /** Stop tracking new keys past this many (tests lower it). */
  keyLimit?: number;
}

/** Keys, reads and bytes one server holds. */
export interface Load {
  keys: number;
  reads: number;
  bytes: number;
}

export interface Moved {
  total: number;
  moved: number;
  /** moved / total, 0 when total is 0. */
  share: number;
}

export interface ServerPlan {
  server: string;
  before: Load | null;
  after: Load | null;
}

export interface SchemePlan {
  hash: HashKind;
  keys: Moved;
  requests: Moved;
  bytes: Moved;
  servers: ServerPlan[];
  /** max/mean over the servers of each pool (1 = perfectly even). */
  imbalance: { before: { keys: number; reads: number }; after: { keys: number; reads: number } };
  /**
   * Reads that miss once after the switch (the first read of every moved key, the switch taken
   * at the capture's start), per second of the capture.
   */
  coldMisses: { total: number; peakPerSec: number; peakSecond: number | null; shareOfReadsFirstMinute: number; perSecond: number[] };
  /** Reads of keys whose placement by --from and this scheme matches the captured server (when the capture's servers are the --from members). */
  placementCheck: { comparable: number; agree: number };
}

/** "Replace one server": the in-place swap vs removing it and appending the new one. */
export interface ReplaceOrder {
  removed: string;
  added: string;
  /** The --to list the user gave is one of the two. */
  given: 'in-place' | 'append' | 'other';
  perScheme: { hash: HashKind; inPlace: Moved; append: Moved; cheaper: 'in-place' | 'append' | 'same' }[];
}

export interface PlanResult {
  schema: typeof PLAN_SCHEMA;
  capture: { path: string; requests: number; reads: number; durationNs: number; problems: string | null };
  from: string[];
  to: string[];
  weights: { from: number[] | null; to: number[] | null };
  /** False when the capture had more distinct keys than were tracked. */
  keysExact: boolean;
  keysTracked: number;
  /** The first scheme's figures, also in schemes[0]. */
  keys: Moved;
  requests: Moved;
  bytes: Moved;
  servers: ServerPlan[];
  schemes: SchemePlan[];
  replace: ReplaceOrder | null;
}

const moved = (total: number, m: number): Moved => ({ total, moved: m, share: total === 0 ? 0 : m / total });

function hashers(list: MemberList, kind: HashKind): KeyHasher {
  return createHasher(kind, list.members, list.weights);
}

/** Reads the capture and predicts the cost of moving from `from` to `to` under each scheme. */
export async function planCapture(o: PlanOptions): Promise<PlanResult> {
  const limit = o.keyLimit ?? KEY_LIMIT;
  const keys = new Map<string, KeyStat>();
  const fromNames = o.from.members.map(formatHostPort);
  const toNames = o.to.members.map(formatHostPort);
  const schemes = o.hashes.map((h) => ({ h, from: hashers(o.from, h), to: hashers(o.to, h) }));
  // Request-level figures of untracked keys, placed at read time (placement is a pure function).
  const untrackedMoved = new Array<number>(schemes.length).fill(0);
  const check = schemes.map(() => ({ comparable: 0, agree: 0 }));
  const fromIndex = new Map(fromNames.map((n, i) => [n, i]));
  let reads = 0;
  let requests = 0;
  let lastNs = 0;
  const readsPerSec = new Map<number, number>();

  const stat = (k: string): KeyStat | undefined => {
    let s = keys.get(k);
    if (s === undefined && keys.size < limit) {
      s = { reads: 0, size: 0, firstRead: -1 };
      keys.set(k, s);
    }
    return s;
  };

  const serverOf = new Map<number, string>();
  const sink = {
    connection(c: { id: number; serverKey: string }): void {
      serverOf.set(c.id, c.serverKey);
    },
    close(connId: number): void {
      serverOf.delete(connId);
    },
    request(r: WorkloadRequest): void {
      if (r.credentials || r.keys.length === 0) return;
      requests++;
      if (r.tsNs > lastNs) lastNs = r.tsNs;
      const read = isRead(r);
      const sec = Math.floor(r.tsNs / 1e9);
      const captured = read ? fromIndex.get(serverOf.get(r.connId) ?? '') : undefined;
      for (const k of r.keys) {
        const s = stat(k);
        if (read) {
          reads++;
          readsPerSec.set(sec, (readsPerSec.get(sec) ?? 0) + 1);
          if (s) {
            if (s.firstRead < 0) s.firstRead = sec;
            s.reads++;
          } else {
            for (let i = 0; i < schemes.length; i++) {
              const sc = schemes[i]!;
              if (fromNames[sc.from.place(k)] !== toNames[sc.to.place(k)]) untrackedMoved[i]!++;
            }
          }
          if (captured !== undefined) {
            for (let i = 0; i < schemes.length; i++) {
              check[i]!.comparable++;
              if (schemes[i]!.from.place(k) === captured) check[i]!.agree++;
            }
          }
        } else if (s && r.cls === 'write' && r.keys.length === 1 && r.valueLen > 0) {
          s.size = r.valueLen;
        }
      }
    },
    outcome(r: WorkloadRequest, o: CapturedOutcome): void {
      // a single-key hit tells the value's size; a multi-key hit only their sum
      if (!isRead(r) || o.hits === 0 || r.keys.length !== 1) return;
      const s = keys.get(r.keys[0]!);
      if (s) s.size = o.valueBytes;
    },
  };
  const res: ExtractResult = await extractWorkload(o.capture, { ...o.ingest, keepRaw: false }, sink);

  const result: SchemePlan[] = schemes.map((sc, i) => schemeFigures(sc.h, sc.from, sc.to, fromNames, toNames, keys, reads, untrackedMoved[i]!, readsPerSec, check[i]!));
  const first = result[0]!;
  return {
    schema: PLAN_SCHEMA,
    capture: { path: o.capture, requests, reads, durationNs: lastNs, problems: res.capture.error ?? null },
    from: fromNames,
    to: toNames,
    weights: { from: o.from.weights, to: o.to.weights },
    keysExact: keys.size < limit,
    keysTracked: keys.size,
    keys: first.keys,
    requests: first.requests,
    bytes: first.bytes,
    servers: first.servers,
    schemes: result,
    replace: replaceOrder(o, keys, fromNames, toNames),
  };
}

function schemeFigures(
  hash: HashKind,
  from: KeyHasher,
  to: KeyHasher,
  fromNames: string[],
  toNames: string[],
  keys: Map<string, KeyStat>,
  reads: number,
  untrackedMoved: number,
  readsPerSec: Map<number, number>,
  check: { comparable: number; agree: number },
): SchemePlan {
  const before = fromNames.map((): Load => ({ keys: 0, reads: 0, bytes: 0 }));
  const after = toNames.map((): Load => ({ keys: 0, reads: 0, bytes: 0 }));
  let movedKeys = 0;
  let movedReads = untrackedMoved;
  let bytes = 0;
  let movedBytes = 0;
  const cold = new Map<number, number>();
  let coldTotal = 0;
  for (const [k, s] of keys) {
    const a = from.place(k);
    const b = to.place(k);
    add(before[a]!, s);
    add(after[b]!, s);
    bytes += s.size;
    if (fromNames[a] === toNames[b]) continue;
    movedKeys++;
    movedReads += s.reads;
    movedBytes += s.size;
    if (s.firstRead >= 0) {
      cold.set(s.firstRead, (cold.get(s.firstRead) ?? 0) + 1);
      coldTotal++;
    }
  }
  let peakPerSec = 0;
  let peakSecond: number | null = null;
  for (const [sec, n] of cold) {
    if (n > peakPerSec || (n === peakPerSec && peakSecond !== null && sec < peakSecond)) {
      peakPerSec = n;
      peakSecond = sec;
    }
  }
  const start = Math.min(...readsPerSec.keys(), Infinity);
  let coldMinute = 0;
  let readsMinute = 0;
  const perSecond: number[] = [];
  if (start !== Infinity) {
    for (let s = start; s < start + SERIES_SECONDS; s++) {
      const c = cold.get(s) ?? 0;
      perSecond.push(c);
      if (s < start + 60) {
        coldMinute += c;
        readsMinute += readsPerSec.get(s) ?? 0;
      }
    }
    while (perSecond.length > 0 && perSecond[perSecond.length - 1] === 0) perSecond.pop();
  }
  const names = [...new Set([...fromNames, ...toNames])];
  return {
    hash,
    keys: moved(keys.size, movedKeys),
    requests: moved(reads, movedReads),
    bytes: moved(bytes, movedBytes),
    servers: names.map((n) => ({ server: n, before: pick(before, fromNames, n), after: pick(after, toNames, n) })),
    imbalance: { before: imbalance(before), after: imbalance(after) },
    coldMisses: { total: coldTotal, peakPerSec, peakSecond: peakSecond === null ? null : peakSecond - (start === Infinity ? 0 : start), shareOfReadsFirstMinute: readsMinute === 0 ? 0 : coldMinute / readsMinute, perSecond },
    placementCheck: check,
  };
}

function add(l: Load, s: KeyStat): void {
  l.keys++;
  l.reads += s.reads;
  l.bytes += s.size;
}

function pick(loads: Load[], names: string[], n: string): Load | null {
  const i = names.indexOf(n);
  return i < 0 ? null : loads[i]!;
}

function imbalance(loads: Load[]): { keys: number; reads: number } {
  const ratio = (f: (l: Load) => number): number => {
    const total = loads.reduce((a, l) => a + f(l), 0);
    if (total === 0) return 1;
    return Math.max(...loads.map(f)) / (total / loads.length);
  };
  return { keys: ratio((l) => l.keys), reads: ratio((l) => l.reads) };
}

/** When --to replaces exactly one member of --from, both orders of doing it, per scheme. */
function replaceOrder(o: PlanOptions, keys: Map<string, KeyStat>, fromNames: string[], toNames: string[]): ReplaceOrder | null {
  const removed = fromNames.filter((n) => !toNames.includes(n));
  const added = toNames.filter((n) => !fromNames.includes(n));
  if (removed.length !== 1 || added.length !== 1 || fromNames.length !== toNames.length) return null;
  const at = fromNames.indexOf(removed[0]!);
  const addedMember = o.to.members[toNames.indexOf(added[0]!)]!;
  const addedWeight = o.to.weights?.[toNames.indexOf(added[0]!)] ?? 1;
  const inPlace: HostPort[] = o.from.members.map((m, i) => (i === at ? addedMember : m));
  const append: HostPort[] = [...o.from.members.filter((_, i) => i !== at), addedMember];
  const w = o.from.weights;
  const inPlaceW = w ? w.map((x, i) => (i === at ? addedWeight : x)) : o.to.weights ? inPlace.map((_, i) => (i === at ? addedWeight : 1)) : null;
  const appendW = w ? [...w.filter((_, i) => i !== at), addedWeight] : o.to.weights ? [...append.slice(0, -1).map(() => 1), addedWeight] : null;
  const same = (a: HostPort[]): boolean => a.map(formatHostPort).join(',') === toNames.join(',');
  const given = same(inPlace) ? 'in-place' : same(append) ? 'append' : 'other';
  const reads = [...keys.values()].reduce((a, s) => a + s.reads, 0);
  const perScheme = o.hashes.map((h) => {
    const from = createHasher(h, o.from.members, o.from.weights);
    const cost = (members: HostPort[], weights: number[] | null): Moved => {
      const to = createHasher(h, members, weights);
      const names = members.map(formatHostPort);
      let m = 0;
      for (const [k, s] of keys) if (fromNames[from.place(k)] !== names[to.place(k)]) m += s.reads;
      return moved(reads, m);
    };
    const a = cost(inPlace, inPlaceW);
    const b = cost(append, appendW);
    const cheaper: 'in-place' | 'append' | 'same' = a.moved === b.moved ? 'same' : a.moved < b.moved ? 'in-place' : 'append';
    return { hash: h, inPlace: a, append: b, cheaper };
  });
  return { removed: removed[0]!, added: added[0]!, given, perScheme };
}
