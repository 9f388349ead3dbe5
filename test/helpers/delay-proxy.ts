// A loopback TCP proxy that delays every chunk coming back from the upstream by a fixed number of
// milliseconds (order kept), to make a real server look slower without mocking it. Requests go
// through undelayed. Used to check that a baseline comparison flags a slowed target.
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface DelayProxy {
  host: string;
  port: number;
  /** "127.0.0.1:port" */
  address: string;
  /** Chunks delayed so far. */
  delayedChunks(): number;
  /** Most client connections open at the same time so far. */
  peakClients(): number;
  /** Every client connection so far, in accept order: what arrived from it, and when. */
  clientLog(): ClientLog[];
  stop(): Promise<void>;
}

/** One client connection as the proxy saw it (times are performance.now() ms). */
export interface ClientLog {
  acceptedAt: number;
  /** When its first bytes arrived (null: none yet). */
  firstDataAt: number | null;
  /** Reads of its bytes: requests written together arrive in one read, each separate write in its own. */
  chunks: number;
  bytes: number;
  /** The first bytes it sent (up to 64, latin1), to tell the replayed connections apart. */
  head: string;
}

/** Starts a proxy on a free loopback port in front of `upstream` ("host:port"), adding `delayMs` to each response chunk. */
export async function startDelayProxy(upstream: string, delayMs: number, host = '127.0.0.1'): Promise<DelayProxy> {
  const i = upstream.lastIndexOf(':');
  const upHost = upstream.slice(0, i).replace(/^\[|\]$/g, '');
  const upPort = Number(upstream.slice(i + 1));
  const sockets = new Set<Socket>();
  let chunks = 0;
  let clients = 0;
  let peak = 0;
  const log: ClientLog[] = [];

  const server: Server = createServer((client) => {
    sockets.add(client);
    peak = Math.max(peak, ++clients);
    const entry: ClientLog = { acceptedAt: performance.now(), firstDataAt: null, chunks: 0, bytes: 0, head: '' };
    log.push(entry);
    client.on('data', (b: Buffer) => {
      if (entry.firstDataAt === null) {
        entry.firstDataAt = performance.now();
        entry.head = b.subarray(0, 64).toString('latin1');
      }
      entry.chunks++;
      entry.bytes += b.length;
    });
    client.setNoDelay(true);
    const up = connect({ host: upHost, port: upPort });
    sockets.add(up);
    up.setNoDelay(true);
    // each chunk leaves no earlier than delayMs after it arrived and never before the previous one
    let lastDue = 0;
    let closed = false;
    up.on('data', (chunk: Buffer) => {
      chunks++;
      const due = Math.max(performance.now() + delayMs, lastDue);
      lastDue = due;
      setTimeout(() => {
        if (!closed && !client.destroyed) client.write(chunk);
      }, Math.max(0, due - performance.now()));
    });
    client.pipe(up);
    const end = (): void => {
      // let delayed chunks drain before closing the client side
      setTimeout(() => {
        closed = true;
        client.destroy();
        up.destroy();
      }, Math.max(0, lastDue - performance.now()) + 1);
    };
    up.on('end', end);
    up.on('error', end);
    client.on('error', () => up.destroy());
    client.on('close', () => {
      clients--;
      sockets.delete(client);
      up.destroy();
    });
    up.on('close', () => sockets.delete(up));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    host,
    port,
    address: `${host}:${port}`,
    delayedChunks: () => chunks,
    peakClients: () => peak,
    clientLog: () => log,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
