// `keys`: joins the key listings of an old and a new server (metadump, externally sorted) and
// counts keys on both, only on one, their bytes and TTL drift; optionally compares the values and
// flags of a sample of the keys on both. Keys go only to the `onKey` callback; values never leave.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AuthCred } from '../protocol/auth.js';
import { fnv1aStr } from '../protocol/bytes.js';
import { formatHostPort, type HostPort } from '../topology/targets.js';
import { MetaConn } from './conn.js';
import { decodeDumpKey, metadump, type DumpEntry } from './metadump.js';
import { mergeRuns, sortIntoRuns } from './sorted-runs.js';

/** Which difference a key shows, for --show-keys. */
export type KeyClass = 'only-old' | 'only-new' | 'ttl-drift' | 'value-different' | 'flags-different';

/** Summary of a comparison (schema mcreplay.keys/1). */
export interface KeysReport {
  schema: 'mcreplay.keys/1';
  old: { server: string; keys: number; bytes: number };
  new: { server: string; keys: number; bytes: number } | null;
  both: number;
  onlyOld: number;
  onlyNew: number;
  /** Item bytes (metadump's size: header, key and value) of each set. */
  bytes: { both: number; onlyOld: number; onlyNew: number };
  /** Keys on both whose expiry times differ by more than the tolerance (or one never expires). */
  ttlDrift: number;
  ttlToleranceS: number;
  values: { percent: number; compared: number; different: number; flagsDifferent: number; vanished: number } | null;
  durationS: number;
  /** Peak resident memory of the process, bytes. */
  peakRssBytes: number;
}

/** Settings of a comparison. */
export interface KeysSetup {
  old: HostPort;
  new: HostPort | null;
  auth: AuthCred | null;
  ttlToleranceS: number;
  /** Share of the keys on both to compare values of, 0..100 (0: none). */
  valuesPercent: number;
  /** Entries sorted in memory per spilled run. */
  runSize: number;
  timeoutMs: number;
  onKey?: (cls: KeyClass, enc: string) => void;
}

/** Whether key `enc` falls in the value sample: a fixed hash cut, the same keys on every run. */
function sampled(enc: string, percent: number): boolean {
  return fnv1aStr(enc) % 1_000_000 < percent * 10_000;
}

/** Compares values and flags of sampled keys, a batch at a time over one connection per server. */
function valueComparer(setup: KeysSetup, report: NonNullable<KeysReport['values']>) {
  const a = new MetaConn(setup.old, setup.timeoutMs, setup.auth);
  const b = new MetaConn(setup.new!, setup.timeoutMs, setup.auth);
  let batch: Promise<void>[] = [];
  const one = async (enc: string): Promise<void> => {
    const key = decodeDumpKey(enc);
    const [x, y] = await Promise.all([a.mg(key, 'v f'), b.mg(key, 'v f')]);
    if (x.code !== 'VA' || y.code !== 'VA') {
      report.vanished++;
      return;
    }
    report.compared++;
    if (!x.value!.equals(y.value!)) {
      report.different++;
      setup.onKey?.('value-different', enc);
    }
    if (x.tokens.find((t) => t.startsWith('f')) !== y.tokens.find((t) => t.startsWith('f'))) {
      report.flagsDifferent++;
      setup.onKey?.('flags-different', enc);
    }
  };
  return {
    async add(enc: string): Promise<void> {
      batch.push(one(enc));
      if (batch.length >= 64) await this.flush();
    },
    async flush(): Promise<void> {
      const b2 = batch;
      batch = [];
      await Promise.all(b2);
    },
    close(): void {
      a.close();
      b.close();
    },
  };
}

function drifted(x: DumpEntry, y: DumpEntry, tol: number): boolean {
  if (x.exp < 0 || y.exp < 0) return x.exp !== y.exp;
  return Math.abs(x.exp - y.exp) > tol;
}

