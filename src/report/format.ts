// Unit formatting for every view (terminal tables and lines, the report, the charts): latencies in ns shown in the unit they read best in (a loopback
// memcached answers in tens of µs, so "0 ms" is a bug), counts, rates, bytes, ratios.
//
// These functions run in Node (tables, PNG charts) AND in the browser: html.ts inlines their source
// text into the page (Function.prototype.toString), so each may only use globals and the other
// functions listed in FORMAT_FUNCTIONS; no imports, no module-level constants.

/** The unit that a latency in ns reads best in: the largest in which |ns| ≥ 1. */
export function timeUnit(ns: number): { name: string; div: number } {
  const a = Math.abs(ns);
  if (a >= 1e9) return { name: 's', div: 1e9 };
  if (a >= 1e6) return { name: 'ms', div: 1e6 };
  if (a >= 1e3) return { name: 'µs', div: 1e3 };
  return { name: 'ns', div: 1 };
}

/** `x` with `sig` significant digits (whole numbers keep every digit), thousands grouped, no exponent. */
export function fmtNum(x: number, sig?: number): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '–';
  if (x === 0) return '0';
  const s = sig === undefined ? 3 : sig;
  const a = Math.abs(x);
  const mag = Math.floor(Math.log10(a));
  const frac = Math.min(12, Math.max(0, s - 1 - mag));
  const f = Math.pow(10, frac);
  const r = Math.round(x * f) / f;
  return r.toLocaleString('en-US', { maximumFractionDigits: frac, minimumFractionDigits: 0 });
}

/** A latency in ns with its own unit: "42.1 µs", "1.25 ms", "0". */
export function fmtNs(ns: number | null | undefined): string {
  if (ns === null || ns === undefined || !Number.isFinite(ns)) return '–';
  if (ns === 0) return '0';
  const u = timeUnit(ns);
  return fmtNum(ns / u.div) + ' ' + u.name;
}

/** A duration in ns for people: "1 h 5 min", "2 min 30 s", "45 s", "350 ms". */
export function fmtDuration(ns: number): string {
  if (ns === null || ns === undefined || !Number.isFinite(ns)) return '–';
  const s = ns / 1e9;
  if (s < 1) return fmtNs(ns);
  if (s < 60) return fmtNum(s) + ' s';
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = Math.round(s % 60);
  if (h > 0) return h + ' h' + (m > 0 ? ' ' + m + ' min' : '');
  return m + ' min' + (sec > 0 ? ' ' + sec + ' s' : '');
}

/** Seconds since start as a clock: "0:45", "12:05", "1:02:03". */
export function fmtClock(seconds: number): string {
  const neg = seconds < 0;
  let s = Math.round(Math.abs(seconds));
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  const ss = (s < 10 ? '0' : '') + s;
  const out = h > 0 ? h + ':' + (m < 10 ? '0' : '') + m + ':' + ss : m + ':' + ss;
  return neg ? '-' + out : out;
}

/** A whole count with thousands grouped: "1,234,567". */
export function fmtInt(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '–';
  return Math.round(n).toLocaleString('en-US');
}

/** A count with an SI prefix: "950", "12.3 k", "4.5 M". */
export function fmtSI(n: number): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '–';
  const a = Math.abs(n);
  if (a >= 1e9) return fmtNum(n / 1e9) + ' G';
  if (a >= 1e6) return fmtNum(n / 1e6) + ' M';
  if (a >= 1e4) return fmtNum(n / 1e3) + ' k';
  return fmtNum(n);
}

/** A rate per second: "0.5/s", "9,998/s", "12,345/s", "1.23 M/s". */
export function fmtRate(perSecond: number): string {
  if (perSecond === null || perSecond === undefined || !Number.isFinite(perSecond)) return '–';
  const a = Math.abs(perSecond);
  if (a < 100) return fmtNum(perSecond) + '/s';
  if (a < 1e6) return fmtInt(perSecond) + '/s';
  return fmtSI(perSecond) + '/s';
}

/** Bytes in binary units: "512 B", "1.5 KiB", "3.2 GiB". */
export function fmtBytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = Math.abs(n);
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return (n < 0 ? '-' : '') + (i === 0 ? String(Math.round(v)) : fmtNum(v)) + ' ' + units[i];
}

/** A ratio 0..1 as a percentage: "97.3 %"; "–" for null. */
export function fmtPct(ratio: number | null | undefined, sig?: number): string {
  if (ratio === null || ratio === undefined || !Number.isFinite(ratio)) return '–';
  const p = ratio * 100;
  // keep the nines visible: 99.99 % must not round to 100 %
  if (p > 99 && p < 100) {
    let d = 1;
    while (d < 6 && Number((100 - p).toFixed(d)) === 0) d++;
    return p.toFixed(Math.max(d, 1)) + ' %';
  }
  return fmtNum(p, sig === undefined ? 3 : sig) + ' %';
}

/** Label of a spectrum position x = 1/(1−p): 1 → "0%", 10 → "90%", 1000 → "99.9%". */
export function fmtNines(x: number): string {
  if (x <= 1) return '0%';
  const p = 100 * (1 - 1 / x);
  const digits = Math.max(0, Math.ceil(Math.log10(x)) - 2);
  return Number(p.toFixed(Math.min(10, digits))) + '%';
}

/** Every formatting function, for inlining into the HTML page (see the file comment). */
export const FORMAT_FUNCTIONS = [timeUnit, fmtNum, fmtNs, fmtDuration, fmtClock, fmtInt, fmtSI, fmtRate, fmtBytes, fmtPct, fmtNines];

/** The formatting functions as one object (passed to chart builders so they run unchanged in the page). */
export interface Fmt {
  timeUnit: typeof timeUnit;
  fmtNum: typeof fmtNum;
  fmtNs: typeof fmtNs;
  fmtDuration: typeof fmtDuration;
  fmtClock: typeof fmtClock;
  fmtInt: typeof fmtInt;
  fmtSI: typeof fmtSI;
  fmtRate: typeof fmtRate;
  fmtBytes: typeof fmtBytes;
  fmtPct: typeof fmtPct;
  fmtNines: typeof fmtNines;
}

/** The formatting functions as an object. */
export const fmt: Fmt = { timeUnit, fmtNum, fmtNs, fmtDuration, fmtClock, fmtInt, fmtSI, fmtRate, fmtBytes, fmtPct, fmtNines };
