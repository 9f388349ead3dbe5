// The live page of `--metrics` (`/`): the last minutes of a running mirror or replay, one point per
// completed 1 s interval, fetched every second from /live.json and drawn with the report's chart
// library (Chart.js, served from the installed package at /chart.js: the page needs no network
// beyond its own host). Throughput, response p50/p99, lag p99, errors, hit ratio captured vs
// replayed, the targets' items and bytes (--poll-stats). A mirror's hit ratios are paired by the
// requests' intended send time (each interval's `paired`, src/metrics/warm-pairs.ts) and drawn
// only once the interval is settled (every request intended in it answered or timed out): before
// that a late answer would still move them.
import type { Interval } from '../metrics/results-types.js';
import type { Paired } from '../metrics/warm-pairs.js';
import { heldBackTotal, totalErrors } from '../metrics/counters.js';
import { decodeSparse, valuesAt } from './hist.js';
import { chartJsSource } from './html.js';
import { createSettleQueue } from './settle.js';

/** Points kept: ten minutes at 1 s. */
const KEEP = 600;

/** Per-command hit counts the capture answered (live view, see CapturedSink.byCmd). */
export type CapturedView = ReadonlyMap<string, { count: number; hits: number; misses: number }>;

/** One point of the live page. */
export interface LivePoint {
  /** Seconds since the run's t0 (interval end). */
  t: number;
  sentPerSec: number;
  completedPerSec: number;
  errors: number;
  heldBack: number;
  p50Ms: number | null;
  p99Ms: number | null;
  lagP99Ms: number | null;
  /**
   * Lookups hit ratio: the target's and the capture's. A mirror (paired): for the requests intended
   * in this interval, null until it is settled. Otherwise (replay): the target's answers read in this
   * interval, and the capture's for requests whose answers came in since the last point.
   */
  hitReplayed: number | null;
  hitCaptured: number | null;
  /** hitCaptured − hitReplayed, when both are known. */
  hitGap: number | null;
  /** False while a paired interval may still take answers (its hit ratios are null until then). */
  settled: boolean;
  /** The targets' items and bytes stored, summed over the targets (--poll-stats; null without). */
  items: number | null;
  bytes: number | null;
}

/** The live page's data: a ring of recent points. */
export interface LiveFeed {
  add(iv: Interval, captured: CapturedView | null): void;
  /** The targets' latest `stats` (--poll-stats), drawn from the next point on. */
  targets(latest: { target: string; values: Record<string, number> }[]): void;
  json(): string;
}

const ratio = (h: number, l: number): number | null => (l > 0 ? h / l : null);

/** The paired hit ratios (all commands) of a settled interval into its point. */
function settle(p: LivePoint, paired: Paired | undefined): void {
  let ch = 0;
  let cl = 0;
  let rh = 0;
  let rl = 0;
  for (const v of Object.values(paired ?? {})) {
    ch += v.capturedHits;
    cl += v.capturedHits + v.capturedMisses;
    rh += v.replayedHits;
    rl += v.replayedHits + v.replayedMisses;
  }
  p.hitCaptured = ratio(ch, cl);
  p.hitReplayed = ratio(rh, rl);
  p.hitGap = p.hitCaptured !== null && p.hitReplayed !== null ? p.hitCaptured - p.hitReplayed : null;
  p.settled = true;
}

/**
 * A new, empty live feed. With `settleNs` (a mirror) the hit ratios are paired by intended send
 * time and filled in once an interval ended that long ago; without, they are by read interval.
 */
