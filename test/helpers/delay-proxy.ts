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
  stop(): Promise<void>;
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

  const server: Server = createServer((client) => {
    sockets.add(client);
    peak = Math.max(peak, ++clients);
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
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
