// Warmth pairing on a lagging target: source and target hold the same keys, the target answers
// through a proxy that delays every answer by 1.5 s, and a client alternates a second of gets that
// hit with a second of gets that miss. Paired by the requests' intended send time, the capture's
// answers and the target's answers count the same requests, so the gap curve is flat at zero; the
// old read-interval pairing (captured answers as read vs target answers as they came back) of the
// same run swings by tens of points: the control that shows the lag was there to be corrected.
// The live page's /live.json draws the same paired curves once an interval is settled (delay +
// timeout after its end), and --until-warm judges settled paired intervals: on a hit ratio that
// rises through the run, read-interval pairing sees the lagging target always behind (never warm),
// where the paired check sees it as warm as the source and ends the mirror.
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { freePort, startMemcached, type Memcached } from '../helpers/memcached.js';
import { startDelayProxy, type DelayProxy } from '../helpers/delay-proxy.js';
import { killAtCleanup, setKey, startMirror, stats, until } from './helpers.js';
import { warmthSeries } from '../../src/report/warmth-series.js';
import type { Interval, ResultsFile } from '../../src/metrics/results-types.js';

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

// the target's answers come back a phase and a half late (the start-up probe waits 2 s at most)
const DELAY_MS = 1500;
const PHASE_MS = 1000;
const KEYS = 50;

/** Even phases all hits, odd phases all misses. */
const swing = (perPhase: number) => (ph: number): number => (ph % 2 === 0 ? perPhase : 0);

/**
 * Phases of PHASE_MS on one connection: in phase `ph` the first `hitsIn(ph)` gets ask present keys
 * (hits), the rest absent keys (misses); stops early once `stop()`; resolves with the gets sent.
 */
async function phasedGets(port: number, phases: number, perPhase: number, hitsIn: (ph: number) => number, stop: () => boolean = () => false): Promise<number> {
  const s = connect(port, '127.0.0.1');
  await new Promise<void>((r) => s.once('connect', () => r()));
  let answers = 0;
  let buf = '';
  s.on('data', (d: Buffer) => {
    buf += d.toString('latin1');
    for (let i = buf.indexOf('END\r\n'); i >= 0; i = buf.indexOf('END\r\n')) {
      answers++;
      buf = buf.slice(i + 5);
    }
  });
  let sent = 0;
  const t0 = Date.now();
  for (let ph = 0; ph < phases && !stop(); ph++) {
    for (let i = 0; i < perPhase; i++) {
      // pacing the load itself (what a client does), not waiting for something observable
      const due = t0 + ph * PHASE_MS + (i * PHASE_MS) / perPhase;
      if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
      s.write(i < hitsIn(ph) ? `get k${i % KEYS}\r\n` : `get absent${ph}-${i}\r\n`);
      sent++;
    }
  }
  await until(() => answers === sent, 20_000, 'the source to answer every get');
  s.destroy();
  return sent;
}

/** mcreplay_requests_total{cmd="get",outcome="completed"} of a /metrics page. */
function completedGets(text: string): number {
  const fams = parsePrometheusTextFormat(text) as { name: string; metrics: { labels?: Record<string, string>; value?: string }[] }[];
  const f = fams.find((x) => x.name === 'mcreplay_requests_total');
  return (f?.metrics ?? []).filter((x) => x.labels?.cmd === 'get' && x.labels.outcome === 'completed').reduce((n, x) => n + Number(x.value), 0);
}

/** The warm gauges of a /metrics page (paired, settled window) and the cumulative hit ratios of gets, read with a real parser. */
interface WarmScrape {
  captured: number | null;
  replayed: number | null;
  gap: number | null;
  lookupsCaptured: number | null;
  lookupsReplayed: number | null;
  windowS: number | null;
  cumulativeCaptured: number | null;
  cumulativeReplayed: number | null;
  /** Types of the families read (all GAUGE). */
  types: string[];
}
async function warmScrape(port: number): Promise<WarmScrape> {
  const fams = parsePrometheusTextFormat(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()) as { name: string; type: string; metrics: { labels?: Record<string, string>; value?: string }[] }[];
  const types: string[] = [];
  const val = (name: string, labels: Record<string, string> = {}): number | null => {
    const f = fams.find((x) => x.name === name);
    if (f !== undefined) types.push(f.type);
    const x = f?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
    return x?.value === undefined ? null : Number(x.value);
  };
  return {
    captured: val('mcreplay_warm_hit_ratio', { side: 'captured' }),
    replayed: val('mcreplay_warm_hit_ratio', { side: 'replayed' }),
    gap: val('mcreplay_warm_hit_ratio_gap'),
    lookupsCaptured: val('mcreplay_warm_lookups', { side: 'captured' }),
    lookupsReplayed: val('mcreplay_warm_lookups', { side: 'replayed' }),
    windowS: val('mcreplay_warm_window_seconds'),
    cumulativeCaptured: val('mcreplay_hit_ratio', { cmd: 'get', side: 'captured' }),
    cumulativeReplayed: val('mcreplay_hit_ratio', { cmd: 'get', side: 'replayed' }),
    types,
  };
}

