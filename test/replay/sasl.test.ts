// Replay into a SASL target (memcached -S: binary protocol only, PLAIN from a sasldb): every
// replayed connection authenticates with the --sasl-user / MCREPLAY_SASL_PASSWORD credentials before
// anything else, the captured credentials are never sent, and the password is never printed. A
// recording proxy between mcreplay and memcached shows what went over the wire; the target's own
// state is read back over an authenticated binary connection of the test.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { saslPlainPlugin, saslpasswd2Binary, startMemcached, type Memcached, useMemcached } from '../helpers/memcached.js';
import { QUIET, accounted, errorSum, mcGet, replay, tempDir } from './helpers.js';

const FIXTURE = resolve(import.meta.dirname, '../../captures/fixtures/binary-quiet.pcap');
const TEXT_FIXTURE = resolve(import.meta.dirname, '../../captures/fixtures/basic.pcap');
const TRUTH = JSON.parse(readFileSync(FIXTURE.replace(/\.pcap$/, '.truth.json'), 'utf8')) as {
  requests: number;
  readKeys: { hits: number; misses: number };
  perCommand: Record<string, { requests: number; errors: number }>;
};
// what the fixture's SASL connection carries (fake credentials, see its truth notes)
const CAPTURED_PASSWORD = 's3cret-password';
const USER = 'replayer';
const PASSWORD = 'pw-9f3b1c-sasl';

const OP = { get: 0x00, version: 0x0b, stat: 0x10, listMechs: 0x20, auth: 0x21 } as const;

/** One binary frame as seen on the wire. */
interface Frame {
  magic: number;
  opcode: number;
  status: number;
  key: Buffer;
  value: Buffer;
}

/** Splits a byte stream into binary frames (a trailing partial frame is left out). */
function frames(buf: Buffer): Frame[] {
  const out: Frame[] = [];
  let o = 0;
  while (buf.length - o >= 24) {
    const keyLen = buf.readUInt16BE(o + 2);
    const extLen = buf[o + 4]!;
    const total = 24 + buf.readUInt32BE(o + 8);
    if (buf.length - o < total) break;
    out.push({
      magic: buf[o]!,
      opcode: buf[o + 1]!,
      status: buf.readUInt16BE(o + 6),
      key: buf.subarray(o + 24 + extLen, o + 24 + extLen + keyLen),
      value: buf.subarray(o + 24 + extLen + keyLen, o + total),
    });
    o += total;
  }
  return out;
}

function request(opcode: number, key = '', value: Buffer = Buffer.alloc(0)): Buffer {
  const k = Buffer.from(key, 'latin1');
  const h = Buffer.alloc(24);
  h[0] = 0x80;
  h[1] = opcode;
  h.writeUInt16BE(k.length, 2);
  h.writeUInt32BE(k.length + value.length, 8);
  return Buffer.concat([h, k, value]);
}

const plain = (user: string, password: string): Buffer => Buffer.from(`\0${user}\0${password}`, 'utf8');

/**
 * Sends `reqs` on one binary connection to `address` and collects the answers until `count`
 * frames came back (or the server closed the connection); bounded by a 3 s timeout.
 */
async function binaryExchange(address: string, reqs: Buffer[], count: (fs: Frame[]) => boolean): Promise<Frame[]> {
  const i = address.lastIndexOf(':');
  return new Promise((res, rej) => {
    const s = connect({ host: address.slice(0, i), port: Number(address.slice(i + 1)) });
    let acc: Buffer = Buffer.alloc(0);
    const timer = setTimeout(() => {
      s.destroy();
      rej(new Error(`binary exchange with ${address}: no complete answer within 3 s (${acc.length} bytes)`));
    }, 3000);
    const end = (): void => {
      clearTimeout(timer);
      s.destroy();
      res(frames(acc));
    };
    s.on('connect', () => s.write(Buffer.concat(reqs)));
    s.on('data', (d: Buffer) => {
      acc = Buffer.concat([acc, d]);
      if (count(frames(acc))) end();
    });
    s.on('close', end);
    s.on('error', () => undefined);
  });
}

