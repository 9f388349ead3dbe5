// The 'lag' chart.
// Like every file of src/report/charts/, this one is inlined into the HTML page as source text
// (Function.prototype.toString, see chartSource in index.ts): its functions may use only their
// parameters, their nested helpers and globals, never an import or a module-level binding.
import type { ChartCtx, ChartPart } from './context.js';
import type { Ds } from './types.js';

/** Datasets, scales and plugins of the 'lag' chart. */
export function lagChart(x: ChartCtx): ChartPart {
  const { d, f, options } = x;
  const { COLORS, series, line, tooltip, bandsPlugin, timeAxis, latencyAxis } = x.k;
  let datasets: Ds[] = [];
  let scales: Record<string, Ds> = {};
  const plugins: unknown[] = [];
  const G = d.lag;
  datasets = [
    line('lag p50', series(G.p50, true), COLORS.p50),
    line('lag p99', series(G.p99, true), COLORS.p99),
    line('lag max', series(G.max, true), COLORS.max, { borderWidth: 1 }),
    line('event-loop delay (worst worker)', series(G.el, true), COLORS.p999, { borderDash: [5, 4] }),
  ];
  scales = { x: timeAxis(), y: latencyAxis('delay (log scale)', [G.p50, G.p99, G.max, G.el]) };
  plugins.push(bandsPlugin);
  (options.plugins as Ds).tooltip = tooltip(f.fmtNs);
  return { datasets, scales, plugins };
}
