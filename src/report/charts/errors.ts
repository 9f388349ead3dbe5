// The 'errors' chart.
// Like every file of src/report/charts/, this one is inlined into the HTML page as source text
// (Function.prototype.toString, see chartSource in index.ts): its functions may use only their
// parameters, their nested helpers and globals, never an import or a module-level binding.
import type { ChartCtx, ChartPart } from './context.js';
import type { Ds } from './types.js';

/** Datasets, scales and plugins of the 'errors' chart. */
export function errorsChart(x: ChartCtx): ChartPart {
  const { d, f, options } = x;
  const { ERR_COLORS, fontFamily, series, tooltip, bandsPlugin, timeAxis, countAxis } = x.k;
  const type = 'bar';
  let datasets: Ds[] = [];
  let scales: Record<string, Ds> = {};
  const plugins: unknown[] = [];
  const classes = Object.keys(d.err);
  datasets = classes.map((k) => ({
    label: k.replace('_', ' '),
    data: series(d.err[k]!, false),
    backgroundColor: ERR_COLORS[k] || '#d62728',
    borderWidth: 0,
    barPercentage: 1,
    categoryPercentage: 1,
    stack: 'errors',
  }));
  if (datasets.length === 0) {
    datasets = [{ label: 'errors (none)', data: series(d.t.map(() => 0), false), backgroundColor: '#2ca02c', borderWidth: 0, stack: 'errors' }];
    plugins.push({
      id: 'mcNoErrors',
      afterDraw(chart: { ctx: CanvasRenderingContext2D; chartArea: { left: number; right: number; top: number; bottom: number } }) {
        const a = chart.chartArea;
        const ctx = chart.ctx;
        ctx.save();
        ctx.fillStyle = '#2e7d32';
        ctx.font = '14px ' + (fontFamily || 'system-ui, sans-serif');
        ctx.textAlign = 'center';
        ctx.textBaseline = 'middle';
        ctx.fillText('no errors in this run', (a.left + a.right) / 2, (a.top + a.bottom) / 2);
        ctx.restore();
      },
    });
  }
  scales = {
    x: { ...timeAxis(), stacked: true, offset: false },
    y: countAxis('errors per second', null, { stacked: true, suggestedMax: 1 }),
  };
  plugins.push(bandsPlugin);
  (options.plugins as Ds).tooltip = tooltip((v) => f.fmtNum(v) + '/s');
  return { type, datasets, scales, plugins };
}
