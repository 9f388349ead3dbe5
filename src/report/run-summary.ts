// The replay's summary for a person on the terminal: per command counts, rates (ops/s, hits/s, KB/s,
// as memtier prints them) and latency; what the targets held before and after; the capture's own
// problems; the ramp's steps; the generator's state.
import { ERROR_CLASSES, type CommandSummary, type ResultsFile, type TargetState } from '../metrics/results-types.js';
import { describeGenerator } from './generator-state.js';
import { nonEmptyTargets } from '../metrics/target-state.js';
import { table } from './text-table.js';
import { fmtInt, fmtNs } from './format.js';

/** A latency percentile for a table cell: '-' when nothing was measured. */
function lat(p: CommandSummary['response'], k: 'p50' | 'p99' | 'p999' | 'max'): string {
  return p.count > 0 ? fmtNs(p[k]) : '-';
}

const perSec = (n: number, ns: number): number => (ns > 0 ? n / (ns / 1e9) : 0);
const kb = (bytes: number, ns: number): string => (perSec(bytes, ns) / 1024).toFixed(1);
const pct = (r: number | null | undefined): string => (r === null || r === undefined ? '-' : `${(r * 100).toFixed(1)}%`);

function commandTable(r: ResultsFile): string[] {
  const s = r.summary;
  const rows: string[][] = [['command', 'sent', 'answered', 'ops/s', 'hits/s', 'KB/s', 'errors', 'hit ratio', 'p50', 'p99', 'p99.9', 'max', 'captured p50', 'captured hit']];
  const untimed: string[] = [];
  for (const c of [...Object.keys(s.perCommand).sort(), 'total']) {
    const cs = c === 'total' ? s.total : s.perCommand[c]!;
    const cap = c === 'total' ? undefined : r.captured[c];
    const k = cs.counters;
    let errs = 0;
    for (const e of ERROR_CLASSES) errs += k.errors[e];
    if (c !== 'total' && k.completed > cs.response.count) untimed.push(`${c} ${fmtInt(k.completed - cs.response.count)}`);
    rows.push([
      c,
      fmtInt(k.sent),
      fmtInt(k.completed),
      fmtInt(perSec(k.completed, s.durationNs)),
      fmtInt(perSec(k.hits, s.durationNs)),
      kb(k.bytesOut + k.bytesIn, s.durationNs),
      fmtInt(errs),
      pct(cs.hitRatio),
      // no latency at all (noreply sets, quit): a dash, never a made-up "0 ns"
      lat(cs.response, 'p50'),
      lat(cs.response, 'p99'),
      lat(cs.response, 'p999'),
      lat(cs.response, 'max'),
      cap?.latency ? fmtNs(cap.latency.p50) : '-',
      pct(cap?.hitRatio),
    ]);
  }
  const out = [table(rows)];
  if (untimed.length) out.push(`  latency is timed only for answers: ${untimed.join(', ')} answered request(s) had no response to time (noreply / quiet requests count as answered once written)`);
  return out;
}

function stateLines(r: ResultsFile, state: readonly TargetState[]): string[] {
  if (state.length === 0) return [];
  const dur = r.summary.durationNs;
  const d = (t: TargetState, k: string): number => Math.max(0, (t.after?.[k] ?? 0) - (t.before?.[k] ?? 0));
  const v = (x: Record<string, number> | null, k: string): string => (x && x[k] !== undefined ? fmtInt(x[k]!) : '-');
  const rows: string[][] = [['target', 'items at start', 'bytes at start', 'items at end', 'bytes at end', 'evictions', 'gets/s', 'hits/s', 'sets/s', 'KB/s']];
  for (const t of state) {
    const ok = t.before !== null && t.after !== null;
    rows.push([
      t.target,
      v(t.before, 'curr_items'),
      v(t.before, 'bytes'),
      v(t.after, 'curr_items'),
      v(t.after, 'bytes'),
      ok ? fmtInt(d(t, 'evictions')) : '-',
      ok ? fmtInt(perSec(d(t, 'cmd_get'), dur)) : '-',
      ok ? fmtInt(perSec(d(t, 'get_hits'), dur)) : '-',
      ok ? fmtInt(perSec(d(t, 'cmd_set'), dur)) : '-',
      ok ? kb(d(t, 'bytes_read') + d(t, 'bytes_written'), dur) : '-',
    ]);
  }
  const out = ['targets (their own `stats`, read before and after the load; rates over the whole run):', table(rows)];
  for (const t of state) if (t.error && (t.before === null || t.after === null)) out.push(`  ${t.target}: stats not read: ${t.error}`);
  const full = nonEmptyTargets(state);
  if (full.length) out.push(`WARNING: target(s) already held data before the load: ${full.join(', ')}; hit ratios are not comparable with the capture's (start from an empty memcached, or flush it first)`);
  return out;
}

function pollLines(r: ResultsFile): string[] {
  const out: string[] = [];
  for (const ts of r.targetStats) {
    if (ts.samples.length === 0) continue;
    const a = ts.samples[0]!.values;
    const b = ts.samples[ts.samples.length - 1]!.values;
    const f = (k: string): string => `${fmtInt(a[k] ?? 0)} → ${fmtInt(b[k] ?? 0)}`;
    out.push(`  ${ts.target}: items ${f('curr_items')}, bytes ${f('bytes')}, evictions ${f('evictions')} (${ts.samples.length} samples)`);
  }
  return out.length ? ['--poll-stats, first and last sample:', ...out] : [];
}

