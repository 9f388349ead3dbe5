// Authentication of a replayed connection with the credentials the user gave (never captured ones):
// binary SASL PLAIN on binary connections, memcached's ascii auth (a `set` carrying "user pass")
// on text/meta connections. The answer is consumed before the connection replays anything.

/** One authentication exchange in progress. */
export interface AuthState {
  request: Buffer;
  /** Feeds server bytes; returns the bytes after the answer once complete, null while incomplete. */
  push(chunk: Buffer): Buffer | null;
  /** Whether the server accepted the credentials (valid once push returned non-null). */
  readonly ok: boolean;
}

/** Builds the authentication request for a connection speaking `proto`. */
export function authRequest(proto: 'text' | 'meta' | 'binary', cred: { user: string; password: string }): AuthState {
  return proto === 'binary' ? saslPlain(cred) : asciiAuth(cred);
}

function saslPlain(cred: { user: string; password: string }): AuthState {
  const mech = Buffer.from('PLAIN', 'latin1');
  const value = Buffer.concat([Buffer.from([0]), Buffer.from(cred.user, 'utf8'), Buffer.from([0]), Buffer.from(cred.password, 'utf8')]);
  const h = Buffer.alloc(24);
  h[0] = 0x80;
  h[1] = 0x21; // SASL auth
  h.writeUInt16BE(mech.length, 2);
  h.writeUInt32BE(mech.length + value.length, 8);
  const request = Buffer.concat([h, mech, value]);
  let acc: Buffer = Buffer.alloc(0);
  const st = {
    request,
    ok: false,
    push(chunk: Buffer): Buffer | null {
      acc = acc.length === 0 ? chunk : Buffer.concat([acc, chunk]);
      if (acc.length < 24) return null;
      const total = 24 + acc.readUInt32BE(8);
      if (acc.length < total) return null;
      st.ok = acc[0] === 0x81 && acc.readUInt16BE(6) === 0;
      return acc.subarray(total);
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
    push(chunk: Buffer): Buffer | null {
      acc = acc.length === 0 ? chunk : Buffer.concat([acc, chunk]);
      const nl = acc.indexOf('\r\n');
      if (nl < 0) return null;
      st.ok = acc.subarray(0, nl).toString('latin1') === 'STORED';
      return acc.subarray(nl + 2);
    },
  };
  return st;
}
