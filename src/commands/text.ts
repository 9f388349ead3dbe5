// Number formatting for terminal output: durations in the unit that keeps 3 significant digits.

/** Formats nanoseconds as ns/µs/ms/s with about 3 significant digits. */
export function fmtNs(ns: number | null | undefined): string {
  if (ns === null || ns === undefined || !Number.isFinite(ns)) return '-';
  const a = Math.abs(ns);
  if (a < 1e3) return `${Math.round(ns)} ns`;
  if (a < 1e6) return `${sig(ns / 1e3)} µs`;
  if (a < 1e9) return `${sig(ns / 1e6)} ms`;
  return `${sig(ns / 1e9)} s`;
}

/** Formats a byte count as B/KiB/MiB/GiB. */
export function fmtBytes(b: number | null | undefined): string {
  if (b === null || b === undefined || !Number.isFinite(b)) return '-';
  if (b < 1024) return `${Math.round(b)} B`;
  if (b < 1024 ** 2) return `${sig(b / 1024)} KiB`;
  if (b < 1024 ** 3) return `${sig(b / 1024 ** 2)} MiB`;
  return `${sig(b / 1024 ** 3)} GiB`;
}

/** Formats a share 0..1 as a percentage, '-' when unknown. */
export function fmtPct(r: number | null | undefined, digits = 1): string {
  return r === null || r === undefined ? '-' : `${(r * 100).toFixed(digits)}%`;
}

/** Formats an integer with thousands separators. */
export function fmtInt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

function sig(v: number): string {
  const a = Math.abs(v);
  return a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : v.toFixed(2);
}

/** Lays out rows as aligned columns; the first row is the header. Numbers align right. */
export function table(rows: string[][], indent = '  '): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows
    .map((r, ri) =>
      indent +
      r
        .map((c, i) => (i === 0 || ri === 0 && i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
