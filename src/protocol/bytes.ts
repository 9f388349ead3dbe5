// Byte-level helpers shared by the parsers: tokenising a command line in place and reading numbers
// straight from the bytes, so no payload is ever converted to a string.

/**
 * Token boundaries of the last `tokenize` call. Shared scratch: callers must finish reading them
 * before calling out to user code (which might tokenize again).
 */
export let TOK_S = new Int32Array(64);
export let TOK_E = new Int32Array(64);

/** Bumped by every tokenize call, so a caller can tell whether TOK_S/TOK_E still hold its tokens. */
export let TOK_GEN = 0;

/** Tokens longer than this are measured by the native search (keys are often 30-250 bytes). */
const SHORT_TOKEN = 12;

/** Splits buf[s, e) on spaces (memcached splits on ' ' only) into TOK_S/TOK_E; returns the token count. */
export function tokenize(buf: Buffer, s: number, e: number): number {
  TOK_GEN++;
  let n = 0;
  let i = s;
  while (i < e) {
    while (i < e && buf[i] === 32) i++;
    if (i >= e) break;
    const ts = i;
    const lim = i + SHORT_TOKEN < e ? i + SHORT_TOKEN : e;
    while (i < lim && buf[i] !== 32) i++;
    if (i === lim && i < e && buf[i] !== 32) {
      // a byte loop over a 64-byte key costs twice the native call; see indexOfByte on reading past e
      const j = buf.indexOf(32, i);
      i = j < 0 || j > e ? e : j;
    }
    if (n === TOK_S.length) growTokens();
    TOK_S[n] = ts;
    TOK_E[n] = i;
    n++;
  }
  return n;
}

function growTokens(): void {
  const s = new Int32Array(TOK_S.length * 2);
  const e = new Int32Array(TOK_E.length * 2);
  s.set(TOK_S);
  e.set(TOK_E);
  TOK_S = s;
  TOK_E = e;
}

/**
 * Index of the first `byte` in buf[from, end), or -1. The native search runs to the end of buf, so
 * for a range of a large buffer (a capture chunk) it may read past `end`; it stops at the first
 * hit, and the bytes after a segment (the next frame's headers and payload) hold one within a few
 * hundred bytes in practice, which costs less than a view per call.
 */
export function indexOfByte(buf: Buffer, byte: number, from: number, end: number): number {
  const i = buf.indexOf(byte, from);
  return i < end ? i : -1;
}

/** Unsigned decimal in buf[s, e) as a number, or -1 when empty, not all digits, or above 2^53. */
export function parseUint(buf: Buffer, s: number, e: number): number {
  if (s >= e || e - s > 16) return -1;
  let v = 0;
  for (let i = s; i < e; i++) {
    const c = buf[i] - 48;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v <= Number.MAX_SAFE_INTEGER ? v : -1;
}

/** Signed decimal in buf[s, e), or NaN when malformed. */
export function parseInt32(buf: Buffer, s: number, e: number): number {
  if (s >= e) return NaN;
  let neg = false;
  if (buf[s] === 45) {
    neg = true;
    s++;
  }
  const v = parseUint(buf, s, e);
  if (v < 0) return NaN;
  return neg ? -v : v;
}

/** Unsigned 64-bit decimal in buf[s, e) as a bigint, or -1n when malformed. */
export function parseU64(buf: Buffer, s: number, e: number): bigint {
  if (s >= e || e - s > 20) return -1n;
  if (e - s <= 15) {
    const v = parseUint(buf, s, e);
    return v < 0 ? -1n : BigInt(v);
  }
  for (let i = s; i < e; i++) if (buf[i] < 48 || buf[i] > 57) return -1n;
  const v = BigInt(buf.toString('latin1', s, e));
  return v <= 0xffffffffffffffffn ? v : -1n;
}

/** True when buf[s, e) equals the ASCII string `str` (compared on bytes). */
export function bytesEqualStr(buf: Buffer, s: number, e: number, str: string): boolean {
  if (e - s !== str.length) return false;
  for (let i = 0; i < str.length; i++) if (buf[s + i] !== str.charCodeAt(i)) return false;
  return true;
}

/** True when buf[s, e) starts with the bytes of `str`. */
export function startsWithStr(buf: Buffer, s: number, e: number, str: string): boolean {
  if (e - s < str.length) return false;
  for (let i = 0; i < str.length; i++) if (buf[s + i] !== str.charCodeAt(i)) return false;
  return true;
}

/** 32-bit FNV-1a of buf[s, e) as a non-negative number: a numeric id for a non-numeric meta opaque. */
export function fnv1a(buf: Buffer, s: number, e: number): number {
  let h = 0x811c9dc5;
  for (let i = s; i < e; i++) {
    h ^= buf[i];
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Same hash over a latin1 string (meta opaque kept as a flag string). */
export function fnv1aStr(str: string, from = 0): number {
  let h = 0x811c9dc5;
  for (let i = from; i < str.length; i++) {
    h ^= str.charCodeAt(i) & 0xff;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** True for bytes that may appear in a command word: lowercase letters, digits, '_'. */
export function isWordByte(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 95;
}
