// The `inspect` verb: what is in a capture and how much of it can be replayed.
import { Command, Option } from 'commander';
import { access } from 'node:fs/promises';
import { ExitCode, McError } from '../errors.js';
import { portHint } from '../workload/port-hint.js';
import { inspectCapture, type InspectReport } from '../workload/inspect.js';
import { table } from '../report/text-table.js';
import { fmtBytes, fmtInt, fmtNs, fmtPct } from '../report/format.js';
import { parsePorts } from './capture-args.js';
import { isPreparedFile } from '../workload/prepared-read.js';

interface InspectOpts {
  port?: string[];
  anyPort?: boolean;
  asciiAuth?: boolean;
  json?: boolean;
}

/** Adds the 'inspect' verb to the program. */
export function register(program: Command): void {
  program
    .command('inspect')
    .description('Show what is in a capture and how much of it can be replayed')
    .argument('<capture>', "pcap or pcapng file (gzip ok), or '-' for standard input")
    .addOption(new Option('-p, --port <ports...>', 'memcached server port(s), comma-separated or repeated (default 11211)'))
    .option('--any-port', 'also decode TCP connections on other ports, taking the SYN receiver as the server')
    .option('--ascii-auth', 'the captured servers ran with ascii auth (memcached -Y): the first set of every connection is credentials')
    .option('--json', 'print the report as JSON (schema mcreplay.inspect/1) on stdout')
    .addHelpText(
      'after',
      `
Examples:
  mcreplay inspect captures/sample.pcap
  mcreplay inspect prod.pcapng --port 11211,11311 --json > prod.inspect.json
  tcpdump -i any -s 0 -U -w - 'tcp port 11211' | mcreplay inspect -

Exit codes: 0 ok (also for a capture cut short: what was readable is shown, with a warning),
2 bad usage or missing file, 4 not a capture or nothing replayable.`,
    )
    .action(async (capture: string, opts: InspectOpts) => {
      const serverPorts = parsePorts(opts.port);
      if (capture !== '-') {
        await access(capture).catch(() => {
          throw new McError(`${capture}: no such file`, 'MCR_ERR_CAPTURE_UNREADABLE', 'Give the path of a pcap/pcapng capture, or - to read standard input.');
        });
      }
      // a prepared workload (mcreplay prepare) is not a capture: say what it is and where it came from
      if (isPreparedFile(capture)) throw new McError(`${capture} is a prepared workload (mcreplay prepare), not a capture`, 'MCR_ERR_PREPARED_FILE', 'replay it with mcreplay replay, or inspect the capture it was prepared from');
      const report = await inspectCapture(capture, { serverPorts, anyPort: opts.anyPort === true, asciiAuth: opts.asciiAuth === true });
      if (report.file.format === 'unknown') {
        throw new McError(`${capture}: not a pcap or pcapng capture${report.quality.error ? ` (${report.quality.error})` : ''}`, 'MCR_ERR_NOT_A_CAPTURE', 'Record one with: tcpdump -i any -s 0 -w prod.pcap port 11211');
      }
      if (opts.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
      else process.stdout.write(renderInspect(report));
      if (report.quality.error) process.stderr.write(`mcreplay: warning: ${report.quality.error}; showing what was readable\n`);
      const authNote = asciiAuthWarning(report);
      if (authNote) process.stderr.write(`mcreplay: warning: ${authNote}\n`);
      if (report.replayable.requests === 0) {
        process.stderr.write(`mcreplay: ${capture}: no replayable memcached requests${serverPorts.length ? ` on port(s) ${serverPorts.join(',')}` : ''}; ${portHint(report.quality, opts.anyPort === true)}\n`);
        process.exitCode = ExitCode.invalidRun;
      }
    });
}

/** What the capture shows of ascii auth (memcached -Y) that the user did not declare, or null. */
export function asciiAuthWarning(r: InspectReport): string | null {
  const a = r.replayable.asciiAuth;
  if (a.declared || (a.shapedSets === 0 && a.authAnswers === 0)) return null;
  const seen: string[] = [];
  if (a.authAnswers) seen.push(`${a.authAnswers} answer(s) only a memcached -Y gives (CLIENT_ERROR unauthenticated / authentication failure) from ${a.servers.join(', ')}`);
  if (a.shapedSets) seen.push(`${a.shapedSets} connection(s) whose first set looks like "user password"`);
  return `the capture looks like ascii auth: ${seen.join('; ')}; these are held back as credentials. If the captured servers ran with -Y, pass --ascii-auth`;
}

/** Renders the inspect report for a person. */
export function renderInspect(r: InspectReport): string {
  const out: string[] = [];
  const q = r.quality;
  out.push(`${r.file.name}: ${r.file.format}${r.file.gzip ? ' (gzip)' : ''}${r.file.nanosecond ? ', ns timestamps' : ''}${r.file.bytes !== null ? `, ${fmtBytes(r.file.bytes)}` : ''}`);
  out.push(`  start ${r.start ?? '-'}, duration ${fmtNs(r.durationNs)}, ${fmtInt(r.packets)} packets (${Object.entries(r.linkTypes).map(([k, v]) => `${k} ${fmtInt(v)}`).join(', ') || 'none'})`);
  out.push('');
  out.push(`servers (${r.servers.length}):`);
  if (r.servers.length) out.push(table([['endpoint', 'connections', 'requests'], ...r.servers.map((s) => [s.endpoint, fmtInt(s.connections), fmtInt(s.requests)])]));
  const c = r.connections;
  out.push(`connections: ${fmtInt(c.total)} (tcp ${fmtInt(c.tcp)}, udp ${fmtInt(c.udp)}); joined mid-way: ${fmtInt(c.midstream)}; closed by fin ${c.closed.fin ?? 0}, rst ${c.closed.rst ?? 0}, open at end ${c.closed.end ?? 0}, idle ${c.closed.idle ?? 0}, tuple reused ${c.closed.reused ?? 0}`);
  out.push('');
  out.push(`requests: ${fmtInt(r.requests.total)}, mean ${r.requests.rate.meanPerSec}/s, peak ${fmtInt(r.requests.rate.peakPerSec)}/s${r.requests.rate.peakSecond !== null ? ` (second ${r.requests.rate.peakSecond})` : ''}`);
  const rows = [['command', 'count', 'keys', 'hits', 'misses', 'hit ratio', 'errors', 'p50', 'p99', 'max']];
  for (const [cmd, t] of Object.entries(r.requests.perCommand)) {
    const errs = t.errors.ERROR + t.errors.CLIENT_ERROR + t.errors.SERVER_ERROR;
    rows.push([
      `${cmd}${t.destructive ? ' (destructive)' : ''}`,
      fmtInt(t.count),
      fmtInt(t.keys),
      fmtInt(t.hits),
      fmtInt(t.misses),
      fmtPct(t.hitRatio),
      fmtInt(errs),
      fmtNs(t.latencyNs?.p50),
      fmtNs(t.latencyNs?.p99),
      fmtNs(t.latencyNs?.max),
    ]);
  }
  if (rows.length > 1) out.push(table(rows));
  out.push(`keys: ${fmtInt(r.keys.distinct)} distinct${r.keys.distinctExact ? '' : ' (estimate)'}; key size p50 ${fmtBytes(r.keys.sizeBytes?.p50)}, max ${fmtBytes(r.keys.sizeBytes?.max)}`);
  out.push(`values written: p50 ${fmtBytes(r.values.writtenBytes?.p50)}, p99 ${fmtBytes(r.values.writtenBytes?.p99)}, max ${fmtBytes(r.values.writtenBytes?.max)}; values read: p50 ${fmtBytes(r.values.readBytes?.p50)}, p99 ${fmtBytes(r.values.readBytes?.p99)}, max ${fmtBytes(r.values.readBytes?.max)}`);
  out.push(`hit ratio ${fmtPct(r.hitRatio)}; latency as captured: p50 ${fmtNs(r.latencyNs?.p50)}, p90 ${fmtNs(r.latencyNs?.p90)}, p99 ${fmtNs(r.latencyNs?.p99)}, p99.9 ${fmtNs(r.latencyNs?.p999)}, max ${fmtNs(r.latencyNs?.max)}`);
  out.push('');
  out.push('capture quality:');
  const unparsable = Object.entries(q.unparsableBytes).map(([k, v]) => `${k} ${fmtInt(v)}`).join(', ') || '0';
  const lines: [string, string][] = [
    ['gaps (bytes the capture lost)', `${fmtInt(q.gaps)} (${fmtBytes(q.gapBytes)} known)`],
    ['retransmitted segments', `${fmtInt(q.retransmittedSegments)} (${fmtBytes(q.retransmittedBytes)})`],
    ['out-of-order segments', fmtInt(q.outOfOrderSegments)],
    ['truncated packets (snaplen)', `${fmtInt(q.truncatedPackets)} (${fmtBytes(q.truncatedBytes)} cut)`],
    ['malformed packets', fmtInt(q.malformedPackets)],
    ['unparsable request bytes', unparsable],
    ['unexpected response bytes', `${fmtInt(q.unexpectedResponseBytes)}${q.orphanResponseBytes ? ` (+${fmtInt(q.orphanResponseBytes)} answering requests sent before the capture)` : ''}`],
    ['requests lost (at least)', fmtInt(q.requestsLost)],
    ['requests unanswered', `closed ${q.unanswered.closed}, desync ${q.unanswered.desync}, at capture end ${q.unanswered.end}`],
    ['timestamps out of order', `${fmtInt(q.timestampInversions)} inversions, ${fmtInt(q.timestampOutliers)} outliers`],
    ['not memcached traffic', `${fmtInt(q.notServerPort)} other-port, ${fmtInt(q.nonIp)} non-IP, ${fmtInt(q.otherTransport)} non-TCP/UDP, ${fmtInt(q.ipFragments)} IP fragments`],
  ];
  const badOpts = Object.entries(q.badOptions ?? {});
  if (badOpts.length) lines.push(['options out of range (ignored)', `${badOpts.map(([k, v]) => `${k} ${fmtInt(v)}`).join(', ')}${q.badOptionNote ? ` (first: ${q.badOptionNote})` : ''}`]);
  const unsupported = Object.entries(q.unsupportedLinkTypes);
  if (unsupported.length) lines.push(['unsupported link types', unsupported.map(([k, v]) => `${k} ${fmtInt(v)}`).join(', ')]);
  if (q.trailingBytes || q.error) lines.push(['file problem', `${q.error ?? ''}${q.trailingBytes ? ` (${fmtInt(q.trailingBytes)} trailing bytes)` : ''}`]);
  for (const [k, v] of lines) out.push(`  ${k.padEnd(31)} ${v}`);
  const rp = r.replayable;
  const held = Object.entries(rp.destructive).map(([k, v]) => `${k} ${v}`).join(', ');
  out.push('');
  out.push(`replayable: ${fmtInt(rp.requests)} of ${fmtInt(rp.of)} requests (${rp.percent}%)` +
    (rp.udp > 0 ? `, ${fmtInt(rp.udp)} of them over UDP` : '') +
    (rp.excluded.credentials ? `; not replayed: ${rp.excluded.credentials} with credentials` : ''));
  if (held) out.push(`held back unless --allow names them: ${held}`);
  return out.join('\n') + '\n';
}