/** What /live.json serves (src/report/live-page.ts). */
interface LiveJson {
  paired: boolean;
  settleS: number | null;
  points: { t: number; hitCaptured: number | null; hitReplayed: number | null; hitGap: number | null; settled: boolean }[];
}

/** A source and a target holding the same KEYS keys, the target behind a proxy that holds its answers DELAY_MS, and a results directory. */
async function lagging(): Promise<{ src: Memcached; tgt: Memcached; proxy: DelayProxy; out: string }> {
  const src = await startMemcached();
  const tgt = await startMemcached();
  const proxy = await startDelayProxy(tgt.address, DELAY_MS);
  const out = mkdtempSync(join(tmpdir(), 'mcr-pairing-'));
  cleanup.push(() => src.stop(), () => tgt.stop(), () => proxy.stop(), () => rmSync(out, { recursive: true, force: true }));
  for (let i = 0; i < KEYS; i++) {
    await setKey(src.port, `k${i}`, `v${i}`);
    await setKey(tgt.port, `k${i}`, `v${i}`);
  }
  return { src, tgt, proxy, out };
}

const maxAbsGap = (gap: (number | null)[]): number => Math.max(0, ...gap.filter((g): g is number => g !== null).map(Math.abs));

describe('mirror: warmth pairing on a lagging target', () => {
  it('pairs by intended send time: the gap curve stays at zero when both hold the same keys, where read-interval pairing swings', async () => {
    const { src, tgt, proxy, out } = await lagging();
    const mport = await freePort();
    const m = killAtCleanup(cleanup, startMirror(['--interface', 'lo', '--port', String(src.port), '--target', proxy.address, '--out', out, '--json', '--metrics', String(mport), '--timeout', '3s', '--max-lag', '60s', '--max-stall', '60s', '--no-html']));
    await m.waitErr(/mirroring/, 30_000);
    // /metrics scraped all along, from the first get until every second with gets has settled
    const scrapes: WarmScrape[] = [];
    let scrapeOn = true;
    const scraping = (async () => {
      while (scrapeOn) {
        scrapes.push(await warmScrape(mport));
        await new Promise((r) => setTimeout(r, 250));
      }
    })();
    cleanup.push(() => {
      scrapeOn = false;
      return scraping.then(() => undefined, () => undefined);
    });
    const gets = await phasedGets(src.port, 8, 40, swing(40));
    // every mirrored get reached the target (its own count) and came back through the proxy
    await until(async () => (await stats(tgt.port)).cmd_get === gets, 30_000, 'the target to receive every get');
    // ... and its answer came back to the mirror (its own count on /metrics, read with a real parser)
    await until(async () => completedGets(await (await fetch(`http://127.0.0.1:${mport}/metrics`)).text()) === gets, 30_000, 'the mirror to get every answer back');
    // the live page's data: wait until every second with gets is settled (an idle settled second follows them)
    let live: LiveJson = { paired: false, settleS: null, points: [] };
    await until(
      async () => {
        live = (await (await fetch(`http://127.0.0.1:${mport}/live.json`)).json()) as LiveJson;
        const settled = live.points.filter((x) => x.settled);
        return settled.filter((x) => x.hitCaptured !== null).length >= 6 && settled[settled.length - 1]!.hitCaptured === null;
      },
      30_000,
      'the live page to settle every second with gets',
    );
    scrapeOn = false;
    await scraping;
    const warmEnd = await warmScrape(mport);
    scrapes.push(warmEnd);
    m.proc.kill('SIGTERM');
    const ex = await m.exit;
    expect(ex.code, m.stderr() + m.stdout()).toBe(0);
    const summary = JSON.parse(m.stdout()) as { results: string };
    const r = JSON.parse(readFileSync(summary.results, 'utf8')) as ResultsFile;
    // the target really lagged: its answers took the proxy's delay
    expect(r.summary.perCommand.get!.response.p50).toBeGreaterThanOrEqual(DELAY_MS * 1e6);

    const ivs = r.intervals.filter((iv) => iv.paired?.get !== undefined);
    expect(ivs.length).toBeGreaterThanOrEqual(6);
    // per interval the same requests on both sides: the capture's and the target's answers agree
    for (const iv of ivs) {
      const p = iv.paired!.get!;
      expect(p.capturedHits + p.capturedMisses, `interval ${iv.index}`).toBe(p.replayedHits + p.replayedMisses);
      expect(p.replayedHits, `interval ${iv.index}`).toBe(p.capturedHits);
    }
    // and they cover every get: the source's and the target's own counts
    const srcStats = await stats(src.port);
    const tgtStats = await stats(tgt.port);
    const sum = (f: (iv: Interval) => number): number => ivs.reduce((n, iv) => n + f(iv), 0);
    expect(sum((iv) => iv.paired!.get!.capturedHits)).toBe(srcStats.get_hits);
    expect(sum((iv) => iv.paired!.get!.capturedMisses)).toBe(srcStats.get_misses);
    expect(sum((iv) => iv.paired!.get!.replayedHits)).toBe(tgtStats.get_hits);

    // /metrics' warm gauges (default window 10 minutes: the whole run), once every second with gets
    // has settled: the paired answers of every get, the source's and the target's own counts
    expect(new Set(warmEnd.types)).toEqual(new Set(['GAUGE']));
    expect(warmEnd.lookupsCaptured).toBe(gets);
    expect(warmEnd.lookupsReplayed).toBe(gets);
    expect(warmEnd.captured).toBeCloseTo(srcStats.get_hits! / gets, 12);
    expect(warmEnd.replayed).toBeCloseTo(tgtStats.get_hits! / gets, 12);
    expect(warmEnd.gap).toBe(0);
    expect(warmEnd.windowS).toBeGreaterThanOrEqual(8);
    expect(warmEnd.windowS).toBeLessThanOrEqual(600);
    // all along, every scrape judged settled seconds only: the same requests on both sides,
    // so gap 0 throughout; the cumulative family (answers as read) is left as it was, and the lag shows in it
    const judged = scrapes.filter((x) => x.lookupsCaptured !== null && x.lookupsCaptured > 0);
    expect(judged.length).toBeGreaterThan(0);
    for (const x of judged) {
      expect(x.lookupsReplayed).toBe(x.lookupsCaptured);
      expect(x.gap).toBe(0);
    }
    expect(scrapes.some((x) => x.cumulativeCaptured !== null && x.cumulativeCaptured !== x.cumulativeReplayed)).toBe(true);

    // the report's curves, one interval a point: flat at zero; the hit ratio itself swings 0 <-> 1
    const fmt = (s: number): string => `${s} s`;
    const paired = warmthSeries(r.intervals.map((iv) => [iv]), { thresholdPct: 2, windowS: 3 }, fmt)!;
    expect(maxAbsGap(paired.byCmd.get!.gap)).toBe(0);
    const cap = paired.byCmd.get!.captured.filter((x): x is number => x !== null);
    expect(Math.max(...cap) - Math.min(...cap)).toBeGreaterThan(0.5);
    expect(paired.warmAtS).not.toBeNull();
    // control: the same run paired by read interval (results.json before pairing) is noisy
    const unpaired = warmthSeries(r.intervals.map((iv) => [{ ...iv, paired: undefined }]), { thresholdPct: 2, windowS: 3 }, fmt)!;
    expect(maxAbsGap(unpaired.byCmd.get!.gap)).toBeGreaterThan(0.3);

    // the live page drew the same paired curves: gap 0 at every settled second, the newest ones left out
    expect(live.paired).toBe(true);
    expect(live.settleS).toBeCloseTo(3.03, 6);
    const drawn = live.points.filter((x) => x.settled && x.hitCaptured !== null);
    expect(drawn.length).toBeGreaterThanOrEqual(6);
    for (const x of drawn) expect(x.hitReplayed, `t=${x.t}`).toBe(x.hitCaptured);
    expect(Math.max(...drawn.map((x) => x.hitCaptured!)) - Math.min(...drawn.map((x) => x.hitCaptured!))).toBeGreaterThan(0.5);
    const open = live.points.filter((x) => !x.settled);
    expect(open.length).toBeGreaterThan(0);
    for (const x of open) expect([x.hitCaptured, x.hitReplayed, x.hitGap]).toEqual([null, null, null]);
    // ... and each settled second is the results file's paired interval ending then
    const byEnd = new Map(r.intervals.map((iv) => [iv.endNs / 1e9, iv]));
    for (const x of drawn) {
      const p = byEnd.get(x.t)?.paired?.get;
      expect(p, `t=${x.t}`).toBeDefined();
      expect(x.hitCaptured).toBeCloseTo(p!.capturedHits / (p!.capturedHits + p!.capturedMisses), 9);
    }
  }, 120_000);

  it('--until-warm judges settled paired intervals: a warm target 1.5 s behind ends the mirror, where read-interval pairing never saw it warm', async () => {
    const { src, proxy, out } = await lagging();
    const rule = 'hit_ratio{cmd=get} >= captured - 2% over 3s';
    const mport = await freePort();
    const m = killAtCleanup(cleanup, startMirror(['--interface', 'lo', '--port', String(src.port), '--target', proxy.address, '--out', out, '--json', '--metrics', String(mport), '--until-warm', rule, '--duration', '14s', '--timeout', '3s', '--max-lag', '60s', '--max-stall', '60s', '--no-html']));
    await m.waitErr(/mirroring/, 30_000);
    // /metrics' warm window is --until-warm's: scraped until the mirror ends (then the fetch fails)
    const windows: (number | null)[] = [];
    const scraping = (async () => {
      for (;;) {
        const w = await warmScrape(mport).catch(() => null);
        if (w === null) return;
        windows.push(w.windowS);
        await new Promise((r) => setTimeout(r, 250));
      }
    })();
    // the share of hits climbs from 10% to 100% over 14 s (6.4 points a second): a target answering
    // 1.5 s late looks ~10 points behind when its answers are counted as they come back
    const PER = 60;
    const climbing = (ph: number): number => Math.round(PER * Math.min(1, 0.1 + (0.9 * ph) / 14));
    let exited = false;
    void m.exit.then(() => (exited = true));
    await phasedGets(src.port, 16, PER, climbing, () => exited);
    const ex = await m.exit;
    await scraping;
    expect(windows).toContain(3);
    expect(Math.max(...windows.filter((w): w is number => w !== null))).toBe(3);
    const o = JSON.parse(m.stdout()) as { results: string; verdict: { status: string; exitCode: number }; warm: { heldAtNs: number | null; decidedAtNs: number | null; settleNs: number } };
    // the paired check held (the target is as warm as the source): the mirror ended by itself, exit 0,
    // before --duration; read-interval pairing never held here (exit 99 at --duration)
    expect(ex.code, m.stderr() + m.stdout()).toBe(0);
    expect(o.verdict.status).toBe('pass');
    expect(m.stderr()).toMatch(/--until-warm held over 3 s/);
    expect(o.warm.heldAtNs).not.toBeNull();
    // judged only once its last interval was settled: delay + timeout after the window's end
    expect(o.warm.settleNs).toBe(3.03e9);
    expect(o.warm.decidedAtNs! - o.warm.heldAtNs!).toBeGreaterThanOrEqual(o.warm.settleNs);
    const r = JSON.parse(readFileSync(o.results, 'utf8')) as ResultsFile;
    expect(r.summary.durationNs).toBeLessThan(13e9);
    expect(r.summary.perCommand.get!.response.p50).toBeGreaterThanOrEqual(DELAY_MS * 1e6);
    // the window that held: paired, the same requests on both sides, the target's answers all in
    const held = r.intervals.filter((iv) => iv.endNs <= o.warm.heldAtNs! && iv.endNs > o.warm.heldAtNs! - 3e9);
    expect(held).toHaveLength(3);
    for (const iv of held) {
      const p = iv.paired!.get!;
      expect(p.capturedHits + p.capturedMisses, `interval ${iv.index}`).toBeGreaterThan(0);
      expect([p.replayedHits, p.replayedMisses], `interval ${iv.index}`).toEqual([p.capturedHits, p.capturedMisses]);
    }
    // control: the same rule on the same run paired by read interval never held (the gap stayed above 2 points)
    const fmt = (s: number): string => `${s} s`;
    const byRead = warmthSeries(r.intervals.map((iv) => [{ ...iv, paired: undefined }]), { thresholdPct: 2, windowS: 3 }, fmt)!;
    expect(byRead.warmAtS).toBeNull();
    const paired = warmthSeries(r.intervals.map((iv) => [iv]), { thresholdPct: 2, windowS: 3 }, fmt)!;
    expect(paired.warmAtS).not.toBeNull();
  }, 120_000);
});
