// The `plan` verb: what a change of the server pool costs (keys, reads and bytes that move, load per
// server, the cold-miss burst), predicted from a capture; no server is contacted.
import { Command, Option } from 'commander';
import { McError } from '../errors.js';
import { planCapture, type Moved, type PlanResult } from '../migrate/plan.js';
import { parseHashKind, parseMemberList } from '../topology/targets.js';
import { WEIGHTED_HASH_KINDS } from '../topology/hashing.js';
import { table } from '../report/text-table.js';
import { fmtBytes, fmtInt, fmtPct } from '../report/format.js';
import { checkCaptureFile, parsePorts } from './capture-args.js';

interface PlanOpts {
  from: string;
  to: string;
  hash: string;
  port?: string[];
  anyPort?: boolean;
  json?: boolean;
}

/** Adds the 'plan' verb to the program. */
export function register(program: Command): void {
  program
    .command('plan')
    .description('Predict what a change of the server pool costs: keys, reads and bytes that move to another server')
    .argument('<capture>', "pcap or pcapng file (gzip ok), or '-' for standard input")
    .requiredOption('--from <servers>', 'the pool today, in the clients\' order: host[:port[:weight]],... (port 11211 when left out)')
    .requiredOption('--to <servers>', 'the pool after the change, same form')
    .option('--hash <schemes>', 'hashing scheme(s) the clients use, comma-separated: modulo, crc32, ketama, consistent, rendezvous (side by side)', 'modulo')
    .addOption(new Option('-p, --port <ports...>', 'memcached server port(s) in the capture, comma-separated or repeated (default 11211)'))
    .option('--any-port', 'also decode TCP connections on other ports, taking the SYN receiver as the server')
    .option('--json', 'print the plan as JSON (schema mcreplay.plan/1) on stdout')
    .addHelpText(
      'after',
      `
Examples:
  mcreplay plan captures/sample.pcap --port 11211 --from a:11211,b:11211,c:11211 --to a:11211,b:11211,c:11211,d:11211 --hash modulo
  mcreplay plan prod.pcap --from a,b,c,d --to a,b,d --hash ketama          # a server leaves
  mcreplay plan prod.pcap --from a,b,c --to a,b,c,d --hash modulo,ketama,rendezvous   # side by side
  mcreplay plan prod.pcap --from a:11211:2,b:11211:1 --to a:11211:2,b:11211:1,c:11211:1 --hash ketama   # weights

Weights (host:port:weight) apply to ketama (libmemcached weighted ketama) and crc32
(python-memcached's bucket list). Exit codes: 0 ok, 2 bad usage or missing file,
4 not a capture or no keyed requests in it.`,
    )
    .action(async (capture: string, opts: PlanOpts) => {
      const serverPorts = parsePorts(opts.port);
      const from = parseMemberList(opts.from, '--from');
      const to = parseMemberList(opts.to, '--to');
      const hashes = [...new Set(opts.hash.split(',').map((h) => parseHashKind(h)))];
      for (const [list, name] of [[from, '--from'], [to, '--to']] as const) {
        const unweighted = hashes.filter((h) => !WEIGHTED_HASH_KINDS.includes(h));
        if (list.weights && unweighted.length) {
          throw new McError(`${name} gives weights, but --hash ${unweighted.join(',')} has none`, 'MCR_ERR_BAD_OPTION', `weights apply to ${WEIGHTED_HASH_KINDS.join(' and ')}; drop them or the other schemes`);
        }
      }
      await checkCaptureFile(capture);
      const plan = await planCapture({ capture, ingest: { serverPorts, anyPort: opts.anyPort === true }, from, to, hashes });
      if (plan.capture.requests === 0) {
        const why = plan.capture.problems ? ` (${plan.capture.problems})` : '';
        throw new McError(`${capture}: no keyed memcached requests${serverPorts.length ? ` on port(s) ${serverPorts.join(',')}` : ''}${why}`, 'MCR_ERR_NO_REQUESTS', 'check --port, or inspect the capture first: mcreplay inspect <capture>');
      }
      if (opts.json) process.stdout.write(JSON.stringify(plan, null, 2) + '\n');
      else process.stdout.write(renderPlan(plan));
      if (plan.capture.problems) process.stderr.write(`mcreplay: warning: ${plan.capture.problems}; the plan covers what was readable\n`);
    });
}

const share = (m: Moved): string => `${fmtPct(m.share)} (${fmtInt(m.moved)} of ${fmtInt(m.total)})`;

/** Renders a plan for a person. */
export function renderPlan(p: PlanResult): string {
  const out: string[] = [];
  out.push(`${p.from.join(',')}  ->  ${p.to.join(',')}`);
  out.push(`capture: ${fmtInt(p.capture.requests)} keyed requests, ${fmtInt(p.capture.reads)} key reads, ${fmtInt(p.keysTracked)} distinct keys${p.keysExact ? '' : ` (tracked; more keys than that: key and byte shares cover these, read shares all)`}`);
  out.push('');
  out.push('moved to another server:');
  out.push(
    table([
      ['hash', 'keys', 'reads', 'bytes', 'cold misses', 'peak/s', 'miss share, 1st min', 'imbalance before', 'after'],
      ...p.schemes.map((s) => [
        s.hash,
        share(s.keys),
        share(s.requests),
        `${fmtPct(s.bytes.share)} (${fmtBytes(s.bytes.moved)})`,
        fmtInt(s.coldMisses.total),
        fmtInt(s.coldMisses.peakPerSec),
        fmtPct(s.coldMisses.shareOfReadsFirstMinute),
        `${s.imbalance.before.reads.toFixed(2)}`,
        `${s.imbalance.after.reads.toFixed(2)}`,
      ]),
    ]),
  );
  for (const s of p.schemes) {
    out.push('');
    out.push(`${s.hash}: per server (keys / reads)`);
    out.push(
      table([
        ['server', 'before', 'after'],
        ...s.servers.map((v) => [v.server, v.before ? `${fmtInt(v.before.keys)} / ${fmtInt(v.before.reads)}` : '-', v.after ? `${fmtInt(v.after.keys)} / ${fmtInt(v.after.reads)}` : '-']),
      ]),
    );
    if (s.placementCheck.comparable > 0) {
      const agree = s.placementCheck.agree / s.placementCheck.comparable;
      out.push(`  captured placement: ${fmtPct(agree)} of ${fmtInt(s.placementCheck.comparable)} key reads went to the server --hash ${s.hash} gives${agree < 0.99 ? ' (the clients may use another scheme or list order)' : ''}`);
    }
  }
  if (p.replace) {
    const r = p.replace;
    out.push('');
    out.push(`replacing ${r.removed} by ${r.added} (your --to is ${r.given === 'other' ? 'neither order' : `the ${r.given} order`}): reads that move`);
    out.push(table([['hash', 'in place', 'remove + append', 'cheaper'], ...r.perScheme.map((s) => [s.hash, share(s.inPlace), share(s.append), s.cheaper])]));
  }
  out.push('');
  return out.join('\n');
}

