// A long mirror's rolling results, proven in seconds (MCREPLAY_ROLLUP, MCREPLAY_CHECKPOINT): while a
// real mirror runs on loopback, results.json is there and parses (rewritten every checkpoint, old
// intervals rolled up exactly), latency.hlog parses at any moment, /metrics carries the target's
// own `stats` and tcpdump's counters; after a kill -9 the last checkpoint is still there; after a
// SIGTERM the appended hlog and the rolled-up results hold the same requests.
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as hdr from 'hdr-histogram-js';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { startMemcached, freePort } from '../helpers/memcached.js';
import { killAtCleanup, killTcpdumpAtCleanup, processEnded, runLoad, startMirror, stats, tcpdumpChildOf, until, type MirrorProc } from './helpers.js';
import type { Interval, ResultsFile } from '../../src/metrics/results-types.js';

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

const WIDE = ['--max-lag', '60s', '--max-stall', '60s', '--no-html'];
// 1 s intervals kept 4 s, then 2 s ones kept 8 s, then 4 s ones; results.json every second
const ENV = { MCREPLAY_ROLLUP: '4s:2s,8s:4s', MCREPLAY_CHECKPOINT: '1s' };

async function setup(): Promise<{ srcPort: number; srcAddr: string; tgtPort: number; tgtAddr: string; out: string }> {
  const src = await startMemcached();
  const tgt = await startMemcached();
  const out = mkdtempSync(join(tmpdir(), 'mcr-rolling-'));
  cleanup.push(() => src.stop(), () => tgt.stop(), () => rmSync(out, { recursive: true, force: true }));
  return { srcPort: src.port, srcAddr: src.address, tgtPort: tgt.port, tgtAddr: tgt.address, out };
}

const track = (m: MirrorProc): MirrorProc => killAtCleanup(cleanup, m);

function runDir(out: string): string | null {
  const d = existsSync(out) ? readdirSync(out).find((x) => x.includes('mirror')) : undefined;
  return d === undefined ? null : join(out, d);
}

/** results.json as it is on disk now, or null (absent; a torn file would throw: the test fails). */
function readResults(out: string): ResultsFile | null {
  const d = runDir(out);
  if (d === null || !existsSync(join(d, 'results.json'))) return null;
  return JSON.parse(readFileSync(join(d, 'results.json'), 'utf8')) as ResultsFile;
}

/** Per tag, the histograms of latency.hlog as HistogramLogReader reads it now. */
function readHlog(out: string): Map<string, { count: number; startMs: number }[]> {
  const text = readFileSync(join(runDir(out)!, 'latency.hlog'), 'utf8');
  const reader = new hdr.HistogramLogReader(text, 64, false);
  const by = new Map<string, { count: number; startMs: number }[]>();
  for (let h = reader.nextIntervalHistogram(); h; h = reader.nextIntervalHistogram()) {
    const tag = h.tag ?? '';
    if (!by.has(tag)) by.set(tag, []);
    by.get(tag)!.push({ count: h.totalCount, startMs: h.startTimeStampMsec });
    h.destroy();
  }
  return by;
}

const completed = (ivs: Interval[]): number => ivs.reduce((n, iv) => n + iv.total.counters.completed, 0);

function contiguous(ivs: Interval[]): void {
  for (let i = 1; i < ivs.length; i++) expect(ivs[i]!.startNs).toBe(ivs[i - 1]!.endNs);
}

interface Fam {
  name: string;
  type: string;
  metrics: { labels?: Record<string, string>; value?: string }[];
}
async function scrape(port: number): Promise<Map<string, Fam>> {
  const fams = parsePrometheusTextFormat(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()) as Fam[];
  return new Map(fams.map((f) => [f.name, f]));
}
const val = (f: Fam | undefined, labels: Record<string, string>): number | null => {
  const s = f?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  return s?.value === undefined ? null : Number(s.value);
};

