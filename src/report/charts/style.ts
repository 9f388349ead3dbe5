// Chart styling shared by every chart: colours, series and line datasets, tooltips and the plugins
// that draw warm-up/ramp bands and the PNG background.
// Like every file of src/report/charts/, this one is inlined into the HTML page as source text
// (Function.prototype.toString, see chartSource in index.ts): its functions may use only their
// parameters, their nested helpers and globals, never an import or a module-level binding.
import type { ReportData } from '../data.js';
import type { Fmt } from '../format.js';
import type { ChartEnv, Ds, PluginChart, Pt } from './types.js';

/** Colours, dataset builders, tooltips and the shared plugins of one chart build. */
export function chartStyle(d: ReportData, f: Fmt, env: ChartEnv) {
  const COLORS = {
    p50: '#1f77b4',
    p90: '#2ca02c',
    p99: '#ff7f0e',
    p999: '#d62728',
    max: '#555555',
    svc: '#9467bd',
    cap: '#8c564b',
    intended: '#7f7f7f',
    achieved: '#1f77b4',
  };
  const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#bcbd22', '#7f7f7f'];
  const ERR_COLORS: Record<string, string> = {
    timeout: '#d62728',
    reset: '#ff7f0e',
    refused: '#8c564b',
    server_error: '#9467bd',
    client_error: '#e377c2',
    error: '#bcbd22',
    desync: '#17becf',
  };
  const fontFamily = env.png ? 'DejaVu Sans, Liberation Sans, Arial, sans-serif' : undefined;
  const mid = d.stepS / 2;

  function series(arr: (number | null)[], zeroIsGap: boolean): Pt[] {
    const out: Pt[] = new Array(arr.length);
    for (let i = 0; i < arr.length; i++) {
      const v = arr[i];
      // a point sits mid-way through its own span (rolled-up points of a long run are wider)
      out[i] = { x: d.tEnd ? (d.t[i]! + d.tEnd[i]!) / 2 : d.t[i]! + mid, y: v === null || v === undefined || (zeroIsGap && v <= 0) ? null : v };
    }
    return out;
  }
  function line(label: string, data: Pt[], color: string, extra?: Ds): Ds {
    return {
      label,
      data,
      borderColor: color,
      backgroundColor: color,
      borderWidth: 1.6,
      pointRadius: data.length > 60 ? 0 : 2,
      pointHoverRadius: 3,
      tension: 0,
      spanGaps: false,
      fill: false,
      ...(extra || {}),
    };
  }
  function tooltip(yfmt: (v: number) => string, xfmt?: (v: number) => string): Ds {
    return {
      callbacks: {
        title: (items: { parsed: { x: number } }[]) => (items.length ? (xfmt || f.fmtClock)(items[0]!.parsed.x) : ''),
        label: (c: { dataset: { label: string }; parsed: { y: number } }) => c.dataset.label + ': ' + yfmt(c.parsed.y),
      },
    };
  }
  const bandsPlugin = {
    id: 'mcBands',
    beforeDatasetsDraw(chart: PluginChart) {
      const ctx = chart.ctx;
      const a = chart.chartArea;
      const x = chart.scales.x;
      if (!x) return;
      ctx.save();
      ctx.font = '11px ' + (fontFamily || 'system-ui, sans-serif');
      ctx.textBaseline = 'top';
      if (d.warmupS) {
        const x0 = Math.max(a.left, x.getPixelForValue(0));
        const x1 = Math.min(a.right, x.getPixelForValue(d.warmupS));
        ctx.fillStyle = 'rgba(120,120,120,0.13)';
        ctx.fillRect(x0, a.top, x1 - x0, a.bottom - a.top);
        ctx.fillStyle = '#555';
        if (x1 - x0 > 50) ctx.fillText('warm-up', x0 + 4, a.top + 3);
      }
      let labelFrom = a.left;
      if (d.warmupS) labelFrom = Math.min(a.right, x.getPixelForValue(d.warmupS));
      for (let i = 0; i < d.steps.length; i++) {
        const s = d.steps[i]!;
        const x0 = Math.max(a.left, x.getPixelForValue(s.startS));
        const x1 = Math.min(a.right, x.getPixelForValue(s.endS));
        if (i % 2 === 1) {
          ctx.fillStyle = 'rgba(31,119,180,0.07)';
          ctx.fillRect(x0, a.top, x1 - x0, a.bottom - a.top);
        }
        // the rate of each step, in a small label at the top of its band (right of the warm-up label)
        const label = f.fmtNum(s.rate) + 'x';
        const w = ctx.measureText(label).width + 6;
        const lx = Math.max(x0 + 3, i === 0 && d.warmupS ? labelFrom + 3 : x0 + 3);
        if (lx + w <= x1) {
          ctx.fillStyle = 'rgba(255,255,255,0.85)';
          ctx.fillRect(lx, a.top + 2, w, 14);
          ctx.fillStyle = '#1f3b57';
          ctx.fillText(label, lx + 3, a.top + 3);
        }
      }
      ctx.restore();
    },
  };
  const backgroundPlugin = {
    id: 'mcBackground',
    beforeDraw(chart: { ctx: CanvasRenderingContext2D; width: number; height: number }) {
      if (!env.png) return;
      const ctx = chart.ctx;
      ctx.save();
      ctx.globalCompositeOperation = 'destination-over';
      ctx.fillStyle = '#ffffff';
      ctx.fillRect(0, 0, chart.width, chart.height);
      ctx.restore();
    },
  };
  return { COLORS, PALETTE, ERR_COLORS, fontFamily, series, line, tooltip, bandsPlugin, backgroundPlugin };
}
