// The `keys` verb: what the old server holds that the new one lacks (and the reverse), from their
// metadump listings; keys printed only when asked, values never.
import { Command } from 'commander';
import { once } from 'node:events';
import { ExitCode, McError } from '../errors.js';
import { fmtBytes, fmtInt, fmtPct } from '../report/format.js';
import { parseHostPort } from '../topology/targets.js';
import { parseDurationNs } from '../replay/parse.js';
import { ConnError } from '../migrate/conn.js';
import { DumpError } from '../migrate/metadump.js';
import { compareKeys, dumpKeys, type KeyClass, type KeysReport } from '../migrate/keys.js';
import { intOpt, saslAuth } from './migrate-opts.js';

interface KeysOpts {
  values?: string;
  ttlTolerance: string;
  showKeys?: boolean;
  dump?: boolean;
  runSize: string;
  saslUser?: string;
  json?: boolean;
}

const EXAMPLES = `
Examples:
  mcreplay keys 127.0.0.1:11211 127.0.0.1:11212
  mcreplay keys old1:11211 new1:11211 --values 1%
  mcreplay keys old1:11211 new1:11211 --show-keys > differences.tsv
  mcreplay keys old1:11211 --dump > old1.keys.tsv

Exit codes: 0 compared (differences are findings, not failures), 2 bad usage,
3 a server unreachable or its metadump refused (memcached >= 1.4.31 with the LRU crawler).`;

/** Adds the 'keys' verb to the program. */
export function register(program: Command): void {
  program
    .command('keys')
    .description("Compare two servers' keys (both, only old, only new, TTL drift, sampled values), or list one server's keys")
    .argument('<old>', 'old server host:port')
    .argument('[new]', 'new server host:port (without it: count, or --dump, the old one)')
    .option('--values <pct>', 'also compare value and flags of this share of the keys on both, e.g. 1%')
    .option('--ttl-tolerance <d>', 'expiry differences up to this are not drift', '2s')
    .option('--show-keys', 'print each differing key as "<class>\\t<key>" (URI-encoded as metadump writes it)')
    .option('--dump', "print the old server's keys as TSV: key, exp, last access, size")
    .option('--run-size <n>', 'keys sorted in memory per temporary file (bounds memory)', '100000')
    .option('--sasl-user <user>', 'ascii-auth as this user; password from MCREPLAY_SASL_PASSWORD')
    .option('--json', 'print the summary as JSON (schema mcreplay.keys/1) on stdout')
    .addHelpText('after', EXAMPLES)
    .action(async (oldText: string, newText: string | undefined, o: KeysOpts) => {
      process.exitCode = await keysAction(oldText, newText, o);
    });
}

function parsePercent(text: string): number {
  const m = /^(\d+(?:\.\d+)?)%?$/.exec(text.trim());
  const v = m ? Number(m[1]) : NaN;
  if (!(v > 0 && v <= 100)) throw new McError(`--values ${text}: expected a share above 0 and up to 100%`, 'MCR_ERR_BAD_OPTION', 'e.g. --values 1%');
  return v;
}

async function keysAction(oldText: string, newText: string | undefined, o: KeysOpts): Promise<number> {
  const old = parseHostPort(oldText, 'old server');
  const nu = newText === undefined ? null : parseHostPort(newText, 'new server');
  const auth = saslAuth(o.saslUser);
  const tol = parseDurationNs(o.ttlTolerance, '--ttl-tolerance') / 1e9;
  const valuesPercent = o.values === undefined ? 0 : parsePercent(o.values);
  if (valuesPercent > 0 && nu === null) throw new McError('--values needs two servers to compare', 'MCR_ERR_BAD_OPTION');
  if (o.dump && nu !== null) throw new McError('--dump lists one server: give only the old one', 'MCR_ERR_BAD_OPTION', 'e.g. mcreplay keys old1:11211 --dump > old1.keys.tsv');
  const runSize = intOpt(o.runSize, '--run-size', 1000, 100_000_000);
  try {
    if (o.dump) {
      const n = await dumpKeys(old, auth, (line) => (process.stdout.write(line) ? true : once(process.stdout, 'drain').then(() => undefined)));
      process.stderr.write(`mcreplay: ${fmtInt(n)} keys listed\n`);
      return ExitCode.ok;
    }
    // with --json the keys go to stderr so stdout stays one JSON document
    const keyOut = o.json ? process.stderr : process.stdout;
    const onKey = o.showKeys ? (cls: KeyClass, enc: string): void => void keyOut.write(`${cls}\t${enc}\n`) : undefined;
    const report = await compareKeys({ old, new: nu, auth, ttlToleranceS: tol, valuesPercent, runSize, timeoutMs: 10_000, onKey });
    if (o.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
    else process.stdout.write(renderKeys(report));
    return ExitCode.ok;
  } catch (e) {
    if (e instanceof ConnError || e instanceof DumpError) throw new McError(e.message, 'MCR_ERR_TARGET_UNREACHABLE');
    throw e;
  }
}

/** The comparison for a person. */
export function renderKeys(r: KeysReport): string {
  const out: string[] = [];
  if (r.new === null) {
    out.push(`${r.old.server}: ${fmtInt(r.old.keys)} keys, ${fmtBytes(r.old.bytes)} in items (${r.durationS.toFixed(1)} s)`);
    return out.join('\n') + '\n';
  }
  out.push(`keys of ${r.old.server} (old, ${fmtInt(r.old.keys)}) against ${r.new.server} (new, ${fmtInt(r.new.keys)}), ${r.durationS.toFixed(1)} s, peak RSS ${fmtBytes(r.peakRssBytes)}`);
  const share = (n: number): string => fmtPct(r.old.keys ? n / r.old.keys : null);
  out.push(`  on both           ${fmtInt(r.both).padStart(12)}  ${fmtBytes(r.bytes.both).padStart(10)}  ${share(r.both)} of old`);
  out.push(`  only on old       ${fmtInt(r.onlyOld).padStart(12)}  ${fmtBytes(r.bytes.onlyOld).padStart(10)}  ${share(r.onlyOld)} of old`);
  out.push(`  only on new       ${fmtInt(r.onlyNew).padStart(12)}  ${fmtBytes(r.bytes.onlyNew).padStart(10)}`);
  out.push(`  TTL drift > ${r.ttlToleranceS}s  ${fmtInt(r.ttlDrift).padStart(12)}`);
  if (r.values) {
    const v = r.values;
    out.push(`values of ${v.percent}% of the keys on both: ${fmtInt(v.compared)} compared, ${fmtInt(v.different)} different, ${fmtInt(v.flagsDifferent)} with different flags${v.vanished ? `, ${fmtInt(v.vanished)} gone before they could be compared` : ''}`);
  }
  return out.join('\n') + '\n';
}
