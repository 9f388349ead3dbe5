// Records loopback traffic with a real tcpdump for tests: starts it, waits until it listens, and
// stops it once the file has stopped growing (SIGINT right after traffic can lose the last block).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';

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
      // each packet is written as it comes: wait until the file size holds still (bounded)
      let size = -1;
      for (let i = 0; i < 40; i++) {
        const now = existsSync(file) ? statSync(file).size : 0;
        if (now === size) break;
        size = now;
        await new Promise((r) => setTimeout(r, 250));
      }
      return t.stop();
    },
  };
}
