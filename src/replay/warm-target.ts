// A throwaway in-process target for warming a worker's hot path before t0: it answers every text
// `version` request with a VERSION line and nothing else. V8 compiles the send, read, match and
// record path only once it has run often enough; running it a few thousand times against this
// loopback echo, instead of the real target, keeps the target's traffic to one `version` per
// connection (recordings of the replay and the target's own counters see nothing more).
import { createServer, type Server } from 'node:net';
import type { TargetAddr } from './messages.js';

const REQUEST = 'version\r\n'.length;
const ANSWER = Buffer.from('VERSION warm-up\r\n', 'latin1');

/** A running echo: its address and how to stop it. */
export interface WarmTarget {
  target: TargetAddr;
  close(): Promise<void>;
}

/** Starts the echo on a free loopback port. */
export async function startWarmTarget(): Promise<WarmTarget> {
  const server: Server = createServer((s) => {
    s.setNoDelay(true);
    let pending = 0; // bytes of a request split across reads
    s.on('data', (b: Buffer) => {
      pending += b.length;
      const n = Math.floor(pending / REQUEST);
      pending -= n * REQUEST;
      if (n > 0) s.write(n === 1 ? ANSWER : Buffer.concat(Array<Buffer>(n).fill(ANSWER)));
    });
    s.on('error', () => s.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const a = server.address();
  const port = typeof a === 'object' && a !== null ? a.port : 0;
  return {
    target: { host: '127.0.0.1', port, name: `127.0.0.1:${port} (warm-up)` },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
      }),
  };
}
