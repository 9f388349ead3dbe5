// Start-up checks of the targets: each must answer (and take the credentials) before any load is
// sent; and the addresses they resolve to, for the "replaying into a captured server" guard.
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { hasCode, McError } from '../errors.js';
import type { TargetAddr } from './messages.js';
import { authRequest, binaryFrame, OP_VERSION, readBinaryResponse, saslRefusal, SASL_OP, SASL_STATUS, type AuthCred, type AuthMech } from '../protocol/auth.js';

/** What the probe of a target found: its version and, with credentials, how it takes them. */
export interface ProbeResult {
  version: string;
  /** sasl: binary SASL only (memcached -S); ascii: text only (memcached -Y); none: needs no authentication; null: probed without credentials. */
  auth: AuthMech | 'none' | null;
}

/**
 * Checks that a target answers before any load is sent, and that the credentials work. With
 * credentials, binary SASL first (list mechanisms, PLAIN, binary version: memcached -S speaks only
 * binary), else `version` after ascii auth (memcached -Y speaks only text and closes a binary
 * connection). Rejects with the reason.
 */
export async function probeTargetAuth(t: TargetAddr, timeoutMs = 2000, auth: AuthCred | null = null): Promise<ProbeResult> {
  if (auth !== null) {
    const b = await probeBinary(t, timeoutMs, auth);
    if (b.kind === 'version') return { version: b.version, auth: 'sasl' };
    // a binary answer without SASL: memcached without -S or -Y, nothing to authenticate (and the
    // password is not stored there by an ascii auth `set`)
    if (b.kind === 'no-sasl') return { version: b.version, auth: 'none' };
    return { version: await probeText(t, timeoutMs, auth), auth: 'ascii' };
  }
  try {
    return { version: await probeText(t, timeoutMs, null), auth: null };
  } catch (e) {
    if (!hasCode(e, 'MCR_ERR_TARGET_NO_ANSWER')) throw e;
    // a SASL target (memcached -S) speaks only binary and waits for a whole binary header: say so
    // rather than "no answer"
    const b = await probeBinary(t, timeoutMs, null).catch(() => null);
    if (b?.kind === 'sasl') {
      throw new McError(`the target requires SASL authentication (binary protocol only; mechanisms: ${b.mechs.join(' ') || 'none'}): pass --sasl-user and set MCREPLAY_SASL_PASSWORD`, 'MCR_ERR_TARGET_AUTH');
    }
    throw e;
  }
}

/** Text probe: `version` (after ascii auth when credentials are given). */
async function probeText(t: TargetAddr, timeoutMs: number, auth: AuthCred | null): Promise<string> {
  const { connect } = await import('node:net');
  return new Promise((resolve, reject) => {
    const s = connect({ host: t.host, port: t.port });
    let acc = '';
    const done = (err: Error | null, v = ''): void => {
      clearTimeout(timer);
      s.destroy();
      if (err) reject(err);
      else resolve(v);
    };
    const timer = setTimeout(() => done(new McError(`no answer to "version" within ${timeoutMs} ms`, 'MCR_ERR_TARGET_NO_ANSWER')), timeoutMs);
    s.once('error', (e: NodeJS.ErrnoException) => done(new McError(e.code === 'ECONNREFUSED' ? 'connection refused' : e.message, 'MCR_ERR_TARGET_UNREACHABLE')));
    s.once('connect', () => {
      if (auth !== null) s.write(authRequest('text', auth).request);
      s.write('version\r\n');
    });
    s.on('data', (d: Buffer) => {
      acc += d.toString('latin1');
      for (;;) {
        const nl = acc.indexOf('\r\n');
        if (nl < 0) return;
        const line = acc.slice(0, nl);
        acc = acc.slice(nl + 2);
        if (line === 'STORED' && auth !== null) continue; // the authentication was accepted
        if (line.startsWith('VERSION ')) done(null, line.slice(8));
        else if (/unauthenticated|authentication/i.test(line)) {
          done(new McError(auth ? 'the target refused the credentials (ascii auth; check --sasl-user and MCREPLAY_SASL_PASSWORD)' : 'the target requires authentication: pass --sasl-user and set MCREPLAY_SASL_PASSWORD', 'MCR_ERR_TARGET_AUTH'));
        } else done(new McError(`unexpected answer to "version": ${JSON.stringify(line.slice(0, 80))}`, 'MCR_ERR_TARGET_NOT_MEMCACHED'));
        return;
      }
    });
    s.once('close', () => done(new McError('connection closed before answering "version"', 'MCR_ERR_TARGET_NO_ANSWER')));
  });
}

/**
 * What a binary SASL probe found: the target's version after PLAIN succeeded, the mechanisms of a
 * SASL target (probe without credentials), a target that answers binary but has no SASL, or one
 * that does not answer binary at all (text only, or silent).
 */
type BinaryProbe = { kind: 'version'; version: string } | { kind: 'sasl'; mechs: string[] } | { kind: 'no-sasl'; version: string } | { kind: 'not-binary' };

