// A server pool as a client sees it: members in the configured order and a hashing scheme. Splits
// a multi-key request across members the way clients do (keys grouped per member, request order
// kept within a group, groups in order of first appearance, as libmemcached's mget and pymemcache's
// get_many build them).
import { createHasher, type HashKind, type KeyHasher } from './hashing.js';
import type { HostPort } from './targets.js';

/** A pool with its hasher and a bounded placement cache (MD5/murmur per key costs ~0.5-1 µs; keys repeat). */
export interface Pool {
  readonly members: readonly HostPort[];
  readonly hash: HashKind;
  readonly hasher: KeyHasher;
  readonly cache: Map<string, number>;
  readonly cacheMax: number;
}

/** Keys that go to one member, in request order. */
export interface KeyGroup {
  member: number;
  keys: string[];
}

/** Creates a pool; `cacheMax` bounds the key→member cache (0 disables it). */
export function createPool(members: readonly HostPort[], hash: HashKind, cacheMax = 65_536): Pool {
  return { members, hash, hasher: createHasher(hash, members), cache: new Map(), cacheMax };
}

/** Member index of one key (latin1 string). */
export function placeKey(pool: Pool, key: string): number {
  if (pool.cacheMax === 0) return pool.hasher.place(key);
  const hit = pool.cache.get(key);
  if (hit !== undefined) return hit;
  const m = pool.hasher.place(key);
  if (pool.cache.size >= pool.cacheMax) pool.cache.clear();
  pool.cache.set(key, m);
  return m;
}

/** Splits keys across members as a client would: one group per member, groups by first appearance, key order kept. */
export function placeKeys(keys: readonly string[], pool: Pool | readonly HostPort[], hash: HashKind = 'modulo'): KeyGroup[] {
  const p: Pool = isPool(pool) ? pool : createPool(pool, hash, 0);
  if (keys.length === 1) return [{ member: placeKey(p, keys[0]!), keys: [keys[0]!] }];
  const groups: KeyGroup[] = [];
  const byMember = new Map<number, KeyGroup>();
  for (const k of keys) {
    const m = placeKey(p, k);
    let g = byMember.get(m);
    if (!g) {
      g = { member: m, keys: [] };
      byMember.set(m, g);
      groups.push(g);
    }
    g.keys.push(k);
  }
  return groups;
}

function isPool(p: Pool | readonly HostPort[]): p is Pool {
  return !Array.isArray(p);
}
