// `--poll-stats`: polls `stats` on every target over its own connection during a run, so the
// results show how the targets filled up (items, bytes, evictions, hits/misses, connections).
// The poller's own connection counts in curr_connections (one per target).
// A target that wants credentials gets them the way the replay's probe found it takes them, on every
// (re)connect: binary SASL PLAIN, after which it is asked with the binary STAT command (memcached -S
// speaks only binary), or ascii auth before a text `stats` (memcached -Y).
import { connect, type Socket } from 'node:net';
import type { TargetStatsSample } from './results-types.js';
import { authRequest, binaryFrame, OP_STAT, readBinaryResponse, type AuthMech } from '../protocol/auth.js';
import { binaryStatusName } from '../protocol/index.js';

/** Credentials for polling one target, with the mechanism the replay's probe found it takes. */
export interface PollAuth {
  user: string;
  password: string;
  mech: AuthMech;
}

/** The target refused the poller's credentials: asking again would only be refused again. */
export class PollAuthRefused extends Error {}

/** A numeric statistic, or null for text ones (version, libevent). */
function statNumber(raw: string): number | null {
  // rusage_user is "0.123456"; everything else numeric is an integer
  return /^-?\d+(\.\d+)?$/.test(raw) ? Number(raw) : null;
}

/** Numeric STAT lines of a `stats` answer ("STAT name value"); non-numeric values (version, libevent) are left out. */
export function parseStats(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\r\n')) {
    if (!line.startsWith('STAT ')) continue;
    const sp = line.indexOf(' ', 5);
    if (sp < 0) continue;
    const v = statNumber(line.slice(sp + 1).trim());
    if (v !== null) out[line.slice(5, sp)] = v;
  }
  return out;
}

function splitTarget(target: string): { host: string; port: number } {
  const m = /^\[(.+)\]:(\d+)$/.exec(target) ?? /^([^:]+):(\d+)$/.exec(target);
  if (!m) throw new Error(`stats poller: bad target ${JSON.stringify(target)} (expected host:port)`);
  return { host: m[1]!, port: Number(m[2]) };
}

/**
 * Reads one answer from the server's bytes, fed chunk by chunk: its value and the bytes after it
 * once complete, null before; throws (the message is for the user) on an error answer.
 */
interface AnswerReader<T> {
  push(chunk: Buffer): { value: T; rest: Buffer } | null;
}

/** The answer to a text `stats`: STAT lines up to END, or an error line. */
function textStatsReader(): AnswerReader<Record<string, number>> {
  let buf = '';
  return {
    push(chunk) {
      buf += chunk.toString('latin1');
      const end = buf.indexOf('END\r\n');
      if (end >= 0) return { value: parseStats(buf.slice(0, end)), rest: Buffer.from(buf.slice(end + 5), 'latin1') };
      const err = /^(SERVER_|CLIENT_)?ERROR[^\r\n]*\r\n/.exec(buf);
      if (err) throw new Error(err[0].trim());
      return null;
    },
  };
}

/** The answer to a binary STAT: one response per statistic (key = name, value = its text), ended by one with an empty key. */
function binaryStatsReader(): AnswerReader<Record<string, number>> {
  let acc: Buffer = Buffer.alloc(0);
  const out: Record<string, number> = {};
  return {
    push(chunk) {
      acc = acc.length === 0 ? chunk : Buffer.concat([acc, chunk]);
      let off = 0;
      for (;;) {
        const f = readBinaryResponse(acc, off);
        if (f === null) {
          acc = acc.subarray(off);
          return null;
        }
        off = f.end;
        if (f.magic !== 0x81 || f.opcode !== OP_STAT) throw new Error(`unexpected answer to binary STAT (magic 0x${f.magic.toString(16)}, opcode 0x${f.opcode.toString(16)})`);
        if (f.status !== 0) throw new Error(`binary STAT answered with status ${binaryStatusName(f.status)} (0x${f.status.toString(16).padStart(2, '0')})`);
        if (f.key.length === 0) return { value: out, rest: acc.subarray(off) };
        const v = statNumber(f.value.toString('latin1'));
        if (v !== null) out[f.key.toString('latin1')] = v;
      }
    },
  };
}

