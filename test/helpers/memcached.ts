// Starts real memcached processes on free loopback ports for tests, and stops them afterwards.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, connect } from 'node:net';
import { existsSync } from 'node:fs';

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

async function answersVersion(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(500, () => done(false));
    s.once('error', () => done(false));
    s.once('connect', () => s.write('version\r\n'));
    s.once('data', (d) => done(d.toString('latin1').startsWith('VERSION')));
  });
}

/** Starts memcached on a free loopback port and resolves once it answers `version`. */
export async function startMemcached(opts: MemcachedOptions = {}): Promise<Memcached> {
  const host = opts.host ?? '127.0.0.1';
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort(host);
    const args = ['-l', host, '-p', String(port), '-U', opts.udp ? String(port) : '0', '-m', String(opts.memoryMb ?? 64), '-t', String(opts.threads ?? 1), '-c', '4096', ...(opts.extraArgs ?? [])];
    if (process.getuid?.() === 0) args.push('-u', 'root');
    const proc = spawn(memcachedBinary(), args, { stdio: ['ignore', 'ignore', 'pipe'] });
    running.add(proc);
    let exited = false;
    proc.once('exit', () => {
      exited = true;
      running.delete(proc);
    });
    const deadline = Date.now() + 5000;
    while (!exited && Date.now() < deadline) {
      if (await answersVersion(host, port)) {
        const stop = async (): Promise<void> => {
          if (exited) return;
          await new Promise<void>((resolve) => {
            proc.once('exit', () => resolve());
            proc.kill('SIGCONT'); // a test may have stopped it with SIGSTOP
            proc.kill('SIGTERM');
            setTimeout(() => proc.kill('SIGKILL'), 2000).unref();
          });
        };
        return { host, port, address: `${host.includes(':') ? `[${host}]` : host}:${port}`, proc, stop };
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    proc.kill('SIGKILL');
  }
  throw new Error('memcached did not start on a free loopback port after 5 attempts');
}
