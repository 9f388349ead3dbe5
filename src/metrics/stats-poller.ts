// `--poll-stats`: polls `stats` on every target over its own connection during a run, so the
// results show how the targets filled up (items, bytes, evictions, hits/misses, connections).
// The poller's own connection counts in curr_connections (one per target).
import { connect, type Socket } from 'node:net';
import type { TargetStatsSample } from './results-types.js';

/** Numeric STAT lines of a `stats` answer ("STAT name value"); non-numeric values (version, libevent) are left out. */
export function parseStats(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\r\n')) {
    if (!line.startsWith('STAT ')) continue;
    const sp = line.indexOf(' ', 5);
    if (sp < 0) continue;
    const name = line.slice(5, sp);
    const raw = line.slice(sp + 1).trim();
    // rusage_user is "0.123456"; everything else numeric is an integer
    if (!/^-?\d+(\.\d+)?$/.test(raw)) continue;
    out[name] = Number(raw);
  }
  return out;
}

function splitTarget(target: string): { host: string; port: number } {
  const m = /^\[(.+)\]:(\d+)$/.exec(target) ?? /^([^:]+):(\d+)$/.exec(target);
  if (!m) throw new Error(`stats poller: bad target ${JSON.stringify(target)} (expected host:port)`);
  return { host: m[1]!, port: Number(m[2]) };
}

/** One connection to one target that answers `stats` requests one at a time. */
class StatsConn {
  private sock: Socket | null = null;
  private buf = '';
  private waiting: { resolve: (t: string) => void; reject: (e: Error) => void; timer: NodeJS.Timeout } | null = null;

  constructor(
    private readonly target: string,
    private readonly timeoutMs: number,
  ) {}

  private open(): Promise<Socket> {
    if (this.sock && !this.sock.destroyed) return Promise.resolve(this.sock);
    const { host, port } = splitTarget(this.target);
    return new Promise((resolve, reject) => {
      const s = connect({ host, port });
      s.setNoDelay(true);
      const t = setTimeout(() => {
        s.destroy();
        reject(new Error(`stats ${this.target}: connect timed out after ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      s.once('connect', () => {
        clearTimeout(t);
        this.sock = s;
        this.buf = '';
        resolve(s);
      });
      s.on('error', (err) => {
        clearTimeout(t);
        this.fail(new Error(`stats ${this.target}: ${err.message}`));
        reject(err);
      });
      s.on('close', () => {
        if (this.sock === s) this.sock = null;
        this.fail(new Error(`stats ${this.target}: connection closed`));
      });
      s.on('data', (d: Buffer) => {
        this.buf += d.toString('latin1');
        const end = this.buf.indexOf('END\r\n');
        if (end >= 0 && this.waiting) {
          const text = this.buf.slice(0, end);
          this.buf = this.buf.slice(end + 5);
          const w = this.waiting;
          this.waiting = null;
          clearTimeout(w.timer);
          w.resolve(text);
        } else if (/^(SERVER_|CLIENT_)?ERROR.*\r\n/.test(this.buf)) {
          this.fail(new Error(`stats ${this.target}: ${this.buf.trim()}`));
          this.buf = '';
        }
      });
    });
  }

  private fail(err: Error): void {
    const w = this.waiting;
    if (!w) return;
    this.waiting = null;
    clearTimeout(w.timer);
    w.reject(err);
  }

  /** Sends `stats` and resolves with the parsed numbers. */
  async poll(): Promise<Record<string, number>> {
    const s = await this.open();
    const text = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(new Error(`stats ${this.target}: no answer within ${this.timeoutMs} ms`));
        s.destroy();
      }, this.timeoutMs);
      this.waiting = { resolve, reject, timer };
      s.write('stats\r\n');
    });
    return parseStats(text);
  }

  close(): void {
    this.sock?.destroy();
    this.sock = null;
  }
}

/** One `stats` request to `target` ("host:port", IPv6 as "[addr]:port") over a fresh connection. */
export async function fetchStats(target: string, timeoutMs = 2000): Promise<Record<string, number>> {
  const c = new StatsConn(target, timeoutMs);
  try {
    return await c.poll();
  } finally {
    c.close();
  }
}

/** Options of a StatsPoller. */
export interface StatsPollerOptions {
  /** "host:port" of every target. */
  targets: string[];
  intervalMs: number;
  /** ns since run start, stamped on each sample. */
  clock: () => number;
  /** Per request (default min(2000, intervalMs)). */
  timeoutMs?: number;
  /** A failed poll (the run goes on; the sample is missing). */
  onError?: (target: string, err: Error) => void;
}

/** Polls `stats` on every target each interval; `stop()` returns the samples per target. */
export class StatsPoller {
  private readonly conns: StatsConn[];
  private readonly samples: TargetStatsSample[][];
  private readonly busy: boolean[];
  private timer: NodeJS.Timeout | null = null;
  private readonly inflight = new Set<Promise<void>>();
  /** Failed polls per target. */
  readonly errors: number[];

  constructor(private readonly opts: StatsPollerOptions) {
    const timeout = opts.timeoutMs ?? Math.min(2000, Math.max(100, opts.intervalMs));
    this.conns = opts.targets.map((t) => new StatsConn(t, timeout));
    this.samples = opts.targets.map(() => []);
    this.busy = opts.targets.map(() => false);
    this.errors = opts.targets.map(() => 0);
  }

  /** Polls once now, then every interval. */
  start(): void {
    if (this.timer) return;
    this.tick();
    this.timer = setInterval(() => this.tick(), this.opts.intervalMs);
  }

  /** Polls every target once more (the final state), stops, closes the connections. */
  async stop(): Promise<{ target: string; samples: TargetStatsSample[] }[]> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await Promise.all(this.inflight);
    this.tick();
    await Promise.all(this.inflight);
    for (const c of this.conns) c.close();
    return this.opts.targets.map((target, i) => ({ target, samples: this.samples[i]! }));
  }

  private tick(): void {
    this.conns.forEach((c, i) => {
      if (this.busy[i]) return; // a slow target does not pile up requests
      this.busy[i] = true;
      const tNs = this.opts.clock();
      const p = c
        .poll()
        .then((values) => {
          this.samples[i]!.push({ tNs, values });
        })
        .catch((err: unknown) => {
          this.errors[i]!++;
          this.opts.onError?.(this.opts.targets[i]!, err instanceof Error ? err : new Error(String(err)));
        })
        .finally(() => {
          this.busy[i] = false;
          this.inflight.delete(p);
        });
      this.inflight.add(p);
    });
  }
}
