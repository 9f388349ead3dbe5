// The words a memcached server starts a text/meta response line with, recognised on bytes.

export const W_OTHER = 0;
export const W_VALUE = 1;
export const W_END = 2;
export const W_STAT = 3;
export const W_ITEM = 4;
export const W_PREFIX = 5;
export const W_STORED = 6;
export const W_NOT_STORED = 7;
export const W_EXISTS = 8;
export const W_NOT_FOUND = 9;
export const W_DELETED = 10;
export const W_TOUCHED = 11;
export const W_OK = 12;
export const W_VERSION = 13;
export const W_RESET = 14;
export const W_ERROR = 15;
export const W_CLIENT_ERROR = 16;
export const W_SERVER_ERROR = 17;
export const W_HD = 18;
export const W_VA = 19;
export const W_EN = 20;
export const W_NF = 21;
export const W_NS = 22;
export const W_EX = 23;
export const W_MN = 24;
export const W_ME = 25;
export const W_BUSY = 26;
export const W_BADCLASS = 27;
export const W_NOSPARE = 28;
export const W_NOTFULL = 29;
export const W_UNSAFE = 30;
export const W_SAME = 31;
export const W_NUMBER = 32;

interface Word {
  code: number;
  name: string;
  bytes: Buffer;
}

const WORDS: Word[] = (
  [
    [W_VALUE, 'VALUE'],
    [W_END, 'END'],
    [W_STAT, 'STAT'],
    [W_ITEM, 'ITEM'],
    [W_PREFIX, 'PREFIX'],
    [W_STORED, 'STORED'],
    [W_NOT_STORED, 'NOT_STORED'],
    [W_EXISTS, 'EXISTS'],
    [W_NOT_FOUND, 'NOT_FOUND'],
    [W_DELETED, 'DELETED'],
    [W_TOUCHED, 'TOUCHED'],
    [W_OK, 'OK'],
    [W_VERSION, 'VERSION'],
    [W_RESET, 'RESET'],
    [W_ERROR, 'ERROR'],
    [W_CLIENT_ERROR, 'CLIENT_ERROR'],
    [W_SERVER_ERROR, 'SERVER_ERROR'],
    [W_HD, 'HD'],
    [W_VA, 'VA'],
    [W_EN, 'EN'],
    [W_NF, 'NF'],
    [W_NS, 'NS'],
    [W_EX, 'EX'],
    [W_MN, 'MN'],
    [W_ME, 'ME'],
    [W_BUSY, 'BUSY'],
    [W_BADCLASS, 'BADCLASS'],
    [W_NOSPARE, 'NOSPARE'],
    [W_NOTFULL, 'NOTFULL'],
    [W_UNSAFE, 'UNSAFE'],
    [W_SAME, 'SAME'],
  ] as const
).map(([code, name]) => ({ code, name, bytes: Buffer.from(name, 'latin1') }));

const BY_LEN: Word[][] = [];
for (const w of WORDS) (BY_LEN[w.name.length] ??= []).push(w);

/** Status string of each word code (constant strings: no allocation per response). */
export const WORD_NAME: string[] = [];
WORD_NAME[W_OTHER] = 'OTHER';
WORD_NAME[W_NUMBER] = 'NUMBER';
for (const w of WORDS) WORD_NAME[w.code] = w.name;

/** Code of the response word buf[s, e); "ERROR: ..." and "ERROR" both count as ERROR. */
export function responseWord(buf: Buffer, s: number, e: number): number {
  const list = BY_LEN[e - s];
  if (list !== undefined) {
    outer: for (let i = 0; i < list.length; i++) {
      const w = list[i].bytes;
      for (let j = 0; j < w.length; j++) if (buf[s + j] !== w[j]) continue outer;
      return list[i].code;
    }
  }
  const c = buf[s];
  if (c >= 48 && c <= 57) {
    for (let i = s + 1; i < e; i++) if (buf[i] < 48 || buf[i] > 57) return W_OTHER;
    return W_NUMBER;
  }
  if (e - s > 5 && c === 69 && buf[s + 1] === 82 && buf[s + 2] === 82 && buf[s + 3] === 79 && buf[s + 4] === 82 && buf[s + 5] === 58) return W_ERROR;
  return W_OTHER;
}

/** True for the three error words. */
export function isErrorWord(code: number): boolean {
  return code === W_ERROR || code === W_CLIENT_ERROR || code === W_SERVER_ERROR;
}

/** True for the two-letter meta return codes (and OK, which old-style meta responses use for HD). */
export function isMetaWord(code: number): boolean {
  return code >= W_HD && code <= W_ME;
}

/** Longest response word, for resynchronisation: a candidate is decided after this many bytes. */
export const MAX_RESPONSE_WORD = WORDS.reduce((m, w) => Math.max(m, w.name.length), 0);

/**
 * Resync candidates: words that begin a response line (not numbers, not free-form lines), and
 * whether buf[s, e) is still a prefix of one.
 */
export function isResponseWordPrefix(buf: Buffer, s: number, e: number): boolean {
  const n = e - s;
  outer: for (const w of WORDS) {
    if (w.name.length < n) continue;
    for (let j = 0; j < n; j++) if (buf[s + j] !== w.bytes[j]) continue outer;
    return true;
  }
  return false;
}