describe('mirror: rolling results of a long run', () => {
  it('results.json and latency.hlog parse while it runs and after kill -9; old intervals roll up exactly; /metrics has target stats and tcpdump counters', async () => {
    const { srcPort, srcAddr, tgtPort, tgtAddr, out } = await setup();
    const mport = await freePort();
    const m = track(
      startMirror(['--interface', 'lo', '--port', String(srcPort), '--target', tgtAddr, '--out', out, '--json', '--metrics', String(mport), '--poll-stats', '200ms', ...WIDE], undefined, ENV),
    );
    await m.waitErr(/mirroring/, 30_000);
    const load = runLoad(srcAddr, 14, 400, 200, 3, 3, true);
    // a checkpoint with rolled-up (wider) intervals appears while the clients run
    let mid: ResultsFile | null = null;
    await until(
      () => {
        mid = readResults(out);
        return mid !== null && mid.intervals.some((iv) => iv.endNs - iv.startNs === 4e9) && completed(mid.intervals) > 0;
      },
      30_000,
      'a results.json checkpoint holding 4 s roll-ups',
    );
    const r1 = mid!;
    expect(r1.verdict.status).toBe('interrupted');
    expect(r1.verdict.reasons.join(' ')).toMatch(/checkpoint/);
    contiguous(r1.intervals);
    // the newest intervals are still 1 s wide; memory holds at most 4 + 4 + the 4 s ones
    expect(r1.intervals.slice(-3).every((iv) => iv.endNs - iv.startNs === 1e9)).toBe(true);
    // exact: the summary (accumulated request by request) equals the sum of the rolled intervals
    expect(r1.summary.total.counters.completed).toBe(completed(r1.intervals));
    // the hlog parses mid-run, one 'total' line per second with requests, at 1 s resolution
    const h1 = readHlog(out);
    expect(h1.get('total')!.length).toBeGreaterThan(3);
    expect(h1.get('total')!.reduce((n, x) => n + x.count, 0)).toBeGreaterThan(0);

    const counts = await load;
    await until(async () => (await stats(tgtPort)).cmd_set === (await stats(srcPort)).cmd_set, 20_000, 'the target to catch up');
    // /metrics: the target's own stats (as it answers them at that moment) and tcpdump's counters
    let own: Record<string, number> = {};
    let fams = new Map<string, Fam>();
    await until(
      async () => {
        fams = await scrape(mport);
        own = await stats(tgtPort);
        return val(fams.get('mcreplay_target_current_items'), { target: tgtAddr }) === own.curr_items && val(fams.get('mcreplay_target_current_bytes'), { target: tgtAddr }) === own.bytes;
      },
      15_000,
      "mcreplay_target_current_items and _bytes to show the target's own curr_items and bytes",
    );
    expect(fams.get('mcreplay_target_current_items')!.type).toBe('GAUGE');
    expect(val(fams.get('mcreplay_target_current_bytes'), { target: tgtAddr })).toBe(own.bytes);
    expect(val(fams.get('mcreplay_target_limit_bytes'), { target: tgtAddr })).toBe(own.limit_maxbytes);
    expect(fams.get('mcreplay_target_items_evicted_total')!.type).toBe('COUNTER');
    expect(val(fams.get('mcreplay_target_items_evicted_total'), { target: tgtAddr })).toBe(0);
    expect(val(fams.get('mcreplay_target_current_connections'), { target: tgtAddr })).toBeGreaterThan(0);
    const cap1 = val(fams.get('mcreplay_tcpdump_packets_captured_total'), { interface: 'lo' });
    expect(fams.get('mcreplay_tcpdump_packets_captured_total')!.type).toBe('COUNTER');
    // every request of the client went through tcpdump: at least one packet each
    expect(cap1).toBeGreaterThanOrEqual(counts.set! + counts.get!);
    expect(val(fams.get('mcreplay_tcpdump_packets_dropped_by_kernel_total'), { interface: 'lo' })).not.toBeNull();

    // a later checkpoint than the one read mid-run, then kill -9: it stays, whole
    await until(() => (readResults(out)?.intervals.length ?? 0) > 0 && readResults(out)!.run.endedAt > r1.run.endedAt, 10_000, 'a later checkpoint');
    // kill -9 leaves the mirror no chance to stop its tcpdump: the kernel's parent-death signal does,
    // though nothing is sent to the watched port any more (the README's "Runs of a day or a week")
    const td = tcpdumpChildOf(m.proc.pid!);
    expect(td, "the mirror's tcpdump child").not.toBeNull();
    killTcpdumpAtCleanup(cleanup, td!);
    m.proc.kill('SIGKILL');
    await m.exit;
    await until(() => processEnded(td!), 5_000, `tcpdump ${td} to end with the mirror, no packet on port ${srcPort}`);
    const after = readResults(out)!;
    expect(after.intervals.length).toBeGreaterThan(0);
    contiguous(after.intervals);
    expect(completed(after.intervals)).toBeGreaterThanOrEqual(completed(r1.intervals));
    expect(after.summary.total.counters.completed).toBe(completed(after.intervals));
    expect(readHlog(out).get('total')!.length).toBeGreaterThanOrEqual(h1.get('total')!.length);
  }, 120_000);

  it('after SIGTERM: the final results hold what the 1 s hlog holds, request for request', async () => {
    const { srcPort, srcAddr, tgtAddr, out } = await setup();
    const m = track(startMirror(['--interface', 'lo', '--port', String(srcPort), '--target', tgtAddr, '--out', out, '--json', ...WIDE], undefined, ENV));
    await m.waitErr(/mirroring/, 30_000);
    const counts = await runLoad(srcAddr, 12, 300, 100, 2, 4, true);
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    await until(() => (readResults(out)?.summary.total.counters.completed ?? 0) >= total, 20_000, 'a checkpoint with every request');
    m.proc.kill('SIGTERM');
    expect((await m.exit).code, m.stderr()).toBe(0);
    const r = readResults(out)!;
    expect(r.verdict.status).toBe('pass');
    expect(r.summary.total.counters.completed).toBe(total);
    // rolled up: fewer intervals than seconds run, contiguous, wider ones first
    contiguous(r.intervals);
    expect(r.intervals[0]!.endNs - r.intervals[0]!.startNs).toBe(4e9);
    expect(r.intervals.length).toBeLessThan(r.intervals[r.intervals.length - 1]!.endNs / 1e9);
    // the hlog was appended second by second: its response-time counts sum to the results' own
    const hl = readHlog(out);
    expect(hl.get('total')!.reduce((n, x) => n + x.count, 0)).toBe(r.summary.total.response.count);
    expect(hl.get('lag')!.reduce((n, x) => n + x.count, 0)).toBe(r.summary.lag.count);
  }, 120_000);
});
