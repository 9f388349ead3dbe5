// Starts real memcached processes on free loopback ports for tests, and stops them afterwards.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createServer, connect } from 'node:net';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';

export interface Memcached {
  host: string;
  port: number;
  /** "127.0.0.1:port" */
  address: string;
  proc: ChildProcess;
  stop(): Promise<void>;
}

export interface MemcachedOptions {
  threads?: number;
  memoryMb?: number;
  /** Also listen on UDP at the same port. */
  udp?: boolean;
  extraArgs?: string[];
  host?: string;
  /**
   * Start with binary SASL (`-S`) and this one user, mechanism PLAIN, from a sasldb of its own
   * (needs sasl2-bin's saslpasswd2). Such a server speaks only the binary protocol.
   */
  sasl?: { user: string; password: string };
  /** Start with ascii authentication (`-Y`) for this one user. Such a server speaks only text. */
  asciiAuth?: { user: string; password: string };
}

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of running) p.kill('SIGKILL');
});

/** Path of the memcached binary, or throws with the install command. */
export function memcachedBinary(): string {
  for (const p of ['/usr/bin/memcached', '/usr/local/bin/memcached']) if (existsSync(p)) return p;
  throw new Error('memcached is not installed: run `apt-get install -y memcached` (or `bash scripts/ensure-tools.sh`)');
}

const SASLPASSWD2 = ['/usr/sbin/saslpasswd2', '/usr/bin/saslpasswd2'];

/** Path of sasl2-bin's saslpasswd2, or null when it is not installed. */
export function saslpasswd2Binary(): string | null {
  return SASLPASSWD2.find((p) => existsSync(p)) ?? null;
}

/** Whether Cyrus SASL's PLAIN plugin (libsasl2-modules) is installed: without it memcached -S offers no PLAIN. */
export function saslPlainPlugin(): boolean {
  const dirs = ['/usr/lib/sasl2', ...readdirSync('/usr/lib').filter((d) => d.endsWith('-linux-gnu')).map((d) => `/usr/lib/${d}/sasl2`)];
  return dirs.some((d) => existsSync(join(d, 'libplain.so.2')) || existsSync(join(d, 'libplain.so')));
}

/**
 * A SASL configuration directory for memcached (given to it in SASL_CONF_PATH): memcached.conf
 * allowing PLAIN only, against a sasldb holding one user.
 */
function saslConfig(user: string, password: string): string {
  const bin = saslpasswd2Binary();
  if (bin === null) throw new Error('saslpasswd2 is not installed: run `apt-get install -y sasl2-bin` (or `bash scripts/ensure-tools.sh`)');
  const dir = mkdtempSync(join(tmpdir(), 'mcr-sasl-'));
  const db = join(dir, 'sasldb2');
  // -a memcached: the application name memcached's SASL server is created with
  execFileSync(bin, ['-p', '-c', '-f', db, '-a', 'memcached', user], { input: password, stdio: ['pipe', 'ignore', 'pipe'], timeout: 10_000 });
  writeFileSync(join(dir, 'memcached.conf'), `mech_list: plain\nsasldb_path: ${db}\n`);
  return dir;
}

/** A TCP port that is free on the loopback right now. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Sends `request` once connected; true when the first answer passes `ok` within 500 ms. */
function answers(host: string, port: number, request: Buffer, ok: (d: Buffer) => boolean): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    const done = (yes: boolean) => {
      s.destroy();
      resolve(yes);
    };
    s.setTimeout(500, () => done(false));
    s.once('error', () => done(false));
    s.once('connect', () => s.write(request));
    s.once('data', (d: Buffer) => done(ok(d)));
  });
}

/** Text `version`; a server with ascii auth (-Y) answers it with an authentication error. */
function answersVersion(host: string, port: number): Promise<boolean> {
  return answers(host, port, Buffer.from('version\r\n', 'latin1'), (d) => /^(VERSION|CLIENT_ERROR unauthenticated)/.test(d.toString('latin1')));
}

