// The `diff` verb: replay a capture's reads against two setups (and a secondary copy of the first for
// the noise floor) and compare every answer; exit 99 when they differ by more than --max-diff.
import { Command, Option } from 'commander';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { ExitCode, McError } from '../errors.js';
import { intOption } from './options.js';
import { DIFF_KINDS, diffCapture, type DiffResult } from '../migrate/diff.js';
import { parseHashKind, parseMemberList, formatHostPort, type HostPort } from '../topology/targets.js';
import { parseDurationNs } from '../replay/parse.js';
import { table } from '../report/text-table.js';
import { fmtInt, fmtPct } from '../report/format.js';
import { checkCaptureFile, parsePorts } from './capture-args.js';
import type { StopSignal } from '../replay/session.js';

interface DiffOpts {
  primary: string;
  candidate: string;
  secondary?: string;
  hash?: string;
  port?: string[];
  anyPort?: boolean;
  withWrites?: boolean;
  allowSourceTarget?: boolean;
  maxDiff: string;
  examples: string;
  showKeys?: boolean;
  rate: string;
  inFlight: string;
  timeout: string;
  json?: boolean;
  progress?: boolean;
}

/** Adds the 'diff' verb to the program. */
export function register(program: Command): void {
  program
    .command('diff')
    .description('Replay the capture\'s reads against two setups and compare every answer (hit/miss, value, flags)')
    .argument('<capture>', "pcap or pcapng file (gzip ok), or '-' for standard input")
    .requiredOption('--primary <servers>', 'the setup answers are compared against (the old servers): host:port,...')
    .requiredOption('--candidate <servers>', 'the setup under test (the new servers): host:port,...')
    .option('--secondary <servers>', 'a second copy of the primary setup: differences it shares with the primary are noise, not failures')
    .option('--hash <scheme>', 'how keys are placed on a setup of several servers: modulo, crc32, ketama, consistent, rendezvous (default modulo)')
    .addOption(new Option('-p, --port <ports...>', 'memcached server port(s) in the capture, comma-separated or repeated (default 11211)'))
    .option('--any-port', 'also decode TCP connections on other ports, taking the SYN receiver as the server')
    .option('--with-writes', 'also send the captured writes (sets, deletes, incr ...) to every setup, in capture order, before the reads that follow them')
    .option('--allow-source-target', 'with --with-writes: allow writing to a server that is one of the captured servers')
    .option('--max-diff <share>', "largest share of compared read requests that may differ for exit 0, e.g. 0.1% (default 0: none)", '0')
    .option('--examples <n>', 'example keys kept per kind of difference (printed only with --show-keys)', '5')
    .option('--show-keys', 'print the example keys (values are never printed)')
    .option('--rate <rate>', "read requests per second (e.g. 5000/s), or 'max' (as fast as --in-flight allows)", 'max')
    .option('--in-flight <n>', 'read requests in flight at once', '16')
    .option('--timeout <duration>', 'how long a server may take to answer', '5s')
    .option('--json', 'print the result as JSON (schema mcreplay.diff/1) on stdout')
    .option('--no-progress', 'no progress line on stderr')
    .addHelpText(
      'after',
      `
Examples:
  mcreplay diff captures/prod.pcap --primary old1:11211 --candidate new1:11211
  mcreplay diff prod.pcap --primary old1:11211 --secondary old2:11211 --candidate new1:11211 --max-diff 0.1%
  mcreplay diff prod.pcap --primary old1:11211,old2:11211 --candidate new1:11211 --hash ketama --show-keys

Every key read by the capture (text, meta and binary reads; a multi-key get per key) is asked of
each setup with a text get, back to back, and the answers compared: missing (the candidate
misses a key the primary has), extra, value (by SHA-1), flags. Values are never printed.
Ctrl-C (or SIGTERM) stops the run: the reads in flight finish and the summary of what was compared
so far is printed (JSON with --json, "interrupted": true); a second one quits at once.
Exit codes: 0 differences within --max-diff, 99 more, 2 bad usage, 3 a setup unreachable,
4 nothing to compare in the capture, 130/143 stopped by SIGINT/SIGTERM.`,
    )
    .action(async (capture: string, o: DiffOpts) => {
      const serverPorts = parsePorts(o.port);
      const primary = parseMemberList(o.primary, '--primary');
      const candidate = parseMemberList(o.candidate, '--candidate');
      const secondary = o.secondary === undefined ? null : parseMemberList(o.secondary, '--secondary');
      for (const [l, n] of [[primary, '--primary'], [candidate, '--candidate'], [secondary, '--secondary']] as const) {
        if (l?.weights) throw new McError(`${n}: diff takes no weights`, 'MCR_ERR_BAD_OPTION');
      }
      const hash = o.hash === undefined ? 'modulo' : parseHashKind(o.hash);
      const maxDiff = parseShare(o.maxDiff, '--max-diff');
      const examples = intOption(o.examples, '--examples', 0, 1000);
      const inFlight = intOption(o.inFlight, '--in-flight', 1, 10_000);
      const timeoutMs = parseDurationNs(o.timeout, '--timeout') / 1e6;
      const rate = parseReadRate(o.rate);
      await checkCaptureFile(capture);
      const all = [...primary.members, ...candidate.members, ...(secondary?.members ?? [])];
      const sources = o.withWrites && !o.allowSourceTarget ? await addresses(all) : null;
      const tty = process.stderr.isTTY && o.progress !== false && !o.json;
      let last = 0;
      const stop = stopOnSignals(o.progress !== false, tty);
      const r = await diffCapture({
        capture,
        ingest: { serverPorts, anyPort: o.anyPort === true },
        primary: primary.members,
        candidate: candidate.members,
        secondary: secondary?.members ?? null,
        hash,
        withWrites: o.withWrites === true,
        sourceGuard: sources,
        maxDiff,
        examples,
        rate,
        inFlight,
        timeoutMs,
        signal: stop.signal,
        progress: tty
          ? (p) => {
              const now = Date.now();
              if (now - last < 250) return;
              last = now;
              process.stderr.write(`\r  compared ${fmtInt(p.compared)} read requests, ${fmtInt(p.different)} different   `);
            }
          : undefined,
      }).finally(stop.off);
      if (tty) process.stderr.write('\n');
      if (r.requests.compared === 0 && r.requests.errors === 0 && !r.interrupted) {
        throw new McError(`${capture}: no key reads to compare${serverPorts.length ? ` on port(s) ${serverPorts.join(',')}` : ''}${r.capture.problems ? ` (${r.capture.problems})` : ''}`, 'MCR_ERR_NO_REQUESTS', 'check --port, or inspect the capture first: mcreplay inspect <capture>');
      }
      const shown = o.showKeys ? r : { ...r, examples: Object.fromEntries(DIFF_KINDS.map((k) => [k, []])) as unknown as DiffResult['examples'] };
      if (o.json) process.stdout.write(JSON.stringify(shown, null, 2) + '\n');
      else process.stdout.write(renderDiff(shown, o.showKeys === true));
      const by = stop.by();
      if (by !== null) {
        process.exitCode = exitOf(by);
        return;
      }
      if (r.capture.problems) process.stderr.write(`mcreplay: warning: ${r.capture.problems}; compared what was readable\n`);
      process.exitCode = r.verdict === 'pass' ? ExitCode.ok : ExitCode.thresholdFailed;
    });
}

