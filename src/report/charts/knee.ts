// The 'knee' chart.
// Like every file of src/report/charts/, this one is inlined into the HTML page as source text
// (Function.prototype.toString, see chartSource in index.ts): its functions may use only their
// parameters, their nested helpers and globals, never an import or a module-level binding.
import type { ReportData } from '../data.js';
import type { ChartCtx, ChartPart } from './context.js';
import type { Ds } from './types.js';

/** Datasets, scales and plugins of the 'knee' chart. */
export function kneeChart(x: ChartCtx): ChartPart {
  const { d, f, options } = x;
  const { COLORS, fontFamily, line, tooltip, latencyAxis, countAxis } = x.k;
  const type = 'scatter';
  let datasets: Ds[] = [];
  let scales: Record<string, Ds> = {};
  const plugins: unknown[] = [];
  const K = d.knee;
  const pts = (get: (k: ReportData['knee'][number]) => number) => K.map((k) => ({ x: k.achieved, y: get(k) > 0 ? get(k) : null }));
  const opt = { showLine: true, pointRadius: 4, pointHoverRadius: 5, borderWidth: 2 };
  datasets = [
    line('p50', pts((k) => k.p50), COLORS.p50, opt),
    line('p90', pts((k) => k.p90), COLORS.p90, opt),
    line('p99', pts((k) => k.p99), COLORS.p99, opt),
    line('p99.9', pts((k) => k.p999), COLORS.p999, opt),
    line('service p99', pts((k) => k.svc99), COLORS.svc, { ...opt, borderDash: [5, 4], pointRadius: 3 }),
  ];
  const labelPlugin = {
    id: 'mcKneeLabels',
    afterDatasetsDraw(chart: { ctx: CanvasRenderingContext2D; scales: Record<string, { getPixelForValue(v: number): number }> }) {
      const ctx = chart.ctx;
      const xs = chart.scales.x!;
      const ys = chart.scales.y!;
      ctx.save();
      ctx.fillStyle = '#222';
      ctx.font = 'bold 11px ' + (fontFamily || 'system-ui, sans-serif');
      ctx.textAlign = 'center';
      ctx.textBaseline = 'bottom';
      for (const k of K) {
        const top = Math.max(k.p999, k.p99, k.p50);
        if (!(top > 0)) continue;
        ctx.fillText(f.fmtNum(k.rate) + 'x', xs.getPixelForValue(k.achieved), ys.getPixelForValue(top) - 7);
      }
      ctx.restore();
    },
  };
  plugins.push(labelPlugin);
  let xmax = 0;
  for (const k of K) xmax = Math.max(xmax, k.achieved, k.intended);
  scales = {
    x: countAxis('achieved throughput (requests per second)', null, { suggestedMax: xmax * 1.05 }),
    y: latencyAxis('response time, all commands (log scale)', [K.map((k) => k.p50), K.map((k) => k.p999 * 1.6), K.map((k) => k.svc99)]),
  };
  options.interaction = { mode: 'nearest', intersect: false };
  (options.plugins as Ds).tooltip = tooltip(f.fmtNs, (x) => f.fmtRate(x));
  return { type, datasets, scales, plugins };
}
