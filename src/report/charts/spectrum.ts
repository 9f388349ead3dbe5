// The 'spectrum' chart.
// Like every file of src/report/charts/, this one is inlined into the HTML page as source text
// (Function.prototype.toString, see chartSource in index.ts): its functions may use only their
// parameters, their nested helpers and globals, never an import or a module-level binding.
import type { ChartCtx, ChartPart } from './context.js';
import type { Ds } from './types.js';

/** Datasets, scales and plugins of the 'spectrum' chart. */
export function spectrumChart(x: ChartCtx): ChartPart {
  const { d, f, cmd, cmdLabel, options } = x;
  const { COLORS, line, tooltip, latencyAxis } = x.k;
  const type = 'scatter';
  let datasets: Ds[] = [];
  let scales: Record<string, Ds> = {};
  const plugins: unknown[] = [];
  const S = d.spectrum[cmd] || { resp: [], svc: [], cap: null };
  const pts = (s: [number, number][]) => s.map((p) => ({ x: p[0], y: p[1] > 0 ? p[1] : null }));
  const opt = { showLine: true, pointRadius: 0, borderWidth: 2 };
  datasets = [line('response time', pts(S.resp), COLORS.p99, opt), line('service time', pts(S.svc), COLORS.svc, opt)];
  if (S.cap) datasets.push(line('captured', pts(S.cap), COLORS.cap, { ...opt, borderDash: [6, 4] }));
  let xmax = 10;
  for (const s of [S.resp, S.svc, S.cap || []]) for (const p of s) if (p[0] > xmax) xmax = p[0];
  const xmaxNice = Math.pow(10, Math.ceil(Math.log10(xmax) - 1e-9));
  scales = {
    x: {
      type: 'logarithmic',
      min: 1,
      max: xmaxNice,
      title: { display: true, text: 'percentile (log scale of 1/(1−p))' },
      afterBuildTicks: (ax: { ticks: { value: number }[] }) => {
        const t: { value: number }[] = [];
        for (let v = 1; v <= xmaxNice * 1.001; v *= 10) t.push({ value: v });
        ax.ticks = t;
      },
      ticks: { autoSkip: false, callback: (v: number) => f.fmtNines(v) },
      grid: { color: 'rgba(0,0,0,0.08)' },
    },
    y: latencyAxis('latency, ' + cmdLabel + ' (log scale)', [S.resp, S.svc, S.cap || []].map((s) => s.map((p) => p[1]))),
  };
  options.interaction = { mode: 'nearest', axis: 'x', intersect: false };
  // room for the last percentile label ("99.99999%") at the right edge
  options.layout = { padding: { top: 4, right: 36, bottom: 4, left: 4 } };
  (options.plugins as Ds).tooltip = tooltip(f.fmtNs, (x) => 'p' + f.fmtNines(x));
  return { type, datasets, scales, plugins };
}
