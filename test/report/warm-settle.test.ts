// --until-warm and the live page judge a mirror's warmth on settled paired intervals, through the
// real recorder and Aggregator: the target answers its hits at once and its misses two seconds
// late, so when an interval closes it holds only the hits (100%) and becomes what the target really
// answered (the hits and the misses) only later. Judged at close, a target colder than the source
// would pass; judged once settled (delay + timeout after the end), it fails, and a target as warm
// as the source passes with the window's end and the moment it was judged two seconds apart.
// /metrics' mcreplay_warm_* gauges (read with a real exposition-format parser) serve the same
// settled paired window.
import { beforeAll, describe, expect, it } from 'vitest';
import { initMetrics } from '../../src/metrics/histogram.js';
import { IntervalRecorder } from '../../src/metrics/recorder.js';
import { Aggregator } from '../../src/metrics/aggregate.js';
import { createWarmthTracker, parseUntilWarm } from '../../src/report/warmth.js';
import { createLiveFeed, type LivePoint } from '../../src/report/live-page.js';
import type { Interval } from '../../src/metrics/results-types.js';
import { createLiveMetrics } from '../../src/report/prometheus.js';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';

beforeAll(async () => {
  await initMetrics();
});

const S = 1e9;
const N = 8;
const LATE = 2;

/**
 * N intervals of a mirror: per interval the capture answered 2 hits and 2 misses; the target answers
 * `hits` hits at once and the other 4 − hits lookups as misses LATE intervals later. `onClosed` sees
 * each interval as it closes (its paired object still takes late answers).
 */
function mirrorRun(hits: number, onClosed: (iv: Interval) => void): void {
  const rec = new IntervalRecorder({ eventLoop: false, intervalNs: S });
  const agg = new Aggregator({ workers: 1, rate: { mode: 'factor', factor: 1 }, onInterval: onClosed });
  const get = rec.slot('get');
  for (let k = 0; k < N + LATE; k++) {
    if (k < N) {
      agg.pairs.captured((k + 0.1) * S, 'get', 2, 0);
      agg.pairs.captured((k + 0.2) * S, 'get', 0, 2);
      rec.count('get', 'hits', hits);
      rec.warm(get, (k + 0.1) * S, hits, 0);
    }
    if (k >= LATE) {
      rec.count('get', 'misses', 4 - hits);
      rec.warm(get, (k - LATE + 0.2) * S, 0, 4 - hits);
    }
    agg.add(rec.snapshot(k));
  }
  agg.finish((N + LATE) * S);
  rec.destroy();
}

const rule = parseUntilWarm('hit_ratio{cmd=get} >= captured - 2% over 2s');