/** `get key` on a connection authenticated with the test's own credentials; null on a miss. */
async function saslGet(address: string, key: string): Promise<Buffer | null> {
  const fs = await binaryExchange(address, [request(OP.auth, 'PLAIN', plain(USER, PASSWORD)), request(OP.get, key)], (f) => f.length >= 2);
  expect(fs[0]!.status, 'the test authenticates itself').toBe(0);
  const g = fs[1]!;
  if (g.status === 1) return null;
  expect(g.status).toBe(0);
  return g.value; // frames() skips the extras (the 4 bytes of flags)
}

/** The target's `stats`, read over an authenticated connection. */
async function saslStats(address: string): Promise<Record<string, number>> {
  // a stat answer ends with a frame with an empty key
  const fs = await binaryExchange(address, [request(OP.auth, 'PLAIN', plain(USER, PASSWORD)), request(OP.stat)], (f) => f.length >= 2 && f.at(-1)!.opcode === OP.stat && f.at(-1)!.key.length === 0);
  expect(fs[0]!.status).toBe(0);
  const out: Record<string, number> = {};
  for (const f of fs.slice(1)) if (f.key.length > 0 && /^\d+$/.test(f.value.toString())) out[f.key.toString()] = Number(f.value.toString());
  return out;
}

/** A loopback proxy in front of memcached that records what each client connection sent. */
interface RecordingProxy {
  address: string;
  /** Bytes sent towards the target, one entry per accepted connection, in accept order. */
  sent: Buffer[];
  stop(): Promise<void>;
}

/**
 * Starts a recording proxy to `upstream`. `rewrite` may change what a connection sends (it sees
 * the connection's bytes so far and the new chunk) to make the target refuse it.
 */
