// Chart axes shared by every chart: time, log-scale latency, counts with one SI prefix, bytes.
// Like every file of src/report/charts/, this one is inlined into the HTML page as source text
// (Function.prototype.toString, see chartSource in index.ts): its functions may use only their
// parameters, their nested helpers and globals, never an import or a module-level binding.
import type { ReportData } from '../data.js';
import type { Fmt } from '../format.js';
import type { Ds } from './types.js';

/** Axis builders of one chart build. */
export function chartAxes(d: ReportData, f: Fmt) {
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
  return { timeAxis, logTicks, latencyAxis, countAxis, bytesAxis };
}