/** Lists, sorts and joins the two servers' keys; with one server, counts its keys. */
export async function compareKeys(setup: KeysSetup): Promise<KeysReport> {
  const t0 = performance.now();
  const dir = await mkdtemp(join(tmpdir(), 'mcreplay-keys-'));
  const report: KeysReport = {
    schema: 'mcreplay.keys/1',
    old: { server: formatHostPort(setup.old), keys: 0, bytes: 0 },
    new: setup.new ? { server: formatHostPort(setup.new), keys: 0, bytes: 0 } : null,
    both: 0,
    onlyOld: 0,
    onlyNew: 0,
    bytes: { both: 0, onlyOld: 0, onlyNew: 0 },
    ttlDrift: 0,
    ttlToleranceS: setup.ttlToleranceS,
    values: setup.valuesPercent > 0 && setup.new ? { percent: setup.valuesPercent, compared: 0, different: 0, flagsDifferent: 0, vanished: 0 } : null,
    durationS: 0,
    peakRssBytes: 0,
  };
  let peak = process.memoryUsage.rss();
  const rssTimer = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 200);
  try {
    if (setup.new === null) {
      for await (const e of metadump(setup.old, setup.auth, setup.timeoutMs)) {
        report.old.keys++;
        report.old.bytes += e.size;
      }
      return report;
    }
    const [ra, rb] = await Promise.all([
      sortIntoRuns(metadump(setup.old, setup.auth, setup.timeoutMs), dir, 'old', setup.runSize),
      sortIntoRuns(metadump(setup.new, setup.auth, setup.timeoutMs), dir, 'new', setup.runSize),
    ]);
    const cmp = report.values ? valueComparer(setup, report.values) : null;
    try {
      const A = mergeRuns(ra);
      const B = mergeRuns(rb);
      let x = await A.next();
      let y = await B.next();
      while (!x.done || !y.done) {
        if (y.done || (!x.done && x.value.enc < y.value.enc)) {
          const e = x.value as DumpEntry;
          report.onlyOld++;
          report.old.keys++;
          report.old.bytes += e.size;
          report.bytes.onlyOld += e.size;
          setup.onKey?.('only-old', e.enc);
          x = await A.next();
        } else if (x.done || y.value.enc < x.value.enc) {
          const e = y.value;
          report.onlyNew++;
          report.new!.keys++;
          report.new!.bytes += e.size;
          report.bytes.onlyNew += e.size;
          setup.onKey?.('only-new', e.enc);
          y = await B.next();
        } else {
          const a = x.value;
          const b = y.value;
          report.both++;
          report.old.keys++;
          report.new!.keys++;
          report.old.bytes += a.size;
          report.new!.bytes += b.size;
          report.bytes.both += a.size;
          if (drifted(a, b, setup.ttlToleranceS)) {
            report.ttlDrift++;
            setup.onKey?.('ttl-drift', a.enc);
          }
          if (cmp && sampled(a.enc, setup.valuesPercent)) await cmp.add(a.enc);
          x = await A.next();
          y = await B.next();
        }
      }
      await cmp?.flush();
    } finally {
      cmp?.close();
    }
    return report;
  } finally {
    clearInterval(rssTimer);
    report.peakRssBytes = Math.max(peak, process.memoryUsage.rss());
    report.durationS = Math.round(performance.now() - t0) / 1000;
    await rm(dir, { recursive: true, force: true });
  }
}

/** Streams `server`'s key listing as TSV lines (key as metadump encodes it, exp, la, size) to `write`. */
export async function dumpKeys(server: HostPort, auth: AuthCred | null, write: (line: string) => boolean | Promise<void>, timeoutMs = 10_000): Promise<number> {
  let n = 0;
  for await (const e of metadump(server, auth, timeoutMs)) {
    n++;
    await write(`${e.enc}\t${e.exp}\t${e.la}\t${e.size}\n`);
  }
  return n;
}
