// The 'target' charts (one per target stat: target-items, target-bytes, ...).
// Like every file of src/report/charts/, this one is inlined into the HTML page as source text
// (Function.prototype.toString, see chartSource in index.ts): its functions may use only their
// parameters, their nested helpers and globals, never an import or a module-level binding.
import type { ReportData } from '../data.js';
import type { ChartCtx, ChartPart } from './context.js';
import type { Ds } from './types.js';

/** Datasets, scales and plugins of the 'target' chart. */
export function targetChart(x: ChartCtx): ChartPart {
  const { d, f, options, id } = x;
  const { PALETTE, line, tooltip, bandsPlugin, timeAxis, countAxis, bytesAxis } = x.k;
  let datasets: Ds[] = [];
  let scales: Record<string, Ds> = {};
  const plugins: unknown[] = [];
  const key = id.slice('target-'.length);
  const pick: Record<string, [string, (v: number) => string, (s: ReportData['targets'][number]) => (number | null)[], number]> = {
    items: ['items', f.fmtSI, (s) => s.items, 1],
    bytes: ['bytes', f.fmtBytes, (s) => s.bytes, 1],
    evictions: ['evictions per second', f.fmtSI, (s) => s.evictions, 1],
    'hit-ratio': ['hit ratio (%)', (v) => f.fmtNum(v) + '%', (s) => s.hitRatio, 100],
    connections: ['connections', f.fmtInt, (s) => s.conns, 1],
  };
  const [title, yf, get, scale] = pick[key] || pick.items!;
  datasets = d.targets.map((s, i) =>
    line(
      s.target,
      s.t.map((x, j) => {
        const v = get(s)[j];
        return { x, y: v === null || v === undefined ? null : v * scale };
      }),
      PALETTE[i % PALETTE.length]!,
      { pointRadius: s.t.length > 60 ? 0 : 2 },
    ),
  );
  const yAxis =
    key === 'bytes'
      ? bytesAxis(title)
      : key === 'hit-ratio'
        ? countAxis(title, (v) => f.fmtNum(v) + '%', { min: 0, max: 100 })
        : key === 'connections'
          ? countAxis(title, f.fmtInt, { ticks: { precision: 0, callback: (v: number) => f.fmtInt(v) } })
          : countAxis(title, null);
  scales = { x: timeAxis(), y: yAxis };
  plugins.push(bandsPlugin);
  (options.plugins as Ds).tooltip = tooltip(yf);
  return { datasets, scales, plugins };
}