const exitOf = (s: StopSignal): number => (s === 'SIGTERM' ? ExitCode.sigterm : ExitCode.sigint);

/**
 * Ctrl-C / SIGTERM during a diff: the reads in flight finish and the summary of what was compared is
 * printed, exit 130/143 as replay does for a user's stop; a second signal exits at once.
 */
function stopOnSignals(say: boolean, tty: boolean): { signal: AbortSignal; by(): StopSignal | null; off(): void } {
  const ac = new AbortController();
  let by: StopSignal | null = null;
  const on = (s: StopSignal): void => {
    if (by !== null) process.exit(exitOf(s));
    by = s;
    if (say) process.stderr.write(`${tty ? '\n' : ''}mcreplay: ${s}: stopping (again to quit at once); the reads in flight finish, then the summary of what was compared\n`);
    ac.abort(s);
  };
  const sigint = (): void => on('SIGINT');
  const sigterm = (): void => on('SIGTERM');
  process.on('SIGINT', sigint);
  process.on('SIGTERM', sigterm);
  return {
    signal: ac.signal,
    by: () => by,
    off: () => {
      process.off('SIGINT', sigint);
      process.off('SIGTERM', sigterm);
    },
  };
}

function parseShare(text: string, option: string): number {
  const t = text.trim();
  const m = /^(\d+(?:\.\d+)?)(%?)$/.exec(t);
  const v = m ? Number(m[1]) / (m[2] ? 100 : 1) : NaN;
  if (!m || !(v >= 0 && v <= 1)) throw new McError(`${option} ${JSON.stringify(text)}: not a share`, 'MCR_ERR_BAD_OPTION', `write a percentage (${option} 0.1%) or a fraction (${option} 0.001)`);
  return v;
}

