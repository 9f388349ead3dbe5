// tcpdump as the mirror's capture child: started with packet-buffered pcap output on stdout
// (-s 0 -U -B <KiB> -w -), checked before any load (missing binary, no permission, no such
// interface: McError with what to do), stopped on exit so that no child outlives the mirror, and
// its own drop counters read from its last words on stderr.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { McError } from '../errors.js';

/** Kernel buffer asked of tcpdump (-B, KiB): a few seconds of a busy server's traffic. */
export const TCPDUMP_BUFFER_KIB = 64 * 1024;
const START_TIMEOUT_MS = 10_000;

/** tcpdump's own counters, printed when it stops. */
export interface TcpdumpCounts {
  captured: number | null;
  receivedByFilter: number | null;
  droppedByKernel: number | null;
}

/** A running tcpdump child. */
export interface Tcpdump {
  /** Its pcap output. */
  readonly stdout: AsyncIterable<Buffer>;
  readonly pid: number;
  /** The command line as run (for messages). */
  readonly command: string;
  /** Stops it (SIGTERM) and resolves with its exit and counters; idempotent. */
  stop(): Promise<{ code: number | null; signal: string | null; counts: TcpdumpCounts; stderr: string }>;
  /** Resolves when it exits by itself or is stopped. */
  readonly exited: Promise<{ code: number | null; signal: string | null }>;
  /** True once it exited without being asked to. */
  unexpectedExit(): boolean;
  /** Asks for its counters without stopping it (SIGUSR1 on Linux: it prints them on stderr and captures on). */
  poll(): void;
  /** Its latest counters (from the last poll, or its exit). */
  counts(): TcpdumpCounts;
}

/** The capture filter for the memcached server ports (all TCP with --any-port). */
export function portFilter(ports: number[], anyPort: boolean): string {
  if (anyPort || ports.length === 0) return 'tcp';
  return `tcp and (${ports.map((p) => `port ${p}`).join(' or ')})`;
}

/** Parses tcpdump's counters from its stderr (the last ones printed: each SIGUSR1 prints a set). */
export function parseCounts(stderr: string): TcpdumpCounts {
  const num = (re: RegExp): number | null => {
    let last: string | null = null;
    for (const m of stderr.matchAll(new RegExp(re.source, 'g'))) last = m[1]!;
    return last === null ? null : Number(last);
  };
  return {
    captured: num(/(\d+) packets? captured/),
    receivedByFilter: num(/(\d+) packets? received by filter/),
    droppedByKernel: num(/(\d+) packets? dropped by kernel/),
  };
}

/** What a failed start means and what to do about it. */
function startError(iface: string, stderr: string, command: string): McError {
  const text = stderr.trim().split('\n').slice(-3).join(' ').slice(0, 400);
  if (/setpriv: failed to execute .*No such file/i.test(stderr)) {
    return new McError(`tcpdump not found (${command.split(' ')[0]})`, 'MCR_ERR_TCPDUMP', 'install it (Debian/Ubuntu: apt-get install tcpdump), or pipe a capture in: ... | mcreplay mirror - ...');
  }
  if (/permission|not permitted|operation not permitted/i.test(stderr)) {
    return new McError(
      `tcpdump may not capture on ${iface}: ${text}`,
      'MCR_ERR_TCPDUMP',
      'run as root, or give tcpdump the capabilities: setcap cap_net_raw,cap_net_admin=eip $(command -v tcpdump); or pipe a capture in: tcpdump ... -w - | mcreplay mirror - ...',
    );
  }
  if (/no such device|doesn't exist|not found|no suitable device|SIOCGIF/i.test(stderr)) {
    return new McError(`no capture interface "${iface}": ${text}`, 'MCR_ERR_TCPDUMP', 'list the interfaces with `tcpdump -D` (or `ip link`); --interface any captures on all of them');
  }
  return new McError(`tcpdump failed to start (${command}): ${text || 'no message'}`, 'MCR_ERR_TCPDUMP');
}

/**
 * util-linux's setpriv, when installed: tcpdump is started through `setpriv --pdeathsig KILL` so
 * that the kernel ends it even when mcreplay itself is killed with SIGKILL or by the OOM killer (no
 * exit handler runs then). The kernel clears that signal on any change of the child's credentials,
 * so it holds only while tcpdump keeps the ones it was started with: as root (see `dropArgs`), and
 * as a user whose mcreplay holds the capabilities itself (ambient, e.g. systemd's
 * AmbientCapabilities=). A tcpdump given file capabilities (`setcap ... tcpdump`) gains them at exec,
 * which clears the signal too: when not root, a watchdog (`startWatchdog`) ends it instead.
 */
function setprivPath(): string | null {
  for (const p of ['/usr/bin/setpriv', '/bin/setpriv']) if (existsSync(p)) return p;
  return null;
}

/**
 * As root, tcpdump gives up root after opening the device and becomes its own user (its default
 * `-Z tcpdump` on Debian and most builds): that change of credentials makes the kernel clear the
 * parent-death signal, and a tcpdump left by a kill -9'd mcreplay would run until its next packet
 * (on a quiet port, for ever). `-Z root` keeps root's ids, so the signal holds. This gives up no
 * protection that matters here: the drop guards against bugs in tcpdump's protocol dissectors,
 * and mcreplay runs tcpdump only with `-w -`, which writes the raw packets and dissects none. Not
 * root: tcpdump changes no ids (it drops privileges only when run as root), so nothing is passed.
 */
