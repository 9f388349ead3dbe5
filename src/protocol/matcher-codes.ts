// The response matcher's vocabulary: the kinds of answer a request waits for, its flag bits, the
// byte-level states, the bytes and binary header fields it looks at, and the small byte tests it
// runs (candidate response starts, key comparison). Meta command kinds and binary opcodes are not
// repeated here: they come from the command table (commands.ts).
import { binarySpecByName, lookupTextWordByName } from './commands.js';
import { MAX_RESPONSE_WORD, W_CLIENT_ERROR, W_ERROR, W_NUMBER, W_OTHER, W_SERVER_ERROR, isResponseWordPrefix, responseWord } from './response-words.js';
import type { ResponseErrorClass } from './types.js';

/** What kind of answer a pending request waits for. */
export const enum Kind {
  Line = 1,
  Values = 2,
  Stats = 3,
  Meta = 4,
  Bin = 5,
  None = 6, // text noreply / quit: silence is the answer
}

/** Flag bits of a pending request. */
export const enum Flag {
  Silent = 1, // may be answered by silence (quiet, noreply, quit)
  Retrieves = 2, // counts hits/misses
  EchoKey = 4, // binary response echoes the key
  BinStats = 8, // binary stat: packets until the empty key
}

/** Open multi-part responses. */
export const enum Multi {
  None = 0,
  Values = 1,
  Stats = 2,
  BinStats = 3,
}

/** Byte-level states. */
export const enum St {
  Idle = 0,
  Line = 1,
  Skip = 2,
  BinHeader = 3,
  BinExtKey = 4,
  CandText = 5,
  CandBin = 6,
}

/** What to do when a skipped data block ends. */
export const enum After {
  Nothing = 0,
  Value = 1,
  Va = 2,
  Bin = 3,
}

/** Could these bytes start a response? (textCand, and the binary header check while scanning) */
export const enum Cand {
  No = 0,
  Yes = 1,
  /** Not decidable from the bytes at hand: wait for more. */
  More = 2,
}

/** Bytes the matcher tests. */
export const enum Ch {
  LF = 10,
  CR = 13,
  Space = 32,
  Tilde = 126,
  A = 65,
  Z = 90,
  Underscore = 95,
  /** Meta flags: O (opaque), W (win: recache), X (stale), b (base64 key), c (CAS), k (key). */
  O = 79,
  W = 87,
  X = 88,
  b = 98,
  c = 99,
  k = 107,
}

/** The binary response header: its size, magic and field offsets (protocol_binary.h). */
export const enum Bin {
  HeaderLen = 24,
  ResponseMagic = 0x81,
  OffOpcode = 1,
  OffKeyLen = 2,
  OffExtLen = 4,
  OffDataType = 5,
  OffStatus = 6,
  OffBodyLen = 8,
  OffOpaque = 12,
  OffCasHi = 16,
  OffCasLo = 20,
  /** Status codes the matcher counts by (commands.ts BINARY_STATUS names them all). */
  StatusOk = 0x00,
  StatusKeyNotFound = 0x01,
}

/** Binary noop's opcode: its answer is a sync point. */
export const OP_NOOP = binarySpecByName('noop')!.opcode;

/** Meta command kind of `cmd` from the command table (K_MG, K_MS, K_MD, K_MA, K_MN, K_ME), 0 if it is none. */
export function metaKind(cmd: string): number {
  return lookupTextWordByName(cmd)?.kind ?? 0;
}

/** Opcode of a binary request the table does not know ("op_0x3c"), -1 if the name says none. */
export function opcodeOfUnknown(cmd: string): number {
  return cmd.startsWith('op_0x') ? parseInt(cmd.slice(5), 16) : -1;
}

export function errorClassOf(code: number): ResponseErrorClass {
  return code === W_ERROR ? 'ERROR' : code === W_CLIENT_ERROR ? 'CLIENT_ERROR' : code === W_SERVER_ERROR ? 'SERVER_ERROR' : null;
}

/** Could buf[s, e) (at a line start) begin a response line? */
export function textCand(buf: Buffer, s: number, e: number): Cand {
  const lim = Math.min(e, s + MAX_RESPONSE_WORD + 1);
  for (let i = s; i < lim; i++) {
    const c = buf[i];
    if (c === Ch.Space || c === Ch.CR || c === Ch.LF) {
      if (i === s) return Cand.No;
      const w = responseWord(buf, s, i);
      return w !== W_OTHER && w !== W_NUMBER ? Cand.Yes : Cand.No;
    }
    if (!((c >= Ch.A && c <= Ch.Z) || c === Ch.Underscore)) return Cand.No;
  }
  if (lim === e && isResponseWordPrefix(buf, s, e)) return Cand.More;
  return Cand.No;
}

/** buf[s, e) holds exactly the latin1 bytes of `str`. */
export function sameBytes(buf: Buffer, s: number, e: number, str: string): boolean {
  if (e - s !== str.length) return false;
  for (let i = 0; i < str.length; i++) if (buf[s + i] !== (str.charCodeAt(i) & 0xff)) return false;
  return true;
}

/** buf[s, e) is `key` (an absent key matches anything). */
export function keyEquals(key: Buffer | string | undefined, buf: Buffer, s: number, e: number): boolean {
  if (key === undefined) return true;
  if (typeof key === 'string') return sameBytes(buf, s, e, key);
  return key.length === e - s && key.equals(buf.subarray(s, e));
}
