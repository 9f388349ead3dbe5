// Key -> pool member placement, bit for bit as real memcached clients do it, so a replay against a
// pool puts every key on the member the application's client would have chosen.
//
//   modulo      libmemcached default: one_at_a_time(key) % n (MEMCACHED_DISTRIBUTION_MODULA with
//               MEMCACHED_HASH_DEFAULT); also what memccp/memccat and other libmemcached tools do.
//   crc32       python-memcached: ((crc32(key) >> 16) & 0x7fff || 1) % n (its cmemcache_hash).
//   ketama      libmemcached MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED with equal weights (= libketama,
//               php-memcached's libketama_compatible, pylibmc ketama_weighted): MD5 continuum of 160
//               points per member (40 digests of "host:port-i", or "host-i" on port 11211, × 4
//               little-endian words), key point = MD5(key) low word, first point >= key, wrapping.
//   consistent  libmemcached MEMCACHED_BEHAVIOR_KETAMA without _WEIGHTED, or --DISTRIBUTION=consistent,
//               with the default key hash (pylibmc behaviors={"ketama": True}): 100 points per member,
//               one_at_a_time("host:port-i") for i = 0..99 ("host-i" on 11211), key point
//               one_at_a_time(key), first point >= key, wrapping.
//   rendezvous  pymemcache HashClient (RendezvousHash): highest murmur3_32("host:port-key"), seed 0.
import { createHash } from 'node:crypto';

export const HASH_KINDS = ['modulo', 'crc32', 'ketama', 'consistent', 'rendezvous'] as const;
/** A client hashing scheme; see the file comment for which client each one reproduces. */
export type HashKind = (typeof HASH_KINDS)[number];

/** A pool member as clients name it: host exactly as written (no brackets for IPv6) and port. */
export interface PoolMember {
  host: string;
  port: number;
}

/** Places keys (latin1 strings: one char per key byte) on member indexes. */
export interface KeyHasher {
  readonly kind: HashKind;
  readonly size: number;
  /** Index of the member that holds `key`. */
  place(key: string): number;
}

const DEFAULT_PORT = 11211;

