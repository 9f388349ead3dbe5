// Recording real traffic in tests: tcpdump on the loopback (started, waited on until it listens,
// stopped once its file has settled), and a client connection that writes commands and keeps what
// it sent and read (the independent truth a capture is checked against).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { connect } from 'node:net';

export interface Talk {
  localPort: number;
  sent: Buffer;
  received: Buffer;
}

/** One client connection: writes the commands (some pipelined), reads until `done` matches, closes. */
export async function talk(port: number, writes: Buffer[], done: RegExp): Promise<Talk> {
  const s = connect({ host: '127.0.0.1', port });
  await new Promise<void>((res, rej) => s.once('connect', res).once('error', rej));
  const got: Buffer[] = [];
  let tail = '';
  const finished = new Promise<void>((res) =>
    s.on('data', (d: Buffer) => {
      got.push(d);
      tail = (tail + d.toString('latin1')).slice(-200);
      if (done.test(tail)) res();
    }),
  );
  for (const w of writes) {
    s.write(w);
    await new Promise((r) => setTimeout(r, 2));
  }
  await finished;
  const localPort = s.localPort!;
  await new Promise<void>((res) => {
    s.once('close', () => res());
    s.end();
  });
  return { localPort, sent: Buffer.concat(writes), received: Buffer.concat(got) };
}

/** Whether tcpdump is installed. */
export const haveTcpdump = existsSync('/usr/bin/tcpdump') || existsSync('/usr/sbin/tcpdump');

export interface Recording {
  /** Stops tcpdump (after the file is quiet) and returns what it printed on stderr. */
  stop(): Promise<string>;
}

/** Starts tcpdump with `args`; resolves once it listens. stop() ends it with SIGINT and waits for its exit. */
export async function startTcpdump(args: string[]): Promise<{ stop(): Promise<string> }> {
  const p: ChildProcess = spawn('tcpdump', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`tcpdump did not start: ${err}`)), 15_000);
    p.stderr!.on('data', (d) => {
      err += d;
      if (err.includes('listening on')) {
        clearTimeout(timer);
        resolve();
      }
    });
    p.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`tcpdump exited ${code}: ${err}`));
    });
  });
  return {
    stop: () =>
      new Promise<string>((resolve) => {
        p.removeAllListeners('exit');
        p.once('exit', () => resolve(err));
        p.kill('SIGINT');
      }),
  };
}

/**
 * Starts `tcpdump -i lo -s 0 -U --immediate-mode -w <file> <filter>`; resolves once it is listening.
 * Immediate mode hands each packet over at once (without it libpcap delivers blocks up to a second
 * late); it drops packets of 500 KB values (DESIGN.md field notes), so keep recorded values small.
 */
export async function record(file: string, filter: string): Promise<Recording> {
  const t = await startTcpdump(['-i', 'lo', '-s', '0', '-U', '--immediate-mode', '-B', '16384', '-w', file, filter]);
  return {
    async stop() {
      // each packet is written as it comes, but a starved tcpdump can hold the last ones for a
      // while, and its SIGINT exit drops what it has not written yet (with a 250 ms check a loaded
      // CI run recorded 185 of a client's 211 requests): wait until the file holds still for 1.5 s
      await untilFileSettles(file);
      return t.stop();
    },
  };
}

/**
 * libpcap hands packets over when a ring block retires (tcpdump: after 1 s); with -U tcpdump
 * writes each one at once. Resolves once the file has not grown for 1.5 s (at most 15 s).
 */
export async function untilFileSettles(file: string): Promise<void> {
  let size = -1;
  let stableSince = Date.now();
  for (const deadline = Date.now() + 15_000; Date.now() < deadline; ) {
    await new Promise((r) => setTimeout(r, 100));
    const now = existsSync(file) ? statSync(file).size : 0;
    if (now !== size) {
      size = now;
      stableSince = Date.now();
    } else if (Date.now() - stableSince >= 1500) break;
  }
}
