// The `top` verb: a memcache-top for a migration, one row per server refreshed in place on a
// terminal, plain lines when piped, JSON lines for scripts.
import { Command } from 'commander';
import { collect } from './options.js';
import { ExitCode, McError } from '../errors.js';
import { fmtBytes, fmtInt, fmtPct, fmtSI } from '../report/format.js';
import { table } from '../report/text-table.js';
import { parseDurationNs } from '../replay/parse.js';
import { formatHostPort, parseHostPort, type HostPort } from '../topology/targets.js';
import { groupRow, ServerWatch, type TopRow } from '../migrate/top.js';
import { intOpt, saslAuth, serverList } from './migrate-opts.js';

interface TopOpts {
  interval: string;
  group?: string[];
  count?: string;
  saslUser?: string;
  json?: boolean;
}

const EXAMPLES = `
Examples:
  mcreplay top 127.0.0.1:11211 --count 3
  mcreplay top old1:11211 old2:11211 new1:11211 new2:11211 --interval 2s
  mcreplay top old1 old2 new1 new2 --group old=old1,old2 --group new=new1,new2
  mcreplay top old1:11211 new1:11211 --json --count 10 > top.jsonl

Exit codes: 0 (also when servers are down: they show as down), 2 bad usage.`;

/** Adds the 'top' verb to the program. */
export function register(program: Command): void {
  program
    .command('top')
    .description('Watch servers: gets/s, sets/s, hit ratio, items, fill, evictions, connections, bytes/s per server and group')
    .argument('<servers...>', 'servers host:port (port 11211 when left out)')
    .option('--interval <d>', 'time between refreshes', '2s')
    .option('--group <name=servers>', 'totals of a group: name=host:port,host:port (repeatable)', collect)
    .option('--count <n>', 'stop after this many refreshes (default: until Ctrl-C)')
    .option('--sasl-user <user>', 'authenticate as this user (binary SASL or ascii auth); password from MCREPLAY_SASL_PASSWORD')
    .option('--json', 'one JSON object per refresh (schema mcreplay.top/1) on stdout')
    .addHelpText('after', EXAMPLES)
    .action(async (servers: string[], o: TopOpts) => {
      process.exitCode = await topAction(servers, o);
    });
}

function parseGroups(texts: string[] | undefined, servers: HostPort[]): { name: string; members: number[] }[] {
  const names = servers.map(formatHostPort);
  return (texts ?? []).map((t) => {
    const eq = t.indexOf('=');
    if (eq <= 0) throw new McError(`--group ${JSON.stringify(t)}: expected name=server,server`, 'MCR_ERR_BAD_OPTION', 'e.g. --group old=old1:11211,old2:11211');
    const members = serverList(t.slice(eq + 1), '--group').map((hp) => {
      const i = names.indexOf(formatHostPort(hp));
      if (i < 0) throw new McError(`--group ${t.slice(0, eq)}: ${formatHostPort(hp)} is not one of the servers watched`, 'MCR_ERR_BAD_OPTION', `watched: ${names.join(', ')}`);
      return i;
    });
    return { name: t.slice(0, eq), members };
  });
}

async function topAction(serverTexts: string[], o: TopOpts): Promise<number> {
  const servers = serverTexts.map((s) => parseHostPort(s, 'server'));
  const groups = parseGroups(o.group, servers);
  const intervalMs = parseDurationNs(o.interval, '--interval') / 1e6;
  if (intervalMs < 100) throw new McError(`--interval ${o.interval}: at least 100ms`, 'MCR_ERR_BAD_OPTION');
  const count = o.count === undefined ? Infinity : intOpt(o.count, '--count', 1, 1_000_000_000);
  const auth = saslAuth(o.saslUser);
  const watches = servers.map((s) => new ServerWatch(s, auth));
  const tty = process.stdout.isTTY === true && !o.json;
  let stop = false;
  let wake: (() => void) | null = null;
  const onSig = (): void => {
    stop = true;
    wake?.();
  };
  process.on('SIGINT', onSig);
  process.on('SIGTERM', onSig);
  try {
    for (let n = 0; n < count && !stop; n++) {
      const started = performance.now();
      const rows = await Promise.all(watches.map((w) => w.poll(Math.min(2000, intervalMs))));
      const totals = groups.map((g) => groupRow(g.name, g.members.map((i) => rows[i]!)));
      const now = new Date();
      if (o.json) process.stdout.write(JSON.stringify({ schema: 'mcreplay.top/1', time: now.toISOString(), servers: rows, groups: totals }) + '\n');
      else process.stdout.write((tty ? '\x1b[H\x1b[2J' : '') + renderTop(rows, totals, now, intervalMs, tty));
      if (n + 1 >= count || stop) break;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(0, intervalMs - (performance.now() - started)));
        wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      wake = null;
    }
  } finally {
    process.off('SIGINT', onSig);
    process.off('SIGTERM', onSig);
  }
  return ExitCode.ok;
}

const num = (x: number | null, f: (n: number) => string): string => (x === null ? '-' : f(x));

function cells(r: TopRow): string[] {
  if (!r.up) return [r.server, 'down', '-', '-', '-', '-', '-', '-', '-', '-', '-', '-'];
  return [
    r.server,
    'up',
    num(r.getsPerS, fmtSI),
    num(r.setsPerS, fmtSI),
    num(r.hitRatio, (x) => fmtPct(x)),
    num(r.items, fmtInt),
    num(r.bytes, fmtBytes),
    num(r.fill, (x) => fmtPct(x)),
    num(r.evictionsPerS, fmtSI),
    num(r.connections, fmtInt),
    num(r.readBytesPerS, (x) => `${fmtBytes(x)}/s`),
    num(r.writeBytesPerS, (x) => `${fmtBytes(x)}/s`),
  ];
}

/** One refresh of the view: a header line, then one row per server and per group. */
export function renderTop(rows: TopRow[], groups: TopRow[], now: Date, intervalMs: number, tty: boolean): string {
  const head = ['server', 'state', 'gets/s', 'sets/s', 'hit', 'items', 'bytes', 'fill', 'evict/s', 'conns', 'read', 'written'];
  const body = [head, ...rows.map(cells)];
  if (groups.length) body.push(...groups.map((g) => cells({ ...g, server: `[${g.server}]` })));
  const title = `mcreplay top  ${now.toISOString().slice(11, 19)}  every ${intervalMs / 1000}s${tty ? '  (Ctrl-C quits)' : ''}`;
  // why a server is down goes under the table, where a long message does not widen every row
  const notes = [...rows, ...groups].filter((r) => r.error !== null).map((r) => `  ${r.server}: ${r.error}`);
  return `${title}\n${table(body)}\n${notes.length ? notes.join('\n') + '\n' : ''}${tty ? '' : '\n'}`;
}
