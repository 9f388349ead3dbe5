// The charts of the report: the list of what this data can draw (chartList), the table that maps
// chart ids to their modules (CHARTS), and chartConfig, which builds one Chart.js configuration
// from the shared kit (style.ts, axes.ts) and the chart's module. Used by the HTML page (Chart.js in
// the browser) and by the PNG writer (Chart.js on @napi-rs/canvas).
//
// The HTML page runs the charts from source text (chartSource: Function.prototype.toString), so
// buildChart, the kit and every chart module may use only their parameters and globals, never an
// import or a module-level binding (a test runner rewrites those); buildChart gets them as `lib`.
import type { ChartConfiguration } from 'chart.js';
import type { ReportData } from '../data.js';
import type { Fmt } from '../format.js';
import { chartAxes } from './axes.js';
import type { ChartCtx, ChartPart } from './context.js';
import { chartStyle } from './style.js';
import type { ChartEnv, ChartMeta, Ds } from './types.js';
import { latencyChart } from './latency.js';
import { throughputChart } from './throughput.js';
import { errorsChart } from './errors.js';
import { hitRatioChart } from './hit-ratio.js';
import { spectrumChart } from './spectrum.js';
import { heatmapChart } from './heatmap.js';
import { lagChart } from './lag.js';
import { targetChart } from './target.js';
import { kneeChart } from './knee.js';
import { warmthChart } from './warmth.js';

export type { ChartEnv, ChartMeta } from './types.js';

/** Chart id → the module that builds it ('target-*' ids all go to targetChart). */
export const CHARTS: Record<string, (x: ChartCtx) => ChartPart> = {
  latency: latencyChart,
  throughput: throughputChart,
  errors: errorsChart,
  'hit-ratio': hitRatioChart,
  spectrum: spectrumChart,
  heatmap: heatmapChart,
  lag: lagChart,
  knee: kneeChart,
  warmth: warmthChart,
};

/** The charts this data can draw, in page order. */
export function chartList(d: ReportData): ChartMeta[] {
  const each = d.per > 1 ? ` Each point sums ${d.per} intervals (${d.stepS} s) exactly.` : '';
  const list: ChartMeta[] = [
    {
      id: 'latency',
      title: 'Response time percentiles over time',
      explain: `Response time (completion − intended send time, free of coordinated omission) per interval; dashed (all commands): service time p99 (completion − actual write); log scale.${each}`,
      selectable: true,
    },
    {
      id: 'throughput',
      title: 'Throughput: intended vs achieved',
      explain: `Requests per second the capture schedule asked for (intended) and that completed (achieved); a gap means the target or the generator fell behind.${each}`,
      selectable: true,
    },
    {
      id: 'errors',
      title: 'Errors over time',
      explain: `Failed requests per second by class (timeouts, resets, SERVER_ERROR, ...), all commands.${each}`,
      selectable: false,
    },
    {
      id: 'hit-ratio',
      title: 'Hit ratio over time: replayed vs captured',
      explain: 'Share of read keys found on the target per interval; the dashed line is the hit ratio in the capture. A rising line is the cache warming up.',
      selectable: false,
    },
  ];
  if (d.warmth) {
    list.push({
      id: 'warmth',
      title: 'Warmth: hit ratio in the capture vs on the target, and the gap',
      explain: `Per time point, the share of lookups the source answered with a hit in the capture (dashed) and the share the target answered with a hit for the same requests; the gap (right axis) closes as the target warms. ${d.warmth.summary}${each}`,
      selectable: true,
    });
  }
  list.push(
    {
      id: 'spectrum',
      title: 'Latency percentile spectrum',
      explain: 'Latency at each percentile over the run (warm-up excluded), HdrHistogram style: the x axis is log 1/(1−p), so the tail gets room. Response vs service time vs the latency seen in the capture.',
      selectable: true,
    },
  );
  if (d.heat) {
    list.push({
      id: 'heatmap',
      title: 'Response time heatmap',
      explain: `How many requests (colour, log scale) took how long (y, log scale) at each moment (x), all commands. Bands show modes; isolated specks are the tail.${each}`,
      selectable: false,
    });
  }
  list.push({
    id: 'lag',
    title: 'Generator health: schedule lag and event-loop delay',
    explain: 'Schedule lag = actual − intended send time of each request; event-loop delay = the worst stall of any replay worker. High values mean mcreplay, not the target, was the bottleneck.',
    selectable: false,
  });
  if (d.targets.length > 0) {
    list.push(
      { id: 'target-items', title: 'Target: items stored', explain: 'curr_items from memcached stats, per target, as polled during the run.', selectable: false },
      { id: 'target-bytes', title: 'Target: bytes stored', explain: 'bytes from memcached stats (memory used by items), per target.', selectable: false },
      { id: 'target-evictions', title: 'Target: evictions per second', explain: 'Items evicted to make room, per second between polls; above zero means the target is full.', selectable: false },
      { id: 'target-hit-ratio', title: 'Target: hit ratio', explain: 'get_hits / (get_hits + get_misses) between polls, per target, as the server counts them.', selectable: false },
      { id: 'target-connections', title: 'Target: open connections', explain: 'curr_connections from memcached stats, per target.', selectable: false },
    );
  }
  if (d.knee.length > 0) {
    list.push({
      id: 'knee',
      title: 'Ramp: latency vs throughput per step (the knee)',
      explain: 'One point per ramp step (label: rate factor): achieved throughput against response-time percentiles. Where latency turns up steeply is the knee: the highest load the target sustains.',
      selectable: false,
    });
  }
  return list;
}

