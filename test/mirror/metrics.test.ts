// --metrics on a live mirror: /metrics parsed by real Prometheus text-format parsers, its counters
// checked against the load client's own counts. parse-prometheus-text-format (npm) reads counters
// and gauges; it folds every series of a histogram family into one, so the labelled histograms are
// read with the official Python client's parser (python3-prometheus-client).
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { startMemcached, freePort } from '../helpers/memcached.js';
import { spawnSync } from 'node:child_process';
import { runLoad, startMirror, stats, until, type MirrorProc } from './helpers.js';
import { started } from '../replay/helpers.js';
import { waitFor } from '../helpers/wait.js';

/** Samples of a family as prometheus_client.parser reads them: [name, labels, value]. */
function officialParse(text: string, family: string): [string, Record<string, string>, number][] {
  const py = `import sys, json
from prometheus_client.parser import text_string_to_metric_families
out = []
for f in text_string_to_metric_families(sys.stdin.read()):
    if f.name == sys.argv[1]:
        out += [[s.name, s.labels, s.value] for s in f.samples]
print(json.dumps(out))`;
  const r = spawnSync('/usr/bin/python3', ['-c', py, family], { input: text, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`prometheus_client.parser: ${r.stderr}`);
  return JSON.parse(r.stdout) as [string, Record<string, string>, number][];
}

interface Sample {
  labels?: Record<string, string>;
  value?: string;
  buckets?: Record<string, string>;
  count?: string;
  sum?: string;
}
interface Family {
  name: string;
  type: string;
  metrics: Sample[];
}

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function scrape(port: number): Promise<Map<string, Family>> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  const fams = parsePrometheusTextFormat(await res.text()) as Family[];
  return new Map(fams.map((f) => [f.name, f]));
}

function value(f: Family | undefined, labels: Record<string, string>): number | null {
  const s = f?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  return s?.value === undefined ? null : Number(s.value);
}

