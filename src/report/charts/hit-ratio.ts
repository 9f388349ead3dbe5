// The 'hit-ratio' chart.
// Like every file of src/report/charts/, this one is inlined into the HTML page as source text
// (Function.prototype.toString, see chartSource in index.ts): its functions may use only their
// parameters, their nested helpers and globals, never an import or a module-level binding.
import type { ChartCtx, ChartPart } from './context.js';
import type { Ds } from './types.js';

/** Datasets, scales and plugins of the 'hit-ratio' chart. */
export function hitRatioChart(x: ChartCtx): ChartPart {
  const { d, f, options } = x;
  const { COLORS, series, line, tooltip, bandsPlugin, timeAxis, countAxis } = x.k;
  let datasets: Ds[] = [];
  let scales: Record<string, Ds> = {};
  const plugins: unknown[] = [];
  const rep = d.hit.replayed.map((v) => (v === null ? null : v * 100));
  datasets = [line('replayed', series(rep, false), COLORS.p50)];
  if (d.hit.captured !== null) {
    datasets.push(
      line('captured', [{ x: 0, y: d.hit.captured * 100 }, { x: d.endS, y: d.hit.captured * 100 }], COLORS.cap, { borderDash: [6, 4], pointRadius: 0 }),
    );
  }
  scales = { x: timeAxis(), y: countAxis('hit ratio (%)', (v) => f.fmtNum(v) + '%', { min: 0, max: 100 }) };
  plugins.push(bandsPlugin);
  (options.plugins as Ds).tooltip = tooltip((v) => f.fmtNum(v) + '%');
  return { datasets, scales, plugins };
}