describe('warmth judged on settled intervals', () => {
  it('a colder target (25% vs 50%) passes when judged at close, fails once the late misses are in', () => {
    const atClose = createWarmthTracker(rule, S, 0, () => {});
    const settled = createWarmthTracker(rule, S, LATE * S, () => {});
    mirrorRun(1, (iv) => {
      atClose.add(iv);
      settled.add(iv);
    });
    // the control: at close every interval shows only the hit that came at once
    expect(atClose.heldAtNs).toBe(2 * S);
    expect(settled.heldAtNs).toBeNull();
    expect(settled.last).toMatch(/breaks >= 48% \(captured - 2%\) in the window \[6s–8s\]: 25%/);
  });

  it('a target as warm as the source passes on settled intervals: held at the window end, judged LATE later', () => {
    const held: number[] = [];
    const t = createWarmthTracker(rule, S, LATE * S, (at) => held.push(at));
    mirrorRun(2, (iv) => t.add(iv));
    expect(held).toEqual([2 * S]);
    expect(t.heldAtNs).toBe(2 * S);
    expect(t.decidedAtNs).toBe(4 * S);
    expect(t.last).toMatch(/holds in all 1 2s window\(s\); worst 50% in \[0s–2s\]/);
  });

  it('the live page fills a point in once settled: the paired hit ratios, the newest seconds left out', () => {
    const feed = createLiveFeed(LATE * S);
    mirrorRun(1, (iv) => feed.add(iv, null));
    const d = JSON.parse(feed.json()) as { paired: boolean; settleS: number; points: LivePoint[] };
    expect(d.paired).toBe(true);
    expect(d.settleS).toBe(LATE);
    const withGets = d.points.slice(0, N);
    // settled: the target's 1 hit + 3 misses against the capture's 2 + 2 of the same requests
    const settled = withGets.filter((p) => p.settled);
    expect(settled.length).toBe(N);
    for (const p of settled) expect([p.hitReplayed, p.hitCaptured, p.hitGap]).toEqual([0.25, 0.5, 0.25]);
    // the last LATE points (the late answers' seconds, no gets of their own) are not settled yet
    expect(d.points.slice(-LATE).map((p) => [p.settled, p.hitReplayed])).toEqual([
      [false, null],
      [false, null],
    ]);
    // a replay's feed (no settling) keeps the read-interval ratios
    const plain = createLiveFeed();
    mirrorRun(1, (iv) => plain.add(iv, null));
    const first = (JSON.parse(plain.json()) as { points: LivePoint[] }).points[0]!;
    expect([first.settled, first.hitReplayed]).toEqual([true, 1]);
  });

  it("/metrics' mcreplay_warm_* gauges: the settled paired window, the newest seconds left out; mcreplay_hit_ratio stays cumulative", () => {
    interface Fam {
      name: string;
      type: string;
      metrics: { labels?: Record<string, string>; value?: string }[];
    }
    const scrape = (m: ReturnType<typeof createLiveMetrics>): Map<string, Fam> => new Map((parsePrometheusTextFormat(m.render()) as Fam[]).map((f) => [f.name, f]));
    const val = (f: Fam | undefined, labels: Record<string, string> = {}): number | null => {
      const x = f?.metrics.find((s) => Object.entries(labels).every(([k, v]) => s.labels?.[k] === v));
      return x?.value === undefined ? null : Number(x.value);
    };
    const warmOf = (f: Map<string, Fam>): (number | null)[] => [
      val(f.get('mcreplay_warm_hit_ratio'), { side: 'captured' }),
      val(f.get('mcreplay_warm_hit_ratio'), { side: 'replayed' }),
      val(f.get('mcreplay_warm_hit_ratio_gap')),
      val(f.get('mcreplay_warm_lookups'), { side: 'captured' }),
      val(f.get('mcreplay_warm_lookups'), { side: 'replayed' }),
      val(f.get('mcreplay_warm_window_seconds')),
    ];
    // --until-warm's window of 2 s, intervals settled LATE s after their end, scraped as each interval closes
    const m = createLiveMetrics('t:1', { settleNs: LATE * S, warmWindowNs: 2 * S });
    const seen: (number | null)[][] = [];
    const ivs: Interval[] = [];
    mirrorRun(1, (iv) => {
      ivs.push(iv);
      m.add(iv);
      seen.push(warmOf(scrape(m)));
    });
    // nothing settled in the first LATE seconds: the families are there, without samples
    for (const w of seen.slice(0, LATE)) expect(w).toEqual([null, null, null, null, null, null]);
    const f = scrape(m);
    for (const n of ['mcreplay_warm_hit_ratio', 'mcreplay_warm_hit_ratio_gap', 'mcreplay_warm_lookups', 'mcreplay_warm_window_seconds']) expect(f.get(n)?.type, n).toBe('GAUGE');
    // from then on exactly the intervals --until-warm judges (the tracker above): the target's 1 hit +
    // 3 misses against the capture's 2 + 2 of the same requests; at close those intervals held only
    // the target's hit (100%), which nothing here shows
    expect(seen[LATE]).toEqual([0.5, 0.25, 0.25, 4, 4, 1]);
    // the window full: the last 2 settled intervals, 4 lookups each
    for (const w of seen.slice(LATE + 1)) expect(w).toEqual([0.5, 0.25, 0.25, 8, 8, 2]);
    // the cumulative family is unchanged: every answer read so far (8 hits + 24 misses of the target)
    expect(val(f.get('mcreplay_hit_ratio'), { cmd: 'get', side: 'replayed' })).toBe(0.25);
    // seconds without lookups settle too: the window slides over them, to no lookups at all
    const last = ivs[ivs.length - 1]!;
    const idle = (k: number): Interval => ({ ...last, index: last.index + k, startNs: last.endNs + (k - 1) * S, endNs: last.endNs + k * S, perCommand: {}, paired: undefined });
    m.add(idle(1));
    expect(warmOf(scrape(m))).toEqual([0.5, 0.25, 0.25, 4, 4, 2]);
    m.add(idle(2));
    expect(warmOf(scrape(m))).toEqual([null, null, null, 0, 0, 2]);
    // a replay (nothing paired, no settling) serves no warm family
    const plain = createLiveMetrics('t:1');
    mirrorRun(1, (iv) => plain.add(iv));
    expect([...scrape(plain).keys()].filter((n) => n.startsWith('mcreplay_warm_'))).toEqual([]);
  });
});
