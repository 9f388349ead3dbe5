// The CAS tokens the targets handed out, shared by every replay worker. Clients with connection pools
// read a key's token on one connection and send the cas on another, and round-robin puts those
// connections on different workers, so a per-worker map would miss the token. The table lives in a
// SharedArrayBuffer the coordinator creates; each worker attaches to it.
//
// Layout: a power-of-two number of buckets of 4 entries (64 bytes, one cache line). An entry is a
// 64-bit tag (two 32-bit hashes of target index + key; 0 = empty) and the 64-bit token. Each bucket
// has a seqlock word in a separate Int32Array: a writer takes it from even to odd with
// compareExchange (writers of one bucket exclude each other), writes, and releases it at the next
// even value; a reader retries while the word is odd or changed under it, so it never returns a tag
// of one write with the token of another. Every access goes through Atomics so no read or write can
// be reordered across the seqlock.
//
// Lossy by design: memory is fixed (DEFAULT_ENTRIES entries), and a full bucket overwrites one of its
// entries, chosen round-robin. A key whose token was overwritten misses, and its cas goes out with
// the captured token (as it would without translation). Two keys whose 64-bit tags collide would
// share a token; at a million keys that chance is about 2^-25 per run.

/** Entries of the default table: 2^20 (16 MiB of entries + 1 MiB of seqlocks, touched pages only). */
export const DEFAULT_ENTRIES = 1 << 20;
const WAYS = 4;
/** Int32 words per entry: tag lo, tag hi, token (as two words of the BigUint64 view). */
const ENTRY_I32 = 4;
const BUCKET_I32 = WAYS * ENTRY_I32;
/**
 * A slot whose seqlock stays odd this long belongs to a thread that died mid-write (a worker that
 * was terminated): give up on it instead of spinning forever. A live writer holds it for a few
 * stores, so this is never reached otherwise.
 */
const SPIN_LIMIT = 1 << 20;

// The hash of the last key, returned through module state so hashing allocates nothing.
let hLo = 0;
let hHi = 0;

/** Two independent 32-bit hashes (FNV-1a and a multiply-xorshift) of target index + key's char codes, finalised. */
function hashKey(target: number, key: string): void {
  let a = (0x811c9dc5 ^ target) | 0;
  let b = (0x9e3779b9 + Math.imul(target, 0x85ebca6b)) | 0;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 15;
  }
  // fmix32 (MurmurHash3): the low bits pick the bucket, so they must depend on every input bit
  a ^= key.length;
  a ^= a >>> 16;
  a = Math.imul(a, 0x85ebca6b);
  a ^= a >>> 13;
  a = Math.imul(a, 0xc2b2ae35);
  a ^= a >>> 16;
  b ^= b >>> 16;
  b = Math.imul(b, 0x85ebca6b);
  b ^= b >>> 13;
  b = Math.imul(b, 0xc2b2ae35);
  b ^= b >>> 16;
  // tag 0 marks an empty entry
  if (a === 0 && b === 0) a = 1;
  hLo = a;
  hHi = b;
}

/** Bytes of the shared buffer for a table of `buckets` buckets. */
function bytesFor(buckets: number): number {
  return buckets * BUCKET_I32 * 4 + buckets * 4;
}

/** A fixed-size, lossy, thread-safe map from (target index, key) to the latest CAS token. */
export class CasTable {
  /** The shared memory: pass it to another thread and attach there with `new CasTable(buffer)`. */
  readonly buffer: SharedArrayBuffer;
  /** Entries the table holds at most. */
  readonly capacity: number;
  private readonly mask: number;
  private readonly words: Int32Array;
  private readonly tokens: BigUint64Array;
  private readonly locks: Int32Array;

  /** Creates a table for about `entries` keys (rounded up to a power of two, at least one bucket). */
  static create(entries = DEFAULT_ENTRIES): CasTable {
    let buckets = 1;
    while (buckets * WAYS < entries) buckets *= 2;
    return new CasTable(new SharedArrayBuffer(bytesFor(buckets)));
  }

  /** Attaches to a table another thread created with `CasTable.create`. */
  constructor(buffer: SharedArrayBuffer) {
    const bucketBytes = BUCKET_I32 * 4 + 4;
    const buckets = buffer.byteLength / bucketBytes;
    if (!Number.isInteger(buckets) || buckets < 1 || (buckets & (buckets - 1)) !== 0) {
      throw new Error(`CAS table: a shared buffer of ${buffer.byteLength} bytes is not a table (make it with CasTable.create)`);
    }
    this.buffer = buffer;
    this.capacity = buckets * WAYS;
    this.mask = buckets - 1;
    this.words = new Int32Array(buffer, 0, buckets * BUCKET_I32);
    this.tokens = new BigUint64Array(buffer, 0, (buckets * BUCKET_I32) / 2);
    this.locks = new Int32Array(buffer, buckets * BUCKET_I32 * 4, buckets);
  }

  /** The latest token stored for `key` on target `target`, or undefined (never stored, or overwritten). */
  get(target: number, key: string): bigint | undefined {
    hashKey(target, key);
    const lo = hLo;
    const hi = hHi;
    const bucket = lo & this.mask;
    const base = bucket * BUCKET_I32;
    const w = this.words;
    for (let spin = 0; spin < SPIN_LIMIT; spin++) {
      const s1 = Atomics.load(this.locks, bucket);
      if ((s1 & 1) !== 0) continue;
      let found: bigint | undefined;
      for (let e = base; e < base + BUCKET_I32; e += ENTRY_I32) {
        if (Atomics.load(w, e) === lo && Atomics.load(w, e + 1) === hi) {
          found = Atomics.load(this.tokens, (e >> 1) + 1);
          break;
        }
      }
      if (Atomics.load(this.locks, bucket) === s1) return found;
    }
    return undefined;
  }

  /** Stores `token` as the latest for `key` on target `target`, overwriting an older entry when the bucket is full. */
  set(target: number, key: string, token: bigint): void {
    hashKey(target, key);
    const lo = hLo;
    const hi = hHi;
    const bucket = lo & this.mask;
    const base = bucket * BUCKET_I32;
    const w = this.words;
    const locks = this.locks;
    let s = 0;
    let spin = 0;
    for (;;) {
      s = Atomics.load(locks, bucket);
      if ((s & 1) === 0 && Atomics.compareExchange(locks, bucket, s, s + 1) === s) break;
      if (++spin >= SPIN_LIMIT) return; // a dead writer holds the bucket: lose this token
    }
    let slot = -1;
    let empty = -1;
    for (let e = base; e < base + BUCKET_I32; e += ENTRY_I32) {
      const tlo = Atomics.load(w, e);
      const thi = Atomics.load(w, e + 1);
      if (tlo === lo && thi === hi) {
        slot = e;
        break;
      }
      if (empty < 0 && tlo === 0 && thi === 0) empty = e;
    }
    // a full bucket gives up its entries in turn: the lock word counts this bucket's writes
    if (slot < 0) slot = empty >= 0 ? empty : base + ((s >>> 1) & (WAYS - 1)) * ENTRY_I32;
    Atomics.store(w, slot, lo);
    Atomics.store(w, slot + 1, hi);
    Atomics.store(this.tokens, (slot >> 1) + 1, token);
    Atomics.store(locks, bucket, (s + 2) | 0);
  }
}
