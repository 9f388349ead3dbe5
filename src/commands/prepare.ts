// `mcreplay prepare <capture> --out prod.mcw`: parse a capture once into a prepared workload file
// (src/workload/prepared-format.ts) that `replay` reads in its place, without parsing it again.
import { Command } from 'commander';
import { mkdirSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { ExitCode, McError } from '../errors.js';
import { captureIdentity } from '../replay/results.js';
import { captureEpochSec } from '../replay/capture-epoch.js';
import { VERSION } from '../version.js';
import { extractWorkload } from '../workload/extract.js';
import { type PreparedHeader } from '../workload/prepared-format.js';
import { isPreparedFile } from '../workload/prepared-read.js';
import { createPreparedWriter } from '../workload/prepared-write.js';
import { connectionHold, defaultShape, requestHold, type ShapeOptions } from '../workload/shape.js';
import { checkCaptureFile, parsePorts } from './capture-args.js';
import { collect } from './options.js';
import { shapingFilters, type ShapingOpts } from './prepared-options.js';
import { fmtBytes, fmtInt } from '../report/format.js';

const EXAMPLES = `
Examples:
  mcreplay prepare captures/sample.pcap --out sample.mcw && mcreplay replay sample.mcw --target 127.0.0.1:11211 --rate 2x
  mcreplay prepare prod.pcap --out prod.mcw --port 11211,11311 --json
  mcreplay prepare captures/sample.pcap --out reads.mcw --read-only && mcreplay replay reads.mcw --target 127.0.0.1:11211 --shard 1/2 --loop --duration 10s
(prod.pcap stands for your own capture, 127.0.0.1:11211 for your new server.)

A prepared file holds the workload as a replay reads it: per connection, its requests in order with
their capture times and bytes, and the captured answers (hit/miss, latency) and capture-quality
counts the results carry. replay, --shard, --start-at and --loop take it in place of the capture.
The options given here (--port, --any-port, --ascii-auth, and the filters) are written in its header
and hold for every replay of it: a replay that gives other values is refused (exit 2). Captured
credentials are not written into it; destructive commands are, and stay held back unless a replay
names them in --allow.

Exit codes: 0 ok, 2 bad usage or an unreadable file, 4 not a capture.`;

interface PrepareOpts extends ShapingOpts {
  out: string;
  json?: boolean;
}

/** Adds the 'prepare' verb to the program. */
export function register(program: Command): void {
  program
    .command('prepare')
    .description('Parse a capture once into a prepared workload file (.mcw) that replay reads many times without parsing')
    .argument('<capture>', 'pcap/pcapng file (.gz ok)')
    .requiredOption('--out <file>', 'the prepared workload file to write (e.g. prod.mcw)')
    .option('--port <ports>', 'memcached server port(s) in the capture (default 11211)', collect)
    .option('--any-port', 'also decode TCP connections on other ports (server = the SYN receiver)')
    .option('--ascii-auth', 'the captured servers ran with ascii auth (memcached -Y): the first set of every connection is credentials')
    .option('--commands <list>', 'only these commands are kept with their bytes (the others are counted, as held back)', collect)
    .option('--read-only', 'only commands that do not change the cache are kept with their bytes')
    .option('--server <addr>', 'only connections to this captured server are kept with their bytes (repeatable)', collect)
    .option('--from <d>', 'requests before this offset into the capture are kept without their bytes')
    .option('--to <d>', 'requests after this offset into the capture are kept without their bytes')
    .option('--json', 'print what was written as JSON on stdout')
    .addHelpText('after', EXAMPLES)
    .action(async (capture: string, o: PrepareOpts) => {
      process.exitCode = await prepareAction(capture, o);
    });
}

/** What prepare wrote, as --json prints it. */
export interface PrepareReport {
  out: string;
  bytes: number;
  capture: PreparedHeader['capture'];
  shape: PreparedHeader['shape'];
  connections: number;
  requests: number;
  blocks: number;
  seconds: number;
  warnings: string[];
}

/** Runs the prepare verb; returns the exit code. */
export async function prepareAction(capture: string, o: PrepareOpts): Promise<number> {
  if (capture === '-') throw new McError('prepare needs a capture file, not standard input', 'MCR_ERR_BAD_OPTION', 'the capture\'s sha256 goes into the header (checked by merge and --baseline): save the capture to a file first');
  await checkCaptureFile(capture);
  if (isPreparedFile(capture)) throw new McError(`${capture} is already a prepared workload`, 'MCR_ERR_PREPARED_FILE', 'replay it directly: mcreplay replay <file.mcw> --target ...');
  if (resolve(capture) === resolve(o.out)) throw new McError(`--out ${o.out} is the capture itself`, 'MCR_ERR_BAD_OPTION', 'write the prepared file under another name (e.g. prod.mcw)');
  const started = process.hrtime.bigint();
  const serverPorts = parsePorts(o.port);
  const filters = shapingFilters(o);
  const shapeHdr = { serverPorts, anyPort: o.anyPort === true, asciiAuth: o.asciiAuth === true, ...filters };
  const [id, epochSec] = await Promise.all([captureIdentity(capture), captureEpochSec(capture)]);
  const header: PreparedHeader = {
    mcreplay: VERSION,
    createdAt: new Date().toISOString(),
    capture: { path: capture, name: basename(capture), sha256: id.sha256, bytes: id.bytes, epochSec },
    shape: shapeHdr,
  };
  const shape: ShapeOptions = {
    ...defaultShape(),
    commands: filters.commands === null ? null : new Set(filters.commands),
    readOnly: filters.readOnly,
    servers: filters.servers === null ? null : new Set(filters.servers),
    fromNs: filters.fromNs,
    toNs: filters.toNs,
  };
  mkdirSync(dirname(resolve(o.out)), { recursive: true });
  // what the prepare-time filters hold back keeps its place and counts, not its bytes
  const writer = createPreparedWriter(o.out, header, (r, c) => {
    if (c !== undefined && connectionHold(c, shape) !== null) return false;
    const why = requestHold(r, shape);
    return why !== 'filtered' && why !== 'window';
  });
  let info;
  let res;
  try {
    res = await extractWorkload(capture, { serverPorts, anyPort: shapeHdr.anyPort, asciiAuth: shapeHdr.asciiAuth, rawView: true }, writer.sink);
    if (res.capture.format === 'unknown') {
      throw new McError(`${capture}: not a pcap or pcapng capture${res.capture.error ? ` (${res.capture.error})` : ''}`, 'MCR_ERR_NOT_A_CAPTURE', 'Record one with: tcpdump -i any -s 0 -w prod.pcap port 11211');
    }
    info = writer.finish(res);
  } catch (err) {
    writer.abort();
    throw err;
  }
  const warnings: string[] = [];
  if (res.capture.error) warnings.push(`${res.capture.error}; what was readable is prepared`);
  if (info.requests === 0) warnings.push(`no memcached requests${serverPorts.length ? ` on port(s) ${serverPorts.join(',')}` : ''}; check --port`);
  const report: PrepareReport = {
    out: o.out,
    bytes: info.bytes,
    capture: header.capture,
    shape: header.shape,
    connections: info.connections,
    requests: info.requests,
    blocks: info.blocks,
    seconds: Number(process.hrtime.bigint() - started) / 1e9,
    warnings,
  };
  if (o.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else {
    process.stdout.write(
      `mcreplay: prepared ${capture} -> ${o.out}: ${fmtInt(info.connections)} connections, ${fmtInt(info.requests)} requests, ${fmtBytes(info.bytes)} (capture ${fmtBytes(id.bytes)}) in ${report.seconds.toFixed(2)} s\n` +
        `  replay it with: mcreplay replay ${o.out} --target <host:port>\n`,
    );
  }
  for (const w of warnings) process.stderr.write(`mcreplay: warning: ${w}\n`);
  return info.requests === 0 ? ExitCode.invalidRun : ExitCode.ok;
}
