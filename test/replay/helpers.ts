// Helpers of the replay tests: synthetic captures of hand-written memcached conversations (so each
// test knows exactly which requests the capture holds), the mcreplay CLI as a child process, and
// plain memcached clients to check what a target holds afterwards.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { connect } from 'node:net';
import { LINKTYPE, TcpConv, ethernet, pcapFile, type PcapRecord } from '../helpers/pcap-writer.js';
import type { ResultsFile } from '../../src/metrics/results-types.js';
import { waitFor } from '../helpers/wait.js';

const ROOT = resolve(import.meta.dirname, '../..');
export const BIN = join(ROOT, 'bin/mcreplay.js');

/** One step of a captured conversation: at `t` ms after the capture start, `dir` sends `data`. */
export interface Step {
  t: number;
  dir: 0 | 1;
  data: string | Buffer;
}

/** One captured TCP connection. */
export interface ConvSpec {
  client?: string;
  cport: number;
  server?: string;
  sport?: number;
  steps: Step[];
  /** ms of the client's FIN (default: 1 ms after the last step); null = left open. */
  closeAt?: number | null;
  /** Leave out the handshake (a connection the capture joined mid-way). */
  midstream?: boolean;
}

/** Builds a pcap (Ethernet, µs) holding the conversations, frames in time order. */
export function buildPcap(convs: ConvSpec[], baseSec = 1_700_000_000): Buffer {
  const frames: { t: number; n: number; data: Buffer }[] = [];
  let n = 0;
  for (const c of convs) {
    const conv = new TcpConv(c.client ?? '10.0.0.2', c.cport, c.server ?? '10.0.0.1', c.sport ?? 11211);
    const first = c.steps.length > 0 ? c.steps[0]!.t : 0;
    if (!c.midstream) for (const p of conv.handshake()) frames.push({ t: Math.max(0, first - 0.05), n: n++, data: p });
    let last = first;
    for (const s of c.steps) {
      const buf = typeof s.data === 'string' ? Buffer.from(s.data, 'latin1') : s.data;
      frames.push({ t: s.t, n: n++, data: conv.send(s.dir, buf) });
      last = s.t;
    }
    if (c.closeAt !== null) {
      const t = c.closeAt ?? last + 1;
      frames.push({ t, n: n++, data: conv.fin(0) });
      frames.push({ t: t + 0.01, n: n++, data: conv.fin(1) });
    }
  }
  frames.sort((a, b) => a.t - b.t || a.n - b.n);
  const recs: PcapRecord[] = frames.map((f) => {
    const us = Math.round(f.t * 1000);
    return { sec: baseSec + Math.floor(us / 1e6), frac: us % 1e6, data: ethernet(f.data) };
  });
  return pcapFile({ linkType: LINKTYPE.EN10MB }, recs);
}

/** A temporary directory removed by the returned function. */
export function tempDir(): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'mcr-replay-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Writes a capture into `dir` and returns its path. */
export function writeCapture(dir: string, name: string, convs: ConvSpec[]): string {
  const p = join(dir, name);
  writeFileSync(p, buildPcap(convs));
  return p;
}

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  json: Record<string, unknown> | null;
  results: ResultsFile | null;
}