/** Binary `version`: what a SASL server (binary only) answers before authentication. */
function answersBinaryVersion(host: string, port: number): Promise<boolean> {
  const h = Buffer.alloc(24);
  h[0] = 0x80;
  h[1] = 0x0b;
  return answers(host, port, h, (d) => d.length >= 24 && d[0] === 0x81 && d[1] === 0x0b && d.readUInt16BE(6) === 0);
}

/** Starts memcached on a free loopback port and resolves once it answers `version` (binary with SASL; an authentication error with ascii auth). */
export async function startMemcached(opts: MemcachedOptions = {}): Promise<Memcached> {
  const host = opts.host ?? '127.0.0.1';
  const saslDir = opts.sasl ? saslConfig(opts.sasl.user, opts.sasl.password) : null;
  const authDir = opts.asciiAuth ? mkdtempSync(join(tmpdir(), 'mcr-auth-')) : null;
  if (authDir !== null) writeFileSync(join(authDir, 'auth'), `${opts.asciiAuth!.user}:${opts.asciiAuth!.password}\n`);
  const removeDirs = (): void => {
    for (const d of [saslDir, authDir]) if (d !== null) rmSync(d, { recursive: true, force: true });
  };
  const ready = saslDir !== null ? answersBinaryVersion : answersVersion;
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort(host);
    const args = ['-l', host, '-p', String(port), '-U', opts.udp ? String(port) : '0', '-m', String(opts.memoryMb ?? 64), '-t', String(opts.threads ?? 1), '-c', '4096', ...(opts.extraArgs ?? [])];
    if (saslDir !== null) args.push('-S');
    if (authDir !== null) args.push('-Y', join(authDir, 'auth'));
    if (process.getuid?.() === 0) args.push('-u', 'root');
    const env = saslDir !== null ? { ...process.env, SASL_CONF_PATH: saslDir } : process.env;
    const proc = spawn(memcachedBinary(), args, { stdio: ['ignore', 'ignore', 'pipe'], env });
    running.add(proc);
    let exited = false;
    proc.once('exit', () => {
      exited = true;
      running.delete(proc);
    });
    const deadline = Date.now() + 5000;
    while (!exited && Date.now() < deadline) {
      if (await ready(host, port)) {
        const stop = async (): Promise<void> => {
          if (!exited) {
            await new Promise<void>((resolve) => {
              proc.once('exit', () => resolve());
              proc.kill('SIGCONT'); // a test may have stopped it with SIGSTOP
              proc.kill('SIGTERM');
              setTimeout(() => proc.kill('SIGKILL'), 2000).unref();
            });
          }
          removeDirs();
        };
        return { host, port, address: `${host.includes(':') ? `[${host}]` : host}:${port}`, proc, stop };
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    proc.kill('SIGKILL');
  }
  removeDirs();
  throw new Error('memcached did not start on a free loopback port after 5 attempts');
}

/** The one memcached of a test file or suite, started and stopped by vitest hooks (beforeEach/afterEach with `each`) that each file would otherwise write again; its fields read the running server. */
export function useMemcached(opts: MemcachedOptions & { each?: boolean } = {}): Memcached {
  const { each = false, ...startOpts } = opts;
  let server: Memcached | undefined;
  const current = (): Memcached => {
    if (server === undefined) throw new Error(`useMemcached: memcached read before its ${each ? 'beforeEach' : 'beforeAll'} hook started it`);
    return server;
  };
  (each ? beforeEach : beforeAll)(async () => {
    server = await startMemcached(startOpts);
  });
  // a start that failed leaves nothing to stop, and its own error is the one to read
  (each ? afterEach : afterAll)(async () => {
    await server?.stop();
  });
  return {
    get host() {
      return current().host;
    },
    get port() {
      return current().port;
    },
    get address() {
      return current().address;
    },
    get proc() {
      return current().proc;
    },
    stop: () => current().stop(),
  };
}
