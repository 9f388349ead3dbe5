// The answer a memcached holding every key would give to a request: what the replay's in-process
// rehearsal target (replay/warm-target.ts) sends back, so that the replay's answer paths (retrieval
// values, status lines, meta return flags, binary packets, quiet silence) run before its clock starts
// on the capture's own command kinds. Not a server: no state, every read is a hit, every write stored.
import { binarySpecByName } from './commands.js';
import type { ParsedRequest } from './types.js';

const VALUE = Buffer.from('warm', 'latin1');
/** The CAS unique every answer that carries one hands out. */
const CAS = 1;

/** The bytes a memcached would answer `req` with when every key is present; null when it answers nothing (quiet success, quit). */
export function plausibleAnswer(req: ParsedRequest): Buffer | null {
  if (req.proto === 'binary') return binaryAnswer(req);
  if (req.proto === 'meta') return metaAnswer(req);
  return textAnswer(req);
}

function line(s: string): Buffer {
  return Buffer.from(s + '\r\n', 'latin1');
}

function textAnswer(req: ParsedRequest): Buffer | null {
  if (req.quiet || req.cmd === 'quit') return null;
  switch (req.cmd) {
    case 'get':
    case 'gets':
    case 'gat':
    case 'gats': {
      const withCas = req.cmd === 'gets' || req.cmd === 'gats';
      const parts: Buffer[] = [];
      for (const k of req.keys) {
        parts.push(line(`VALUE ${k.toString('latin1')} 0 ${VALUE.length}${withCas ? ` ${CAS}` : ''}`), VALUE, line(''));
      }
      parts.push(line('END'));
      return Buffer.concat(parts);
    }
    case 'set':
    case 'add':
    case 'replace':
    case 'append':
    case 'prepend':
    case 'cas':
      return line('STORED');
    case 'incr':
    case 'decr':
      return line('1');
    case 'delete':
      return line('DELETED');
    case 'touch':
      return line('TOUCHED');
    case 'version':
      return line('VERSION warm-up');
    case 'stats':
      return line('STAT pid 1\r\nEND');
    default:
      // flush_all, verbosity and the admin commands answer OK; a word memcached does not know, ERROR
      return line(req.cls === 'unknown' ? 'ERROR' : 'OK');
  }
}

/** Return flags a meta answer carries for the request's flags: its opaque, its key (base64 when asked), a CAS. */
function metaReturnFlags(req: ParsedRequest): string {
  let out = '';
  const b64 = req.metaFlags.some((f) => f === 'b');
  for (const f of req.metaFlags) {
    const c = f.charCodeAt(0);
    if (c === 0x4f /* O */) out += ' ' + f;
    else if (f === 'k' && req.keys[0] !== undefined) out += ' k' + req.keys[0].toString(b64 ? 'base64' : 'latin1') + (b64 ? ' b' : '');
    else if (f === 'c') out += ` c${CAS}`;
  }
  return out;
}

function metaAnswer(req: ParsedRequest): Buffer | null {
  const wantsValue = req.metaFlags.some((f) => f === 'v');
  const flags = metaReturnFlags(req);
  switch (req.cmd) {
    case 'mg':
      // q hides only a miss: a hit is answered
      return wantsValue ? Buffer.concat([line(`VA ${VALUE.length}${flags}`), VALUE, line('')]) : line('HD' + flags);
    case 'ma':
      if (wantsValue) return line(`VA 1${flags}\r\n1`);
      return req.quiet ? null : line('HD' + flags);
    case 'mn':
      return line('MN');
    case 'me':
      return line('EN');
    default:
      // ms, md: q hides the success
      return req.quiet ? null : line('HD' + flags);
  }
}

const BIN_HEADER = 24;

/** One binary response packet answering request `req` (opcode and opaque from its header). */
function binaryPacket(req: ParsedRequest, status: number, extras: number, key: Buffer | null, value: Buffer | null, cas: number): Buffer {
  const keyLen = key?.length ?? 0;
  const valueLen = value?.length ?? 0;
  const p = Buffer.alloc(BIN_HEADER + extras + keyLen + valueLen);
  p[0] = 0x81;
  p[1] = req.raw[1]!;
  p.writeUInt16BE(keyLen, 2);
  p[4] = extras;
  p.writeUInt16BE(status, 6);
  p.writeUInt32BE(extras + keyLen + valueLen, 8);
  p.writeUInt32BE(req.raw.readUInt32BE(12), 12);
  p.writeUInt32BE(cas, 20);
  // extras (item flags) stay 0
  if (key !== null) key.copy(p, BIN_HEADER + extras);
  if (value !== null) value.copy(p, BIN_HEADER + extras + keyLen);
  return p;
}

const UNKNOWN_COMMAND = 0x81;

function binaryAnswer(req: ParsedRequest): Buffer | null {
  const spec = binarySpecByName(req.cmd);
  if (spec === undefined || spec.credentials) return binaryPacket(req, UNKNOWN_COMMAND, 0, null, null, 0);
  if (spec.retrieves) return binaryPacket(req, 0, 4, spec.echoesKey ? (req.keys[0] ?? null) : null, VALUE, CAS);
  // quiet writes, deletes, arithmetic and flushes say nothing on success; quit closes
  if (spec.quiet || spec.cls === 'session') return null;
  switch (spec.name) {
    case 'increment':
    case 'decrement': {
      const v = Buffer.alloc(8);
      v[7] = 1;
      return binaryPacket(req, 0, 0, null, v, CAS);
    }
    case 'version':
      return binaryPacket(req, 0, 0, null, Buffer.from('warm-up', 'latin1'), 0);
    case 'stat':
      // one statistic, then the empty packet that ends the list
      return Buffer.concat([binaryPacket(req, 0, 0, Buffer.from('pid', 'latin1'), Buffer.from('1', 'latin1'), 0), binaryPacket(req, 0, 0, null, null, 0)]);
    default:
      return binaryPacket(req, 0, 0, null, null, spec.cls === 'write' ? CAS : 0);
  }
}