/** One connection to one target that answers `stats` requests one at a time, authenticated when `auth` is given. */
class StatsConn {
  private sock: Socket | null = null;
  private waiting: { push(chunk: Buffer): void; fail(err: Error): void } | null = null;

  constructor(
    private readonly target: string,
    private readonly timeoutMs: number,
    private readonly auth: PollAuth | null = null,
  ) {}

  private dial(): Promise<Socket> {
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
        // bytes nobody asked for (an answer that came after its timeout): the stream cannot be trusted
        if (this.waiting) this.waiting.push(d);
        else s.destroy();
      });
    });
  }

  /** The open connection, dialled and authenticated first when there is none. */
  private async open(): Promise<Socket> {
    if (this.sock && !this.sock.destroyed) return this.sock;
    const s = await this.dial();
    if (this.auth !== null) {
      const st = authRequest(this.auth.mech === 'sasl' ? 'binary' : 'text', this.auth);
      const ok = await this.exchange(s, st.request, 'authentication', {
        push: (chunk) => {
          const rest = st.push(chunk);
          return rest === null ? null : { value: st.ok, rest };
        },
      });
      if (!ok) {
        s.destroy();
        throw new PollAuthRefused(`stats ${this.target}: ${st.refusal}`);
      }
    }
    return s;
  }

  /** Writes `request` and resolves with the answer `reader` makes of what comes back. */
  private exchange<T>(s: Socket, request: Buffer, what: string, reader: AnswerReader<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (s.destroyed) return reject(new Error(`stats ${this.target}: connection closed`));
      const timer = setTimeout(() => {
        this.fail(new Error(`stats ${this.target}: no answer to ${what} within ${this.timeoutMs} ms`));
        s.destroy();
      }, this.timeoutMs);
      this.waiting = {
        push: (chunk) => {
          let r: { value: T; rest: Buffer } | null;
          try {
            r = reader.push(chunk);
          } catch (err) {
            // after an error answer the stream's state is unknown: the next poll starts afresh
            this.fail(new Error(`stats ${this.target}: ${(err as Error).message}`));
            s.destroy();
            return;
          }
          if (r === null) return;
          this.waiting = null;
          clearTimeout(timer);
          if (r.rest.length > 0) s.destroy();
          resolve(r.value);
        },
        fail: (err) => {
          this.waiting = null;
          clearTimeout(timer);
          reject(err);
        },
      };
      s.write(request);
    });
  }

  private fail(err: Error): void {
    this.waiting?.fail(err);
  }

  /** Sends `stats` (binary STAT to a binary SASL target) and resolves with the parsed numbers. */
  async poll(): Promise<Record<string, number>> {
    const s = await this.open();
    if (this.auth?.mech === 'sasl') return this.exchange(s, binaryFrame(OP_STAT), 'binary STAT', binaryStatsReader());
    return this.exchange(s, Buffer.from('stats\r\n', 'latin1'), '"stats"', textStatsReader());
  }

  close(): void {
    this.sock?.destroy();
    this.sock = null;
  }
}

/** One `stats` request to `target` ("host:port", IPv6 as "[addr]:port") over a fresh connection, authenticated with `auth` when given. */
export async function fetchStats(target: string, timeoutMs = 2000, auth: PollAuth | null = null): Promise<Record<string, number>> {
  const c = new StatsConn(target, timeoutMs, auth);
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
  /** Per target, in the order of `targets`: its credentials and mechanism, null when it needs none (default: none anywhere). */
  auth?: readonly (PollAuth | null)[];
  /** A failed poll (the run goes on; the sample is missing). */
  onError?: (target: string, err: Error) => void;
  /** Samples kept per target before they are thinned by half (default MAX_KEPT). */
  maxKept?: number;
  /** A sample taken (what a watcher, or a test, can wait on instead of a fixed time). */
  onSample?: (target: string, sample: TargetStatsSample) => void;
}

/** Samples kept per target before they are thinned by half (a long run's memory stays flat). */
export const MAX_KEPT = 8000;