function parseReadRate(text: string): number | null {
  if (text === 'max') return null;
  const m = /^(\d+(?:\.\d+)?)(k?)(?:\/s)?$/.exec(text.trim());
  const v = m ? Number(m[1]) * (m[2] ? 1000 : 1) : NaN;
  if (!m || !(v > 0)) throw new McError(`--rate ${JSON.stringify(text)}: expected requests per second (5000/s, 20k/s) or max`, 'MCR_ERR_BAD_OPTION');
  return v;
}

/** "ip:port" forms of the servers, hosts resolved, to recognise a captured server by its address. */
async function addresses(list: HostPort[]): Promise<Set<string>> {
  const out = new Set<string>();
  for (const m of list) {
    const ips = isIP(m.host) ? [m.host] : await lookup(m.host, { all: true }).then((a) => a.map((x) => x.address), () => []);
    for (const ip of ips) out.add(formatHostPort({ host: ip, port: m.port }));
  }
  return out;
}

const SKIP_LABELS: Record<string, string> = {
  writes: 'writes (add --with-writes to send them)',
  untextable: 'requests with keys a text get cannot carry',
  interrupted: 'requests read but not sent before the stop (interrupted)',
};

/** Renders a diff result for a person. */
export function renderDiff(r: DiffResult, showKeys: boolean): string {
  const out: string[] = [];
  const s = r.setups;
  out.push(`primary ${s.primary.join(',')}  vs  candidate ${s.candidate.join(',')}${s.secondary ? `  (secondary ${s.secondary.join(',')} for noise)` : ''}`);
  const q = r.requests;
  out.push(`read requests compared: ${fmtInt(q.compared)}, different: ${fmtInt(q.different)} (${fmtPct(r.share, 3)})${s.secondary ? `, noise: ${fmtInt(q.noise)}` : ''}${q.errors ? `, errors: ${fmtInt(q.errors)}` : ''}`);
  out.push(`key reads compared: ${fmtInt(r.keyReads.compared)}, different: ${fmtInt(r.keyReads.different)}; distinct keys compared: ${fmtInt(r.keys.compared)}${r.keys.exact ? '' : ' (estimated)'}, different: ${fmtInt(r.keys.different)}`);
  const skipped = Object.entries(q.skipped).filter(([, n]) => n > 0);
  if (skipped.length) out.push(`not compared: ${skipped.map(([k, n]) => `${fmtInt(n)} ${SKIP_LABELS[k] ?? k}`).join(', ')}`);
  if (r.interrupted) out.push('interrupted: the figures cover what was compared before the stop, not the whole capture');
  if (r.withWrites) out.push(`writes sent to every setup: ${fmtInt(r.writes.sent)}${r.writes.errors ? `, ${fmtInt(r.writes.errors)} with errors` : ''}`);
  out.push('');
  out.push(table([['difference', 'distinct keys', ...(s.secondary ? ['noise'] : [])], ...DIFF_KINDS.map((k) => [k, fmtInt(r.byKind[k]), ...(s.secondary ? [fmtInt(r.noise[k])] : [])])]));
  if (r.noiseFloor) out.push(`  noise floor: primary and secondary disagreed on ${fmtInt(r.noiseFloor.keyReads)} key reads (${fmtPct(r.noiseFloor.share, 3)})`);
  const cmds = Object.entries(r.perCommand);
  if (cmds.length > 1) {
    out.push('');
    out.push(table([['command', 'compared', 'different'], ...cmds.map(([c, v]) => [c, fmtInt(v.compared), fmtInt(v.different)])]));
  }
  if (showKeys) {
    for (const k of DIFF_KINDS) if (r.examples[k].length) out.push(`  ${k}: ${r.examples[k].map((x) => JSON.stringify(x)).join(' ')}`);
  } else if (q.different > 0) out.push('  (example keys: --show-keys)');
  const errs = Object.entries(r.errors);
  if (errs.length) out.push(`errors: ${errs.map(([e, n]) => `${e} ×${fmtInt(n)}`).join('; ')}`);
  out.push('');
  out.push(`verdict: ${r.verdict.toUpperCase()} (${fmtPct(r.share, 3)} of read requests differ, --max-diff ${fmtPct(r.maxDiff, 3)}${q.errors ? `; ${fmtInt(q.errors)} requests failed` : ''})`);
  out.push('');
  return out.join('\n');
}
