// The `warm` verb: fills new servers with the keys the captured clients read (or every key, --all),
// copied from the old servers with value, flags and remaining TTL, never overwriting.
import { Command, Option } from 'commander';
import { collect } from './options.js';
import { access } from 'node:fs/promises';
import { ExitCode, McError } from '../errors.js';
import { parsePorts } from './capture-args.js';
import { fmtBytes, fmtInt, fmtPct, fmtRate } from '../report/format.js';
import { formatHostPort, parseTargets, targetAddresses } from '../topology/targets.js';
import { parseKeyRate } from '../migrate/pace.js';
import { reachable, warmRun, type WarmReport } from '../migrate/warm-run.js';
import { intOpt, progressBar, saslAuth, serverList } from './migrate-opts.js';

interface WarmOpts {
  from?: string[];
  to?: string[];
  pool?: string;
  hash?: string;
  all?: boolean;
  port?: string[];
  anyPort?: boolean;
  rate: string;
  concurrency: string;
  resume?: boolean;
  saslUser?: string;
  json?: boolean;
  progress: boolean;
}

const EXAMPLES = `
Examples:
  mcreplay warm captures/sample.pcap --from 127.0.0.1:11211 --to 127.0.0.1:11212
  mcreplay warm prod.pcap --from old1:11211,old2:11211 --pool new1:11211,new2:11211,new3:11211 --hash ketama
  mcreplay warm --all --from old1:11211 --to new1:11211 --rate 20k/s
  mcreplay warm prod.pcap --from old1:11211 --to new1:11211 --resume --json > warm.json

Exit codes: 0 done (keys too large or missing on the old server are counted, not failures),
2 bad usage, 3 a server unreachable (before or during the run; the rest was copied),
4 the capture has no reads, 130 interrupted (SIGINT; the summary is printed).`;

/** Adds the 'warm' verb to the program. */
export function register(program: Command): void {
  program
    .command('warm')
    .description('Copy the keys captured clients read (or every key) from old servers to new ones, never overwriting')
    .argument('[capture]', "pcap or pcapng file whose reads pick the keys (gzip ok), '-' for standard input")
    .option('--from <servers>', 'old servers to copy from, host:port, comma-separated or repeated', collect)
    .option('--to <target>', 'new server for every key, or old=new per old server (repeatable)', collect)
    .option('--pool <servers>', 'new servers as a client pool, comma-separated (with --hash)')
    .option('--hash <scheme>', 'pool hashing: modulo, crc32, ketama, consistent, rendezvous (default modulo)')
    .option('--all', 'copy every key of the old servers (lru_crawler metadump), no capture needed')
    .addOption(new Option('-p, --port <ports...>', 'captured memcached port(s), as in inspect (default 11211)'))
    .option('--any-port', 'also decode captured connections on other ports, as in inspect')
    .option('--rate <keys/s>', 'keys fetched from the old servers a second, e.g. 5000/s or 20k/s', '5k/s')
    .option('--concurrency <n>', 'keys in flight at once', '8')
    .option('--resume', 'skip keys the new server already holds without fetching them from the old one')
    .option('--sasl-user <user>', 'ascii-auth to every server as this user; password from MCREPLAY_SASL_PASSWORD')
    .option('--json', 'print the summary as JSON (schema mcreplay.warm/1) on stdout')
    .option('--no-progress', 'no progress bar on stderr')
    .addHelpText('after', EXAMPLES)
    .action(async (capture: string | undefined, o: WarmOpts) => {
      process.exitCode = await warmAction(capture ?? null, o);
    });
}

