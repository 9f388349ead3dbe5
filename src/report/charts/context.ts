// What a chart module gets (ChartCtx) and returns (ChartPart); index.ts assembles the Chart.js config.
import type { ReportData } from '../data.js';
import type { Fmt } from '../format.js';
import type { chartAxes } from './axes.js';
import type { chartStyle } from './style.js';
import type { Ds } from './types.js';

/** Styling and axis helpers of one chart build (chartStyle and chartAxes merged). */
export type Kit = ReturnType<typeof chartStyle> & ReturnType<typeof chartAxes>;

/** What a chart module builds from. */
export interface ChartCtx {
  k: Kit;
  d: ReportData;
  f: Fmt;
  /** Chart id (the 'target-*' module reads its stat from it). */
  id: string;
  /** The command shown: 'total' or a command with data. */
  cmd: string;
  /** `cmd` as axis titles say it. */
  cmdLabel: string;
  /** The chart's options; a module may set plugins.tooltip, plugins.legend, layout, interaction. */
  options: Ds;
}

/** A chart module's part of the Chart.js config. */
export interface ChartPart {
  /** Chart.js type; 'line' when absent. */
  type?: string;
  datasets: Ds[];
  scales: Record<string, Ds>;
  plugins: unknown[];
}