/** What buildChart calls, passed in because the page runs it from source (no imports there). */
interface ChartLib {
  chartStyle: typeof chartStyle;
  chartAxes: typeof chartAxes;
  targetChart: (x: ChartCtx) => ChartPart;
  CHARTS: Record<string, (x: ChartCtx) => ChartPart>;
}

/** The Chart.js configuration of chart `id` for command `sel` ('total' or a command). */
export function chartConfig(id: string, d: ReportData, sel: string, f: Fmt, env: ChartEnv): ChartConfiguration {
  return buildChart(id, d, sel, f, env, { chartStyle, chartAxes, targetChart, CHARTS });
}

/** chartConfig with its helpers as a parameter; self-contained, so the page can run it from source. */
function buildChart(id: string, d: ReportData, sel: string, f: Fmt, env: ChartEnv, lib: ChartLib): ChartConfiguration {
  const k = { ...lib.chartStyle(d, f, env), ...lib.chartAxes(d, f) };
  const { backgroundPlugin, fontFamily } = k;
  const options: Ds = {
    responsive: !env.png,
    maintainAspectRatio: false,
    animation: false,
    normalized: true,
    interaction: { mode: 'index', intersect: false },
    layout: { padding: { top: 4, right: 12, bottom: 4, left: 4 } },
    plugins: {
      legend: { position: 'top', align: 'end', labels: { boxWidth: 14, boxHeight: 2, padding: 10 } },
      title: { display: false },
    },
  };
  if (env.png) options.devicePixelRatio = 1;
  if (fontFamily) options.font = { family: fontFamily, size: 13 };

  const cmd = d.lat[sel] ? sel : 'total';
  const cmdLabel = cmd === 'total' ? 'all commands' : cmd;
  const build = id.startsWith('target-') ? lib.targetChart : lib.CHARTS[id];
  const part: ChartPart = build ? build({ k, d, f, id, cmd, cmdLabel, options }) : { datasets: [], scales: {}, plugins: [] };
  options.scales = part.scales;
  const plugins: unknown[] = [backgroundPlugin, ...part.plugins];
  return { type: part.type ?? 'line', data: { datasets: part.datasets }, options, plugins } as unknown as ChartConfiguration;
}

/** Page script source that defines `var chartConfig` (with everything it calls) for the HTML page. */
export function chartSource(): string {
  const table = Object.entries(CHARTS)
    .map(([id, fn]) => JSON.stringify(id) + ': ' + fn.toString())
    .join(',\n');
  return [
    'var chartConfig = (function () {',
    'var buildChart = ' + buildChart.toString() + ';',
    'var lib = {',
    'chartStyle: ' + chartStyle.toString() + ',',
    'chartAxes: ' + chartAxes.toString() + ',',
    'targetChart: ' + targetChart.toString() + ',',
    'CHARTS: {\n' + table + '\n}',
    '};',
    'return function chartConfig(id, d, sel, f, env) { return buildChart(id, d, sel, f, env, lib); };',
    '})();',
  ].join('\n');
}
