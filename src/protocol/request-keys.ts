// What sinks read of a parsed request without making a view per key: key strings, key ranges, key
// count, an owned copy of the bytes (fast paths for the parser's LazyRequest).
import { LazyRequest } from './request-build.js';
import type { ParsedRequest } from './types.js';

/** The keys of a request as latin1 strings (fast path for parser output: no Buffer views). */
export function requestKeyStrings(req: ParsedRequest): string[] {
  if (req instanceof LazyRequest) {
    const n = req.keyCount;
    const out = new Array<string>(n);
    for (let i = 0; i < n; i++) out[i] = req.keyString(i);
    return out;
  }
  return req.keys.map((k) => k.toString('latin1'));
}

/** Calls `f` with each key's bytes as a range (valid during the call only), in request order. */
export function visitRequestKeys(req: ParsedRequest, f: (b: Buffer, s: number, e: number) => void): void {
  if (req instanceof LazyRequest) req.visitKeys(f);
  else for (const k of req.keys) f(k, 0, k.length);
}

/** How many keys a request has, without making views of them. */
export function requestKeyCount(req: ParsedRequest): number {
  return req instanceof LazyRequest ? req.keyCount : req.keys.length;
}

/** Placeholder key lists by count: a sink that took the keys as bytes needs only how many there were. */
const PLACEHOLDER_KEYS: string[][] = [[], ['']];

/** `n` empty strings (shared arrays for 0 and 1 key: never mutate them). */
export function placeholderKeys(n: number): string[] {
  return PLACEHOLDER_KEYS[n] ?? new Array<string>(n).fill('');
}

/** An owned copy of a request's bytes (fast path for parser output: no intermediate view). */
export function copyRequestRaw(req: ParsedRequest): Buffer {
  if (req instanceof LazyRequest) return req.copyRaw();
  return Buffer.from(req.raw);
}
