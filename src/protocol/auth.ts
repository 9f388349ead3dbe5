// The wire side of authenticating to a target with the credentials the user gave (never captured
// ones): binary SASL PLAIN (memcached -S, which then speaks only the binary protocol) and memcached's
// ascii auth (memcached -Y: a `set` carrying "user pass", text only). Builds the requests and reads
// their answers; which mechanism a target takes is decided above this layer (the replay's probe).
// Also the binary STAT request, which is how a binary-only target is asked for its `stats`.

/** Binary opcode of `version`: the probe's and the warm-up's request to a binary-only target. */
export const OP_VERSION = 0x0b;

/** Binary opcode of `stat`: answered by one key/value response per statistic, then one with an empty key. */
export const OP_STAT = 0x10;

/** Binary opcodes of the SASL exchange. */
export const SASL_OP = { listMechs: 0x20, auth: 0x21, step: 0x22 } as const;

/** Binary response statuses of the SASL exchange. */
export const SASL_STATUS = { ok: 0x00, authError: 0x20, authContinue: 0x21, unknownCommand: 0x81 } as const;

/** A binary request frame (no extras, no CAS). */
export function binaryFrame(opcode: number, key: Buffer = Buffer.alloc(0), value: Buffer = Buffer.alloc(0), opaque = 0): Buffer {
  const h = Buffer.alloc(24);
  h[0] = 0x80;
  h[1] = opcode;
  h.writeUInt16BE(key.length, 2);
  h.writeUInt32BE(key.length + value.length, 8);
  h.writeUInt32BE(opaque, 12);
  return Buffer.concat([h, key, value]);
}

/** One binary response frame read from a buffer: views into it, and where the next frame starts. */
export interface BinaryResponse {
  magic: number;
  opcode: number;
  status: number;
  key: Buffer;
  value: Buffer;
  /** Offset just past this frame. */
  end: number;
}

/** Reads the binary frame starting at `offset`; null while it is incomplete. */
export function readBinaryResponse(buf: Buffer, offset = 0): BinaryResponse | null {
  if (buf.length - offset < 24) return null;
  const end = offset + 24 + buf.readUInt32BE(offset + 8);
  if (buf.length < end) return null;
  const keyAt = offset + 24 + buf[offset + 4]!;
  const keyEnd = keyAt + buf.readUInt16BE(offset + 2);
  return {
    magic: buf[offset]!,
    opcode: buf[offset + 1]!,
    status: buf.readUInt16BE(offset + 6),
    key: buf.subarray(keyAt, keyEnd),
    value: buf.subarray(keyEnd, end),
    end,
  };
}

/** What a refused SASL PLAIN answer means for the user, by status. */
export function saslRefusal(status: number): string {
  if (status === SASL_STATUS.authError) return 'the target refused the credentials (binary SASL PLAIN; check --sasl-user and MCREPLAY_SASL_PASSWORD)';
  if (status === SASL_STATUS.authContinue) {
    return "the target asked for another SASL step (auth continue) after PLAIN, which needs none: check the target's SASL configuration (mech_list: plain)";
  }
  return `the target answered SASL PLAIN with status 0x${status.toString(16).padStart(2, '0')}`;
}

/** What a refused ascii auth means for the user; `line` is the target's answer (it never holds the password). */
export function asciiAuthRefusal(line: string): string {
  return `the target refused the credentials (ascii auth, answered ${JSON.stringify(line.slice(0, 80))}; check --sasl-user and MCREPLAY_SASL_PASSWORD)`;
}

/** One authentication exchange in progress. */
export interface AuthState {
  request: Buffer;
  /** Feeds server bytes; returns the bytes after the answer once complete, null while incomplete. */
  push(chunk: Buffer): Buffer | null;
  /** Whether the server accepted the credentials (valid once push returned non-null). */
  readonly ok: boolean;
  /** Why the server refused, for the user (valid once push returned non-null and ok is false). */
  readonly refusal: string;
}

/** The one way a target takes credentials: binary SASL PLAIN (memcached -S) or ascii auth (memcached -Y). */
export type AuthMech = 'sasl' | 'ascii';

/** The user's credentials for the targets. */
export interface AuthCred {
  user: string;
  password: string;
  /**
   * Set from the coordinator's probe when the target takes one mechanism only; without it the
   * connection's protocol decides. A connection may open before its first request is queued, so
   * its protocol is not known yet then: guessing would send a SASL target an ascii `set`.
   */
  mech?: AuthMech;
}

/** Builds the authentication request for a connection speaking `proto`. */
export function authRequest(proto: 'text' | 'meta' | 'binary', cred: AuthCred): AuthState {
  const mech = cred.mech ?? (proto === 'binary' ? 'sasl' : 'ascii');
  return mech === 'sasl' ? saslPlain(cred) : asciiAuth(cred);
}

function saslPlain(cred: { user: string; password: string }): AuthState {
  // PLAIN's initial response (RFC 4616): authzid (empty) NUL authcid NUL password
  const value = Buffer.concat([Buffer.from([0]), Buffer.from(cred.user, 'utf8'), Buffer.from([0]), Buffer.from(cred.password, 'utf8')]);
  const request = binaryFrame(SASL_OP.auth, Buffer.from('PLAIN', 'latin1'), value);
  let acc: Buffer = Buffer.alloc(0);
  const st = {
    request,
    ok: false,
    refusal: '',
    push(chunk: Buffer): Buffer | null {
      acc = acc.length === 0 ? chunk : Buffer.concat([acc, chunk]);
      const f = readBinaryResponse(acc);
      if (f === null) return null;
      // unknown command: the target has no SASL (memcached without -S), so there is nothing to
      // authenticate; auth continue (0x21) cannot be answered with PLAIN's only message and counts as refused
      st.ok = f.magic === 0x81 && (f.status === SASL_STATUS.ok || f.status === SASL_STATUS.unknownCommand);
      if (!st.ok) st.refusal = f.magic === 0x81 ? saslRefusal(f.status) : 'the target did not answer SASL PLAIN in the binary protocol';
      return acc.subarray(f.end);
    },
  };
  return st;
}

function asciiAuth(cred: { user: string; password: string }): AuthState {
  const body = Buffer.from(`${cred.user} ${cred.password}`, 'utf8');
  const request = Buffer.concat([Buffer.from(`set mcreplay_auth 0 0 ${body.length}\r\n`, 'latin1'), body, Buffer.from('\r\n', 'latin1')]);
  let acc: Buffer = Buffer.alloc(0);
  const st = {
    request,
    ok: false,
    refusal: '',
    push(chunk: Buffer): Buffer | null {
      acc = acc.length === 0 ? chunk : Buffer.concat([acc, chunk]);
      const nl = acc.indexOf('\r\n');
      if (nl < 0) return null;
      const line = acc.subarray(0, nl).toString('latin1');
      st.ok = line === 'STORED';
      if (!st.ok) st.refusal = asciiAuthRefusal(line);
      return acc.subarray(nl + 2);
    },
  };
  return st;
}
