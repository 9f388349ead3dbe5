// The memcached command table: every text, meta and binary command with its class, what it expects
// back, and whether it is destructive (held back from replay unless the user names it).
import type { CommandClass, Expect, Proto } from './types.js';

/** What the rest of mcreplay needs to know about one command. */
export interface CommandInfo {
  cls: CommandClass;
  expect: Expect;
  destructive: boolean;
}

interface TextSpec extends CommandInfo {
  name: string;
  /** ASCII bytes of the name, for comparing command words without string conversion. */
  bytes: Buffer;
  /** Index into TEXT_KIND (parser dispatch). */
  kind: number;
}

// Parser dispatch kinds for text/meta command words.
export const K_GET = 1; // get, gets
export const K_GAT = 2; // gat, gats
export const K_STORE = 3; // set add replace append prepend
export const K_CAS = 4;
export const K_ARITH = 5; // incr decr
export const K_DELETE = 6;
export const K_TOUCH = 7;
export const K_FLUSH = 8; // flush_all
export const K_VERBOSITY = 9;
export const K_OTHER = 10; // stats, version, quit, admin commands: a line, no keys
export const K_MG = 11;
export const K_MS = 12;
export const K_MD = 13;
export const K_MA = 14;
export const K_MN = 15;
export const K_ME = 16;

function t(name: string, kind: number, cls: CommandClass, expect: Expect, destructive = false): TextSpec {
  return { name, bytes: Buffer.from(name, 'latin1'), kind, cls, expect, destructive };
}

/** Text and meta commands memcached 1.6 knows. */
const TEXT: TextSpec[] = [
  t('get', K_GET, 'read', 'values'),
  t('gets', K_GET, 'read', 'values'),
  t('gat', K_GAT, 'touch', 'values'),
  t('gats', K_GAT, 'touch', 'values'),
  t('set', K_STORE, 'write', 'line'),
  t('add', K_STORE, 'write', 'line'),
  t('replace', K_STORE, 'write', 'line'),
  t('append', K_STORE, 'write', 'line'),
  t('prepend', K_STORE, 'write', 'line'),
  t('cas', K_CAS, 'write', 'line'),
  t('incr', K_ARITH, 'arith', 'line'),
  t('decr', K_ARITH, 'arith', 'line'),
  t('delete', K_DELETE, 'delete', 'line'),
  t('touch', K_TOUCH, 'touch', 'line'),
  t('flush_all', K_FLUSH, 'destructive', 'line', true),
  t('stats', K_OTHER, 'info', 'stats'),
  t('version', K_OTHER, 'info', 'line'),
  t('verbosity', K_VERBOSITY, 'destructive', 'line', true),
  t('quit', K_OTHER, 'session', 'none'),
  t('shutdown', K_OTHER, 'destructive', 'line', true),
  t('slabs', K_OTHER, 'destructive', 'line', true),
  t('lru_crawler', K_OTHER, 'destructive', 'line', true),
  t('lru', K_OTHER, 'destructive', 'line', true),
  t('cache_memlimit', K_OTHER, 'destructive', 'line', true),
  t('watch', K_OTHER, 'destructive', 'line', true),
  t('misbehave', K_OTHER, 'destructive', 'line', true),
  t('debugtime', K_OTHER, 'destructive', 'line', true),
  // Admin commands of memcached 1.6 that change server state, held back like the ones above.
  t('extstore', K_OTHER, 'destructive', 'line', true),
  t('refresh_certs', K_OTHER, 'destructive', 'line', true),
  t('mg', K_MG, 'read', 'meta'),
  t('ms', K_MS, 'write', 'meta'),
  t('md', K_MD, 'delete', 'meta'),
  t('ma', K_MA, 'arith', 'meta'),
  t('mn', K_MN, 'info', 'meta'),
  t('me', K_ME, 'info', 'meta'),
];

/** Longest text command word in the table (resync needs at most this many bytes plus one to decide). */
export const MAX_TEXT_WORD = TEXT.reduce((m, s) => Math.max(m, s.name.length), 0);

// Lookup by word length, then by bytes: a handful of candidates per length.
const BY_LEN: TextSpec[][] = [];
for (const s of TEXT) (BY_LEN[s.name.length] ??= []).push(s);
const BY_NAME = new Map<string, TextSpec>(TEXT.map((s) => [s.name, s]));

/** The text/meta command whose name is buf[s, e), or undefined. No allocation. */
export function lookupTextWord(buf: Buffer, s: number, e: number): TextSpec | undefined {
  const list = BY_LEN[e - s];
  if (list === undefined) return undefined;
  outer: for (let i = 0; i < list.length; i++) {
    const w = list[i].bytes;
    for (let j = 0; j < w.length; j++) if (buf[s + j] !== w[j]) continue outer;
    return list[i];
  }
  return undefined;
}

