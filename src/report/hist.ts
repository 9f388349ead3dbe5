// Read-only sparse view of encoded HdrHistograms for the report. A report reads tens of thousands of
// per-interval histograms (1 h × 10 commands × response/service): decoding each into a full
// counts array (WASM or JS) and scanning it for every percentile costs ~0.4 ms a histogram, far
// over the 5 s budget. The V2 encoding is already sparse (runs of zero buckets are one varint), so
// this decodes straight into the non-empty buckets and answers percentiles in one pass over them.
// Semantics match hdr-histogram-js getValueAtPercentile (highest equivalent value of the bucket).
import type { Percentiles } from '../metrics/results-types.js';
import { countAtPercentile, forEachV2Count, V2_COOKIE_BASE, V2_HEADER_BYTES } from '../metrics/hist-config.js';
import { inflateV2 } from '../metrics/dense-hist.js';

/** Non-empty buckets of a histogram, ascending: value range [lo, hi] and count. */
export interface Sparse {
  lo: Float64Array;
  hi: Float64Array;
  n: Float64Array;
  total: number;
}

const POW2 = Float64Array.from({ length: 64 }, (_, i) => Math.pow(2, i));

/** An empty histogram. */
export function emptySparse(): Sparse {
  return { lo: new Float64Array(0), hi: new Float64Array(0), n: new Float64Array(0), total: 0 };
}

function int32(b: Uint8Array, o: number): number {
  return (b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!;
}

// scratch for the buckets of one histogram; results are copied out at their exact size
let sLo = new Float64Array(1024);
let sHi = new Float64Array(1024);
let sN = new Float64Array(1024);

/** Decodes compressed base64 (the results.json/.hlog encoding); '' or null gives an empty histogram. */
export function decodeSparse(encoded: string | null | undefined): Sparse {
  if (!encoded) return emptySparse();
  let raw: Uint8Array;
  try {
    raw = inflateV2(encoded);
  } catch (err) {
    throw new Error(`${err instanceof Error ? err.message : String(err)}: ${encoded.slice(0, 24)}...`);
  }
  return parseRaw(raw, encoded);
}

/** Parses an uncompressed V2 encoding (`what` names it in errors). */
export function parseRaw(buf: Uint8Array, what: string): Sparse {
  if (buf.length < V2_HEADER_BYTES || (int32(buf, 0) & ~0xf0) !== V2_COOKIE_BASE) {
    throw new Error(`not a V2 HdrHistogram encoding: ${what.slice(0, 24)}...`);
  }
  const payloadLen = int32(buf, 4);
  const digits = int32(buf, 12);
  const lowest = int32(buf, 16) * 4294967296 + (int32(buf, 20) >>> 0);

  const unitMagnitude = Math.floor(Math.log2(Math.max(1, lowest)));
  const subBucketCountMagnitude = Math.ceil(Math.log2(2 * Math.pow(10, digits)));
  const halfMag = (subBucketCountMagnitude > 1 ? subBucketCountMagnitude : 1) - 1;
  const half = Math.pow(2, halfMag);

  const end = Math.min(buf.length, V2_HEADER_BYTES + payloadLen);
  // at most one non-empty bucket per payload byte
  if (sLo.length < end) {
    sLo = new Float64Array(end * 2);
    sHi = new Float64Array(end * 2);
    sN = new Float64Array(end * 2);
  }
  const lo = sLo;
  const hi = sHi;
  const n = sN;
  let k = 0;
  let total = 0;
  forEachV2Count(buf, V2_HEADER_BYTES, end, (index, count) => {
    let bucket = (index >>> halfMag) - 1;
    let sub = (index & (half - 1)) + half;
    if (bucket < 0) {
      sub -= half;
      bucket = 0;
    }
    const unit = POW2[bucket + unitMagnitude]!;
    lo[k] = sub * unit;
    hi[k] = sub * unit + unit - 1;
    n[k] = count;
    total += count;
    k++;
  });
  return { lo: lo.slice(0, k), hi: hi.slice(0, k), n: n.slice(0, k), total };
}

/** Exact sum of histograms (bucket counts added; buckets with the same range are combined). */
export function mergeSparse(list: readonly Sparse[]): Sparse {
  const parts = list.filter((s) => s.total > 0);
  return parts.length === 1 ? parts[0]! : copySparse(sumSparse(parts));
}

// two-pointer merge of two bucket lists sorted by range
function mergeInto(a: Sparse, b: Sparse, lo: Float64Array, hi: Float64Array, n: Float64Array): Sparse {
  const na = a.lo.length;
  const nb = b.lo.length;
  const alo = a.lo;
  const ahi = a.hi;
  const an = a.n;
  const blo = b.lo;
  const bhi = b.hi;
  const bn = b.n;
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < na && j < nb) {
    const x = alo[i]!;
    const y = blo[j]!;
    if (x === y && ahi[i] === bhi[j]) {
      lo[k] = x;
      hi[k] = ahi[i]!;
      n[k++] = an[i++]! + bn[j++]!;
    } else if (x < y || (x === y && ahi[i]! < bhi[j]!)) {
      lo[k] = x;
      hi[k] = ahi[i]!;
      n[k++] = an[i++]!;
    } else {
      lo[k] = y;
      hi[k] = bhi[j]!;
      n[k++] = bn[j++]!;
    }
  }
  for (; i < na; i++, k++) {
    lo[k] = alo[i]!;
    hi[k] = ahi[i]!;
    n[k] = an[i]!;
  }
  for (; j < nb; j++, k++) {
    lo[k] = blo[j]!;
    hi[k] = bhi[j]!;
    n[k] = bn[j]!;
  }
  return { lo: lo.subarray(0, k), hi: hi.subarray(0, k), n: n.subarray(0, k), total: a.total + b.total };
}

