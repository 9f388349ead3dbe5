// `--metrics [host:]port`: the run's counters and latency histograms in the Prometheus text
// exposition format (version 0.0.4) on /metrics, fed by the completed 1 s intervals (so a scrape
// lags the run by at most one interval). Names follow Prometheus conventions: base units (seconds,
// bytes), counters end in _total. No authentication: it binds 127.0.0.1 unless a host is given.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Interval, ErrorClass } from '../metrics/results-types.js';
import { ERROR_CLASSES } from '../metrics/results-types.js';
import { heldBackTotal } from '../metrics/counters.js';
import { decodeSparse } from './hist.js';
import { McError } from '../errors.js';
import { createLiveFeed, liveRoutes, type CapturedView, type LiveFeed } from './live-page.js';
import { createWarmWindow, type WarmWindow } from './warm-window.js';
import { DEFAULT_WARM } from './warmth-series.js';

/** Histogram bucket bounds, seconds. */
export const BUCKETS_S = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

interface Hist {
  /** Per bucket (non-cumulative), the last one is +Inf. */
  counts: number[];
  count: number;
  sumS: number;
}

const newHist = (): Hist => ({ counts: new Array<number>(BUCKETS_S.length + 1).fill(0), count: 0, sumS: 0 });

/** Adds an encoded HdrHistogram (ns) to a Prometheus histogram: each HdrHistogram bucket goes where its upper value falls. */
function addEncoded(h: Hist, encoded: string): void {
  const s = decodeSparse(encoded);
  for (let i = 0; i < s.n.length; i++) {
    const hiS = s.hi[i]! / 1e9;
    let b = 0;
    while (b < BUCKETS_S.length && hiS > BUCKETS_S[b]!) b++;
    h.counts[b]! += s.n[i]!;
    h.count += s.n[i]!;
    // the bucket's middle: within HdrHistogram's precision (3 significant digits) of the true sum
    h.sumS += (s.n[i]! * (s.lo[i]! + s.hi[i]!)) / 2 / 1e9;
  }
}

interface CmdAcc {
  sent: number;
  completed: number;
  hits: number;
  misses: number;
  unsent: number;
  errors: Record<ErrorClass, number>;
  heldBack: Record<string, number>;
  response: Hist;
  service: Hist;
}

export type { CapturedView };

/** The run's metrics as a scrape sees them. */
export interface LiveMetrics {
  /** A completed interval (all workers). */
  add(iv: Interval): void;
  /** What the capture answered, per command (a live view). */
  setCaptured(view: CapturedView): void;
  /** Extra gauges: name (without the prefix) → help, and labelled values. */
  setGauge(name: string, help: string, values: { labels: Record<string, string>; value: number }[]): void;
  /** Extra counters (name without the prefix, ending in _total), as setGauge. */
  setCounter(name: string, help: string, values: { labels: Record<string, string>; value: number }[]): void;
  /** The exposition text. */
  render(): string;
  /** Intervals added so far. */
  readonly intervals: number;
  /** The live page's recent points. */
  readonly live: LiveFeed;
  /** How the page titles the run. */
  readonly title: string;
}

