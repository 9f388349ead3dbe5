// The options `replay` and `mirror` share (targets, what to send, authentication, limits, outputs),
// declared once and parsed once: each verb adds its own (rate and capture window; delay, backlog
// and tcpdump) around these blocks.
import type { Command } from 'commander';
import { cpus } from 'node:os';
import { McError } from '../errors.js';
import { parseTargets, serverKeyOf } from '../topology/targets.js';
import { defaultShape, type ShapeOptions } from '../workload/shape.js';
import { listOption, parseDurationNs } from '../replay/parse.js';
import type { ReplaySetup } from '../replay/coordinator.js';
import { CONNECT_AHEAD_NS } from '../replay/feed.js';
import { PRIORITY_HELP, collect, intOption, priorityOption } from './options.js';
import { parsePorts } from './capture-args.js';
import { saslAuth } from './migrate-opts.js';

/** The shared options as commander hands them over. */
export interface RunOpts {
  target?: string[];
  pool?: string;
  hash?: string;
  port?: string[];
  anyPort?: boolean;
  asciiAuth?: boolean;
  duration?: string;
  clone: string;
  cloneKeys?: boolean;
  commands?: string[];
  readOnly?: boolean;
  server?: string[];
  allow?: string[];
  saslUser?: string;
  allowSourceTarget?: boolean;
  pollStats?: string | boolean;
  out: string;
  json?: boolean;
  workers?: string;
  priority?: string;
  timeout: string;
  connectAhead: string;
  maxLag: string;
  maxStall: string;
  progress: boolean;
  html: boolean;
  png: boolean;
  threshold?: string[];
  metrics?: string;
}

/** Where the captured traffic goes: --target, --pool, --hash, and how to read the capture (--port, --any-port, --ascii-auth). */
export function addTargetOptions(cmd: Command): Command {
  return cmd
    .option('--target <addr>', 'target host:port for everything, or captured=new to map one captured server (repeatable)', collect)
    .option('--pool <list>', 'targets as a client pool: host:port,host:port (keys are re-sharded with --hash)')
    .option('--hash <scheme>', 'pool hashing: modulo (libmemcached default), crc32 (python-memcached), ketama (libmemcached weighted, spymemcached), consistent (libmemcached ketama, pylibmc), rendezvous (pymemcache)')
    .option('--port <ports>', 'memcached server port(s) in the capture (default 11211)', collect)
    .option('--any-port', 'also decode TCP connections on other ports (server = the SYN receiver)')
    .option('--ascii-auth', 'the captured servers ran with ascii auth (memcached -Y): the first set of every connection is credentials, never sent');
}

/** What is sent: --clone, --clone-keys, --commands, --read-only, --server, --allow. */
export function addShapeOptions(cmd: Command): Command {
  return cmd
    .option('--clone <n>', 'send every connection N times', '1')
    .option('--clone-keys', 'namespace keys per clone (c1:, c2: ...) so the key space grows N times')
    .option('--commands <list>', 'only these commands (get,set,...)', collect)
    .option('--read-only', 'only commands that do not change the cache');
}

/** --server and --allow (after the verb's own filters in --help). */
export function addServerOptions(cmd: Command): Command {
  return cmd
    .option('--server <addr>', 'only connections to this captured server (repeatable)', collect)
    .option('--allow <list>', 'destructive commands to send anyway (flush_all,verbosity,...)', collect);
}

/** Authentication, stats polling, outputs, workers and the saturation limits. */
export function addRunOptions(cmd: Command): Command {
  return cmd
    .option('--sasl-user <user>', 'authenticate to targets as this user; password from MCREPLAY_SASL_PASSWORD')
    .option('--allow-source-target', 'allow a target that is one of the captured servers')
    .option('--poll-stats [interval]', 'poll `stats` on every target (default every 1s)');
}

/** --out, --json, --workers, --priority, --timeout, --connect-ahead, --max-lag, --max-stall. */
export function addOutputOptions(cmd: Command): Command {
  return cmd
    .option('--out <dir>', 'reports directory', 'reports')
    .option('--json', 'print the run summary as JSON on stdout instead of the table (nothing else goes to stdout)')
    .option('--workers <n>', 'worker threads (default min(cores - 1, 4), at least 1)')
    .option('--priority <mode>', PRIORITY_HELP, 'auto')
    .option('--timeout <d>', 'a request unanswered this long fails as timeout', '5s')
    .option('--connect-ahead <d>', 'connect each connection the capture opens this long before its captured open, so the handshake is not inside the schedule (0: at the captured moment)', `${CONNECT_AHEAD_NS / 1e6}ms`)
    .option('--max-lag <d>', 'schedule lag p99 above this makes the run saturated (exit 4)', '10ms')
    .option('--max-stall <d>', 'a worker event-loop stall above this makes the run saturated (exit 4)', '250ms');
}

