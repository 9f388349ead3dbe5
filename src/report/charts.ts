// The chart definitions: ONE spec per chart, used by the HTML page (Chart.js in the browser) and by
// the PNG writer (Chart.js on @napi-rs/canvas).
//
// `chartConfig` is inlined into the HTML page as source text (Function.prototype.toString), so it
// must be self-contained: it may use only its parameters, its nested helpers and globals, never an
// import or a module-level binding. Formatting arrives as the `f` parameter for the same reason.
import type { ChartConfiguration } from 'chart.js';
import type { ReportData } from './data.js';
import type { Fmt } from './format.js';

/** What the chart plugins draw on: Chart.js's context, plot area and scales. */
type PluginChart = {
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

/** The charts this data can draw, in page order. */
export function chartList(d: ReportData): ChartMeta[] {
  const each = d.per > 1 ? ` Each point sums ${d.per} intervals (${d.stepS} s) exactly.` : '';
  const list: ChartMeta[] = [
    {
      id: 'latency',
      title: 'Response time percentiles over time',
      explain: `Response time (completion − intended send time, free of coordinated omission) per interval; dashed (all commands): service time p99 (completion − actual write); log scale.${each}`,
      selectable: true,
    },
    {
      id: 'throughput',
      title: 'Throughput: intended vs achieved',
      explain: `Requests per second the capture schedule asked for (intended) and that completed (achieved); a gap means the target or the generator fell behind.${each}`,
      selectable: true,
    },
    {
      id: 'errors',
      title: 'Errors over time',
      explain: `Failed requests per second by class (timeouts, resets, SERVER_ERROR, ...), all commands.${each}`,
      selectable: false,
    },
    {
      id: 'hit-ratio',
      title: 'Hit ratio over time: replayed vs captured',
      explain: 'Share of read keys found on the target per interval; the dashed line is the hit ratio in the capture. A rising line is the cache warming up.',
      selectable: false,
    },
    {
      id: 'spectrum',
      title: 'Latency percentile spectrum',
      explain: 'Latency at each percentile over the run (warm-up excluded), HdrHistogram style: the x axis is log 1/(1−p), so the tail gets room. Response vs service time vs the latency seen in the capture.',
      selectable: true,
    },
  ];
  if (d.heat) {
    list.push({
      id: 'heatmap',
      title: 'Response time heatmap',
      explain: `How many requests (colour, log scale) took how long (y, log scale) at each moment (x), all commands. Bands show modes; isolated specks are the tail.${each}`,
      selectable: false,
    });
  }
  list.push({
    id: 'lag',
    title: 'Generator health: schedule lag and event-loop delay',
    explain: 'Schedule lag = actual − intended send time of each request; event-loop delay = the worst stall of any replay worker. High values mean mcreplay, not the target, was the bottleneck.',
    selectable: false,
  });
  if (d.targets.length > 0) {
    list.push(
      { id: 'target-items', title: 'Target: items stored', explain: 'curr_items from memcached stats, per target, as polled during the run.', selectable: false },
      { id: 'target-bytes', title: 'Target: bytes stored', explain: 'bytes from memcached stats (memory used by items), per target.', selectable: false },
      { id: 'target-evictions', title: 'Target: evictions per second', explain: 'Items evicted to make room, per second between polls; above zero means the target is full.', selectable: false },
      { id: 'target-hit-ratio', title: 'Target: hit ratio', explain: 'get_hits / (get_hits + get_misses) between polls, per target, as the server counts them.', selectable: false },
      { id: 'target-connections', title: 'Target: open connections', explain: 'curr_connections from memcached stats, per target.', selectable: false },
    );
  }
  if (d.knee.length > 0) {
    list.push({
      id: 'knee',
      title: 'Ramp: latency vs throughput per step (the knee)',
      explain: 'One point per ramp step (label: rate factor): achieved throughput against response-time percentiles. Where latency turns up steeply is the knee: the highest load the target sustains.',
      selectable: false,
    });
  }
  return list;
}

/** The Chart.js configuration of chart `id` for command `sel` ('total' or a command). */
export function chartConfig(id: string, d: ReportData, sel: string, f: Fmt, env: ChartEnv): ChartConfiguration {
  type Pt = { x: number; y: number | null };
  type Ds = Record<string, unknown>;
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
      out[i] = { x: d.t[i]! + mid, y: v === null || v === undefined || (zeroIsGap && v <= 0) ? null : v };
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
  function niceStep(span: number): number {
    const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 21600, 43200, 86400];
    for (const s of steps) if (span / s <= 10) return s;
    return Math.ceil(span / 10 / 86400) * 86400;
  }
  function timeAxis(): Ds {
    const end = Math.max(d.endS, d.stepS);
    // a clock rounds to whole seconds: short runs get plain seconds so ticks stay distinct
    const short = end < 10;
    return {
      type: 'linear',
      min: 0,
      max: end,
      title: { display: true, text: 'time since start (' + (short ? 's' : end >= 3600 ? 'h:mm:ss' : 'm:ss') + ')' },
      ticks: short
        ? { stepSize: end <= 2 ? 0.25 : end <= 5 ? 0.5 : 1, callback: (v: number) => f.fmtNum(v, 3), maxRotation: 0 }
        : { stepSize: niceStep(end), callback: (v: number) => f.fmtClock(v), maxRotation: 0 },
      grid: { color: 'rgba(0,0,0,0.06)' },
    };
  }
  // 1-2-5 ticks between lo and hi (fewer when the range spans many decades)
  function logTicks(lo: number, hi: number): number[] {
    const out: number[] = [];
    const k0 = Math.floor(Math.log10(lo));
    const k1 = Math.ceil(Math.log10(hi));
    const mults = k1 - k0 > 6 ? [1] : k1 - k0 > 3 ? [1, 3] : [1, 2, 5];
    for (let k = k0; k <= k1; k++) {
      for (const m of mults) {
        const v = m * Math.pow(10, k);
        if (v >= lo * 0.999 && v <= hi * 1.001) out.push(v);
      }
    }
    return out;
  }
  function niceFloor(v: number): number {
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    const m = v / p;
    return (m >= 5 ? 5 : m >= 2 ? 2 : 1) * p;
  }
  function niceCeil(v: number): number {
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    const m = v / p;
    return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
  }
  function extent(arrays: (number | null)[][]): [number, number] {
    let lo = Infinity;
    let hi = 0;
    for (const a of arrays) {
      for (const v of a) {
        if (v === null || v === undefined || !(v > 0)) continue;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
    }
    if (hi === 0) return [1000, 1e6];
    return [lo, hi];
  }
  function latencyAxis(title: string, arrays: (number | null)[][]): Ds {
    const [lo, hi] = extent(arrays);
    const min = niceFloor(lo);
    let max = niceCeil(hi);
    if (max <= min) max = min * 10;
    return {
      type: 'logarithmic',
      min,
      max,
      title: { display: true, text: title },
      afterBuildTicks: (ax: { ticks: { value: number }[]; min: number; max: number }) => {
        ax.ticks = logTicks(min, max).map((v) => ({ value: v }));
      },
      ticks: { autoSkip: false, callback: (v: number) => f.fmtNs(v) },
      grid: { color: 'rgba(0,0,0,0.08)' },
    };
  }
  // counts: one SI prefix for the whole axis ("2 M, 1.5 M, 1 M, 500 k"), never a mix
  function siTick(v: number, _i: number, ticks: { value: number }[]): string {
    let m = 0;
    for (const t of ticks) m = Math.max(m, Math.abs(t.value));
    const [div, suffix] = m >= 1e9 ? [1e9, ' G'] : m >= 1e6 ? [1e6, ' M'] : m >= 1e4 ? [1e3, ' k'] : [1, ''];
    return v === 0 ? '0' : f.fmtNum(v / div, 3) + suffix;
  }
  function countAxis(title: string, fmtFn: ((v: number) => string) | null, extra?: Ds): Ds {
    return {
      type: 'linear',
      beginAtZero: true,
      title: { display: true, text: title },
      ticks: { callback: fmtFn ? (v: number) => fmtFn(v) : siTick },
      grid: { color: 'rgba(0,0,0,0.08)' },
      ...(extra || {}),
    };
  }
  // bytes: ticks at round numbers of one binary unit (0, 256 MiB, 512 MiB, ...)
  function bytesAxis(title: string): Ds {
    let unit = 1;
    let name = 'B';
    let step = 1;
    return {
      type: 'linear',
      min: 0,
      title: { display: true, text: title },
      afterDataLimits: (ax: { min: number; max: number }) => {
        const names = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
        const max = Math.max(1, ax.max);
        let k = 0;
        while (k < names.length - 1 && max / Math.pow(1024, k + 1) >= 1) k++;
        unit = Math.pow(1024, k);
        name = names[k]!;
        const raw = max / unit / 5;
        const p = Math.pow(10, Math.floor(Math.log10(raw)));
        const mm = raw / p;
        step = (mm <= 1 ? 1 : mm <= 2 ? 2 : mm <= 2.5 ? 2.5 : mm <= 5 ? 5 : 10) * p;
        ax.min = 0;
        ax.max = Math.ceil(max / unit / step) * step * unit;
      },
      afterBuildTicks: (ax: { ticks: { value: number }[]; max: number }) => {
        const t: { value: number }[] = [];
        for (let v = 0; v <= ax.max * 1.0001; v += step * unit) t.push({ value: v });
        ax.ticks = t;
      },
      ticks: { callback: (v: number) => (v === 0 ? '0' : f.fmtNum(v / unit, 4) + ' ' + name) },
      grid: { color: 'rgba(0,0,0,0.08)' },
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

  const options: Ds = {
    responsive: !env.png,
    maintainAspectRatio: false,
    animation: false,
    normalized: true,
    interaction: { mode: 'index', intersect: false },
    layout: { padding: { top: 4, right: 12, bottom: 4, left: 4 } },
    plugins: {
      legend: { position: 'top', align: 'end', labels: { boxWidth: 14, boxHeight: 2, padding: 10 } },
      title: { display: false },
    },
  };
  if (env.png) options.devicePixelRatio = 1;
  if (fontFamily) options.font = { family: fontFamily, size: 13 };
  const plugins: unknown[] = [backgroundPlugin];
  let type = 'line';
  let datasets: Ds[] = [];
  let scales: Record<string, Ds> = {};
  const cmd = d.lat[sel] ? sel : 'total';
  const cmdLabel = cmd === 'total' ? 'all commands' : cmd;

  if (id === 'latency') {
    const L = d.lat[cmd]!;
    datasets = [
      line('p50', series(L.p50, true), COLORS.p50),
      line('p90', series(L.p90, true), COLORS.p90),
      line('p99', series(L.p99, true), COLORS.p99),
      line('p99.9', series(L.p999, true), COLORS.p999),
      line('max', series(L.max, true), COLORS.max, { borderWidth: 1 }),
    ];
    if (L.svc99.length) datasets.push(line('service p99', series(L.svc99, true), COLORS.svc, { borderDash: [5, 4], borderWidth: 1.3 }));
    scales = { x: timeAxis(), y: latencyAxis('response time, ' + cmdLabel + ' (log scale)', [L.p50, L.p90, L.p99, L.p999, L.max, L.svc99]) };
    plugins.push(bandsPlugin);
    (options.plugins as Ds).tooltip = tooltip(f.fmtNs);
  } else if (id === 'throughput') {
    const T = d.thr[cmd]!;
    datasets = [
      line('intended', series(T.intended, false), COLORS.intended, { borderDash: [6, 4] }),
      line('achieved', series(T.achieved, false), COLORS.achieved),
    ];
    scales = { x: timeAxis(), y: countAxis('requests per second, ' + cmdLabel, null) };
    plugins.push(bandsPlugin);
    (options.plugins as Ds).tooltip = tooltip(f.fmtRate);
  } else if (id === 'errors') {
    type = 'bar';
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
  } else if (id === 'hit-ratio') {
    const rep = d.hit.replayed.map((v) => (v === null ? null : v * 100));
    datasets = [line('replayed', series(rep, false), COLORS.p50)];
    if (d.hit.captured !== null) {
      datasets.push(
        line('captured', [{ x: 0, y: d.hit.captured * 100 }, { x: d.endS, y: d.hit.captured * 100 }], COLORS.cap, { borderDash: [6, 4], pointRadius: 0 }),
      );
    }
    scales = { x: timeAxis(), y: countAxis('hit ratio (%)', (v) => f.fmtNum(v) + '%', { min: 0, max: 100 }) };
    plugins.push(bandsPlugin);
    (options.plugins as Ds).tooltip = tooltip((v) => f.fmtNum(v) + '%');
  } else if (id === 'spectrum') {
    type = 'scatter';
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
  } else if (id === 'heatmap') {
    type = 'scatter';
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
          const x1 = xs.getPixelForValue(d.t[i]! + d.stepS);
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
  } else if (id === 'lag') {
    const G = d.lag;
    datasets = [
      line('lag p50', series(G.p50, true), COLORS.p50),
      line('lag p99', series(G.p99, true), COLORS.p99),
      line('lag max', series(G.max, true), COLORS.max, { borderWidth: 1 }),
      line('event-loop delay (worst worker)', series(G.el, true), COLORS.p999, { borderDash: [5, 4] }),
    ];
    scales = { x: timeAxis(), y: latencyAxis('delay (log scale)', [G.p50, G.p99, G.max, G.el]) };
    plugins.push(bandsPlugin);
    (options.plugins as Ds).tooltip = tooltip(f.fmtNs);
  } else if (id.startsWith('target-')) {
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
  } else if (id === 'knee') {
    type = 'scatter';
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
  }

  options.scales = scales;
  return { type, data: { datasets }, options, plugins } as unknown as ChartConfiguration;
}
