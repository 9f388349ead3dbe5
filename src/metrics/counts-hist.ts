// A plain-JS HdrHistogram recorder for worker threads. Importing hdr-histogram-js and instantiating
// its WebAssembly costs a fresh worker isolate 100-170 ms of CPU before its first request, and a
// worker only ever records values and hands the main thread an encoded histogram per interval. This
// keeps the counts in a Uint32Array with exactly hdr-histogram-js' bucket layout for hist-config's
// configuration and writes HdrHistogram's uncompressed V2 encoding byte for byte as
// WasmHistogram.encode() does, so the main thread decodes and merges it with hdr-histogram-js
// unchanged (decodeHistogram in histogram.ts).
import { HIST_DIGITS, HIST_LOWEST, HIST_MAX_NS, V2_COOKIE_BASE, V2_HEADER_BYTES } from './hist-config.js';

// The layout below assumes a unit magnitude of 0 (every integer ns has its own bucket up to 2047).
if (HIST_LOWEST !== 1) throw new Error(`counts-hist: lowest discernible value must be 1, hist-config has ${HIST_LOWEST}`);

/** log2 of the sub-buckets per bucket: 2 * 10^digits rounded up to a power of two (2048 for 3 digits). */
const SUB_BUCKET_COUNT_MAGNITUDE = Math.ceil(Math.log2(2 * 10 ** HIST_DIGITS));
const SUB_BUCKET_HALF_COUNT_MAGNITUDE = SUB_BUCKET_COUNT_MAGNITUDE - 1;
const SUB_BUCKET_COUNT = 2 ** SUB_BUCKET_COUNT_MAGNITUDE;
const SUB_BUCKET_HALF_COUNT = SUB_BUCKET_COUNT / 2;

/** Buckets needed to cover `max` (HdrHistogram's getBucketsNeededToCoverValue). */
function bucketsNeeded(max: number): number {
  let smallestUntrackable = SUB_BUCKET_COUNT;
  let n = 1;
  while (smallestUntrackable <= max) {
    smallestUntrackable *= 2;
    n++;
  }
  return n;
}

/** Length of the counts array (33,792 for 1 ns .. 1 h at 3 digits). */
export const COUNTS_LENGTH = (bucketsNeeded(HIST_MAX_NS) + 1) * SUB_BUCKET_HALF_COUNT;

const SUB_BUCKET_MASK = SUB_BUCKET_COUNT - 1;
/** 31 − 10: bucket index = CLZ_BASE − clz32(v | SUB_BUCKET_MASK) for v < 2^32. */
const CLZ_BASE = 31 - SUB_BUCKET_HALF_COUNT_MAGNITUDE;

/** 2^-b for every bucket index b: multiplying by it is an exact shift right for integers < 2^53. */
const INV_POW2 = new Float64Array(64);
for (let b = 0; b < 64; b++) INV_POW2[b] = 2 ** -b;
const TWO_POW_32 = 4294967296;

/**
 * The counts-array index of an integer value in [0, HIST_MAX_NS] (HdrHistogram's countsArrayIndex):
 * bucket b = max(floor(log2 v) − 10, 0) holds values in steps of 2^b, so the index is b·1024 + floor(v / 2^b).
 */
export function countsIndex(v: number): number {
  if (v < TWO_POW_32) {
    // 32-bit math (`| SUB_BUCKET_MASK` puts values below 2048 in bucket 0, as HdrHistogram does)
    const b = CLZ_BASE - Math.clz32(v | SUB_BUCKET_MASK);
    return (b << SUB_BUCKET_HALF_COUNT_MAGNITUDE) + (v >>> b);
  }
  // above 2^32 (latencies over 4.3 s, up to 3.6e12): float math, exact for integers < 2^53
  const b = 63 - Math.clz32(Math.floor(v / TWO_POW_32)) - SUB_BUCKET_HALF_COUNT_MAGNITUDE;
  return b * SUB_BUCKET_HALF_COUNT + Math.floor(v * INV_POW2[b]!);
}

// V2 encoding header, as hdr-histogram-js writes it (encoding.ts of its AssemblyScript build)
const V2_ENCODING_COOKIE = V2_COOKIE_BASE | 0x10;
const HEADER_BYTES = V2_HEADER_BYTES;
/** Longest ZigZag LEB128 word here: a count (< 2^53) doubles to < 2^54, 8 bytes of 7 bits. */
const MAX_WORD_BYTES = 8;

/**
 * Counts are flagged in blocks of BLOCK buckets: the encoder skips a block with no count in one step.
 * A worker's interval snapshot encodes two histograms per command every interval (then at the
 * boundary, inside the schedule; now when the worker is idle, but in --rate max still at the
 * boundary), and walking every bucket up to the highest (~11,000 for a 1 ms value) cost ~45 µs a
 * histogram: 3.5 ms at the first second of a 20-command capture (memccapable-ascii).
 */
export const BLOCK_SHIFT = 5;
const BLOCK = 1 << BLOCK_SHIFT;
/** Length of a blocks array (one flag per BLOCK counts). */
export const BLOCKS_LENGTH = (COUNTS_LENGTH >>> BLOCK_SHIFT) + 1;