/**
 * True when buf[s, e) is a proper prefix of some known command word (resync needs more bytes to
 * decide), false when no known word starts like this.
 */
export function isTextWordPrefix(buf: Buffer, s: number, e: number): boolean {
  const n = e - s;
  outer: for (const spec of TEXT) {
    if (spec.name.length <= n) continue;
    for (let j = 0; j < n; j++) if (buf[s + j] !== spec.bytes[j]) continue outer;
    return true;
  }
  return false;
}

/** The text/meta command called `name`, or undefined. */
export function lookupTextWordByName(name: string): TextSpec | undefined {
  return BY_NAME.get(name);
}

export type { TextSpec };

// ---- binary -------------------------------------------------------------------------------------

/** Binary request opcodes memcached implements, by number (BinaryProtocolRevamped, protocol_binary.h). */
export const BINARY_OPCODES: Record<number, string> = {
  0x00: 'get',
  0x01: 'set',
  0x02: 'add',
  0x03: 'replace',
  0x04: 'delete',
  0x05: 'increment',
  0x06: 'decrement',
  0x07: 'quit',
  0x08: 'flush',
  0x09: 'getq',
  0x0a: 'noop',
  0x0b: 'version',
  0x0c: 'getk',
  0x0d: 'getkq',
  0x0e: 'append',
  0x0f: 'prepend',
  0x10: 'stat',
  0x11: 'setq',
  0x12: 'addq',
  0x13: 'replaceq',
  0x14: 'deleteq',
  0x15: 'incrementq',
  0x16: 'decrementq',
  0x17: 'quitq',
  0x18: 'flushq',
  0x19: 'appendq',
  0x1a: 'prependq',
  0x1b: 'verbosity',
  0x1c: 'touch',
  0x1d: 'gat',
  0x1e: 'gatq',
  0x20: 'sasl_list_mechs',
  0x21: 'sasl_auth',
  0x22: 'sasl_step',
  0x23: 'gatk',
  0x24: 'gatkq',
};

/** Name for an opcode memcached does not implement (range ops 0x30–0x3c, vbucket ops ...): counted as unknown. */
export function unknownOpcodeName(op: number): string {
  return 'op_0x' + (op < 16 ? '0' : '') + op.toString(16);
}

/** Shape of a binary request: what extras, key and value a well-formed one carries. */
export interface BinarySpec extends CommandInfo {
  name: string;
  opcode: number;
  quiet: boolean;
  /** Allowed extras lengths. */
  extras: readonly number[];
  /** 1 key required, 0 key forbidden, 2 optional. */
  key: 0 | 1 | 2;
  value: boolean;
  /** Offset of the 32-bit expiration inside the extras, -1 when none. */
  expOff: number;
  /** Response to a hit carries the value (get family): counts hits/misses. */
  retrieves: boolean;
  /** Response echoes the key (getk, getkq, gatk, gatkq). */
  echoesKey: boolean;
  credentials: boolean;
}

function b(
  opcode: number,
  cls: CommandClass,
  o: Partial<Pick<BinarySpec, 'quiet' | 'extras' | 'key' | 'value' | 'expOff' | 'retrieves' | 'echoesKey' | 'credentials'>> & {
    expect?: Expect;
    destructive?: boolean;
  } = {},
): BinarySpec {
  const quiet = o.quiet ?? false;
  return {
    name: BINARY_OPCODES[opcode],
    opcode,
    cls,
    expect: o.expect ?? 'binary',
    destructive: o.destructive ?? false,
    quiet,
    extras: o.extras ?? [0],
    key: o.key ?? 0,
    value: o.value ?? false,
    expOff: o.expOff ?? -1,
    retrieves: o.retrieves ?? false,
    echoesKey: o.echoesKey ?? false,
    credentials: o.credentials ?? false,
  };
}

const GETLIKE = { key: 1, retrieves: true } as const;
const STORE = { extras: [8], key: 1, value: true, expOff: 4 } as const;
const CONCAT = { key: 1, value: true } as const;
const ARITH = { extras: [20], key: 1, expOff: 16 } as const;
const GAT = { extras: [4], key: 1, expOff: 0, retrieves: true } as const;
const FLUSH = { extras: [0, 4], expOff: 0, destructive: true } as const;