const esc = (v: string): string => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
const labels = (l: Record<string, string>): string => {
  const parts = Object.entries(l).map(([k, v]) => `${k}="${esc(v)}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
};
const num = (v: number): string => (Number.isFinite(v) ? String(v) : v > 0 ? '+Inf' : v < 0 ? '-Inf' : 'NaN');

/**
 * Metrics of a run against `target` (the targets' names joined, the `target` label); with
 * `settleNs` (a mirror) the live page draws the warmth curves from each interval's paired answers,
 * once the interval is that old (src/report/live-page.ts), and the mcreplay_warm_* gauges sum the
 * settled intervals of the last `warmWindowNs` (--until-warm's window; default the report's 10
 * minutes), src/report/warm-window.ts.
 */
export function createLiveMetrics(target: string, opts: { settleNs?: number | null; warmWindowNs?: number | null } = {}): LiveMetrics {
  const cmds = new Map<string, CmdAcc>();
  const lag = newHist();
  let bytesOut = 0;
  let bytesIn = 0;
  let intervals = 0;
  let captured: CapturedView | null = null;
  const gauges = new Map<string, { type: 'gauge' | 'counter'; help: string; values: { labels: Record<string, string>; value: number }[] }>();
  const live = createLiveFeed(opts.settleNs ?? null);
  const warm: WarmWindow | null = opts.settleNs === undefined || opts.settleNs === null ? null : createWarmWindow(opts.settleNs, opts.warmWindowNs ?? DEFAULT_WARM.windowS * 1e9);

  const acc = (cmd: string): CmdAcc => {
    let a = cmds.get(cmd);
    if (a === undefined) {
      a = { sent: 0, completed: 0, hits: 0, misses: 0, unsent: 0, errors: Object.fromEntries(ERROR_CLASSES.map((c) => [c, 0])) as Record<ErrorClass, number>, heldBack: {}, response: newHist(), service: newHist() };
      cmds.set(cmd, a);
    }
    return a;
  };

  return {
    get intervals() {
      return intervals;
    },
    live,
    title: target,
    add(iv) {
      intervals++;
      live.add(iv, captured);
      warm?.add(iv);
      for (const [cmd, ci] of Object.entries(iv.perCommand)) {
        const a = acc(cmd);
        const c = ci.counters;
        a.sent += c.sent;
        a.completed += c.completed;
        a.hits += c.hits;
        a.misses += c.misses;
        a.unsent += c.unsent;
        for (const k of ERROR_CLASSES) a.errors[k] += c.errors[k];
        for (const [r, n] of Object.entries(c.heldBack)) a.heldBack[r] = (a.heldBack[r] ?? 0) + n;
        addEncoded(a.response, ci.response);
        addEncoded(a.service, ci.service);
      }
      bytesOut += iv.total.counters.bytesOut;
      bytesIn += iv.total.counters.bytesIn;
      addEncoded(lag, iv.lag);
    },
    setCaptured(view) {
      captured = view;
    },
    setGauge(name, help, values) {
      gauges.set(name, { type: 'gauge', help, values });
    },
    setCounter(name, help, values) {
      gauges.set(name, { type: 'counter', help, values });
    },
    render() {
      const out: string[] = [];
      const family = (name: string, type: string, help: string): void => {
        out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      };
      const sorted = [...cmds].sort((a, b) => a[0].localeCompare(b[0]));
      family('mcreplay_requests_total', 'counter', 'Requests by command, target and outcome (completed, error, held_back, unsent).');
      for (const [cmd, a] of sorted) {
        let errors = 0;
        for (const k of ERROR_CLASSES) errors += a.errors[k];
        const held = heldBackTotal(a.heldBack);
        for (const [outcome, v] of [['completed', a.completed], ['error', errors], ['held_back', held], ['unsent', a.unsent]] as const) {
          out.push(`mcreplay_requests_total${labels({ cmd, target, outcome })} ${v}`);
        }
      }
      family('mcreplay_requests_sent_total', 'counter', 'Requests written to the target (completed + error + in flight).');
      for (const [cmd, a] of sorted) out.push(`mcreplay_requests_sent_total${labels({ cmd, target })} ${a.sent}`);
      family('mcreplay_errors_total', 'counter', 'Failed requests by command and error class.');
      for (const [cmd, a] of sorted) for (const k of ERROR_CLASSES) out.push(`mcreplay_errors_total${labels({ cmd, target, class: k })} ${a.errors[k]}`);
      family('mcreplay_held_back_total', 'counter', 'Requests not sent, by command and reason (safety rules, filters, not-sampled, backlog-full drops ...).');
      for (const [cmd, a] of sorted) for (const [r, n] of Object.entries(a.heldBack).sort()) out.push(`mcreplay_held_back_total${labels({ cmd, reason: r })} ${n}`);
      family('mcreplay_bytes_total', 'counter', 'Bytes written to (out) and read from (in) the targets.');
      out.push(`mcreplay_bytes_total${labels({ target, direction: 'out' })} ${bytesOut}`, `mcreplay_bytes_total${labels({ target, direction: 'in' })} ${bytesIn}`);
      family('mcreplay_hits_total', 'counter', 'Lookups that found their key, as the target answered (side="replayed") and as the capture answered (side="captured").');
      for (const [cmd, a] of sorted) out.push(`mcreplay_hits_total${labels({ cmd, side: 'replayed' })} ${a.hits}`);
      const cap = captured === null ? [] : [...captured].sort((a, b) => a[0].localeCompare(b[0]));
      for (const [cmd, c] of cap) out.push(`mcreplay_hits_total${labels({ cmd, side: 'captured' })} ${c.hits}`);
      family('mcreplay_lookups_total', 'counter', 'Key lookups (hits + misses), by side as for mcreplay_hits_total.');
      for (const [cmd, a] of sorted) out.push(`mcreplay_lookups_total${labels({ cmd, side: 'replayed' })} ${a.hits + a.misses}`);
      for (const [cmd, c] of cap) out.push(`mcreplay_lookups_total${labels({ cmd, side: 'captured' })} ${c.hits + c.misses}`);
      family('mcreplay_hit_ratio', 'gauge', 'Hit ratio so far, captured vs replayed, per command (lookups only).');
      for (const [cmd, a] of sorted) if (a.hits + a.misses > 0) out.push(`mcreplay_hit_ratio${labels({ cmd, side: 'replayed' })} ${num(a.hits / (a.hits + a.misses))}`);
      for (const [cmd, c] of cap) if (c.hits + c.misses > 0) out.push(`mcreplay_hit_ratio${labels({ cmd, side: 'captured' })} ${num(c.hits / (c.hits + c.misses))}`);
      if (warm !== null) renderWarm(out, family, warm);
      const hist = (name: string, help: string, rows: [Record<string, string>, Hist][]): void => {
        family(name, 'histogram', help);
        for (const [l, h] of rows) {
          let cum = 0;
          for (let b = 0; b < BUCKETS_S.length; b++) {
            cum += h.counts[b]!;
            out.push(`${name}_bucket${labels({ ...l, le: String(BUCKETS_S[b]) })} ${cum}`);
          }
          out.push(`${name}_bucket${labels({ ...l, le: '+Inf' })} ${h.count}`, `${name}_sum${labels(l)} ${num(h.sumS)}`, `${name}_count${labels(l)} ${h.count}`);
        }
      };
      hist('mcreplay_response_seconds', 'Response time: completion minus intended send time.', sorted.map(([cmd, a]) => [{ cmd, target }, a.response]));
      hist('mcreplay_service_seconds', 'Service time: completion minus actual write.', sorted.map(([cmd, a]) => [{ cmd, target }, a.service]));
      hist('mcreplay_lag_seconds', 'Schedule lag: actual minus intended send time.', [[{}, lag]]);
      for (const [name, g] of [...gauges].sort((a, b) => a[0].localeCompare(b[0]))) {
        family(`mcreplay_${name}`, g.type, g.help);
        for (const v of g.values) out.push(`mcreplay_${name}${labels(v.labels)} ${num(v.value)}`);
      }
      return `${out.join('\n')}\n`;
    },
  };
}

/** The mirror's paired, settled warmth over its window (mcreplay_warm_*); no samples before the first interval settles. */
function renderWarm(out: string[], family: (name: string, type: string, help: string) => void, warm: WarmWindow): void {
  const v = warm.view();
  const ratio = (h: number, l: number): number | null => (l > 0 ? h / l : null);
  const cr = v === null ? null : ratio(v.capturedHits, v.capturedLookups);
  const rr = v === null ? null : ratio(v.replayedHits, v.replayedLookups);
  family('mcreplay_warm_hit_ratio', 'gauge', "Hit ratio of the lookups intended in the settled intervals of the warm window (all lookup commands): the capture's answers (side=\"captured\") and the target's to the same requests (side=\"replayed\"), as --until-warm and the live page judge them.");
  if (cr !== null) out.push(`mcreplay_warm_hit_ratio${labels({ side: 'captured' })} ${num(cr)}`);
  if (rr !== null) out.push(`mcreplay_warm_hit_ratio${labels({ side: 'replayed' })} ${num(rr)}`);
  family('mcreplay_warm_hit_ratio_gap', 'gauge', 'mcreplay_warm_hit_ratio captured minus replayed (0 when the target is as warm as the source).');
  if (cr !== null && rr !== null) out.push(`mcreplay_warm_hit_ratio_gap ${num(cr - rr)}`);
  family('mcreplay_warm_lookups', 'gauge', 'Lookups the warm hit ratios are computed from, by side.');
  if (v !== null) out.push(`mcreplay_warm_lookups${labels({ side: 'captured' })} ${v.capturedLookups}`, `mcreplay_warm_lookups${labels({ side: 'replayed' })} ${v.replayedLookups}`);
  family('mcreplay_warm_window_seconds', 'gauge', 'Run time the warm gauges cover: settled intervals only, up to the window (--until-warm, default 10 minutes).');
  if (v !== null) out.push(`mcreplay_warm_window_seconds ${num(v.spanNs / 1e9)}`);
}

/** Target `stats` fields served as metrics: stat → [name, type, help] (memcached_exporter's names under mcreplay_target_). */
export const TARGET_STATS: Record<string, [string, 'gauge' | 'counter', string]> = {
  curr_items: ['target_current_items', 'gauge', 'Items stored on the target (stats curr_items).'],
  bytes: ['target_current_bytes', 'gauge', 'Bytes used by the items stored on the target (stats bytes).'],
  limit_maxbytes: ['target_limit_bytes', 'gauge', 'Memory the target may use for items (stats limit_maxbytes).'],
  curr_connections: ['target_current_connections', 'gauge', 'Open connections on the target (stats curr_connections).'],
  evictions: ['target_items_evicted_total', 'counter', 'Items the target evicted to make room (stats evictions).'],
  total_items: ['target_items_total', 'counter', 'Items ever stored on the target (stats total_items).'],
  get_hits: ['target_get_hits_total', 'counter', 'Lookups that hit, as the target counts them (stats get_hits).'],
  get_misses: ['target_get_misses_total', 'counter', 'Lookups that missed, as the target counts them (stats get_misses).'],
};

/** Sets the target-stats families from each target's latest `stats` (--poll-stats). */
export function setTargetStats(metrics: LiveMetrics, latest: { target: string; values: Record<string, number> }[]): void {
  metrics.live.targets(latest);
  for (const [stat, [name, type, help]] of Object.entries(TARGET_STATS)) {
    const values = latest.filter((l) => typeof l.values[stat] === 'number').map((l) => ({ labels: { target: l.target }, value: l.values[stat]! }));
    if (values.length === 0) continue;
    if (type === 'gauge') metrics.setGauge(name, help, values);
    else metrics.setCounter(name, help, values);
  }
}

/** Sets tcpdump's own counters (mirror --interface): packets captured, received by the filter, dropped by the kernel. */
export function setTcpdumpCounts(metrics: LiveMetrics, iface: string, c: { captured: number | null; receivedByFilter: number | null; droppedByKernel: number | null }): void {
  const put = (name: string, help: string, v: number | null): void => {
    if (v !== null) metrics.setCounter(name, help, [{ labels: { interface: iface }, value: v }]);
  };
  put('tcpdump_packets_captured_total', "Packets tcpdump captured (its own count, read with SIGUSR1 each second).", c.captured);
  put('tcpdump_packets_received_by_filter_total', 'Packets that matched the capture filter, as tcpdump counts them.', c.receivedByFilter);
  put('tcpdump_packets_dropped_by_kernel_total', 'Packets the kernel dropped because tcpdump did not read them in time (requests on those connections may be lost).', c.droppedByKernel);
}

/** Parses `[host:]port` ("9465", ":9465", "0.0.0.0:9465", "[::1]:9465"); host defaults to 127.0.0.1. */
export function parseListen(spec: string): { host: string; port: number } {
  const m = /^(?:(\[[^\]]+\]|[^:]*):)?(\d+)$/.exec(spec.trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535) throw new McError(`--metrics ${spec}: expected [host:]port, e.g. 9465 or 0.0.0.0:9465`, 'MCR_ERR_BAD_OPTION');
  const host = m[1] === undefined || m[1] === '' ? '127.0.0.1' : m[1].replace(/^\[|\]$/g, '');
  return { host, port };
}

/** A running metrics endpoint. */
export interface MetricsServer {
  /** "host:port" it listens on. */
  address: string;
  close(): Promise<void>;
}

/** Serves /metrics and the live page (/, /live.json, /chart.js) on `spec`; rejects with McError when it cannot listen. */
export async function serveMetrics(spec: string, metrics: LiveMetrics): Promise<MetricsServer> {
  const routes = liveRoutes(metrics.title, metrics.live);
  const { host, port } = parseListen(spec);
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(metrics.render());
      return;
    }
    const r = routes[path];
    if (r) {
      const { type, body } = r();
      res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' }).end(body);
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics or /\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => reject(new McError(`--metrics ${spec}: cannot listen on ${host}:${port} (${e.code ?? e.message})`, 'MCR_ERR_LISTEN_FAILED', e.code === 'EADDRINUSE' ? 'another process uses that port: pick another' : undefined)));
    server.listen(port, host, () => resolve());
  });
  server.unref();
  const a = server.address() as AddressInfo;
  return {
    address: `${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
