// Types shared by the chart modules of src/report/charts/.

/** What the chart plugins draw on: Chart.js's context, plot area and scales. */
export type PluginChart = {
  ctx: CanvasRenderingContext2D;
  chartArea: { left: number; right: number; top: number; bottom: number };
  scales: Record<string, { getPixelForValue(v: number): number }>;
};

/** What a chart is, for headings and file names. */
export interface ChartMeta {
  id: string;
  title: string;
  /** One line: what it shows and how to read it. */
  explain: string;
  /** Offers a command selector (HTML); PNGs draw the total. */
  selectable: boolean;
}

/** Options of a chart build. */
export interface ChartEnv {
  /** Drawing for a PNG: fixed size, no animation, white background. */
  png: boolean;
}

/** A data point of a line or scatter series. */
export type Pt = { x: number; y: number | null };

/** A loose Chart.js object (dataset, scale, options): Chart.js's own types are stricter than the specs need. */
export type Ds = Record<string, unknown>;