export function createLiveFeed(settleNs: number | null = null): LiveFeed {
  const points: LivePoint[] = [];
  // points whose paired answers may still grow, oldest first (a few seconds' worth)
  const unsettled = settleNs === null ? null : createSettleQueue<{ p: LivePoint; paired: Paired | undefined }>(settleNs);
  let capHits = 0;
  let capLookups = 0;
  let sentTotal = 0;
  let items: number | null = null;
  let bytes: number | null = null;
  const sum = (latest: { values: Record<string, number> }[], k: string): number | null => (latest.some((l) => typeof l.values[k] === 'number') ? latest.reduce((a, l) => a + (l.values[k] ?? 0), 0) : null);
  return {
    targets(latest) {
      items = sum(latest, 'curr_items');
      bytes = sum(latest, 'bytes');
    },
    add(iv, captured) {
      const secs = (iv.endNs - iv.startNs) / 1e9 || 1;
      const c = iv.total.counters;
      const errors = totalErrors(c);
      const held = heldBackTotal(c.heldBack);
      const resp = decodeSparse(iv.total.response);
      const [p50, p99] = resp.total > 0 ? valuesAt(resp, [50, 99]) : [NaN, NaN];
      const lag = decodeSparse(iv.lag);
      const [lag99] = lag.total > 0 ? valuesAt(lag, [99]) : [NaN];
      let h = 0;
      let l = 0;
      if (captured !== null) for (const v of captured.values()) ((h += v.hits), (l += v.hits + v.misses));
      const dl = l - capLookups;
      const hitCaptured = dl > 0 ? (h - capHits) / dl : null;
      capHits = h;
      capLookups = l;
      sentTotal += c.sent;
      const hitReplayed = c.hits + c.misses > 0 ? c.hits / (c.hits + c.misses) : null;
      const ms = (v: number | undefined): number | null => (v === undefined || Number.isNaN(v) ? null : v / 1e6);
      points.push({
        t: iv.endNs / 1e9,
        sentPerSec: c.sent / secs,
        completedPerSec: c.completed / secs,
        errors,
        heldBack: held,
        p50Ms: ms(p50),
        p99Ms: ms(p99),
        lagP99Ms: ms(lag99),
        hitReplayed: settleNs === null ? hitReplayed : null,
        hitCaptured: settleNs === null ? hitCaptured : null,
        hitGap: settleNs === null && hitReplayed !== null && hitCaptured !== null ? hitCaptured - hitReplayed : null,
        settled: settleNs === null,
        items,
        bytes,
      });
      if (unsettled !== null) for (const u of unsettled.add({ p: points[points.length - 1]!, paired: iv.paired }, iv.endNs)) settle(u.p, u.paired);
      if (points.length > KEEP) points.splice(0, points.length - KEEP);
    },
    json() {
      return JSON.stringify({ sentTotal, paired: settleNs !== null, settleS: settleNs === null ? null : settleNs / 1e9, points });
    },
  };
}