/** libhashkit one_at_a_time; bytes go through `char`, which is signed on x86, so bytes >= 0x80 sign-extend as in the C library. */
export function oneAtATime(key: string): number {
  let v = 0;
  for (let i = 0; i < key.length; i++) {
    const b = key.charCodeAt(i) & 0xff;
    v = (v + (b >= 0x80 ? b | 0xffffff00 : b)) >>> 0;
    v = (v + (v << 10)) >>> 0;
    v = (v ^ (v >>> 6)) >>> 0;
  }
  v = (v + (v << 3)) >>> 0;
  v = (v ^ (v >>> 11)) >>> 0;
  v = (v + (v << 15)) >>> 0;
  return v;
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (IEEE, as zlib/binascii.crc32) of a latin1 string. */
export function crc32(key: string): number {
  let c = 0xffffffff;
  for (let i = 0; i < key.length; i++) c = CRC_TABLE[(c ^ key.charCodeAt(i)) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** python-memcached's server hash: ((crc32 >> 16) & 0x7fff) or 1. */
export function pythonMemcacheHash(key: string): number {
  return ((crc32(key) >>> 16) & 0x7fff) || 1;
}

/**
 * MurmurHash3 x86_32 over the low byte of each character, as pymemcache's pure-Python murmur3_32
 * does over a str (so a str key hashes by code point; for ASCII this is plain murmur3 of the bytes).
 */
export function murmur3_32(data: string, seed = 0): number {
  const c1 = 0xcc9e2d51;
  const c2 = 0x1b873593;
  const len = data.length;
  let h = seed >>> 0;
  const rounded = len & ~3;
  for (let i = 0; i < rounded; i += 4) {
    let k = (data.charCodeAt(i) & 0xff) | ((data.charCodeAt(i + 1) & 0xff) << 8) | ((data.charCodeAt(i + 2) & 0xff) << 16) | ((data.charCodeAt(i + 3) & 0xff) << 24);
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  let k = 0;
  const tail = len & 3;
  if (tail === 3) k = (data.charCodeAt(rounded + 2) & 0xff) << 16;
  if (tail >= 2) k |= (data.charCodeAt(rounded + 1) & 0xff) << 8;
  if (tail >= 1) {
    k |= data.charCodeAt(rounded) & 0xff;
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
  }
  h ^= len;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function md5(s: string): Buffer {
  return createHash('md5').update(s, 'latin1').digest();
}

/** libmemcached's ketama key hash: MD5 of the key, bytes 0..3 little-endian. */
export function ketamaKeyHash(key: string): number {
  return md5(key).readUInt32LE(0);
}

/** The ketama continuum: sorted points and the member index of each. */
export interface Continuum {
  points: Uint32Array;
  members: Uint32Array;
}

/** libmemcached's server string for continuum point group `i`: "host-i" on the default port, else "host:port-i". */
export function ketamaServerString(m: PoolMember, i: number): string {
  return m.port === DEFAULT_PORT ? `${m.host}-${i}` : `${m.host}:${m.port}-${i}`;
}

/**
 * Builds libmemcached's continuum: 'ketama' = weighted ketama with equal weights (160 MD5 points per
 * member), 'consistent' = non-weighted (100 one_at_a_time points per member).
 */
export function buildContinuum(members: readonly PoolMember[], variant: 'ketama' | 'consistent' = 'ketama', weights: readonly number[] | null = null): Continuum {
  const pairs: [number, number][] = [];
  members.forEach((m, idx) => {
    if (variant === 'consistent') {
      for (let i = 0; i < 100; i++) pairs.push([oneAtATime(ketamaServerString(m, i)), idx]);
      return;
    }
    const digests = weights === null ? 40 : ketamaWeightedDigests(weights, idx);
    for (let i = 0; i < digests; i++) {
      const d = md5(ketamaServerString(m, i));
      for (let a = 0; a < 4; a++) pairs.push([d.readUInt32LE(a * 4), idx]);
    }
  });
  // libmemcached qsorts by value, then by member index
  pairs.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  return { points: Uint32Array.from(pairs, (p) => p[0]), members: Uint32Array.from(pairs, (p) => p[1]) };
}

/**
 * MD5 digests (of 4 points each) that libmemcached's weighted ketama gives member `idx`: its
 * float arithmetic, floor(weight/total × 160/4 × n) × 4 points (hosts.cc update_continuum), so
 * rounding matches the C library's single-precision result.
 */
export function ketamaWeightedDigests(weights: readonly number[], idx: number): number {
  const total = weights.reduce((a, b) => a + b, 0);
  const f = Math.fround;
  const pct = f(f(weights[idx]!) / f(total));
  const points = Math.floor(f(f(f(f(pct * 160) / 4) * f(weights.length)) + 0.0000000001)) * 4;
  return points / 4;
}

/** Index of the first continuum point >= hash, wrapping to the first (libmemcached dispatch_host). */
export function continuumLookup(c: Continuum, hash: number): number {
  let lo = 0;
  let hi = c.points.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (c.points[mid]! < hash) lo = mid + 1;
    else hi = mid;
  }
  return c.members[hi === c.points.length ? 0 : hi]!;
}

/** pymemcache HashClient's node name: "host:port". */
export function rendezvousNodeName(m: PoolMember): string {
  return `${m.host}:${m.port}`;
}

/** Schemes whose clients take per-member weights (libmemcached weighted ketama; python-memcached's buckets). */
export const WEIGHTED_HASH_KINDS: readonly HashKind[] = ['ketama', 'crc32'];

/**
 * Creates the hasher of `kind` over `members` (order matters for modulo and crc32, as in the
 * clients). `weights` (one positive integer per member) only for WEIGHTED_HASH_KINDS.
 */
export function createHasher(kind: HashKind, members: readonly PoolMember[], weights: readonly number[] | null = null): KeyHasher {
  const n = members.length;
  if (n === 0) throw new Error('a pool needs at least one member');
  if (weights !== null && (weights.length !== n || !WEIGHTED_HASH_KINDS.includes(kind))) throw new Error(`--hash ${kind} takes no weights`);
  switch (kind) {
    case 'modulo':
      // libmemcached skips hashing when there is one server
      return { kind, size: n, place: (key) => (n === 1 ? 0 : oneAtATime(key) % n) };
    case 'crc32': {
      if (weights === null) return { kind, size: n, place: (key) => pythonMemcacheHash(key) % n };
      // python-memcached lists a server `weight` times in its bucket list
      const buckets = Uint32Array.from(weights.flatMap((w, i) => new Array<number>(w).fill(i)));
      return { kind, size: n, place: (key) => buckets[pythonMemcacheHash(key) % buckets.length]! };
    }
    case 'ketama': {
      const c = buildContinuum(members, 'ketama', weights);
      return { kind, size: n, place: (key) => (n === 1 ? 0 : continuumLookup(c, ketamaKeyHash(key))) };
    }
    case 'consistent': {
      const c = buildContinuum(members, 'consistent');
      return { kind, size: n, place: (key) => (n === 1 ? 0 : continuumLookup(c, oneAtATime(key))) };
    }
    case 'rendezvous': {
      const names = members.map((m) => `${rendezvousNodeName(m)}-`);
      const byName = members.map(rendezvousNodeName);
      return {
        kind,
        size: n,
        place: (key) => {
          let best = -1;
          let winner = 0;
          for (let i = 0; i < n; i++) {
            const score = murmur3_32(names[i]! + key);
            // pymemcache breaks ties by the larger node name
            if (score > best || (score === best && byName[i]! > byName[winner]!)) {
              best = score;
              winner = i;
            }
          }
          return winner;
        },
      };
    }
  }
}
