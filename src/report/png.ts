// PNG charts: the same chart specs as the HTML page (charts/), drawn by Chart.js on
// @napi-rs/canvas (no system libraries needed), for places HTML cannot go (PR comments, chat).
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ChartConfiguration } from 'chart.js';
import { chartConfig, chartList } from './charts/index.js';
import type { ReportData } from './data.js';
import { fmt } from './format.js';

/** Size of a PNG chart. */
export interface PngOptions {
  width?: number;
  height?: number;
}

type Drawing = { createCanvas: typeof import('@napi-rs/canvas').createCanvas; Chart: typeof import('chart.js').Chart };
let drawing: Promise<Drawing> | null = null;

// loaded on first use: the native canvas and Chart.js cost ~50 ms of CPU at start-up, and most runs
// (--no-html, CI gates, every replay worker's parent) never draw a PNG
function setup(): Promise<Drawing> {
  drawing ??= Promise.all([import('@napi-rs/canvas'), import('chart.js')]).then(([canvas, chartjs]) => {
    const { Chart, registerables } = chartjs;
    Chart.register(...registerables);
    // @napi-rs/canvas finds system fonts by family name; DejaVu/Liberation ship with most Linux images
    Chart.defaults.font.family = 'DejaVu Sans, Liberation Sans, Arial, sans-serif';
    Chart.defaults.color = '#333333';
    return { createCanvas: canvas.createCanvas, Chart };
  });
  return drawing;
}

function wrap(text: string, max: number): string[] {
  const out: string[] = [];
  let line = '';
  for (const w of text.split(/\s+/)) {
    if (line && line.length + 1 + w.length > max) {
      out.push(line);
      line = w;
    } else line = line ? `${line} ${w}` : w;
  }
  if (line) out.push(line);
  return out;
}

/** Renders chart `id` (total over all commands) to PNG bytes. */
export async function renderChartPng(id: string, d: ReportData, opts: PngOptions = {}): Promise<Buffer> {
  return drawChart(id, d, opts);
}

// draws synchronously on this thread; the returned promise is the PNG encoding, which
// @napi-rs/canvas runs on the libuv thread pool (so several charts encode at once)
async function drawChart(id: string, d: ReportData, opts: PngOptions): Promise<Buffer> {
  const { createCanvas, Chart } = await setup();
  const width = opts.width ?? 1200;
  const height = opts.height ?? 600;
  const meta = chartList(d).find((m) => m.id === id);
  const cfg = chartConfig(id, d, 'total', fmt, { png: true }) as ChartConfiguration & { options: Record<string, unknown> };
  const plugins = (cfg.options.plugins ?? {}) as Record<string, unknown>;
  if (meta) {
    plugins.title = { display: true, text: meta.title, align: 'start', font: { size: 17, weight: 'bold' }, padding: { top: 4, bottom: 2 }, color: '#111' };
    plugins.subtitle = { display: true, text: wrap(meta.explain, Math.floor(width / 7.2)), align: 'start', font: { size: 12 }, color: '#555', padding: { bottom: 6 } };
  }
  cfg.options.plugins = plugins;
  const canvas = createCanvas(width, height);
  const ctx = canvas.getContext('2d');
  // Chart.js' basic platform draws on any 2d context of the right shape
  const chart = new Chart(ctx as unknown as CanvasRenderingContext2D, cfg);
  // destroy() clears the canvas: only after the encoding is done
  return canvas.encode('png').finally(() => chart.destroy());
}

/** Writes every chart as `<dir>/<id>.png`; returns the paths. */
export async function writePngs(d: ReportData, dir: string, opts: PngOptions = {}): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const jobs = chartList(d).map((m) => {
    const path = join(dir, `${m.id}.png`);
    return drawChart(m.id, d, opts).then((png) => writeFile(path, png).then(() => path));
  });
  return Promise.all(jobs);
}