/**
 * Binary probe: SASL list mechanisms, then (with credentials) PLAIN and a binary `version`. The
 * password is only sent once the target has answered in binary and offered PLAIN.
 */
async function probeBinary(t: TargetAddr, timeoutMs: number, auth: AuthCred | null): Promise<BinaryProbe> {
  const { connect } = await import('node:net');
  return new Promise((resolve, reject) => {
    const s = connect({ host: t.host, port: t.port });
    let acc: Buffer = Buffer.alloc(0);
    let answered = false;
    let sasl = true;
    const done = (err: Error | null, v: BinaryProbe = { kind: 'not-binary' }): void => {
      clearTimeout(timer);
      s.removeAllListeners('close');
      s.destroy();
      if (err) reject(err);
      else resolve(v);
    };
    // a text-only target may just wait for a line end: no binary answer in time means "not binary"
    const timer = setTimeout(() => {
      if (answered) done(new McError(`no answer to the binary SASL exchange within ${timeoutMs} ms`, 'MCR_ERR_TARGET_AUTH'));
      else done(null);
    }, timeoutMs);
    s.once('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ECONNREFUSED') done(new McError('connection refused', 'MCR_ERR_TARGET_UNREACHABLE'));
      else if (!answered) done(null);
      else done(new McError(`${e.message} during the binary SASL exchange`, 'MCR_ERR_TARGET_AUTH'));
    });
    // the opaque (echoed by a binary server) holds a line end, so that a text-only server
    // (memcached -Y) answers at once with an error instead of waiting for one
    s.once('connect', () => s.write(binaryFrame(SASL_OP.listMechs, undefined, undefined, 0x0d0a0000)));
    s.on('data', (d: Buffer) => {
      acc = acc.length === 0 ? d : Buffer.concat([acc, d]);
      if (!answered && acc[0] !== 0x81) return done(null); // a text answer (ERROR, CLIENT_ERROR ...)
      for (;;) {
        const f = readBinaryResponse(acc);
        if (f === null) return;
        answered = true;
        acc = acc.subarray(f.end);
        const op = f.opcode;
        const status = f.status;
        const body = f.value;
        if (op === SASL_OP.listMechs) {
          if (status === SASL_STATUS.unknownCommand) {
            sasl = false;
            s.write(binaryFrame(OP_VERSION));
            continue;
          }
          if (status !== SASL_STATUS.ok) return done(new McError(`the target answered SASL list mechanisms with status 0x${status.toString(16)}`, 'MCR_ERR_TARGET_AUTH'));
          const mechs = body.toString('latin1').split(/\s+/).filter((m) => m !== '');
          if (auth === null) return done(null, { kind: 'sasl', mechs });
          if (!mechs.includes('PLAIN')) {
            return done(new McError(`the target offers the SASL mechanisms ${mechs.join(' ') || '(none)'}, mcreplay authenticates with PLAIN only: add PLAIN to the target's SASL mech_list`, 'MCR_ERR_TARGET_AUTH'));
          }
          s.write(authRequest('binary', auth).request);
        } else if (op === SASL_OP.auth) {
          if (status !== SASL_STATUS.ok) return done(new McError(saslRefusal(status), 'MCR_ERR_TARGET_AUTH'));
          s.write(binaryFrame(OP_VERSION));
        } else if (op === OP_VERSION) {
          if (status !== SASL_STATUS.ok) return done(new McError(`the target answered binary version with status 0x${status.toString(16)}`, 'MCR_ERR_TARGET_NOT_MEMCACHED'));
          const version = body.toString('latin1');
          return done(null, sasl ? { kind: 'version', version } : { kind: 'no-sasl', version });
        } else return done(new McError(`unexpected binary answer (opcode 0x${op.toString(16)}) during the SASL exchange`, 'MCR_ERR_TARGET_AUTH'));
      }
    });
    s.once('close', () => {
      if (!answered) done(null);
      else done(new McError('the target closed the connection during the binary SASL exchange', 'MCR_ERR_TARGET_AUTH'));
    });
  });
}

/**
 * The credentials the workers' connections use: with the mechanism the targets take when they agree
 * on one (a connection does not know its protocol before its first request), none when no target
 * needs authentication.
 */
export function workerAuth(auth: AuthCred | null, probed: ProbeResult[], warnings: string[]): AuthCred | null {
  if (auth === null) return null;
  const kinds = new Set(probed.map((p) => p.auth));
  if (kinds.size === 1 && kinds.has('none')) {
    warnings.push('the targets need no authentication: --sasl-user is not used');
    return null;
  }
  if (kinds.size === 1 && (kinds.has('sasl') || kinds.has('ascii'))) return { ...auth, mech: [...kinds][0] as AuthMech };
  // targets that differ: each connection authenticates by its own protocol
  return { user: auth.user, password: auth.password };
}

/** Addresses of a host name (the name itself when it is an address; none when it does not resolve). */
export async function resolveAll(host: string): Promise<string[]> {
  if (isIP(host)) return [host];
  try {
    return (await lookup(host, { all: true })).map((a) => a.address);
  } catch {
    return [];
  }
}