/** Polls `stats` on every target each interval; `stop()` returns the samples per target. */
export class StatsPoller {
  private readonly conns: StatsConn[];
  private readonly samples: TargetStatsSample[][];
  private readonly busy: boolean[];
  private timer: NodeJS.Timeout | null = null;
  private readonly inflight = new Set<Promise<void>>();
  /** Failed polls per target. */
  readonly errors: number[];
  /** Polls attempted per target. */
  private readonly attempts: number[];
  private readonly firstError: (string | null)[];
  /** Why a target refused the credentials; it is not polled again. */
  private readonly refused: (string | null)[];
  /** Each target's latest sample (for live metrics). */
  private readonly last: (TargetStatsSample | null)[];
  /** A long run keeps every `stride`-th sample (memory stays flat: thinned by half at MAX_KEPT). */
  private stride = 1;
  private readonly polled: number[];

  constructor(private readonly opts: StatsPollerOptions) {
    const timeout = opts.timeoutMs ?? Math.min(2000, Math.max(100, opts.intervalMs));
    if (opts.auth !== undefined && opts.auth.length !== opts.targets.length) {
      throw new Error(`stats poller: ${opts.auth.length} credential entries for ${opts.targets.length} targets (one per target, null for none)`);
    }
    this.conns = opts.targets.map((t, i) => new StatsConn(t, timeout, opts.auth?.[i] ?? null));
    this.samples = opts.targets.map(() => []);
    this.busy = opts.targets.map(() => false);
    this.errors = opts.targets.map(() => 0);
    this.attempts = opts.targets.map(() => 0);
    this.firstError = opts.targets.map(() => null);
    this.refused = opts.targets.map(() => null);
    this.last = opts.targets.map(() => null);
    this.polled = opts.targets.map(() => 0);
  }

  /** Each target's latest sample (null before its first answer). */
  latest(): { target: string; values: Record<string, number> }[] {
    return this.opts.targets.flatMap((target, i) => (this.last[i] ? [{ target, values: this.last[i]!.values }] : []));
  }

  private keep(i: number, sample: TargetStatsSample, force: boolean): void {
    this.last[i] = sample;
    const arr = this.samples[i]!;
    if (!force && this.polled[i]!++ % this.stride !== 0) return;
    arr.push(sample);
    const max = this.opts.maxKept ?? MAX_KEPT;
    if (arr.length >= max) {
      // a day or a week of polls: keep every other sample (a target's state, not a sum to keep exact)
      let w = 0;
      for (let r = 0; r < arr.length; r += 2) arr[w++] = arr[r]!;
      arr.length = w;
      if (this.samples.every((a) => a.length < max)) this.stride *= 2;
    }
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
    this.tick(true);
    await Promise.all(this.inflight);
    for (const c of this.conns) c.close();
    return this.opts.targets.map((target, i) => ({ target, samples: this.samples[i]! }));
  }

  /** One line per target whose polls failed, for the results' warnings (never holds a password). */
  warnings(): string[] {
    const out: string[] = [];
    this.opts.targets.forEach((target, i) => {
      // the messages name the target already ("stats host:port: ...")
      const bare = (m: string | null): string => (m ?? '').replace(`stats ${target}: `, '');
      if (this.refused[i] !== null) out.push(`--poll-stats: ${target}: ${bare(this.refused[i]!)}; it was not polled after that`);
      else if (this.errors[i]! > 0) out.push(`--poll-stats: ${target}: ${this.errors[i]} of ${this.attempts[i]} poll(s) failed, the first with: ${bare(this.firstError[i]!)}`);
    });
    return out;
  }

  private tick(final = false): void {
    this.conns.forEach((c, i) => {
      // a slow target does not pile up requests; one that refused the credentials would refuse again
      if (this.busy[i] || this.refused[i] !== null) return;
      this.busy[i] = true;
      this.attempts[i]!++;
      const tNs = this.opts.clock();
      const p = c
        .poll()
        .then((values) => {
          const sample = { tNs, values };
          this.keep(i, sample, final);
          this.opts.onSample?.(this.opts.targets[i]!, sample);
        })
        .catch((err: unknown) => {
          const e = err instanceof Error ? err : new Error(String(err));
          this.errors[i]!++;
          this.firstError[i] ??= e.message;
          if (e instanceof PollAuthRefused) this.refused[i] = e.message;
          this.opts.onError?.(this.opts.targets[i]!, e);
        })
        .finally(() => {
          this.busy[i] = false;
          this.inflight.delete(p);
        });
      this.inflight.add(p);
    });
  }
}