async function startRecordingProxy(upstream: Memcached, rewrite?: (soFar: Buffer, chunk: Buffer) => Buffer): Promise<RecordingProxy> {
  const sent: Buffer[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const idx = sent.push(Buffer.alloc(0)) - 1;
    const up = connect({ host: upstream.host, port: upstream.port });
    for (const s of [client, up]) {
      sockets.add(s);
      s.setNoDelay(true);
      s.on('error', () => undefined);
      s.on('close', () => sockets.delete(s));
    }
    client.on('data', (d: Buffer) => {
      const out = rewrite ? rewrite(sent[idx]!, d) : d;
      sent[idx] = Buffer.concat([sent[idx]!, d]);
      up.write(out);
    });
    up.on('data', (d: Buffer) => client.write(d));
    client.on('close', () => up.destroy());
    up.on('close', () => client.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    address: `127.0.0.1:${port}`,
    sent,
    stop: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** Every file under `dir`, as text, for "the password is not in there" checks. */
function allFilesText(dir: string): string {
  let out = '';
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    out += statSync(p).isDirectory() ? allFilesText(p) : readFileSync(p).toString('latin1');
  }
  return out;
}

const hasSasl = saslpasswd2Binary() !== null && saslPlainPlugin();
if (!hasSasl) console.warn('test/replay/sasl: saslpasswd2 (sasl2-bin) or the PLAIN plugin (libsasl2-modules) is not installed: the SASL tests are skipped (bash scripts/ensure-tools.sh)');

describe.skipIf(!hasSasl)('replay into a SASL target (memcached -S, binary SASL PLAIN)', () => {
  const tmp = tempDir();
  const mc = useMemcached({ sasl: { user: USER, password: PASSWORD } });
  afterAll(() => tmp.cleanup());

  it('without credentials: exit 3 before anything is sent, saying the target wants SASL', async () => {
    const run = await replay([FIXTURE, '--target', mc.address, ...QUIET], join(tmp.dir, 'none'));
    expect(run.code).toBe(3);
    expect(run.stderr).toMatch(/requires SASL authentication/);
    expect(run.stderr).toMatch(/--sasl-user/);
    expect(existsSync(join(tmp.dir, 'none'))).toBe(false);
  });

  it('with a wrong password: exit 3 before anything is replayed, credentials refused, password not printed', async () => {
    const wrong = 'wrong-pw-77d1';
    const proxy = await startRecordingProxy(mc);
    try {
      const before = await saslStats(mc.address);
      const run = await replay([FIXTURE, '--target', proxy.address, '--sasl-user', USER, ...QUIET], join(tmp.dir, 'wrong'), { MCREPLAY_SASL_PASSWORD: wrong });
      expect(run.code).toBe(3);
      expect(run.stderr).toMatch(/target authentication failed, nothing was sent/);
      expect(run.stderr).toMatch(/refused the credentials \(binary SASL PLAIN/);
      expect(run.stdout + run.stderr).not.toContain(wrong);
      expect(existsSync(join(tmp.dir, 'wrong'))).toBe(false);
      // on the wire: the probe's SASL exchange only (list mechanisms, then PLAIN); nothing replayed
      const ops = proxy.sent.flatMap((b) => frames(b).map((f) => f.opcode));
      expect(ops).toEqual([OP.listMechs, OP.auth]);
      expect(proxy.sent.join('')).not.toContain(CAPTURED_PASSWORD);
      const after = await saslStats(mc.address);
      expect(after.auth_errors! - before.auth_errors!).toBe(1);
      expect(after.cmd_set).toBe(before.cmd_set);
      expect(after.cmd_get).toBe(before.cmd_get);
    } finally {
      await proxy.stop();
    }
  });

  it('with the right credentials: every connection authenticates first, the whole capture is replayed, the data is there', async () => {
    const proxy = await startRecordingProxy(mc);
    try {
      const before = await saslStats(mc.address);
      const out = join(tmp.dir, 'ok');
      const run = await replay([FIXTURE, '--target', proxy.address, '--sasl-user', USER, ...QUIET], out, { MCREPLAY_SASL_PASSWORD: PASSWORD });
      expect(run.code, run.stderr).toBe(0);
      const r = run.results!;
      const t = r.summary.total.counters;
      // the captured SASL requests (list mechanisms and the captured PLAIN) are held back, the rest sent
      expect(t.heldBack).toEqual({ credentials: 2 });
      expect(accounted(t)).toBe(TRUTH.requests);
      const sent = Object.fromEntries(Object.entries(r.summary.perCommand).filter(([, v]) => v.counters.sent > 0).map(([k, v]) => [k, v.counters.sent]));
      const expected = Object.fromEntries(Object.entries(TRUTH.perCommand).filter(([k]) => !k.startsWith('sasl_')).map(([k, v]) => [k, v.requests]));
      expect(sent).toEqual(expected);
      // the only errors are the two the capture holds (incr on a non-numeric value): no
      // authentication failure, reset or desync
      expect(t.errors).toEqual({ timeout: 0, reset: 0, refused: 0, server_error: 0, client_error: 2, error: 0, desync: 0 });
      const errs = Object.fromEntries(Object.entries(r.summary.perCommand).filter(([, v]) => v.counters.errors.client_error > 0).map(([k, v]) => [k, v.counters.errors.client_error]));
      const capturedErrs = Object.fromEntries(Object.entries(TRUTH.perCommand).filter(([k, v]) => v.errors > 0 && !k.startsWith('sasl_')).map(([k, v]) => [k, v.errors]));
      expect(errs).toEqual(capturedErrs);
      expect({ hits: t.hits, misses: t.misses }).toEqual(TRUTH.readKeys);

      // on the wire: the probe (list mechanisms first) and then every connection of the workers
      // (warm-up and replayed ones) begin with SASL PLAIN for the given user and password, binary
      // from the first byte; nothing else carries the password
      expect(proxy.sent.map((b) => frames(b)[0]?.opcode)).toEqual([OP.listMechs, ...proxy.sent.slice(1).map(() => OP.auth)]);
      for (const b of proxy.sent) {
        expect(b[0]).toBe(0x80);
        const auths = frames(b).filter((f) => f.opcode === OP.auth);
        expect(auths).toHaveLength(1); // the captured one is not replayed
        expect(auths[0]!.key.toString()).toBe('PLAIN');
        expect(auths[0]!.value.equals(plain(USER, PASSWORD))).toBe(true);
      }
      const handshake = new Set<number>([OP.listMechs, OP.auth, OP.version]);
      expect(proxy.sent.filter((b) => frames(b).some((f) => !handshake.has(f.opcode))).length).toBeGreaterThanOrEqual(2); // the fixture's two connections
      const wire = Buffer.concat(proxy.sent);
      expect(wire.includes(CAPTURED_PASSWORD)).toBe(false);
      const authFrames = proxy.sent.flatMap((b) => frames(b)).filter((f) => f.opcode === OP.auth).length;
      let n = 0;
      for (let at = wire.indexOf(PASSWORD); at >= 0; at = wire.indexOf(PASSWORD, at + 1)) n++;
      expect(n).toBe(authFrames);

      // the target: no failed authentication (the captured credentials would fail), one per connection
      const after = await saslStats(mc.address);
      expect(after.auth_errors! - before.auth_errors!).toBe(0);
      expect(after.auth_cmds! - before.auth_cmds!).toBe(authFrames + 1); // + the stats read just now
      expect(after.cmd_set! - before.cmd_set!).toBeGreaterThan(0);
      // the data the capture left behind, read back through an authenticated connection
      expect((await saslGet(mc.address, 'big'))?.length).toBe(51200);
      expect(await saslGet(mc.address, 'q:2')).not.toBeNull();
      expect(await saslGet(mc.address, 'q:0')).toBeNull(); // deleted by the capture
      expect(await saslGet(mc.address, 'q:1')).toBeNull(); // deleteq
      expect((await saslGet(mc.address, 'ctr'))?.toString()).toMatch(/^\d+$/);

      // the password is printed nowhere: not on stdout/stderr, not in any file of the run
      for (const pw of [PASSWORD, CAPTURED_PASSWORD]) {
        expect(run.stdout + run.stderr).not.toContain(pw);
        expect(allFilesText(out)).not.toContain(pw);
      }
    } finally {
      await proxy.stop();
    }
  });

  it('a text capture into a SASL target: the requests fail and a warning says why', async () => {
    const run = await replay([TEXT_FIXTURE, '--target', mc.address, '--sasl-user', USER, '--timeout', '500ms', ...QUIET], join(tmp.dir, 'text'), { MCREPLAY_SASL_PASSWORD: PASSWORD });
    // the failed requests fail the default checks
    expect(run.code, run.stderr).toBe(99);
    const r = run.results!;
    const t = r.summary.total.counters;
    expect(t.completed + errorSum(t)).toBe(t.sent);
    // only requests answered by silence (quit, noreply) complete: the server drops the connection
    expect(errorSum(t), JSON.stringify(Object.fromEntries(Object.entries(r.summary.perCommand).map(([k, v]) => [k, v.counters.completed])))).toBeGreaterThan(t.sent / 2);
    const warnings = r.config.options.warnings as string[];
    const w = warnings.find((x) => /text\/meta request\(s\) went to targets that take binary SASL/.test(x));
    expect(w, JSON.stringify(warnings)).toBeDefined();
    expect(Number(w!.split(' ')[0])).toBe(t.sent);
    // and before any load, from what the look-ahead read (here the whole capture)
    expect(run.stderr).toMatch(new RegExp(`mcreplay: warning: ${t.sent} of the first \\d+ requests are text/meta for targets that take binary SASL`));
    expect(run.stdout + run.stderr).not.toContain(PASSWORD);
  });

  it('credentials refused on the replayed connections (after the probe passed): each one fails as client_error, the run ends', async () => {
    // the proxy lets the probe (which starts with list mechanisms) through and spoils the password
    // of every connection that starts with PLAIN: the real target refuses those
    const spoil = (soFar: Buffer, chunk: Buffer): Buffer => {
      const startsWithAuth = (soFar.length > 0 ? soFar[1] : chunk[1]) === OP.auth;
      if (!startsWithAuth) return chunk;
      const at = chunk.indexOf(PASSWORD);
      if (at < 0) return chunk;
      const c = Buffer.from(chunk);
      c.write('X', at, 'latin1');
      return c;
    };
    const proxy = await startRecordingProxy(mc, spoil);
    try {
      const before = await saslStats(mc.address);
      const run = await replay([FIXTURE, '--target', proxy.address, '--sasl-user', USER, ...QUIET], join(tmp.dir, 'spoiled'), { MCREPLAY_SASL_PASSWORD: PASSWORD });
      expect(run.code, run.stderr).toBe(0); // CLIENT_ERROR answers are not in the default checks: reported, not judged
      const t = run.results!.summary.total.counters;
      // every request of the workload is accounted for and failed as client_error: none is written
      // to a connection whose authentication was refused
      expect(t.heldBack).toEqual({ credentials: 2 });
      expect(t.sent).toBe(TRUTH.requests - 2);
      expect(t.completed).toBe(0);
      expect(t.errors).toEqual({ timeout: 0, reset: 0, refused: 0, server_error: 0, client_error: t.sent, error: 0, desync: 0 });
      expect(t.hits + t.misses).toBe(0);
      expect(t.bytesOut).toBe(0);
      const handshake = new Set<number>([OP.listMechs, OP.auth, OP.version]);
      expect(proxy.sent.flatMap((b) => frames(b)).filter((f) => !handshake.has(f.opcode))).toEqual([]);
      expect(run.stdout + run.stderr).not.toContain(PASSWORD);
      // not a silent exit 0: the results say why every request failed
      const warnings = run.results!.config.options.warnings as string[];
      expect(warnings.some((w) => /refused authentication on \d+ connection attempt/.test(w)), JSON.stringify(warnings)).toBe(true);
      const after = await saslStats(mc.address);
      expect(after.auth_errors! - before.auth_errors!).toBe(proxy.sent.length - 1); // all but the probe
      expect(after.auth_errors! - before.auth_errors!).toBeGreaterThanOrEqual(2); // the two captured connections at least
      expect(after.cmd_set).toBe(before.cmd_set);
      // a refused connection is dialled again only for requests still to come: no endless retrying
      expect(proxy.sent.length).toBeLessThan(TRUTH.requests);
    } finally {
      await proxy.stop();
    }
  });
});

// The probe finds out how a target takes the credentials; the workers' connections then use that
// one mechanism (memcached -S speaks only binary, -Y only text), whatever their protocol.
describe('--sasl-user against targets without SASL', () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());
  const TEXT_REQUESTS = (JSON.parse(readFileSync(TEXT_FIXTURE.replace(/\.pcap$/, '.truth.json'), 'utf8')) as { requests: number }).requests;

  it('ascii auth (memcached -Y): the password goes only into ascii auth, after the target showed it speaks text', async () => {
    const mc = await startMemcached({ asciiAuth: { user: USER, password: PASSWORD } });
    const proxy = await startRecordingProxy(mc);
    try {
      const run = await replay([TEXT_FIXTURE, '--target', proxy.address, '--sasl-user', USER, ...QUIET], join(tmp.dir, 'ascii'), { MCREPLAY_SASL_PASSWORD: PASSWORD });
      expect(run.code, run.stderr).toBe(0);
      const t = run.results!.summary.total.counters;
      expect(t.sent).toBe(TEXT_REQUESTS);
      expect(errorSum(t)).toBe(0);
      // the binary SASL probe (no credentials in it), then the text probe and the workers'
      // connections, each opening with ascii auth
      expect(proxy.sent[0]![0]).toBe(0x80);
      expect(proxy.sent[0]!.includes(PASSWORD)).toBe(false);
      const auth = `set mcreplay_auth 0 0 ${USER.length + 1 + PASSWORD.length}\r\n${USER} ${PASSWORD}\r\n`;
      expect(proxy.sent.length).toBeGreaterThanOrEqual(4); // probes + the fixture's two connections
      for (const b of proxy.sent.slice(1)) expect(b.toString('latin1').startsWith(auth)).toBe(true);
      expect(run.stdout + run.stderr).not.toContain(PASSWORD);
    } finally {
      await proxy.stop();
      await mc.stop();
    }
  });

  it('no authentication at all: the password is not sent anywhere (not stored by an ascii auth set), a warning says so', async () => {
    const mc = await startMemcached();
    const proxy = await startRecordingProxy(mc);
    try {
      const run = await replay([FIXTURE, '--target', proxy.address, '--sasl-user', USER, ...QUIET], join(tmp.dir, 'plain'), { MCREPLAY_SASL_PASSWORD: PASSWORD });
      expect(run.code, run.stderr).toBe(0);
      const r = run.results!;
      expect(r.summary.total.counters.errors.reset + r.summary.total.counters.errors.desync).toBe(0);
      expect(r.summary.total.counters.sent).toBe(TRUTH.requests - 2);
      expect(r.config.options.warnings).toContain('the targets need no authentication: --sasl-user is not used');
      expect(Buffer.concat(proxy.sent).includes(PASSWORD)).toBe(false);
      expect(await mcGet(mc.address, 'mcreplay_auth')).toBeNull();
    } finally {
      await proxy.stop();
      await mc.stop();
    }
  });
});
