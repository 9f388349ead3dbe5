// Helpers of the live mirror tests: the CLI as a child, the python load client, and reading a
// server's keys (value and flags) and command counters over the text protocol.
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../helpers/wait.js';

export const root = fileURLToPath(new URL('../..', import.meta.url));

/** A running `mcreplay mirror`. */
export interface MirrorProc {
  proc: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves once stderr holds a line matching `re` (rejects after `ms`, or when it exits first). */
  waitErr(re: RegExp, ms: number): Promise<void>;
  exit: Promise<{ code: number | null; signal: string | null }>;
}

/** Starts `mcreplay mirror ARGS` (stdin piped from `stdin` when given; 'pipe': the caller writes proc.stdin; `env` added to the environment). */
export function startMirror(args: string[], stdin?: NodeJS.ReadableStream | 'pipe', env?: Record<string, string>): MirrorProc {
  const proc = spawn(process.execPath, [join(root, 'bin/mcreplay.js'), 'mirror', ...args], { stdio: [stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'], ...(env ? { env: { ...process.env, ...env } } : {}) });
  if (stdin && stdin !== 'pipe') stdin.pipe(proc.stdin!);
  let out = '';
  let err = '';
  const waiters: (() => void)[] = [];
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
    for (const w of waiters) w();
  });
  const exit = new Promise<{ code: number | null; signal: string | null }>((resolve) => proc.once('close', (code, signal) => resolve({ code, signal })));
  return {
    proc,
    stdout: () => out,
    stderr: () => err,
    exit,
    waitErr(re, ms) {
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no ${re} on stderr within ${ms} ms: ${err}`)), ms);
        const check = (): void => {
          if (re.test(err)) {
            clearTimeout(t);
            resolve();
          }
        };
        waiters.push(check);
        void exit.then(() => {
          clearTimeout(t);
          if (re.test(err)) resolve();
          else reject(new Error(`mirror exited before ${re}: ${err}`));
        });
        check();
      });
    },
  };
}

/** Runs scripts/clients/mirror_load.py against `addr` (partition: each connection writes its own keys); resolves with its per-command counts. */
export function runLoad(addr: string, seconds: number, rate: number, keys: number, threads = 4, seed = 1, partition = false): Promise<Record<string, number>> {
  return new Promise((resolve, reject) => {
    const p = spawn('/usr/bin/python3', [join(root, 'scripts/clients/mirror_load.py'), addr, String(seconds), String(rate), String(keys), String(threads), String(seed), partition ? '1' : '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.once('close', (code) => {
      if (code !== 0) reject(new Error(`load client failed (${code}): ${err}`));
      else resolve((JSON.parse(out) as { counts: Record<string, number> }).counts);
    });
  });
}

/** Sends `req` on a new connection and collects the answer until `done(text)` says it is complete. */
function ask(port: number, req: string, done: (s: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port });
    let acc = '';
    const t = setTimeout(() => {
      s.destroy();
      reject(new Error(`no full answer to ${req.slice(0, 40)}`));
    }, 10_000);
    s.on('data', (d: Buffer) => {
      acc += d.toString('latin1');
      if (done(acc)) {
        clearTimeout(t);
        s.destroy();
        resolve(acc);
      }
    });
    s.once('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
    s.write(req);
  });
}

/** Stores `key` = `value` (flags 0) and resolves once the server answered. */
export async function setKey(port: number, key: string, value: string): Promise<void> {
  const a = await ask(port, `set ${key} 0 0 ${value.length}\r\n${value}\r\n`, (s) => s.endsWith('\r\n'));
  if (a !== 'STORED\r\n') throw new Error(`set ${key}: ${a}`);
}

/** `stats` of a server as numbers. */
export async function stats(port: number): Promise<Record<string, number>> {
  const text = await ask(port, 'stats\r\n', (s) => s.endsWith('END\r\n'));
  const out: Record<string, number> = {};
  for (const line of text.split('\r\n')) {
    const m = /^STAT (\S+) (\S+)$/.exec(line);
    if (m) out[m[1]!] = Number(m[2]);
  }
  return out;
}

/** Value and flags of each key that exists on the server ("flags value"). */
export async function dumpKeys(port: number, keys: string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (let i = 0; i < keys.length; i += 100) {
    const part = keys.slice(i, i + 100);
    const text = await ask(port, `get ${part.join(' ')}\r\n`, (s) => s.endsWith('END\r\n'));
    const re = /VALUE (\S+) (\d+) (\d+)\r\n/g;
    let m: RegExpExecArray | null;
    while ((m = re.exec(text)) !== null) {
      const start = m.index + m[0].length;
      out.set(m[1]!, `${m[2]} ${text.slice(start, start + Number(m[3]))}`);
      re.lastIndex = start + Number(m[3]) + 2;
    }
  }
  return out;
}

/** The key space of mirror_load.py. */
export function loadKeys(n: number): string[] {
  const keys: string[] = [];
  for (let i = 0; i < n; i++) keys.push(`k${i}`);
  for (let i = 0; i < 20; i++) keys.push(`ctr${i}`);
  return keys;
}

/** Keys whose value or flags differ between two dumps (present on one side only included). */
export function differing(a: Map<string, string>, b: Map<string, string>): string[] {
  const diff: string[] = [];
  for (const k of new Set([...a.keys(), ...b.keys()])) if (a.get(k) !== b.get(k)) diff.push(k);
  return diff;
}

/** Polls `f` until it returns true or `ms` pass (then rejects with `what`). */
export async function until(f: () => Promise<boolean> | boolean, ms: number, what: string): Promise<void> {
  await waitFor(what, f, ms, 100);
}

/** Registers `m` to be killed (SIGKILL) by `cleanup` if it still runs when the test ends. */
export function killAtCleanup(cleanup: (() => Promise<void> | void)[], m: MirrorProc): MirrorProc {
  cleanup.push(async () => {
    if (m.proc.exitCode === null && m.proc.signalCode === null) {
      m.proc.kill('SIGKILL');
      await m.exit;
    }
  });
  return m;
}

/** The pid of `pid`'s tcpdump child (read from /proc: the children of each of its threads), or null. */
export function tcpdumpChildOf(pid: number): number | null {
  return childNamed(pid, 'tcpdump');
}

/** The pid of `pid`'s child process named `name` (its /proc comm), or null. */
export function childNamed(pid: number, name: string): number | null {
  let kids: number[] = [];
  try {
    for (const t of readdirSync(`/proc/${pid}/task`)) {
      kids = kids.concat(readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').split(/\s+/).filter((s) => s !== '').map(Number));
    }
  } catch {
    return null;
  }
  return kids.find((k) => processName(k) === name) ?? null;
}

function processName(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return null;
  }
}

/** True once `pid` no longer runs: gone, or a zombie waiting for its reaper (it does nothing more). */
export function processEnded(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.startsWith('Z');
  } catch {
    return true;
  }
}

/** Registers a tcpdump `pid` to be ended by `cleanup` if a failed assertion left it running. */
export function killTcpdumpAtCleanup(cleanup: (() => Promise<void> | void)[], pid: number): void {
  cleanup.push(() => {
    if (!processEnded(pid) && processName(pid) === 'tcpdump') process.kill(pid, 'SIGKILL');
  });
}