/**
 * Values at the given percentiles (0..100, ascending) in one pass, as hdr-histogram-js'
 * getValueAtPercentile returns them; 0 for an empty histogram.
 */
export function valuesAt(s: Sparse, percentilesAsc: readonly number[]): number[] {
  const m = percentilesAsc.length;
  const out = new Array<number>(m).fill(0);
  if (s.total === 0) return out;
  const need = percentilesAsc.map((p) => countAtPercentile(p, s.total));
  let j = 0;
  let cum = 0;
  const last = s.lo.length - 1;
  for (let i = 0; i <= last && j < m; i++) {
    cum += s.n[i]!;
    while (j < m && (cum >= need[j]! || i === last)) {
      out[j] = percentilesAsc[j] === 0 ? s.lo[i]! : s.hi[i]!;
      j++;
    }
  }
  return out;
}

// scratch for summing histograms: two buffers used alternately so a fold never reads its output
const mLo = [new Float64Array(4096), new Float64Array(4096)];
const mHi = [new Float64Array(4096), new Float64Array(4096)];
const mN = [new Float64Array(4096), new Float64Array(4096)];

/**
 * The exact sum of histograms as a view into scratch buffers that the next call overwrites (copy
 * with `copySparse` to keep it). A report sums 2-3 intervals per time point tens of thousands of
 * times; this allocates nothing.
 */
export function sumSparse(list: readonly Sparse[]): Sparse {
  let acc: Sparse | null = null;
  let buf = 0;
  for (const s of list) {
    if (s.total === 0) continue;
    if (!acc) {
      acc = s;
      continue;
    }
    const need = acc.lo.length + s.lo.length;
    if (mLo[buf]!.length < need) {
      mLo[buf] = new Float64Array(need * 2);
      mHi[buf] = new Float64Array(need * 2);
      mN[buf] = new Float64Array(need * 2);
    }
    acc = mergeInto(acc, s, mLo[buf]!, mHi[buf]!, mN[buf]!);
    buf ^= 1;
  }
  return acc ?? emptySparse();
}

/** A copy of a histogram that owns its arrays. */
export function copySparse(s: Sparse): Sparse {
  return { lo: s.lo.slice(), hi: s.hi.slice(), n: s.n.slice(), total: s.total };
}

/** valuesAt of the sum of several histograms. */
export function valuesAtSum(list: readonly Sparse[], percentilesAsc: readonly number[]): number[] {
  return valuesAt(sumSparse(list), percentilesAsc);
}

/** Highest value recorded in any of the histograms (0 when all are empty). */
export function maxOf(list: readonly Sparse[]): number {
  let m = 0;
  for (const s of list) if (s.total > 0 && s.hi[s.hi.length - 1]! > m) m = s.hi[s.hi.length - 1]!;
  return m;
}

/** Total count of the histograms. */
export function totalOf(list: readonly Sparse[]): number {
  let t = 0;
  for (const s of list) t += s.total;
  return t;
}

/** The standard percentile set of results.json (ns). */
export function sparsePercentiles(s: Sparse): Percentiles {
  if (s.total === 0) return { count: 0, min: 0, mean: 0, p50: 0, p90: 0, p99: 0, p999: 0, p9999: 0, max: 0 };
  const [min, p50, p90, p99, p999, p9999] = valuesAt(s, [0, 50, 90, 99, 99.9, 99.99]) as [number, number, number, number, number, number];
  let sum = 0;
  for (let i = 0; i < s.lo.length; i++) sum += (s.lo[i]! + Math.floor((s.hi[i]! - s.lo[i]! + 1) / 2)) * s.n[i]!;
  return { count: s.total, min, mean: sum / s.total, p50, p90, p99, p999, p9999, max: s.hi[s.hi.length - 1]! };
}