/** --no-progress, --no-html, --no-png. */
export function addViewOptions(cmd: Command): Command {
  return cmd
    .option('--no-progress', 'no progress output on stderr')
    .option('--no-html', 'do not write the HTML report (results.json and the .hlog only)')
    .option('--no-png', 'do not draw the PNG charts beside the HTML report');
}

/** --threshold (repeatable). */
export function addThresholdOption(cmd: Command): Command {
  return cmd.option('--threshold <check>', "pass/fail check, e.g. 'latency.p99 < 2ms' (repeatable; exit 99 when one fails)", collect);
}

/** --metrics. */
export function addMetricsOption(cmd: Command): Command {
  return cmd.option('--metrics <[host:]port>', 'serve Prometheus /metrics while the run goes (127.0.0.1 unless a host is given; no authentication)');
}

/** The part of a ReplaySetup both verbs fill the same way from the shared options. */
export type CommonSetup = Pick<
  ReplaySetup,
  'targets' | 'shape' | 'clone' | 'cloneKeys' | 'durationNs' | 'workers' | 'priority' | 'timeoutNs' | 'serverPorts' | 'anyPort' | 'asciiAuth' | 'auth' | 'allowSourceTarget' | 'intervalNs' | 'connectAheadNs'
>;

/** What the shared options say: the common part of the setup, the stats poll interval, the saturation limits. */
export interface CommonRun {
  common: CommonSetup;
  pollNs: number | null;
  limits: { maxLagNs: number; maxStallNs: number };
}

/** Parses the shared options; bad usage (exit 2) names the option. */
export function parseCommonRun(o: RunOpts): CommonRun {
  const targets = parseTargets({ target: o.target, pool: o.pool, hash: o.hash });
  const shape: ShapeOptions = defaultShape();
  const commands = listOption(o.commands);
  if (commands.length > 0) shape.commands = new Set(commands.map((c) => c.toLowerCase()));
  shape.readOnly = o.readOnly === true;
  const servers = listOption(o.server);
  if (servers.length > 0) shape.servers = new Set(servers.map((s) => serverKeyOf(s, '--server')));
  shape.allow = new Set(listOption(o.allow).map((c) => c.toLowerCase()));
  const clone = intOption(o.clone, '--clone', 1, 10_000);
  const durationNs = o.duration === undefined ? null : parseDurationNs(o.duration, '--duration');
  if (durationNs !== null && durationNs <= 0) throw new McError('--duration must be above 0', 'MCR_ERR_BAD_OPTION');
  // one core stays with the main thread (capture reading and shaping); on 2 cores one worker keeps
  // the schedule better than two (bench/README.md, Replay)
  const workers = o.workers === undefined ? Math.max(1, Math.min(cpus().length - 1, 4)) : intOption(o.workers, '--workers', 1, 256);
  const timeoutNs = parseDurationNs(o.timeout, '--timeout');
  if (timeoutNs <= 0) throw new McError('--timeout must be above 0', 'MCR_ERR_BAD_OPTION');
  const connectAheadNs = parseDurationNs(o.connectAhead, '--connect-ahead');
  if (connectAheadNs < 0 || connectAheadNs > 10e9) throw new McError(`--connect-ahead must be between 0 and 10s, got ${o.connectAhead}`, 'MCR_ERR_BAD_OPTION');
  const auth = saslAuth(o.saslUser);
  let pollNs: number | null = null;
  if (o.pollStats !== undefined && o.pollStats !== false) pollNs = o.pollStats === true ? 1e9 : parseDurationNs(o.pollStats, '--poll-stats');
  const common: CommonSetup = {
    targets,
    shape,
    clone,
    cloneKeys: o.cloneKeys === true,
    durationNs,
    workers,
    priority: priorityOption(o.priority),
    timeoutNs,
    serverPorts: parsePorts(o.port),
    anyPort: o.anyPort === true,
    asciiAuth: o.asciiAuth === true,
    auth,
    allowSourceTarget: o.allowSourceTarget === true,
    intervalNs: 1e9,
    connectAheadNs,
  };
  const limits = { maxLagNs: parseDurationNs(o.maxLag, '--max-lag'), maxStallNs: parseDurationNs(o.maxStall, '--max-stall') };
  return { common, pollNs, limits };
}
