// Rebuilds a request with edits (key prefix for clone namespaces, the target's cas token, a rebased
// exptime) as iovecs. Only the command line or binary header/extras/key is rewritten; the data
// block stays a view of the original bytes.
import { BINARY_BY_OPCODE, K_ARITH, K_CAS, K_DELETE, K_FLUSH, K_GAT, K_GET, K_MA, K_MD, K_ME, K_MG, K_MN, K_MS, K_STORE, K_TOUCH, lookupTextWord } from './commands.js';
import { TOK_E, TOK_S, parseInt32, parseUint, tokenize } from './bytes.js';
import type { ParsedRequest } from './types.js';

/** Edits applied when a request is replayed. */
export interface RequestEdit {
  /** Prepended to every key (clone namespaces). */
  keyPrefix?: Buffer;
  /** Replaces the cas unique (text cas, binary header cas, meta C flag) where the request has one. */
  cas?: bigint;
  /** Replaces the expiry (text field, binary extras, meta T flag) where the request has one. */
  exptime?: number;
}

/** What encodeRequest needs of a request (a ParsedRequest or WorkloadRequest fits). */
export type EncodableRequest = Pick<ParsedRequest, 'proto' | 'raw'>;

const SPACE = 32;

/**
 * Returns the request's bytes with the edits applied, as iovecs for socket.writev/cork. An
 * unchanged request is `[raw]` itself; otherwise the data block is a view of `raw`.
 */
export function encodeRequest(req: EncodableRequest, edit: RequestEdit): Buffer[] {
  const prefix = edit.keyPrefix !== undefined && edit.keyPrefix.length > 0 ? edit.keyPrefix : undefined;
  if (prefix === undefined && edit.cas === undefined && edit.exptime === undefined) return [req.raw];
  return req.proto === 'binary' ? encodeBinary(req.raw, prefix, edit) : encodeText(req.raw, prefix, edit);
}

function encodeBinary(raw: Buffer, prefix: Buffer | undefined, edit: RequestEdit): Buffer[] {
  if (raw.length < 24) return [raw];
  const keyLen = raw.readUInt16BE(2);
  const extLen = raw[4];
  const spec = BINARY_BY_OPCODE[raw[1]];
  const addKey = prefix !== undefined && keyLen > 0 ? prefix.length : 0;
  const setExp = edit.exptime !== undefined && spec !== undefined && spec.expOff >= 0 && extLen >= spec.expOff + 4;
  if (addKey === 0 && edit.cas === undefined && !setExp) return [raw];
  const headEnd = 24 + extLen + keyLen;
  const head = Buffer.allocUnsafe(headEnd + addKey);
  raw.copy(head, 0, 0, 24 + extLen);
  if (addKey > 0) {
    prefix!.copy(head, 24 + extLen);
    head.writeUInt16BE(keyLen + addKey, 2);
    head.writeUInt32BE(raw.readUInt32BE(8) + addKey, 8);
  }
  raw.copy(head, 24 + extLen + addKey, 24 + extLen, headEnd);
  if (edit.cas !== undefined) head.writeBigUInt64BE(BigInt.asUintN(64, edit.cas), 16);
  if (setExp) head.writeUInt32BE(edit.exptime! >>> 0, 24 + spec!.expOff);
  return raw.length > headEnd ? [head, raw.subarray(headEnd)] : [head];
}

// What each token of a text/meta line is, for the rewrite (0: kept as is).
const T_KEY = 1;
const T_EXP = 2;
const T_CAS = 3;

function encodeText(raw: Buffer, prefix: Buffer | undefined, edit: RequestEdit): Buffer[] {
  const nl = raw.indexOf(10);
  if (nl < 0) return [raw];
  const ce = nl > 0 && raw[nl - 1] === 13 ? nl - 1 : nl;
  const n = tokenize(raw, 0, ce);
  if (n === 0) return [raw];
  const spec = lookupTextWord(raw, TOK_S[0], TOK_E[0]);
  if (spec === undefined) return [raw];
  const k = spec.kind;
  const roles = new Uint8Array(n);
  let b64 = false;
  switch (k) {
    case K_GET:
      for (let i = 1; i < n; i++) roles[i] = T_KEY;
      break;
    case K_GAT:
      if (n > 1) roles[1] = T_EXP;
      for (let i = 2; i < n; i++) roles[i] = T_KEY;
      break;
    case K_STORE:
    case K_CAS:
      if (n > 1) roles[1] = T_KEY;
      if (n > 3) roles[3] = T_EXP;
      if (k === K_CAS && n > 5) roles[5] = T_CAS;
      break;
    case K_ARITH:
    case K_DELETE:
      if (n > 1) roles[1] = T_KEY;
      break;
    case K_TOUCH:
      if (n > 1) roles[1] = T_KEY;
      if (n > 2) roles[2] = T_EXP;
      break;
    case K_FLUSH:
      if (n > 1 && !Number.isNaN(parseInt32(raw, TOK_S[1], TOK_E[1]))) roles[1] = T_EXP;
      break;
    case K_MG:
    case K_MS:
    case K_MD:
    case K_MA:
    case K_ME: {
      if (n > 1) roles[1] = T_KEY;
      let first = 2;
      if (k === K_MS && n > 2 && parseUint(raw, TOK_S[2], TOK_E[2]) >= 0) first = 3;
      for (let i = first; i < n; i++) {
        const c = raw[TOK_S[i]];
        if (c === 98 /* b */ && TOK_E[i] - TOK_S[i] === 1) b64 = true;
        else if (c === 84 /* T */) roles[i] = T_EXP;
        else if (c === 67 /* C */) roles[i] = T_CAS;
      }
      break;
    }
    case K_MN:
    default:
      return [raw];
  }
  const meta = k >= K_MG;
  const parts: Buffer[] = [];
  let changed = false;
  for (let i = 0; i < n; i++) {
    if (i > 0) parts.push(SPACE_BUF);
    const tok = raw.subarray(TOK_S[i], TOK_E[i]);
    const role = roles[i];
    if (role === T_KEY && prefix !== undefined) {
      if (b64) parts.push(Buffer.from(Buffer.concat([prefix, Buffer.from(tok.toString('latin1'), 'base64')]).toString('base64'), 'latin1'));
      else parts.push(prefix, tok);
      changed = true;
    } else if (role === T_EXP && edit.exptime !== undefined) {
      parts.push(Buffer.from((meta ? 'T' : '') + String(Math.trunc(edit.exptime)), 'latin1'));
      changed = true;
    } else if (role === T_CAS && edit.cas !== undefined) {
      parts.push(Buffer.from((meta ? 'C' : '') + BigInt.asUintN(64, edit.cas).toString(), 'latin1'));
      changed = true;
    } else parts.push(tok);
  }
  if (!changed) return [raw];
  parts.push(raw.subarray(ce, nl + 1));
  const line = Buffer.concat(parts);
  return raw.length > nl + 1 ? [line, raw.subarray(nl + 1)] : [line];
}

const SPACE_BUF = Buffer.from([SPACE]);
