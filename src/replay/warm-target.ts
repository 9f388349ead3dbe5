// A throwaway in-process target for warming a worker's hot path before t0: it parses what it is
// sent with the capture reader's own request parser and answers every request as a memcached holding
// every key would (protocol/answer-build.ts). V8 compiles the send, read, match and record path
// only once it has run often enough; running it thousands of times against this loopback target,
// instead of the real one, keeps the target's traffic to one `version` per connection (recordings of
// the replay and the target's own counters see nothing more).
import { createServer, type Server } from 'node:net';
import { createRequestParser } from '../protocol/index.js';
import { plausibleAnswer } from '../protocol/answer-build.js';
import type { TargetAddr } from './messages.js';

/** A running rehearsal target: its address, what it answered, and how to stop it. */
export interface WarmTarget {
  target: TargetAddr;
  /** Requests it parsed. */
  stats: { requests: number };
  close(): Promise<void>;
}

/** Starts the target on a free loopback port. */
export async function startWarmTarget(): Promise<WarmTarget> {
  const stats = { requests: 0 };
  const server: Server = createServer((s) => {
    s.setNoDelay(true);
    // the answers to one read go out in one write, as memcached batches them per read
    let out: Buffer[] = [];
    const parser = createRequestParser({
      request(req) {
        stats.requests++;
        const a = plausibleAnswer(req);
        if (a !== null) out.push(a);
      },
      // bytes that are no request get no answer: the requests behind them then fail as the
      // rehearsal's connection times out or desyncs, which its `answered` count shows
      skipped() {},
    });
    s.on('data', (b: Buffer) => {
      try {
        parser.push(b, 0);
      } catch {
        // it runs inside the replay's worker thread: a request it cannot answer ends its connection
        // (the rehearsal then counts that connection's requests as failed), never the run
        s.destroy();
        return;
      }
      if (out.length === 0) return;
      s.write(out.length === 1 ? out[0]! : Buffer.concat(out));
      out = [];
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
    stats,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
      }),
  };
}
