// The 'heatmap' chart.
// Like every file of src/report/charts/, this one is inlined into the HTML page as source text
// (Function.prototype.toString, see chartSource in index.ts): its functions may use only their
// parameters, their nested helpers and globals, never an import or a module-level binding.
import type { ChartCtx, ChartPart } from './context.js';
import type { Ds, PluginChart } from './types.js';

/** Datasets, scales and plugins of the 'heatmap' chart. */
export function heatmapChart(x: ChartCtx): ChartPart {
  const { d, f, options } = x;
  const { fontFamily, tooltip, bandsPlugin, timeAxis, logTicks, latencyAxis } = x.k;
  const type = 'scatter';
  let datasets: Ds[] = [];
  let scales: Record<string, Ds> = {};
  const plugins: unknown[] = [];
  const H = d.heat!;
  const nb = H.edges.length - 1;
  const viridis = [
    [68, 1, 84],
    [59, 82, 139],
    [33, 145, 140],
    [94, 201, 98],
    [253, 231, 37],
  ];
  const colorOf = (c: number): string => {
    const v = Math.log(1 + c) / Math.log(1 + Math.max(1, H.maxCount));
    const pos = Math.min(0.9999, Math.max(0, v)) * (viridis.length - 1);
    const i = Math.floor(pos);
    const w = pos - i;
    const a = viridis[i]!;
    const b = viridis[i + 1]!;
    return 'rgb(' + [0, 1, 2].map((k) => Math.round(a[k]! + (b[k]! - a[k]!) * w)).join(',') + ')';
  };
  datasets = [{ label: 'requests', data: [], pointRadius: 0 }];
  const heatPlugin = {
    id: 'mcHeat',
    beforeDatasetsDraw(chart: PluginChart) {
      const ctx = chart.ctx;
      const a = chart.chartArea;
      const xs = chart.scales.x!;
      const ys = chart.scales.y!;
      ctx.save();
      ctx.beginPath();
      ctx.rect(a.left, a.top, a.right - a.left, a.bottom - a.top);
      ctx.clip();
      const yPix = H.edges.map((e) => ys.getPixelForValue(e));
      for (let i = 0; i < H.cells.length; i++) {
        const row = H.cells[i]!;
        const x0 = xs.getPixelForValue(d.t[i]!);
        const x1 = xs.getPixelForValue(d.tEnd ? d.tEnd[i]! : d.t[i]! + d.stepS);
        // cover sub-pixel columns fully so long runs leave no hairline gaps
        const w = Math.max(1, x1 - x0 + 0.5);
        for (let j = 0; j < nb; j++) {
          const c = row[j]!;
          if (c <= 0) continue;
          ctx.fillStyle = colorOf(c);
          ctx.fillRect(x0, yPix[j + 1]!, w, yPix[j]! - yPix[j + 1]! + 0.5);
        }
      }
      ctx.restore();
      // colour scale to the right of the plot
      ctx.save();
      const bx = a.right + 14;
      const bh = a.bottom - a.top;
      for (let k = 0; k < bh; k++) {
        const frac = 1 - k / bh;
        ctx.fillStyle = colorOf(Math.exp(frac * Math.log(1 + Math.max(1, H.maxCount))) - 1);
        ctx.fillRect(bx, a.top + k, 12, 1.5);
      }
      ctx.fillStyle = '#333';
      ctx.font = '11px ' + (fontFamily || 'system-ui, sans-serif');
      ctx.textBaseline = 'top';
      ctx.fillText(f.fmtSI(H.maxCount), bx + 15, a.top);
      ctx.textBaseline = 'bottom';
      ctx.fillText('1', bx + 15, a.bottom);
      ctx.translate(bx + 34, a.top + bh / 2);
      ctx.rotate(Math.PI / 2);
      ctx.textAlign = 'center';
      ctx.fillText('requests per cell (log)', 0, 0);
      ctx.restore();
    },
  };
  plugins.push(heatPlugin, bandsPlugin);
  scales = {
    x: timeAxis(),
    y: {
      ...latencyAxis('response time, all commands (log scale)', [[H.edges[0]!, H.edges[nb]!]]),
      min: H.edges[0],
      max: H.edges[nb],
    },
  };
  const yAxis = scales.y as Ds;
  const lo = H.edges[0]!;
  const hi = H.edges[nb]!;
  yAxis.afterBuildTicks = (ax: { ticks: { value: number }[] }) => {
    ax.ticks = logTicks(lo, hi).map((v) => ({ value: v }));
  };
  options.layout = { padding: { top: 4, right: 60, bottom: 4, left: 4 } };
  (options.plugins as Ds).legend = { display: false };
  (options.plugins as Ds).tooltip = { enabled: false };
  return { type, datasets, scales, plugins };
}
