// Pool routing and the packed record of a replayed request: how one captured request becomes the
// request(s) each target member gets (clone prefix, relative expiry, multi-get split by key).
import type { WorkloadRequest } from '../workload/model.js';
import type { KeyHasher } from '../topology/hashing.js';
import type { ReqRecord } from './batch.js';
import { encodeRequest } from '../protocol/index.js';
import type { Expect, Proto } from '../protocol/types.js';

/**
 * The record of one replayed request: clone prefix and relative expiry are written into its bytes
 * here (once, off the worker's hot path); the CAS token and an absolute expiry are set at send time.
 */
export function reqRecord(
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
export function poolParts(r: WorkloadRequest, prefix: string, hasher: KeyHasher): number {
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
