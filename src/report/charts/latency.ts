// The 'latency' chart.
// Like every file of src/report/charts/, this one is inlined into the HTML page as source text
// (Function.prototype.toString, see chartSource in index.ts): its functions may use only their
// parameters, their nested helpers and globals, never an import or a module-level binding.
import type { ChartCtx, ChartPart } from './context.js';
import type { Ds } from './types.js';

/** Datasets, scales and plugins of the 'latency' chart. */
export function latencyChart(x: ChartCtx): ChartPart {
  const { d, f, cmd, cmdLabel, options } = x;
  const { COLORS, series, line, tooltip, bandsPlugin, timeAxis, latencyAxis } = x.k;
  let datasets: Ds[] = [];
  let scales: Record<string, Ds> = {};
  const plugins: unknown[] = [];
  const L = d.lat[cmd]!;
  datasets = [
    line('p50', series(L.p50, true), COLORS.p50),
    line('p90', series(L.p90, true), COLORS.p90),
    line('p99', series(L.p99, true), COLORS.p99),
    line('p99.9', series(L.p999, true), COLORS.p999),
    line('max', series(L.max, true), COLORS.max, { borderWidth: 1 }),
  ];
  if (L.svc99.length) datasets.push(line('service p99', series(L.svc99, true), COLORS.svc, { borderDash: [5, 4], borderWidth: 1.3 }));
  scales = { x: timeAxis(), y: latencyAxis('response time, ' + cmdLabel + ' (log scale)', [L.p50, L.p90, L.p99, L.p999, L.max, L.svc99]) };
  plugins.push(bandsPlugin);
  (options.plugins as Ds).tooltip = tooltip(f.fmtNs);
  return { datasets, scales, plugins };
}
