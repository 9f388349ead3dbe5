// A loopback TCP proxy in front of a real memcached that starts misbehaving once its clients have
// sent it a given number of bytes: it blackholes, answers garbage, resets, half-closes, trickles
// answers byte by byte, stops reading, or closes every connection. Until then it is a plain relay,
// so the replay is healthy first and the fault hits it mid-run, at a point fixed by the workload
// (bytes), not by a wall-clock sleep. Used by the fault-injection suite (test/replay/faults-matrix).
import { createServer, connect, type Server, type Socket } from 'node:net';

export const FAULTS = ['blackhole', 'garbage', 'reset', 'halfclose', 'slow', 'noread', 'close'] as const;
export type Fault = (typeof FAULTS)[number];

export interface FaultProxy {
  /** "127.0.0.1:port" */
  address: string;
  /** The fault is on (the trigger byte count was reached). */
  triggered(): boolean;
  /** Date.now() when the fault started, or null. */
  triggeredAt(): number | null;
  /** Client connections accepted so far. */
  accepted(): number;
  /** Bytes received from clients so far. */
  bytesIn(): number;
  stop(): Promise<void>;
}

export interface FaultOptions {
  /** Bytes from clients (all connections together) after which the fault starts; 0 = from the start. */
  afterBytes: number;
  /** `slow`: ms between two answer bytes. */
  slowMs?: number;
  /** `garbage`: seed of the garbage bytes. */
  seed?: number;
}

/** Starts the proxy on a free loopback port in front of `upstream` ("host:port"). */
export async function startFaultProxy(upstream: string, fault: Fault, opts: FaultOptions): Promise<FaultProxy> {
  const i = upstream.lastIndexOf(':');
  const upHost = upstream.slice(0, i);
  const upPort = Number(upstream.slice(i + 1));
  const slowMs = opts.slowMs ?? 2;
  let rnd = (opts.seed ?? 12345) >>> 0;
  const next = (): number => {
    // xorshift32: reproducible garbage
    rnd ^= rnd << 13;
    rnd >>>= 0;
    rnd ^= rnd >>> 17;
    rnd ^= rnd << 5;
    rnd >>>= 0;
    return rnd;
  };
  let inBytes = 0;
  let on = opts.afterBytes <= 0;
  let onAt: number | null = on ? Date.now() : null;
  let accepted = 0;
  const pairs = new Set<{ client: Socket; up: Socket; hit(): void }>();

  const server: Server = createServer((client) => {
    accepted++;
    client.setNoDelay(true);
    client.on('error', () => {});
    const up = connect({ host: upHost, port: upPort });
    up.setNoDelay(true);
    up.on('error', () => client.destroy());
    const trickle: Buffer[] = [];
    let trickleTimer: NodeJS.Timeout | null = null;
    const pair = { client, up, hit: (): void => {} };
    pairs.add(pair);
    const cleanup = (): void => {
      pairs.delete(pair);
      if (trickleTimer) clearTimeout(trickleTimer);
      up.destroy();
    };
    client.on('close', cleanup);
    up.on('close', () => {
      if (!client.destroyed && !(on && (fault === 'blackhole' || fault === 'noread' || fault === 'halfclose'))) client.end();
    });
    /** The fault starts on this connection (now, or at accept when it is on already). */
    pair.hit = (): void => {
      if (client.destroyed) return;
      if (fault === 'reset') client.resetAndDestroy();
      else if (fault === 'close') client.destroy();
      else if (fault === 'halfclose') client.end();
      else if (fault === 'noread') client.pause();
    };
    const step = (): void => {
      trickleTimer = null;
      const head = trickle[0];
      if (head === undefined || client.destroyed) return;
      client.write(head.subarray(0, 1));
      if (head.length === 1) trickle.shift();
      else trickle[0] = head.subarray(1);
      trickleTimer = setTimeout(step, slowMs);
    };
    up.on('data', (chunk: Buffer) => {
      if (client.destroyed || client.writableEnded) return;
      if (!on) {
        client.write(chunk);
        return;
      }
      switch (fault) {
        case 'garbage': {
          const g = Buffer.allocUnsafe(chunk.length);
          for (let k = 0; k < g.length; k++) g[k] = next() & 0xff;
          client.write(g);
          return;
        }
        case 'slow':
          trickle.push(chunk);
          trickleTimer ??= setTimeout(step, slowMs);
          return;
        default:
          return; // blackhole, noread, halfclose: nothing comes back
      }
    });
    client.on('data', (d: Buffer) => {
      inBytes += d.length;
      if (!on && inBytes >= opts.afterBytes) {
        on = true;
        onAt = Date.now();
        for (const p of pairs) if (p !== pair) p.hit();
        // this chunk still goes through: the fault starts behind it
        up.write(d);
        pair.hit();
        return;
      }
      if (on && fault === 'blackhole') return; // read and dropped
      if (!client.destroyed) up.write(d);
    });
    if (on) pair.hit();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  return {
    address: `127.0.0.1:${port}`,
    triggered: () => on,
    triggeredAt: () => onAt,
    accepted: () => accepted,
    bytesIn: () => inBytes,
    stop: () =>
      new Promise<void>((r) => {
        for (const p of pairs) {
          p.client.destroy();
          p.up.destroy();
        }
        server.close(() => r());
      }),
  };
}