describe('mirror --metrics', () => {
  it('serves /metrics whose counters match what the client did', async () => {
    const src = await startMemcached();
    const tgt = await startMemcached();
    const out = mkdtempSync(join(tmpdir(), 'mcr-metrics-'));
    cleanup.push(() => src.stop(), () => tgt.stop(), () => rmSync(out, { recursive: true, force: true }));
    const mport = await freePort();
    const m: MirrorProc = startMirror(['--interface', 'lo', '--port', String(src.port), '--target', tgt.address, '--out', out, '--json', '--metrics', String(mport), '--max-lag', '60s', '--max-stall', '60s', '--no-html']);
    cleanup.push(async () => {
      if (m.proc.exitCode === null && m.proc.signalCode === null) {
        m.proc.kill('SIGKILL');
        await m.exit;
      }
    });
    await m.waitErr(/mirroring/, 30_000);
    expect(m.stderr()).toMatch(new RegExp(`metrics on http://127\\.0\\.0\\.1:${mport}/metrics \\(no authentication\\)`));
    const counts = await runLoad(src.address, 6, 500, 200, 3, 5, true);
    await until(async () => (await stats(tgt.port)).cmd_set === (await stats(src.port)).cmd_set, 20_000, 'the target to catch up');
    // intervals complete every second: the scrape reaches the client's counts within a few
    let fams = new Map<string, Family>();
    await until(
      async () => {
        fams = await scrape(mport);
        return value(fams.get('mcreplay_requests_total'), { cmd: 'set', outcome: 'completed' }) === counts.set;
      },
      15_000,
      `mcreplay_requests_total{cmd="set",outcome="completed"} to reach ${counts.set}`,
    );
    const req = fams.get('mcreplay_requests_total')!;
    expect(req.type).toBe('COUNTER');
    for (const cmd of ['get', 'delete', 'incr']) {
      expect(value(req, { cmd, outcome: 'completed', target: tgt.address }), cmd).toBe(counts[cmd]);
      expect(value(req, { cmd, outcome: 'error' }), cmd).toBe(0);
    }
    expect(value(fams.get('mcreplay_requests_sent_total'), { cmd: 'get' })).toBe(counts.get);
    expect(fams.get('mcreplay_response_seconds')?.type).toBe('HISTOGRAM');
    const text = await (await fetch(`http://127.0.0.1:${mport}/metrics`)).text();
    const resp = officialParse(text, 'mcreplay_response_seconds').filter(([, l]) => l.cmd === 'get');
    const count = resp.find(([n]) => n === 'mcreplay_response_seconds_count')![2];
    expect(count).toBe(counts.get);
    const buckets = resp.filter(([n]) => n === 'mcreplay_response_seconds_bucket');
    expect(buckets.find(([, l]) => l.le === '+Inf')![2]).toBe(count);
    // cumulative buckets never decrease
    const vals = buckets.map(([, , v]) => v);
    expect(vals).toEqual([...vals].sort((a, b) => a - b));
    expect(resp.find(([n]) => n === 'mcreplay_response_seconds_sum')![2]).toBeGreaterThan(0);
    // the capture's and the target's hit ratios for gets, side by side
    expect(value(fams.get('mcreplay_hit_ratio'), { cmd: 'get', side: 'captured' })).not.toBeNull();
    expect(value(fams.get('mcreplay_hit_ratio'), { cmd: 'get', side: 'replayed' })).not.toBeNull();
    expect(value(fams.get('mcreplay_bytes_total'), { direction: 'out' })).toBeGreaterThan(0);
    expect(fams.get('mcreplay_lag_seconds')?.type).toBe('HISTOGRAM');
    // the paired, settled warmth (what --until-warm and the live page judge; the default window of
    // 10 minutes holds the whole run): once the last second with gets has settled (delay + timeout
    // after its end), every key looked up, on each side, with the source's and the target's own hits
    const s = await stats(src.port);
    const srcLookups = s.get_hits! + s.get_misses!;
    let t: Record<string, number> = {};
    let tgtLookups = 0;
    await until(
      async () => {
        fams = await scrape(mport);
        t = await stats(tgt.port);
        tgtLookups = t.get_hits! + t.get_misses!;
        return value(fams.get('mcreplay_warm_lookups'), { side: 'captured' }) === srcLookups && value(fams.get('mcreplay_warm_lookups'), { side: 'replayed' }) === tgtLookups && tgtLookups === srcLookups;
      },
      30_000,
      `mcreplay_warm_lookups to reach the source's ${srcLookups} lookups on both sides (the target's own: ${tgtLookups})`,
    );
    for (const f of ['mcreplay_warm_hit_ratio', 'mcreplay_warm_hit_ratio_gap', 'mcreplay_warm_lookups', 'mcreplay_warm_window_seconds']) expect(fams.get(f)?.type, f).toBe('GAUGE');
    const warmCaptured = value(fams.get('mcreplay_warm_hit_ratio'), { side: 'captured' })!;
    const warmReplayed = value(fams.get('mcreplay_warm_hit_ratio'), { side: 'replayed' })!;
    expect(warmCaptured).toBeCloseTo(s.get_hits! / srcLookups, 12);
    expect(warmReplayed).toBeCloseTo(t.get_hits! / tgtLookups, 12);
    expect(value(fams.get('mcreplay_warm_hit_ratio_gap'), {})).toBeCloseTo(warmCaptured - warmReplayed, 12);
    expect(value(fams.get('mcreplay_warm_window_seconds'), {})).toBeGreaterThanOrEqual(6);
    m.proc.kill('SIGTERM');
    expect((await m.exit).code, m.stderr()).toBe(0);
  }, 120_000);

  it('replay --metrics serves the same families while a replay runs', async () => {
    const tgt = await startMemcached();
    const out = mkdtempSync(join(tmpdir(), 'mcr-metrics-'));
    cleanup.push(() => tgt.stop(), () => rmSync(out, { recursive: true, force: true }));
    const mport = await freePort();
    const { spawn } = await import('node:child_process');
    // open-ended (--loop): /metrics stays up until it was read, however long a loaded machine takes to
    // start the replay (a 10 s replay once ended, or had not started, before a fixed 30 s from spawn)
    const p = spawn(process.execPath, ['bin/mcreplay.js', 'replay', 'captures/sample.pcap', '--target', tgt.address, '--out', out, '--metrics', String(mport), '--no-html', '--json', '--loop', '--max-lag', '60s', '--max-stall', '60s'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exit = new Promise<number | null>((r) => p.once('close', (c) => r(c)));
    cleanup.push(() => {
      if (p.exitCode === null) p.kill('SIGKILL');
    });
    // the schedule's t0 is fixed (its start line); the first 1 s interval then reaches /metrics
    await started(p);
    let sent = 0;
    let fams = new Map<string, Family>();
    await waitFor(
      () => `the replay to report sent requests on /metrics (stderr: ${err.slice(-500)})`,
      async () => {
        const f = await scrape(mport).catch(() => null);
        if (f !== null) fams = f;
        sent = f === null ? 0 : (f.get('mcreplay_requests_sent_total')?.metrics ?? []).reduce((a, m) => a + Number(m.value), 0);
        return sent > 0 || p.exitCode !== null;
      },
      30_000,
      100,
    );
    expect(p.exitCode, err).toBeNull();
    expect(sent).toBeGreaterThan(0);
    for (const f of ['mcreplay_requests_total', 'mcreplay_response_seconds', 'mcreplay_lag_seconds', 'mcreplay_hit_ratio']) expect(fams.has(f), f).toBe(true);
    // nothing is paired in a replay: no warm gauges
    expect([...fams.keys()].filter((n) => n.startsWith('mcreplay_warm_'))).toEqual([]);
    // Ctrl-C ends the loop: partial results written, exit 130 (4 if the loaded machine saturated it)
    p.kill('SIGINT');
    const code = await exit;
    expect([130, 4], err).toContain(code);
  }, 90_000);
});