function stepLines(r: ResultsFile): string[] {
  if (r.steps.length === 0) return [];
  const rows: string[][] = [['step', 'rate', 'from', 'to', 'sent', 'answered', 'ops/s', 'intended/s', 'errors', 'p99', 'lag p99']];
  for (const st of r.steps) {
    const k = st.total.counters;
    let errs = 0;
    for (const e of ERROR_CLASSES) errs += k.errors[e];
    rows.push([String(st.step), `${st.rateFactor}x`, fmtNs(st.startNs), fmtNs(st.endNs), fmtInt(k.sent), fmtInt(k.completed), fmtInt(st.total.achievedRate), fmtInt(st.total.intendedRate), fmtInt(errs), lat(st.total.response, 'p99'), st.lag.count > 0 ? fmtNs(st.lag.p99) : '-']);
  }
  const out = ['ramp steps:', table(rows)];
  const rate = r.config.rate;
  if (rate.mode === 'ramp') {
    const last = r.steps[r.steps.length - 1]!;
    const short = last.endNs - last.startNs < rate.stepDurationNs * 0.95 && r.config.options?.stopReason === 'complete';
    if (last.rateFactor < rate.to) out.push(`  the ramp stopped at ${last.rateFactor}x of ${rate.to}x: the capture ran out (add --loop to run every step)`);
    else if (short) out.push(`  the last step ran ${fmtNs(last.endNs - last.startNs)} of ${fmtNs(rate.stepDurationNs)}: the capture ran out (add --loop to run every step in full)`);
  }
  return out;
}

/** The human summary printed after a run (before the checks and the verdict). */
export function humanSummary(r: ResultsFile, paths: { results: string; html: string | null }, rateLabel: string): string {
  const s = r.summary;
  const t = s.total.counters;
  const lines: string[] = [];
  const w = r.config.workers;
  lines.push(`replayed ${r.capture.name} at ${rateLabel} (${w} worker${w === 1 ? '' : 's'}): ${fmtInt(t.sent)} sent, ${fmtInt(t.completed)} answered in ${fmtNs(s.durationNs)}${r.config.rate.mode === 'max' ? ' — CAPACITY MODE (closed loop): latencies are not what users would see' : ''}`);
  lines.push(...commandTable(r));
  const errs = ERROR_CLASSES.filter((k) => t.errors[k] > 0).map((k) => `${k} ${fmtInt(t.errors[k])}`);
  if (errs.length) lines.push(`errors: ${errs.join(', ')}`);
  const held = Object.entries(t.heldBack).filter(([, n]) => n > 0);
  if (held.length) lines.push(`held back: ${held.map(([k, n]) => `${k} ${fmtInt(n)}`).join(', ')}`);
  if (t.unsent > 0) lines.push(`unsent at stop: ${fmtInt(t.unsent)}`);
  lines.push(...stepLines(r));
  lines.push(...stateLines(r, r.targetState ?? []));
  lines.push(...pollLines(r));
  for (const f of r.captureQuality?.findings ?? []) lines.push(`capture: ${f}`);
  if (r.config.rate.mode !== 'max' && s.lag.count > 0) lines.push(`schedule lag: p50 ${fmtNs(s.lag.p50)}, p99 ${fmtNs(s.lag.p99)}, max ${fmtNs(s.lag.max)}`);
  if (r.generator) lines.push(describeGenerator(r.generator, r.config.rate.mode === 'max'));
  lines.push(`results: ${paths.results}${paths.html ? `\nreport:  ${paths.html}` : ''}`);
  return lines.join('\n');
}

/** The `--json` summary of a finished replay: where the files are, the verdict, totals per command and step. */
export function jsonSummary(r: ResultsFile, resultsPath: string, hlogPath: string, htmlPath: string | null, totals: { abandoned: number; reconnects: number }): unknown {
  const strip = (c: ResultsFile['summary']['total']) => ({
    counters: c.counters,
    response: c.response,
    service: c.service,
    intendedRate: c.intendedRate,
    achievedRate: c.achievedRate,
    hitRatio: c.hitRatio,
    errorRate: c.errorRate,
  });
  const perCommand: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(r.summary.perCommand)) perCommand[k] = strip(v);
  return {
    runId: r.run.id,
    results: resultsPath,
    hlog: hlogPath,
    html: htmlPath,
    mode: r.config.rate.mode === 'max' ? 'capacity (closed loop)' : 'schedule (open loop)',
    rate: r.config.rate,
    verdict: r.verdict,
    stopReason: r.config.options.stopReason,
    durationNs: r.summary.durationNs,
    total: strip(r.summary.total),
    perCommand,
    lag: r.summary.lag,
    eventLoopMaxNs: r.summary.eventLoopMaxNs,
    heldBack: r.config.options.heldBack,
    shapedRequests: r.config.options.shapedRequests,
    abandoned: totals.abandoned,
    reconnects: totals.reconnects,
    steps: r.steps.map((s) => ({ step: s.step, rateFactor: s.rateFactor, startNs: s.startNs, endNs: s.endNs, total: strip(s.total), lag: s.lag })),
    captured: Object.fromEntries(Object.entries(r.captured).map(([k, v]) => [k, { count: v.count, hits: v.hits, misses: v.misses, hitRatio: v.hitRatio, latency: v.latency }])),
    targetState: r.targetState ?? [],
    captureQuality: r.captureQuality ?? null,
    generator: r.generator ?? null,
  };
}

/** The rate as the summary and the start line say it: "2x", "max (closed loop, capacity mode)", "ramp 1x..8x step 1x every 30 s". */
export function rateLabel(r: ResultsFile['config']['rate']): string {
  if (r.mode === 'max') return 'max (closed loop, capacity mode)';
  if (r.mode === 'factor') return `${r.factor}x`;
  return `ramp ${r.from}x..${r.to}x step ${r.step}x every ${fmtNs(r.stepDurationNs)}`;
}
