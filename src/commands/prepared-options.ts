// What a prepared workload file (.mcw) means for the options of a replay: the options that shaped it
// when it was prepared (ports, --any-port, --ascii-auth, and the filters given to prepare) hold for
// every replay of it. A replay that leaves them out takes them from the file; one that gives a
// different value is refused (exit 2), since the file cannot hold what the capture read another way
// would: re-run prepare with those options.
import { McError } from '../errors.js';
import { listOption, parseDurationNs } from '../replay/parse.js';
import type { ReplaySetup } from '../replay/coordinator.js';
import { VERSION } from '../version.js';
import type { PreparedShape } from '../workload/prepared-format.js';
import { isPreparedFile, openPrepared, type PreparedFile } from '../workload/prepared-read.js';
import { serverKeyOf } from '../topology/targets.js';
import { parsePorts } from './capture-args.js';

/** The options of replay and prepare that shape a workload, as commander gives them. */
export interface ShapingOpts {
  port?: string[];
  anyPort?: boolean;
  asciiAuth?: boolean;
  commands?: string[];
  readOnly?: boolean;
  server?: string[];
  from?: string;
  to?: string;
}

/** The filters given on a command line (null/false where not given), as a prepared file's header holds them. */
export function shapingFilters(o: ShapingOpts): Pick<PreparedShape, 'commands' | 'readOnly' | 'servers' | 'fromNs' | 'toNs'> {
  const commands = listOption(o.commands).map((c) => c.toLowerCase());
  const servers = listOption(o.server).map((s) => serverKeyOf(s, '--server'));
  const fromNs = o.from === undefined ? null : parseDurationNs(o.from, '--from');
  const toNs = o.to === undefined ? null : parseDurationNs(o.to, '--to');
  if (fromNs !== null && toNs !== null && toNs <= fromNs) throw new McError('--to must be after --from', 'MCR_ERR_BAD_OPTION');
  return { commands: commands.length > 0 ? commands : null, readOnly: o.readOnly === true, servers: servers.length > 0 ? servers : null, fromNs, toNs };
}

const sameSet = (a: readonly (string | number)[], b: readonly (string | number)[]): boolean => a.length === b.length && [...a].sort().join(',') === [...b].sort().join(',');

/** Where a command line contradicts the shaping a prepared file was made with (empty: none). */
export function shapingConflicts(h: PreparedShape, o: ShapingOpts): string[] {
  const out: string[] = [];
  const f = shapingFilters(o);
  const ports = o.port === undefined ? null : parsePorts(o.port);
  if (ports !== null && !sameSet(ports, h.serverPorts)) out.push(`--port ${ports.join(',')} (prepared with --port ${h.serverPorts.join(',')})`);
  if (o.anyPort === true && !h.anyPort) out.push('--any-port (prepared without it)');
  if (o.asciiAuth === true && !h.asciiAuth) out.push('--ascii-auth (prepared without it)');
  // a filter the file was prepared with left out the bytes of what it holds back: another one cannot be served
  if (h.commands !== null && f.commands !== null && !sameSet(f.commands, h.commands)) out.push(`--commands ${f.commands.join(',')} (prepared with --commands ${h.commands.join(',')})`);
  if (h.servers !== null && f.servers !== null && !sameSet(f.servers, h.servers)) out.push(`--server ${f.servers.join(',')} (prepared with --server ${h.servers.join(',')})`);
  if (h.fromNs !== null && f.fromNs !== null && f.fromNs !== h.fromNs) out.push(`--from ${o.from} (prepared with --from ${h.fromNs / 1e9}s)`);
  if (h.toNs !== null && f.toNs !== null && f.toNs !== h.toNs) out.push(`--to ${o.to} (prepared with --to ${h.toNs / 1e9}s)`);
  return out;
}

/**
 * When the replay's input is a prepared file: checks its header (version, completeness) and the
 * command line against it, and completes the setup with the shaping it was prepared with. Returns
 * the opened file, or null when the input is a capture.
 */
export function applyPreparedFile(input: string, o: ShapingOpts, setup: ReplaySetup): PreparedFile | null {
  if (!isPreparedFile(input)) return null;
  const f = openPrepared(input, VERSION);
  const h = f.header.shape;
  const bad = shapingConflicts(h, o);
  if (bad.length > 0) {
    throw new McError(
      `${input} was prepared from ${f.header.capture.path} with other shaping options than this replay asks for: ${bad.join('; ')}`,
      'MCR_ERR_PREPARED_FILE',
      `re-run mcreplay prepare ${f.header.capture.path} with the options you want (--out ${input}), or leave these options out: a replay of a prepared file takes them from it`,
    );
  }
  setup.serverPorts = [...h.serverPorts];
  setup.anyPort = h.anyPort;
  setup.asciiAuth = h.asciiAuth;
  const s = setup.shape;
  if (h.commands !== null) s.commands = new Set(h.commands);
  if (h.readOnly) s.readOnly = true;
  if (h.servers !== null) s.servers = new Set(h.servers);
  if (h.fromNs !== null) s.fromNs = h.fromNs;
  if (h.toNs !== null) s.toNs = h.toNs;
  if (s.fromNs !== null && s.toNs !== null && s.toNs <= s.fromNs) throw new McError(`--to must be after --from (${input} was prepared with --from ${(h.fromNs ?? 0) / 1e9}s --to ${(h.toNs ?? 0) / 1e9}s)`, 'MCR_ERR_BAD_OPTION');
  return f;
}