const BIN_LIST: BinarySpec[] = [
  b(0x00, 'read', GETLIKE),
  b(0x09, 'read', { ...GETLIKE, quiet: true }),
  b(0x0c, 'read', { ...GETLIKE, echoesKey: true }),
  b(0x0d, 'read', { ...GETLIKE, echoesKey: true, quiet: true }),
  b(0x01, 'write', STORE),
  b(0x11, 'write', { ...STORE, quiet: true }),
  b(0x02, 'write', STORE),
  b(0x12, 'write', { ...STORE, quiet: true }),
  b(0x03, 'write', STORE),
  b(0x13, 'write', { ...STORE, quiet: true }),
  b(0x0e, 'write', CONCAT),
  b(0x19, 'write', { ...CONCAT, quiet: true }),
  b(0x0f, 'write', CONCAT),
  b(0x1a, 'write', { ...CONCAT, quiet: true }),
  b(0x04, 'delete', { key: 1 }),
  b(0x14, 'delete', { key: 1, quiet: true }),
  b(0x05, 'arith', ARITH),
  b(0x15, 'arith', { ...ARITH, quiet: true }),
  b(0x06, 'arith', ARITH),
  b(0x16, 'arith', { ...ARITH, quiet: true }),
  b(0x07, 'session'),
  b(0x17, 'session', { quiet: true, expect: 'none' }),
  b(0x08, 'destructive', FLUSH),
  b(0x18, 'destructive', { ...FLUSH, quiet: true }),
  b(0x0a, 'info'),
  b(0x0b, 'info'),
  b(0x10, 'info', { key: 2, expect: 'stats' }),
  b(0x1b, 'destructive', { extras: [4], destructive: true }),
  b(0x1c, 'touch', { extras: [4], key: 1, expOff: 0 }),
  b(0x1d, 'touch', GAT),
  b(0x1e, 'touch', { ...GAT, quiet: true }),
  b(0x23, 'touch', { ...GAT, echoesKey: true }),
  b(0x24, 'touch', { ...GAT, echoesKey: true, quiet: true }),
  b(0x20, 'auth'),
  b(0x21, 'auth', { key: 1, value: true, credentials: true }),
  b(0x22, 'auth', { key: 1, value: true, credentials: true }),
];

/** Binary specs indexed by opcode (undefined for opcodes memcached does not implement). */
export const BINARY_BY_OPCODE: (BinarySpec | undefined)[] = new Array(256).fill(undefined);
for (const s of BIN_LIST) BINARY_BY_OPCODE[s.opcode] = s;
const BINARY_BY_NAME = new Map<string, BinarySpec>(BIN_LIST.map((s) => [s.name, s]));

/** Binary spec by canonical name ("getkq"), or undefined. */
export function binarySpecByName(name: string): BinarySpec | undefined {
  return BINARY_BY_NAME.get(name);
}

const UNKNOWN: CommandInfo = { cls: 'unknown', expect: 'line', destructive: false };
const UNKNOWN_BINARY: CommandInfo = { cls: 'unknown', expect: 'binary', destructive: false };

/** Class, expected response and destructiveness of a command by protocol and canonical name. */
export function commandInfo(proto: Proto, name: string): CommandInfo {
  if (proto === 'binary') {
    const s = BINARY_BY_NAME.get(name);
    return s ? { cls: s.cls, expect: s.expect, destructive: s.destructive } : UNKNOWN_BINARY;
  }
  const s = BY_NAME.get(name);
  return s ? { cls: s.cls, expect: s.expect, destructive: s.destructive } : UNKNOWN;
}

/** Names of every destructive command (text, meta and binary), for option validation and help. */
export const DESTRUCTIVE_COMMANDS: readonly string[] = [
  ...TEXT.filter((s) => s.destructive).map((s) => s.name),
  ...BIN_LIST.filter((s) => s.destructive).map((s) => s.name),
];

// ---- binary response status ---------------------------------------------------------------------

/** Binary response status names (BinaryProtocolRevamped §3.2). */
export const BINARY_STATUS: Record<number, string> = {
  0x00: 'no_error',
  0x01: 'key_not_found',
  0x02: 'key_exists',
  0x03: 'value_too_large',
  0x04: 'invalid_arguments',
  0x05: 'item_not_stored',
  0x06: 'non_numeric',
  0x07: 'vbucket_elsewhere',
  0x08: 'auth_error',
  0x09: 'auth_continue',
  0x20: 'auth_error',
  0x21: 'auth_continue',
  0x81: 'unknown_command',
  0x82: 'out_of_memory',
  0x83: 'not_supported',
  0x84: 'internal_error',
  0x85: 'busy',
  0x86: 'temporary_failure',
};

/** Error class of a binary status, as the reports count errors (mirrors the text protocol's lines). */
export function binaryStatusError(status: number): 'ERROR' | 'CLIENT_ERROR' | 'SERVER_ERROR' | null {
  switch (status) {
    case 0x00:
    case 0x01:
    case 0x02:
    case 0x05:
    case 0x09:
    case 0x21:
      return null;
    case 0x81:
      return 'ERROR';
    case 0x04:
    case 0x06:
    case 0x08:
    case 0x20:
      return 'CLIENT_ERROR';
    default:
      return 'SERVER_ERROR';
  }
}

/** Name of a binary status, "status_0xNN" for unknown ones. */
export function binaryStatusName(status: number): string {
  return BINARY_STATUS[status] ?? 'status_0x' + status.toString(16).padStart(2, '0');
}
