// --sample P%: a fixed share of the keys, chosen by a hash of the key (not at random per request),
// so that a sampled key gets all its sets and deletes and the target holds a consistent subset.
// A text multi-get is cut to its sampled keys; keyless requests (stats, version ...) pass. Also the
// mirror's whole per-request filter, with --writes-only.
import type { WorkloadRequest } from '../workload/model.js';
import type { PoolPart } from './pool-route.js';

const TEXT_MULTI = new Set(['get', 'gets', 'gat', 'gats']);

/** FNV-1a 32 of a key's characters (latin1 code units, as keys are decoded), as a fraction of 2^32. */
export function keyFraction(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i) & 0xff;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h / 2 ** 32;
}

/** A sampler for share `p` (0 < p <= 1): 'not-sampled', a cut multi-get, or null (send as is). */
export function keySampler(p: number): (r: WorkloadRequest) => string | PoolPart | null {
  const inSample = (k: string): boolean => keyFraction(k) < p;
  return (r) => {
    if (r.keys.length === 0) return null;
    if (r.keys.length === 1 || !(r.proto === 'text' && TEXT_MULTI.has(r.cmd))) return inSample(r.keys[0]!) ? null : 'not-sampled';
    const keys = r.keys.filter(inSample);
    if (keys.length === r.keys.length) return null;
    if (keys.length === 0) return 'not-sampled';
    const head = r.cmd === 'gat' || r.cmd === 'gats' ? `${r.cmd} ${r.exptime}` : r.cmd;
    return { proto: r.proto, cmd: r.cmd, expect: r.expect, exptime: r.exptime, keys, raw: Buffer.from(`${head} ${keys.join(' ')}\r\n`, 'latin1') };
  };
}

/** Parses "10%" or "0.1" into a share in (0, 1]; null when malformed. */
export function parseShare(text: string): number | null {
  const pct = text.endsWith('%');
  const n = Number(pct ? text.slice(0, -1) : text);
  if (!Number.isFinite(n)) return null;
  const p = pct ? n / 100 : n;
  return p > 0 && p <= 1 ? p : null;
}

// --writes-only keeps what changes the target's data (stores, deletes, counters, touches, and the
// flushes the user allowed): reads, stats/version and session commands are not sent
const WRITE_CLASSES_EXCLUDED = new Set(['read', 'info', 'session']);

/** The mirror's per-request filter of --sample and --writes-only (null: every request goes). */
export function mirrorFilter(sample: number | null, writesOnly: boolean): ((r: WorkloadRequest) => string | PoolPart | null) | null {
  const sampler = sample === null || sample >= 1 ? null : keySampler(sample);
  if (!writesOnly) return sampler;
  return (r) => (WRITE_CLASSES_EXCLUDED.has(r.cls) ? 'filtered' : sampler === null ? null : sampler(r));
}
