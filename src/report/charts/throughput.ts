// The 'throughput' chart.
// Like every file of src/report/charts/, this one is inlined into the HTML page as source text
// (Function.prototype.toString, see chartSource in index.ts): its functions may use only their
// parameters, their nested helpers and globals, never an import or a module-level binding.
import type { ChartCtx, ChartPart } from './context.js';
import type { Ds } from './types.js';

/** Datasets, scales and plugins of the 'throughput' chart. */
export function throughputChart(x: ChartCtx): ChartPart {
  const { d, f, cmd, cmdLabel, options } = x;
  const { COLORS, series, line, tooltip, bandsPlugin, timeAxis, countAxis } = x.k;
  let datasets: Ds[] = [];
  let scales: Record<string, Ds> = {};
  const plugins: unknown[] = [];
  const T = d.thr[cmd]!;
  datasets = [
    line('intended', series(T.intended, false), COLORS.intended, { borderDash: [6, 4] }),
    line('achieved', series(T.achieved, false), COLORS.achieved),
  ];
  scales = { x: timeAxis(), y: countAxis('requests per second, ' + cmdLabel, null) };
  plugins.push(bandsPlugin);
  (options.plugins as Ds).tooltip = tooltip(f.fmtRate);
  return { datasets, scales, plugins };
}