export function dropArgs(euid: number | undefined = process.geteuid?.()): string[] {
  return euid === 0 ? ['-Z', 'root'] : [];
}

/**
 * When not root: a watchdog child that ends tcpdump `pid` when mcreplay dies without running its exit
 * handler (SIGKILL, the OOM killer). A tcpdump with file capabilities lost its own parent-death
 * signal at exec (see above); the watchdog gains nothing at exec, so the signal setpriv gives it
 * (TERM) holds, and its trap kills tcpdump, which runs as the same user. It also ends by itself
 * within a second of tcpdump's end, and is killed as soon as mcreplay sees tcpdump end (so it never
 * signals a pid that tcpdump no longer holds). Null as root (-Z root keeps tcpdump's own signal).
 */
function startWatchdog(setpriv: string | null, pid: number | undefined): ChildProcess | null {
  if (setpriv === null || pid === undefined || process.geteuid?.() === 0) return null;
  const script = 'trap \'kill -KILL "$1" 2>/dev/null; exit 0\' TERM; while kill -0 "$1" 2>/dev/null; do sleep 1; done';
  const w = spawn(setpriv, ['--pdeathsig', 'TERM', '--', '/bin/sh', '-c', script, 'mcreplay-tcpdump-watchdog', String(pid)], { stdio: 'ignore' });
  w.on('error', () => {});
  w.unref();
  return w;
}

/** Starts tcpdump on `iface` with `filter`; resolves once it listens (rejects with McError otherwise). */
export async function startTcpdump(iface: string, filter: string, bin = 'tcpdump'): Promise<Tcpdump> {
  const args = ['-i', iface, '-s', '0', '-U', '-B', String(TCPDUMP_BUFFER_KIB), '-n', ...dropArgs(), '-w', '-', filter];
  const command = `${bin} ${args.map((a) => (/\s/.test(a) ? `'${a}'` : a)).join(' ')}`;
  const setpriv = setprivPath();
  const child: ChildProcess = setpriv === null ? spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] }) : spawn(setpriv, ['--pdeathsig', 'KILL', '--', bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const watchdog = startWatchdog(setpriv, child.pid);
  const endWatchdog = (): void => {
    if (watchdog !== null && watchdog.exitCode === null && watchdog.signalCode === null) watchdog.kill('SIGKILL');
  };
  // no child outlives the mirror, whatever way this process ends
  const killOnExit = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    endWatchdog();
  };
  process.on('exit', killOnExit);
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  let onErrText: (() => void) | null = null;
  child.stderr!.on('data', (d: string) => {
    // only the head (start-up messages) and the tail (counters) matter
    stderr = stderr.length > 64 * 1024 ? stderr.slice(-32 * 1024) + d : stderr + d;
    onErrText?.();
  });
  let stopping = false;
  let exitInfo: { code: number | null; signal: string | null } | null = null;
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => {
    child.once('exit', endWatchdog);
    child.once('close', (code, signal) => {
      endWatchdog();
      process.off('exit', killOnExit);
      exitInfo = { code, signal };
      resolve(exitInfo);
    });
  });
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));

  const started = await Promise.race([
    new Promise<'ok'>((resolve) => {
      onErrText = () => {
        if (/listening on/i.test(stderr)) resolve('ok');
      };
      onErrText();
    }),
    exited.then(() => 'exited' as const),
    spawnError,
    new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), START_TIMEOUT_MS).unref()),
  ]);
  onErrText = null;
  if (started instanceof Error) {
    process.off('exit', killOnExit);
    const e = started as NodeJS.ErrnoException;
    if (e.code === 'ENOENT') throw new McError(`tcpdump not found (${bin})`, 'MCR_ERR_TCPDUMP', 'install it (Debian/Ubuntu: apt-get install tcpdump), or pipe a capture in: ... | mcreplay mirror - ...');
    throw new McError(`cannot start tcpdump: ${e.message}`, 'MCR_ERR_TCPDUMP');
  }
  if (started !== 'ok') {
    killOnExit();
    await exited;
    throw started === 'timeout' ? new McError(`tcpdump did not start listening within ${START_TIMEOUT_MS / 1000}s (${command}): ${stderr.trim().slice(0, 300)}`, 'MCR_ERR_TCPDUMP') : startError(iface, stderr, command);
  }
  const stdout = child.stdout!;
  return {
    stdout,
    pid: child.pid!,
    command,
    exited,
    unexpectedExit: () => exitInfo !== null && !stopping,
    poll() {
      if (exitInfo === null && !stopping) child.kill('SIGUSR1');
    },
    counts: () => parseCounts(stderr),
    async stop() {
      stopping = exitInfo === null || stopping;
      if (exitInfo === null) {
        child.kill('SIGTERM');
        const t = setTimeout(killOnExit, 3000);
        await exited;
        clearTimeout(t);
      }
      const x = (await exited) as { code: number | null; signal: string | null };
      return { ...x, counts: parseCounts(stderr), stderr };
    },
  };
}
