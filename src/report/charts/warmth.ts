// The 'warmth' chart of a mirror: per time point, the hit ratio the source answered in the capture
// against the hit ratio the target answered for the same requests, and the gap between them.
// Like every file of src/report/charts/, this one is inlined into the HTML page as source text
// (Function.prototype.toString, see chartSource in index.ts): its functions may use only their
// parameters, their nested helpers and globals, never an import or a module-level binding.
import type { ChartCtx, ChartPart } from './context.js';
import type { Ds } from './types.js';

/** Datasets, scales and plugins of the 'warmth' chart. */
export function warmthChart(x: ChartCtx): ChartPart {
  const { d, f, cmd, cmdLabel, options } = x;
  const { COLORS, series, line, tooltip, bandsPlugin, timeAxis, countAxis } = x.k;
  const W = d.warmth!;
  const S = W.byCmd[cmd] ?? W.byCmd['total']!;
  const pct = (a: (number | null)[]) => a.map((v) => (v === null ? null : v * 100));
  const datasets: Ds[] = [
    line('captured (source)', series(pct(S.captured), false), COLORS.cap, { borderDash: [6, 4] }),
    line('replayed (target)', series(pct(S.replayed), false), COLORS.p50),
    line('gap (captured − target)', series(pct(S.gap), false), COLORS.p999, { yAxisID: 'y1', borderWidth: 1.2 }),
  ];
  const scales: Record<string, Ds> = {
    x: timeAxis(),
    y: countAxis('hit ratio (%), ' + cmdLabel, (v) => f.fmtNum(v) + '%', { min: 0, max: 100 }),
    y1: countAxis('gap (points)', (v) => f.fmtNum(v) + '%', { position: 'right', beginAtZero: false, grid: { drawOnChartArea: false } }),
  };
  (options.plugins as Ds).tooltip = tooltip((v) => f.fmtNum(v) + '%');
  return { datasets, scales, plugins: [bandsPlugin] };
}