async function warmAction(capture: string | null, o: WarmOpts): Promise<number> {
  const from = serverList(o.from, '--from');
  if (from.length === 0) throw new McError('no old server: give --from host:port', 'MCR_ERR_BAD_OPTION', 'e.g. --from old1:11211 --to new1:11211');
  if (capture === null && o.all !== true) throw new McError('give a capture (its reads pick the keys) or --all (every key)', 'MCR_ERR_BAD_OPTION', 'e.g. mcreplay warm prod.pcap --from old1:11211 --to new1:11211');
  if (o.to === undefined && o.pool === undefined) throw new McError('no new server: give --to host:port or --pool a,b', 'MCR_ERR_BAD_OPTION');
  const to = parseTargets({ target: o.to, pool: o.pool, hash: o.hash });
  if (to.kind === 'map' && to.fallback === null) {
    const unmapped = from.filter((f) => !to.map.has(formatHostPort(f)));
    if (unmapped.length) throw new McError(`--to maps no new server for old server(s) ${unmapped.map(formatHostPort).join(', ')}`, 'MCR_ERR_BAD_OPTION', 'add --to old=new for each, or one --to host:port for the rest');
  }
  const rate = parseKeyRate(o.rate);
  if (rate === null) throw new McError(`--rate ${o.rate}: not a key rate`, 'MCR_ERR_BAD_OPTION', 'write it like 5000/s, 20k/s or 5000');
  const concurrency = intOpt(o.concurrency, '--concurrency', 1, 1024);
  const serverPorts = parsePorts(o.port);
  if (capture !== null && capture !== '-') {
    await access(capture).catch(() => {
      throw new McError(`${capture}: no such file`, 'MCR_ERR_CAPTURE_UNREADABLE', 'Give the path of a pcap/pcapng capture, or - to read standard input.');
    });
  }
  const auth = saslAuth(o.saslUser);
  const timeoutMs = 5000;
  const dests = targetAddresses(to);
  const [old, nu] = await Promise.all([reachable(from, { timeoutMs, auth }), reachable(dests, { timeoutMs, auth })]);
  const down = [...old.down, ...nu.down];
  for (const d of down) process.stderr.write(`mcreplay: warning: ${d.why}\n`);
  if (old.up.length === 0) throw new McError(`no old server is reachable (${old.down.map((d) => d.server).join(', ')})`, 'MCR_ERR_TARGET_UNREACHABLE', 'check --from and that memcached runs there');
  if (nu.up.length === 0) throw new McError(`no new server is reachable (${nu.down.map((d) => d.server).join(', ')})`, 'MCR_ERR_TARGET_UNREACHABLE', 'check --to/--pool and that memcached runs there');

  const ac = new AbortController();
  const onSig = (): void => {
    if (ac.signal.aborted) process.exit(ExitCode.sigint);
    process.stderr.write('\nmcreplay: stopping (Ctrl-C again to quit at once); in-flight keys finish, then the summary\n');
    ac.abort();
  };
  process.on('SIGINT', onSig);
  const tty = process.stderr.isTTY === true && o.progress;
  let report: WarmReport;
  try {
    report = await warmRun(
      {
        capture,
        all: o.all === true,
        serverPorts,
        anyPort: o.anyPort === true,
        from,
        to,
        auth,
        rate,
        concurrency,
        resume: o.resume === true,
        timeoutMs,
        signal: ac.signal,
        onCapture(rk) {
          if (rk.reads === 0) {
            throw new McError(`${capture}: no reads of memcached keys${serverPorts.length ? ` on port(s) ${serverPorts.join(',')}` : ''}`, 'MCR_ERR_NO_REQUESTS', 'check --port / --any-port (mcreplay inspect shows what the capture holds)');
          }
        },
        progress(_phase, st, total) {
          if (!tty) return;
          const c = st.counts;
          process.stderr.write(`\r\x1b[K${progressBar(c.considered, total)} ${fmtInt(c.considered)}${total !== null ? `/${fmtInt(total)}` : ''} keys, copied ${fmtInt(c.copied)}, present ${fmtInt(c.alreadyPresent)}, ${fmtBytes(c.bytesCopied)}`);
        },
      },
      down.map((d) => d.server),
    );
  } finally {
    process.off('SIGINT', onSig);
    if (tty) process.stderr.write('\n');
  }
  if (o.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  else process.stdout.write(renderWarm(report));
  if (report.interrupted) return ExitCode.sigint;
  const lostToNetwork = Object.keys(report.keys.errors).some((k) => / unreachable$/.test(k));
  return down.length > 0 || lostToNetwork ? ExitCode.targetUnreachable : ExitCode.ok;
}

/** The warm-up summary for a person. */
export function renderWarm(r: WarmReport): string {
  const k = r.keys;
  const out: string[] = [];
  out.push(`warm ${r.mode === 'all' ? 'every key' : `keys read in ${r.capture}`}: ${r.from.join(',')} -> ${r.to.join(',')}${r.interrupted ? ' (interrupted)' : ''}`);
  out.push(`  ${fmtInt(k.considered)} keys considered in ${r.durationS.toFixed(1)} s (${fmtRate(r.durationS > 0 ? k.considered / r.durationS : 0)}, limit ${fmtRate(r.rate)})`);
  const lines: [string, string][] = [
    ['copied', `${fmtInt(k.copied)} (${fmtBytes(k.bytesCopied)})`],
    ['already present (kept)', fmtInt(k.alreadyPresent)],
    ['missing on the old server', fmtInt(k.missingOld)],
    ['expired or expiring < 1 s', fmtInt(k.expired)],
    ['too large for the new server', fmtInt(k.tooLarge)],
  ];
  for (const [cls, n] of Object.entries(k.errors)) lines.push([cls, fmtInt(n)]);
  for (const [a, b] of lines) out.push(`  ${a.padEnd(30)} ${b}`);
  for (const [cls, keys] of Object.entries(r.examples)) out.push(`  ${cls}: ${keys.map((x) => JSON.stringify(x)).join(', ')}`);
  if (r.unreachable.length) out.push(`  unreachable at start: ${r.unreachable.join(', ')}`);
  const c = r.coverage;
  if (c !== null) {
    out.push(`coverage of the capture's ${fmtInt(c.reads)} reads (${fmtInt(c.distinctKeys)} distinct keys) on the new servers:`);
    out.push(`  before  ${fmtPct(c.before.requests)} of reads, ${fmtPct(c.before.keys)} of keys`);
    out.push(`  after   ${c.after ? `${fmtPct(c.after.requests)} of reads, ${fmtPct(c.after.keys)} of keys` : '- (interrupted)'}`);
  }
  return out.join('\n') + '\n';
}
