// Records loopback traffic with tcpdump for tests that need a capture made by a real client.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';

/** Whether tcpdump is installed. */
export const haveTcpdump = existsSync('/usr/bin/tcpdump') || existsSync('/usr/sbin/tcpdump');

/** A running tcpdump writing `file`; stop() waits until the file stops growing, then ends it. */
export interface Tcpdump {
  stop(): Promise<string>;
}

/** Starts tcpdump on the loopback for `port` into `file`, and resolves once it listens. */
export async function startTcpdump(file: string, port: number): Promise<Tcpdump> {
  const p: ChildProcess = spawn('tcpdump', ['-i', 'lo', '-s', '0', '-B', '131072', '-U', '-w', file, 'port', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`tcpdump did not start: ${err}`)), 10_000);
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
    async stop() {
      // libpcap hands packets over when a ring block retires: stop once the file has not grown for 1.5 s
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
      return new Promise<string>((resolve) => {
        p.removeAllListeners('exit');
        p.once('exit', () => resolve(err));
        p.kill('SIGINT');
      });
    },
  };
}