/** Lowest value of the bucket at counts index `i` (HdrHistogram's valueFromIndex; unit magnitude 0). */
export function indexLowest(i: number): number {
  let bucket = (i >>> SUB_BUCKET_HALF_COUNT_MAGNITUDE) - 1;
  let sub = (i & (SUB_BUCKET_HALF_COUNT - 1)) + SUB_BUCKET_HALF_COUNT;
  if (bucket < 0) {
    sub -= SUB_BUCKET_HALF_COUNT;
    bucket = 0;
  }
  return sub * 2 ** bucket;
}

/** How many values the bucket at counts index `i` holds (1 up to 2047, then doubling). */
export function indexSize(i: number): number {
  const bucket = (i >>> SUB_BUCKET_HALF_COUNT_MAGNITUDE) - 1;
  return bucket <= 0 ? 1 : 2 ** bucket;
}

/** One scratch buffer per thread for encoding; the result is a copy of its used part. */
let scratch = new Uint8Array(0);
let scratchView = new DataView(scratch.buffer);

/** A 32-bit-count HdrHistogram that records integer ns and encodes; nothing else (no queries). */
export class CountsHistogram {
  /** Counts by HdrHistogram index; wrap at 2^32 like hdr-histogram-js' 32-bit histograms. */
  readonly counts = new Uint32Array(COUNTS_LENGTH);
  /** 1 where a block of BLOCK counts may hold a non-zero count (set by record, cleared by reset). */
  private readonly blocks = new Uint8Array(BLOCKS_LENGTH);
  /** Values recorded since the last reset. */
  totalCount = 0;
  /** Highest index with a count (0 when empty): the encoding stops there, as HdrHistogram's does at maxValue. */
  private maxIndex = 0;

  /** Records one value in ns, clamped to [0, HIST_MAX_NS] and rounded to an integer, as `recordNs` does (NaN counts as 0). */
  record(ns: number): void {
    const v = !(ns > 0) ? 0 : ns >= HIST_MAX_NS ? HIST_MAX_NS : Math.round(ns);
    const i = countsIndex(v);
    this.counts[i]++;
    this.blocks[i >>> BLOCK_SHIFT] = 1;
    if (i > this.maxIndex) this.maxIndex = i;
    this.totalCount++;
  }

  /** Empties the histogram (clears only the part of the counts that can be non-zero). */
  reset(): void {
    if (this.totalCount === 0) return;
    this.counts.fill(0, 0, this.maxIndex + 1);
    this.blocks.fill(0, 0, (this.maxIndex >>> BLOCK_SHIFT) + 1);
    this.maxIndex = 0;
    this.totalCount = 0;
  }

  /** HdrHistogram's uncompressed V2 encoding, byte for byte what WasmHistogram.encode() gives for the same values. */
  encode(): Uint8Array {
    return encodeV2(this.counts, this.blocks, this.maxIndex);
  }
}

/**
 * HdrHistogram's uncompressed V2 encoding of `counts` up to `maxIndex`, byte for byte what
 * hdr-histogram-js' WasmHistogram.encode() gives (32- or 64-bit counts alike); `blocks` flags the
 * blocks of BLOCK counts that may hold a count.
 */
export function encodeV2(counts: Uint32Array | Float64Array, blocks: Uint8Array, maxIndex: number): Uint8Array {
  const limit = maxIndex + 1;
  const need = HEADER_BYTES + limit * MAX_WORD_BYTES;
  if (scratch.length < need) {
    scratch = new Uint8Array(Math.max(need, 4096));
    scratchView = new DataView(scratch.buffer);
  }
  const buf = scratch;
  const dv = scratchView;
  dv.setUint32(0, V2_ENCODING_COOKIE);
  // 4: payload length, below
  dv.setUint32(8, 1); // normalizing index offset: hdr-histogram-js writes 1
  dv.setUint32(12, HIST_DIGITS);
  dv.setUint32(16, Math.floor(HIST_LOWEST / TWO_POW_32));
  dv.setUint32(20, HIST_LOWEST % TWO_POW_32);
  dv.setUint32(24, Math.floor(HIST_MAX_NS / TWO_POW_32));
  dv.setUint32(28, HIST_MAX_NS % TWO_POW_32);
  dv.setUint32(32, 0); // integer-to-double conversion ratio, written as the integer 1
  dv.setUint32(36, 1);
  let p = HEADER_BYTES;
  let i = 0;
  while (i < limit) {
    const count = counts[i++]!;
    // ZigZag: a count c is 2c; a run of n > 1 zeros is −n, i.e. 2n − 1 (a lone zero is the count 0)
    let z: number;
    if (count === 0) {
      let zeros = 1;
      while (i < limit) {
        if ((i & (BLOCK - 1)) === 0 && blocks[i >>> BLOCK_SHIFT] === 0) {
          // a whole block without a count (the last one may end at the limit)
          const step = limit - i < BLOCK ? limit - i : BLOCK;
          zeros += step;
          i += step;
          continue;
        }
        if (counts[i] !== 0) break;
        zeros++;
        i++;
      }
      z = zeros > 1 ? 2 * zeros - 1 : 0;
    } else {
      z = 2 * count;
    }
    // LEB128, 7 bits a byte, low first; z < 2^54 (counts are integers < 2^53): arithmetic, not 32-bit shifts
    while (z >= 128) {
      buf[p++] = (z % 128) | 0x80;
      z = Math.floor(z / 128);
    }
    buf[p++] = z;
  }
  dv.setUint32(4, p - HEADER_BYTES);
  return buf.slice(0, p);
}