/** The page itself (static; its script polls /live.json). */
export function livePageHtml(title: string): string {
  const safe = title.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>mcreplay live: ${safe}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px system-ui,sans-serif;margin:1rem 2rem;color:#222}
h1{font-size:1.2rem}
#numbers{display:flex;gap:2rem;margin:.5rem 0 1rem}
#numbers div{min-width:8rem}#numbers b{display:block;font-size:1.4rem}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:1rem}
.chart{height:220px;position:relative}
#status,#hit-note{color:#777}
</style>
<script src="/chart.js"></script>
</head><body>
<h1>mcreplay live: ${safe}</h1>
<div id="status">waiting for the first interval ...</div>
<div id="numbers">
<div>sent<b id="n-sent">-</b></div><div>req/s<b id="n-rate">-</b></div><div>p99<b id="n-p99">-</b></div>
<div>lag p99<b id="n-lag">-</b></div><div>hit ratio (target / capture)<b id="n-hit">-</b></div><div>errors/s<b id="n-err">-</b></div>
<div>target items<b id="n-items">-</b></div><div>target MB<b id="n-bytes">-</b></div>
</div>
<div id="hit-note"></div>
<div class="charts">
<div class="chart"><canvas id="c-rate"></canvas></div>
<div class="chart"><canvas id="c-lat"></canvas></div>
<div class="chart"><canvas id="c-hit"></canvas></div>
<div class="chart"><canvas id="c-err"></canvas></div>
<div class="chart"><canvas id="c-items"></canvas></div>
</div>
<script>
const mk = (id, sets, y) => new Chart(document.getElementById(id), {type: 'line',
  data: {labels: [], datasets: sets.map(([label, color]) => ({label, data: [], borderColor: color, pointRadius: 0, borderWidth: 1.5, spanGaps: true}))},
  options: {animation: false, maintainAspectRatio: false, scales: {x: {title: {display: true, text: 's'}}, y: {title: {display: true, text: y}, beginAtZero: true}}}});
const charts = {
  rate: mk('c-rate', [['sent/s', '#1f77b4'], ['answered/s', '#2ca02c']], 'requests/s'),
  lat: mk('c-lat', [['response p50', '#1f77b4'], ['response p99', '#d62728'], ['lag p99', '#9467bd']], 'ms'),
  hit: mk('c-hit', [['hit ratio, target', '#2ca02c'], ['hit ratio, capture', '#7f7f7f'], ['gap (capture - target)', '#d62728']], 'ratio'),
  err: mk('c-err', [['errors/s', '#d62728'], ['held back/s', '#ff7f0e']], 'per second'),
  items: mk('c-items', [['target items', '#8c564b'], ['target MB', '#17becf']], 'items / MB (--poll-stats)'),
};
const fmt = (v, d = 1) => v === null || v === undefined ? '-' : Number(v).toFixed(d);
function set(chart, labels, series) {
  chart.data.labels = labels;
  series.forEach((s, i) => chart.data.datasets[i].data = s);
  chart.update();
}
async function tick() {
  try {
    const r = await fetch('/live.json', {cache: 'no-store'});
    const d = await r.json();
    const p = d.points;
    document.getElementById('status').textContent = p.length ? 'updated ' + new Date().toLocaleTimeString() + ', ' + p.length + ' s shown' : 'waiting for the first interval ...';
    const L = p.map((x) => x.t.toFixed(0));
    set(charts.rate, L, [p.map((x) => x.sentPerSec), p.map((x) => x.completedPerSec)]);
    set(charts.lat, L, [p.map((x) => x.p50Ms), p.map((x) => x.p99Ms), p.map((x) => x.lagP99Ms)]);
    // a mirror's newest seconds are not settled (answers may still come): left out, and said so
    set(charts.hit, L, [p.map((x) => x.hitReplayed), p.map((x) => x.hitCaptured), p.map((x) => x.hitGap)]);
    const open = p.filter((x) => !x.settled).length;
    document.getElementById('hit-note').textContent = d.paired ? 'paired by intended send time; the last ' + open + ' s wait for their answers (delay + timeout ' + fmt(d.settleS, 1) + ' s)' : '';
    const lastHit = [...p].reverse().find((x) => x.settled);
    set(charts.err, L, [p.map((x) => x.errors), p.map((x) => x.heldBack)]);
    set(charts.items, L, [p.map((x) => x.items), p.map((x) => x.bytes === null ? null : x.bytes / 1048576)]);
    const last = p[p.length - 1];
    document.getElementById('n-sent').textContent = String(d.sentTotal);
    if (last) {
      document.getElementById('n-rate').textContent = fmt(last.sentPerSec, 0);
      document.getElementById('n-p99').textContent = fmt(last.p99Ms, 2) + ' ms';
      document.getElementById('n-lag').textContent = fmt(last.lagP99Ms, 2) + ' ms';
      document.getElementById('n-hit').textContent = lastHit ? fmt(lastHit.hitReplayed, 3) + ' / ' + fmt(lastHit.hitCaptured, 3) : '-';
      document.getElementById('n-err').textContent = fmt(last.errors, 0);
      document.getElementById('n-items').textContent = last.items === null ? '-' : String(last.items);
      document.getElementById('n-bytes').textContent = last.bytes === null ? '-' : fmt(last.bytes / 1048576, 2);
    }
  } catch (e) {
    document.getElementById('status').textContent = 'no data: ' + e;
  }
}
tick();
setInterval(tick, 1000);
</script>
</body></html>
`;
}

/** The routes of the live page for serveMetrics. */
export function liveRoutes(title: string, feed: LiveFeed): Record<string, () => { type: string; body: string }> {
  const page = livePageHtml(title);
  return {
    '/': () => ({ type: 'text/html; charset=utf-8', body: page }),
    '/live.json': () => ({ type: 'application/json', body: feed.json() }),
    '/chart.js': () => ({ type: 'text/javascript; charset=utf-8', body: chartJsSource() }),
  };
}