/** Starts `mcreplay replay ...` as a child process. */
export function spawnReplay(args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  return spawn(process.execPath, [BIN, 'replay', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Waits for a spawned replay to end and collects its output, --json summary and results file. */
export function collect(p: ChildProcess): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  p.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  p.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((res) => {
    p.on('close', (code, signal) => {
      let json: Record<string, unknown> | null = null;
      let results: ResultsFile | null = null;
      try {
        json = JSON.parse(stdout) as Record<string, unknown>;
        results = JSON.parse(readFileSync(json.results as string, 'utf8')) as ResultsFile;
      } catch {
        /* not JSON: the caller looks at stderr */
      }
      res({ code, signal, stdout, stderr, json, results });
    });
  });
}

/** Runs `mcreplay replay <args> --json --no-progress --out <out>` to its end. */
export async function replay(args: string[], out: string, env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  return collect(spawnReplay([...args, '--json', '--no-progress', '--out', out], env));
}

/** Sends raw text commands to a memcached and returns everything it answered until `until` matches. */
export async function mcRaw(address: string, cmd: string, until: RegExp = /(END|STORED|DELETED|NOT_FOUND|OK|ERROR[^\r]*|VERSION [^\r]*)\r\n$/): Promise<string> {
  const i = address.lastIndexOf(':');
  return new Promise((res, rej) => {
    const s = connect({ host: address.slice(0, i), port: Number(address.slice(i + 1)) });
    let acc = '';
    const timer = setTimeout(() => {
      s.destroy();
      rej(new Error(`no complete answer to ${JSON.stringify(cmd)}: ${JSON.stringify(acc)}`));
    }, 3000);
    s.on('connect', () => s.write(cmd));
    s.on('data', (d) => {
      acc += d.toString('latin1');
      if (until.test(acc)) {
        clearTimeout(timer);
        s.destroy();
        res(acc);
      }
    });
    s.on('error', (e) => {
      clearTimeout(timer);
      rej(e);
    });
  });
}

/** memcached `stats` as numbers. */
export async function mcStats(address: string): Promise<Record<string, number>> {
  const text = await mcRaw(address, 'stats\r\n', /END\r\n$/);
  const out: Record<string, number> = {};
  for (const line of text.split('\r\n')) {
    const m = /^STAT (\S+) (\S+)$/.exec(line);
    if (m && /^-?\d+(\.\d+)?$/.test(m[2]!)) out[m[1]!] = Number(m[2]);
  }
  return out;
}

/** The value stored under `key`, or null. */
export async function mcGet(address: string, key: string): Promise<string | null> {
  const t = await mcRaw(address, `get ${key}\r\n`, /END\r\n$/);
  const m = /^VALUE \S+ \d+ \d+\r\n([\s\S]*?)\r\nEND\r\n$/.exec(t);
  return m ? m[1]! : null;
}

/** Sum of every error class of a counters object. */
export function errorSum(c: { errors: Record<string, number> }): number {
  return Object.values(c.errors).reduce((a, b) => a + b, 0);
}

/** sent + held back + unsent, which must equal the shaped workload's request count. */
export function accounted(c: { sent: number; unsent: number; heldBack: Record<string, number> }): number {
  return c.sent + c.unsent + Object.values(c.heldBack).reduce((a, b) => a + b, 0);
}

/** Options every test passes: timing limits out of the way (tests do not judge speed), one worker, no HTML. */
export const QUIET = ['--max-lag', '10s', '--max-stall', '10s', '--workers', '1', '--no-html'];

/** Reads a JSON file. */
export function readJson<T>(p: string): T {
  return JSON.parse(readFileSync(p, 'utf8')) as T;
}

/** A binary request packet. */
export function bin(opcode: number, key: string, opts: { extras?: Buffer; value?: string; opaque?: number; cas?: bigint } = {}): Buffer {
  const k = Buffer.from(key, 'latin1');
  const ex = opts.extras ?? Buffer.alloc(0);
  const v = Buffer.from(opts.value ?? '', 'latin1');
  const h = Buffer.alloc(24);
  h[0] = 0x80;
  h[1] = opcode;
  h.writeUInt16BE(k.length, 2);
  h[4] = ex.length;
  h.writeUInt32BE(ex.length + k.length + v.length, 8);
  h.writeUInt32BE(opts.opaque ?? 0, 12);
  h.writeBigUInt64BE(opts.cas ?? 0n, 16);
  return Buffer.concat([h, ex, k, v]);
}

/** A binary response packet (status 0 unless given). */
export function binRes(opcode: number, opts: { status?: number; extras?: Buffer; key?: string; value?: string; opaque?: number; cas?: bigint } = {}): Buffer {
  const k = Buffer.from(opts.key ?? '', 'latin1');
  const ex = opts.extras ?? Buffer.alloc(0);
  const v = Buffer.from(opts.value ?? '', 'latin1');
  const h = Buffer.alloc(24);
  h[0] = 0x81;
  h[1] = opcode;
  h.writeUInt16BE(k.length, 2);
  h[4] = ex.length;
  h.writeUInt16BE(opts.status ?? 0, 6);
  h.writeUInt32BE(ex.length + k.length + v.length, 8);
  h.writeUInt32BE(opts.opaque ?? 0, 12);
  h.writeBigUInt64BE(opts.cas ?? 0n, 16);
  return Buffer.concat([h, ex, k, v]);
}

export const flagsExp = (flags = 0, exp = 0): Buffer => {
  const b = Buffer.alloc(8);
  b.writeUInt32BE(flags, 0);
  b.writeUInt32BE(exp, 4);
  return b;
};


/** A scripted raw-bytes memcached stand-in: answers each text request line with what `answer` says. */
export interface ScriptServer {
  address: string;
  port: number;
  /** Arrival time (ms, performance.now) and line of every request, in order. */
  arrivals: { t: number; line: string }[];
  stop(): Promise<void>;
}

/**
 * Starts a TCP server on a free loopback port that reads text commands (skipping data blocks of
 * storage commands) and writes `answer(line)` back (nothing when null). `version` is answered so
 * mcreplay's probe passes.
 */
export async function startScriptServer(answer: (line: string) => string | null): Promise<ScriptServer> {
  const { createServer } = await import('node:net');
  const arrivals: { t: number; line: string }[] = [];
  const sockets = new Set<import('node:net').Socket>();
  const srv = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    let acc = Buffer.alloc(0);
    let skip = 0;
    s.on('data', (d: Buffer) => {
      const t = performance.now();
      acc = Buffer.concat([acc, d]);
      for (;;) {
        if (skip > 0) {
          const n = Math.min(skip, acc.length);
          acc = acc.subarray(n);
          skip -= n;
          if (skip > 0) return;
        }
        const nl = acc.indexOf('\r\n');
        if (nl < 0) return;
        const line = acc.subarray(0, nl).toString('latin1');
        acc = acc.subarray(nl + 2);
        const w = line.split(' ');
        if (/^(set|add|replace|append|prepend|cas)$/.test(w[0]!)) skip = Number(w[4]) + 2;
        if (w[0] === 'version') {
          s.write('VERSION 1.6.0-script\r\n');
          continue;
        }
        // mcreplay reads `stats` of every target just before and after the load: not replayed traffic
        if (line === 'stats') {
          s.write('STAT curr_items 0\r\nEND\r\n');
          continue;
        }
        arrivals.push({ t, line });
        const a = answer(line);
        if (a !== null) s.write(a);
      }
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as import('node:net').AddressInfo).port;
  return {
    address: `127.0.0.1:${port}`,
    port,
    arrivals,
    stop: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        srv.close(() => r());
      }),
  };
}

/** A steady capture: `conns` connections, each sending `get k<i>` every `everyMs` for `seconds` (answered END after 0.1 ms). */
export function steadyGets(conns: number, seconds: number, everyMs: number): ConvSpec[] {
  const out: ConvSpec[] = [];
  for (let c = 0; c < conns; c++) {
    const steps: Step[] = [];
    for (let t = c * 0.37; t < seconds * 1000; t += everyMs) {
      steps.push({ t, dir: 0, data: `get k${c}-${Math.round(t)}\r\n` });
      steps.push({ t: t + 0.1, dir: 1, data: 'END\r\n' });
    }
    out.push({ cport: 42000 + c, steps });
  }
  return out;
}

/** Resolves once a spawned replay printed its start line (the schedule's t0 is fixed); needs progress output on. */
export function started(p: ChildProcess): Promise<void> {
  return new Promise((res, rej) => {
    let acc = '';
    const on = (d: Buffer): void => {
      acc += d.toString();
      if (acc.includes('mcreplay: replaying')) {
        p.stderr!.off('data', on);
        res();
      }
    };
    p.stderr!.on('data', on);
    p.once('close', () => rej(new Error(`replay ended before it started: ${acc}`)));
  });
}

/** Waits until a memcached has served at least `n` gets (its cmd_get counter): the replay is under way. */
export async function servedGets(address: string, n: number, ms = 10_000): Promise<void> {
  await waitFor(`${n} gets served by ${address}`, async () => ((await mcStats(address).catch(() => ({}) as Record<string, number>)).cmd_get ?? 0) >= n, ms);
}

/** Waits until something answers `version` on 127.0.0.1:port. */
export async function waitVersion(port: number, ms = 5000): Promise<void> {
  const answers = (): Promise<boolean> => mcRaw(`127.0.0.1:${port}`, 'version\r\n', /\r\n$/).then((r) => r.startsWith('VERSION'), () => false);
  await waitFor(`a memcached answering version on port ${port}`, answers, ms, 50);
}

/**
 * The exit code the default checks give a complete, unsaturated run with these counters, from the
 * README ("Default checks"): the target's failures (timeout, reset, refused, desync) under 1% of the
 * sent requests, 99% of them answered (an error line is an answer), nothing unsent.
 */
export function defaultChecksCode(t: import('../../src/metrics/results-types.js').Counters): number {
  if (t.sent === 0) return t.unsent > 0 ? 99 : 0;
  const failed = t.errors.timeout + t.errors.reset + t.errors.refused + t.errors.desync;
  const answered = t.completed + t.errors.server_error + t.errors.client_error + t.errors.error;
  return failed / t.sent >= 0.01 || answered < 0.99 * t.sent || t.unsent > 0 ? 99 : 0;
}
