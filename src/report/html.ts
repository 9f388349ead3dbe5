// The self-contained HTML report: verdict first, then what ran, summary tables, thresholds and the
// charts. One file that opens offline: Chart.js, the chart specs, the formatters and the data are
// inlined; a Content-Security-Policy forbids every network fetch.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { ERROR_CLASSES, type CommandSummary, type Counters, type Percentiles, type ResultsFile } from '../metrics/results-types.js';
import { chartList, chartSource } from './charts/index.js';
import { buildReportData, type ReportData } from './data.js';
import { FORMAT_FUNCTIONS, fmtBytes, fmtDuration, fmtInt, fmtNs, fmtNum, fmtPct, fmtRate } from './format.js';
import { decodeSparse, mergeSparse, sparsePercentiles } from './hist.js';
import { safeArgv, safeObject, shellQuote, stripUserinfo } from './redact.js';
import { generatorState } from './generator-state.js';

/** Options of the HTML report. */
export interface HtmlOptions {
  /** Show key names / key patterns from the run's options (never credentials). */
  showKeys?: boolean;
  /** Precomputed chart data (the PNG writer shares it). */
  data?: ReportData;
  /** Chart.js UMD source; read from node_modules when absent. */
  chartJs?: string;
}

let chartJsCache: string | null = null;

/** Chart.js' UMD build, read from the installed package (so the report needs no network). */
export function chartJsSource(): string {
  if (chartJsCache === null) {
    const main = createRequire(import.meta.url).resolve('chart.js');
    chartJsCache = readFileSync(join(dirname(main), 'chart.umd.js'), 'utf8');
  }
  return chartJsCache;
}

function esc(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Text safe inside a <script> element. */
function scriptSafe(s: string): string {
  return s.replace(/<\/(script)/gi, '<\\/$1').replace(/<!--/g, '<\\!--');
}

function errorsOf(c: Counters): number {
  let n = 0;
  for (const k of ERROR_CLASSES) n += c.errors[k] ?? 0;
  return n;
}

function heldOf(c: Counters): number {
  return Object.values(c.heldBack ?? {}).reduce((a, b) => a + b, 0);
}

const VERDICT_TEXT: Record<string, string> = {
  pass: 'PASS',
  fail: 'FAIL',
  saturated: 'SATURATED',
  interrupted: 'INTERRUPTED',
  error: 'ERROR',
};
const VERDICT_SUB: Record<string, string> = {
  pass: 'The run completed and met every check.',
  fail: 'The target did not meet the run’s thresholds.',
  saturated: 'mcreplay could not keep the capture’s schedule: these numbers describe the generator, not the target. Do not trust them.',
  interrupted: 'The run stopped before its end; the numbers cover only what ran.',
  error: 'The run failed.',
};

function rateText(r: ResultsFile): string {
  const rate = r.config.rate;
  if (rate.mode === 'factor') return `${fmtNum(rate.factor)}x the captured rate`;
  if (rate.mode === 'max') return 'as fast as possible (max)';
  return `ramp ${fmtNum(rate.from)}x → ${fmtNum(rate.to)}x in steps of ${fmtNum(rate.step)}x, ${fmtDuration(rate.stepDurationNs)} each`;
}

function warmupText(r: ResultsFile): string {
  const w = r.config.warmup;
  const parts: string[] = [];
  if (w.ns) parts.push(fmtDuration(w.ns));
  if (w.requests) parts.push(`${fmtInt(w.requests)} requests`);
  return parts.length ? `${parts.join(' / ')} (excluded from the summary)` : 'none';
}

function verdictHtml(r: ResultsFile): string {
  const v = r.verdict;
  const status = v.status in VERDICT_TEXT ? v.status : 'error';
  const failed = v.checks.filter((c) => !c.pass).length;
  let sub = VERDICT_SUB[status]!;
  if (status === 'pass' && v.checks.length === 0) sub = 'The run completed; it had no checks (default checks were switched off).';
  else if (status === 'pass') sub = `The run completed and met all ${v.checks.length} checks.`;
  else if (status === 'fail' && v.checks.length) sub = `${failed} of ${v.checks.length} checks failed.`;
  const reasons = v.reasons.length ? `<ul class="reasons">${v.reasons.map((x) => `<li>${esc(x)}</li>`).join('')}</ul>` : '';
  return `<header class="verdict v-${esc(status)}" id="verdict">
<div class="status">${VERDICT_TEXT[status]}</div>
<div class="what"><div class="sub">${esc(sub)}</div>${reasons}
<div class="runline">run <code>${esc(r.run.id)}</code> · exit code ${esc(v.exitCode)}</div></div>
</header>`;
}

/** The generator's state (clean, degraded, saturated), its evidence and the share of the p99 it explains. */
function generatorHtml(r: ResultsFile): string {
  const g = r.generator ?? generatorState(r);
  const label = g.state === 'clean' ? 'clean' : g.state === 'degraded' ? 'DEGRADED: part of the measured latency is mcreplay’s own' : 'SATURATED: the run is invalid';
  const share = r.config.rate.mode === 'max' ? '' : ` · can explain ${Math.round(g.explainedShare * 100)}% of the response p99`;
  const ev = g.evidence.length && g.state === 'degraded' ? ` <span class="muted">(${esc(g.evidence.join('; '))})</span>` : '';
  return `<b class="gen gen-${esc(g.state)}">${esc(label)}</b>${esc(share)}${ev}`;
}

/** What each target held before the load (curr_items, bytes), from `stats`; '' when not read. */
function targetStartHtml(r: ResultsFile): string {
  const st = r.targetState ?? [];
  if (!st.length) return '';
  return st
    .map((t) => {
      const items = t.before?.curr_items;
      if (items === undefined) return `<code>${esc(stripUserinfo(t.target))}</code> <span class="muted">not read${t.error ? `: ${esc(t.error)}` : ''}</span>`;
      const cls = items > 0 ? ' class="bad"' : '';
      return `<code>${esc(stripUserinfo(t.target))}</code> <span${cls}>${esc(fmtInt(items))} items, ${esc(fmtBytes(t.before?.bytes ?? 0))}${items > 0 ? ' — it already held data: hit ratios are not comparable with the capture’s' : ' (empty)'}</span>`;
    })
    .join('<br>');
}

function runHtml(r: ResultsFile, showKeys: boolean): string {
  const c = r.capture;
  const s = r.summary;
  const rows: [string, string][] = [
    [
      'Capture',
      `<b>${esc(c.name)}</b> <span class="muted">sha256 ${esc(c.sha256.slice(0, 12))}</span> · ${esc(fmtDuration(c.durationNs))} · ${esc(fmtInt(c.requests))} requests (${esc(fmtInt(c.replayable))} replayable, ${esc(fmtPct(c.requests ? c.replayable / c.requests : null))}) · ${esc(fmtInt(c.connections))} connections · ${esc(fmtBytes(c.bytes))}`,
    ],
    [
      'Targets',
      r.config.targets.length
        ? r.config.targets
            .map((t) => `<code>${esc(stripUserinfo(t.target))}</code>${t.from.length && !(t.from.length === 1 && t.from[0] === '*') ? ` <span class="muted">← ${esc(t.from.join(', '))}</span>` : ''}`)
            .join('<br>') + (r.config.targets.length > 1 ? ` <span class="muted">(hash: ${esc(r.config.hash)})</span>` : '')
        : '–',
    ],
    ['Rate', esc(rateText(r)) + (r.config.loop ? ' · looping the capture' : '') + (r.config.clone > 1 ? ` · each connection ×${esc(r.config.clone)}` : '')],
    ['Warm-up', esc(warmupText(r))],
    [
      'Duration',
      `${esc(fmtDuration(r.intervals.length ? r.intervals[r.intervals.length - 1]!.endNs : 0))} replayed, ${esc(fmtDuration(s.durationNs))} summarised, ${esc(r.intervals.length)} intervals of ${esc(fmtDuration(r.intervalNs))}`,
    ],
    [
      'Generator',
      `${generatorHtml(r)}<br>${esc(r.config.workers)} worker${r.config.workers === 1 ? '' : 's'} · schedule lag p50 ${esc(fmtNs(s.lag.p50))}, p99 ${esc(fmtNs(s.lag.p99))}, max ${esc(fmtNs(s.lag.max))} · worst event-loop delay ${esc(fmtNs(s.eventLoopMaxNs))} · timeout ${esc(fmtNs(r.config.timeoutNs))}`,
    ],
    ['mcreplay', `${esc(r.tool.version)} · started ${esc(r.run.startedAt)} · ended ${esc(r.run.endedAt)}`],
    ['Host', `${esc(r.run.host)} · ${esc(r.run.platform)} · Node ${esc(r.run.node)} · ${esc(r.run.cpus)} CPUs`],
  ];
  const filters = safeObject(r.config.filters ?? {}, showKeys);
  if (Object.keys(filters).length) rows.push(['Filters', `<code>${esc(JSON.stringify(filters))}</code>`]);
  if (r.config.allow.length) rows.push(['Allowed', esc(r.config.allow.join(', '))]);
  const start = targetStartHtml(r);
  if (start) rows.splice(2, 0, ['Targets at start', start]);
  const quality = r.captureQuality?.findings ?? [];
  if (quality.length) rows.splice(1, 0, ['Capture quality', `<ul class="findings">${quality.map((f) => `<li class="bad">${esc(f)}</li>`).join('')}</ul>`]);
  rows.push(['Command', `<code>mcreplay ${esc(safeArgv(r.run.argv, showKeys).map(shellQuote).join(' '))}</code>`]);
  return `<section class="run"><h2>What ran</h2><dl>${rows.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${v}</dd>`).join('')}</dl></section>`;
}

function errorsCell(c: Counters): string {
  const n = errorsOf(c);
  if (n === 0) return '0';
  const parts = ERROR_CLASSES.filter((k) => (c.errors[k] ?? 0) > 0).map((k) => `${k.replace('_', ' ')} ${fmtInt(c.errors[k])}`);
  return `<span class="bad">${esc(fmtInt(n))}</span><div class="small">${esc(parts.join(', '))}</div>`;
}

function heldCell(c: Counters): string {
  const n = heldOf(c);
  if (n === 0) return '0';
  const parts = Object.entries(c.heldBack).filter(([, v]) => v > 0).map(([k, v]) => `${k} ${fmtInt(v)}`);
  return `${esc(fmtInt(n))}<div class="small">${esc(parts.join(', '))}</div>`;
}

function throughputTable(r: ResultsFile): string {
  const head = `<tr><th>command</th><th>intended<br>rate</th><th>achieved<br>rate</th><th>completed</th><th>hit ratio<br>replayed</th><th>hit ratio<br>captured</th><th>errors</th><th>held<br>back</th><th>unsent</th><th>bytes<br>out / in</th></tr>`;
  let capHits = 0;
  let capMisses = 0;
  for (const c of Object.values(r.captured)) {
    capHits += c.hits;
    capMisses += c.misses;
  }
  const row = (name: string, s: CommandSummary, capRatio: number | null, total: boolean) => {
    const c = s.counters;
    const short = s.achievedRate < s.intendedRate * 0.98 && s.intendedRate > 0;
    return `<tr${total ? ' class="total"' : ''}><td class="name">${esc(name)}</td><td>${esc(fmtRate(s.intendedRate))}</td><td${short ? ' class="bad"' : ''}>${esc(fmtRate(s.achievedRate))}</td><td>${esc(fmtInt(c.completed))}<div class="small">of ${esc(fmtInt(c.intended))} intended</div></td><td>${esc(fmtPct(s.hitRatio))}${c.hits + c.misses > 0 ? `<div class="small">${esc(fmtInt(c.hits))} hits / ${esc(fmtInt(c.misses))} misses</div>` : ''}</td><td>${esc(fmtPct(capRatio))}</td><td>${errorsCell(c)}</td><td>${heldCell(c)}</td><td>${esc(fmtInt(c.unsent))}</td><td>${esc(fmtBytes(c.bytesOut))} / ${esc(fmtBytes(c.bytesIn))}</td></tr>`;
  };
  const rows = r.commands
    .filter((c) => r.summary.perCommand[c])
    .map((c) => row(c, r.summary.perCommand[c]!, r.captured[c]?.hitRatio ?? null, false));
  rows.push(row('total', r.summary.total, capHits + capMisses > 0 ? capHits / (capHits + capMisses) : null, true));
  return `<div class="scroll"><table class="num" id="throughput-table"><thead>${head}</thead><tbody>${rows.join('')}</tbody></table></div>`;
}

function latencyRow(label: string, kind: string, p: Percentiles | null, cls: string): string {
  const cells = p && p.count > 0 ? [p.p50, p.p90, p.p99, p.p999, p.p9999, p.max].map((v) => `<td>${esc(fmtNs(v))}</td>`).join('') : '<td colspan="6" class="muted">no data</td>';
  return `<tr class="${cls}"><td class="name">${label}</td><td class="kind">${esc(kind)}</td><td>${p ? esc(fmtInt(p.count)) : '–'}</td>${cells}</tr>`;
}

function latencyTable(r: ResultsFile): string {
  const head = `<tr><th>command</th><th>latency</th><th>count</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>p99.99</th><th>max</th></tr>`;
  const rows: string[] = [];
  const add = (name: string, s: CommandSummary, cap: Percentiles | null, total: boolean) => {
    const g = total ? 'total' : '';
    rows.push(latencyRow(`<b>${esc(name)}</b>`, 'response', s.response, `first ${g}`));
    rows.push(latencyRow('', 'service', s.service, g));
    rows.push(latencyRow('', 'captured', cap, `cap ${g}`));
  };
  for (const c of r.commands) {
    const s = r.summary.perCommand[c];
    if (!s || s.response.count === 0) continue;
    add(c, s, r.captured[c]?.latency ?? null, false);
  }
  // the file has the capture's latency per command only; the total is their exact merge
  const caps = Object.values(r.captured).filter((c) => c.latencyHist);
  const capTotal = caps.length ? sparsePercentiles(mergeSparse(caps.map((c) => decodeSparse(c.latencyHist)))) : null;
  add('total', r.summary.total, capTotal, true);
  // answered requests without a response to time (noreply, quiet): why count < completed
  const untimed = r.commands
    .filter((c) => (r.summary.perCommand[c]?.counters.completed ?? 0) > (r.summary.perCommand[c]?.response.count ?? 0))
    .map((c) => `${c} ${fmtInt(r.summary.perCommand[c]!.counters.completed - r.summary.perCommand[c]!.response.count)}`);
  const untimedNote = untimed.length ? `<p class="note" id="untimed">The count is of timed answers: ${esc(untimed.join(', '))} answered request(s) had no response to time (noreply / quiet requests count as answered once written), so the count can be below the completed count of the table above.</p>` : '';
  return `<div class="scroll"><table class="num" id="latency-table"><thead>${head}</thead><tbody>${rows.join('')}</tbody></table></div>${untimedNote}
<p class="note">Response time = completion − intended send time (what a cache user would see, coordinated-omission free); service time = completion − actual write; captured = last response byte − first request byte in the capture.</p>`;
}

function stepsTable(r: ResultsFile): string {
  if (!r.steps.length) return '';
  const rows = r.steps
    .map(
      (s) =>
        `<tr><td class="name">${esc(s.step)}</td><td>${esc(fmtNum(s.rateFactor))}x</td><td>${esc(fmtDuration(s.endNs - s.startNs))}</td><td>${esc(fmtRate(s.total.intendedRate))}</td><td${s.total.achievedRate < s.total.intendedRate * 0.98 ? ' class="bad"' : ''}>${esc(fmtRate(s.total.achievedRate))}</td><td>${esc(fmtNs(s.total.response.p50))}</td><td>${esc(fmtNs(s.total.response.p99))}</td><td>${esc(fmtNs(s.total.response.p999))}</td><td>${esc(fmtNs(s.total.response.max))}</td><td>${esc(fmtPct(s.total.errorRate))}</td><td>${esc(fmtNs(s.lag.p99))}</td></tr>`,
    )
    .join('');
  return `<h3>Ramp steps</h3><div class="scroll"><table class="num" id="steps-table"><thead><tr><th>step</th><th>rate</th><th>length</th><th>intended</th><th>achieved</th><th>p50</th><th>p99</th><th>p99.9</th><th>max</th><th>errors</th><th>lag p99</th></tr></thead><tbody>${rows}</tbody></table></div>`;
}

function fmtObserved(v: number | null, unit: string): string {
  if (v === null || v === undefined) return '–';
  if (unit === 'ns') return fmtNs(v);
  if (unit === 'ratio') return fmtPct(v);
  if (unit === 'rps' || unit === '/s') return fmtRate(v);
  if (unit === 'bytes') return fmtBytes(v);
  return `${fmtNum(v)}${unit && unit !== 'count' ? ' ' + unit : ''}`;
}

function checksHtml(r: ResultsFile): string {
  const checks = r.verdict.checks;
  if (!checks.length) return '';
  const rows = checks
    .map(
      (c) =>
        `<tr class="${c.pass ? 'ok' : 'fail'}"><td class="name"><code>${esc(c.check)}</code>${c.origin === 'default' ? ' <span class="muted">default</span>' : ''}</td><td>${esc(c.metric)}</td><td>${esc(fmtObserved(c.observed, c.unit))}</td><td>${esc(fmtObserved(c.limit, c.unit))}</td><td class="res">${c.pass ? '✔ pass' : '✘ fail'}</td><td class="msg">${esc(c.failedInterval !== null && c.failedInterval !== undefined ? `first failing interval ${c.failedInterval}` : '')}${c.message && !c.pass ? (c.failedInterval != null ? ' · ' : '') + esc(c.message) : ''}</td></tr>`,
    )
    .join('');
  return `<section id="thresholds"><h2>Checks</h2><table class="num checks"><thead><tr><th>check</th><th>metric</th><th>observed</th><th>limit</th><th>result</th><th></th></tr></thead><tbody>${rows}</tbody></table></section>`;
}

function chartsHtml(d: ReportData): string {
  return chartList(d)
    .map((m) => {
      const select = m.selectable
        ? `<label class="sel">command <select id="sel-${esc(m.id)}" data-chart="${esc(m.id)}">${d.cmds.map((c) => `<option value="${esc(c)}">${esc(c === 'total' ? 'all commands' : c)}</option>`).join('')}</select></label>`
        : '';
      const half = m.id.startsWith('target-') ? ' half' : '';
      return `<figure class="chart${half}" id="chart-${esc(m.id)}"><div class="chead"><h3>${esc(m.title)}</h3>${select}</div><p class="explain">${esc(m.explain)}</p><div class="canvas-box"><canvas id="c-${esc(m.id)}" role="img" aria-label="${esc(m.title)}"></canvas></div></figure>`;
    })
    .join('\n');
}

const CSS = `
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",Arial,sans-serif;color:#1d1f23;background:#f4f5f7}
main{max-width:1280px;margin:0 auto;padding:16px 20px 40px}
h1{font-size:15px;font-weight:600;color:#555;margin:4px 0 10px}
h2{font-size:18px;margin:26px 0 8px}
h3{font-size:15px;margin:0}
code{font:12.5px ui-monospace,"DejaVu Sans Mono",Menlo,Consolas,monospace;background:#eceef1;padding:1px 4px;border-radius:3px;word-break:break-all}
.muted{color:#6b7280}.small{font-size:11.5px;color:#6b7280}
.verdict{display:flex;gap:22px;align-items:flex-start;padding:16px 20px;border-radius:8px;color:#fff}
.verdict .status{font-size:30px;font-weight:800;letter-spacing:.04em;min-width:150px;flex:0 0 auto;white-space:nowrap}
.verdict .sub{font-size:16px;font-weight:600}
.verdict .reasons{margin:6px 0 0;padding-left:20px}
.verdict .runline{margin-top:6px;opacity:.9;font-size:12.5px}.verdict code{background:rgba(255,255,255,.2);color:#fff}
.v-pass{background:#1e7d3a}.v-fail{background:#b3261e}.v-saturated{background:#b35c00}.v-interrupted{background:#5f6368}.v-error{background:#7a1010}
.run dl{display:grid;grid-template-columns:110px 1fr;gap:4px 14px;margin:0;background:#fff;padding:12px 16px;border-radius:8px;border:1px solid #e2e4e8}
.run dt{font-weight:600;color:#444}.run dd{margin:0}
.scroll{overflow-x:auto;background:#fff;border:1px solid #e2e4e8;border-radius:8px}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{padding:5px 9px;text-align:right;white-space:nowrap;border-bottom:1px solid #eef0f2;vertical-align:top}
th{background:#f8f9fa;font-weight:600;color:#444;position:sticky;top:0}
td.name,th:first-child,td.kind,td.msg{text-align:left}
tr.total td{font-weight:600;background:#f8fafc}
tr.first td{border-top:1px solid #d5d8dd}
tr.cap td{color:#6b4f3f}
.bad{color:#b3261e;font-weight:600}
.findings{margin:0;padding-left:18px}.gen-degraded{color:#9a5b00}.gen-saturated{color:#b3261e}
.checks tr.fail td.res{color:#b3261e;font-weight:700}.checks tr.ok td.res{color:#1e7d3a;font-weight:700}
.note{font-size:12px;color:#6b7280;margin:6px 2px}
.charts{display:flex;flex-wrap:wrap;gap:16px}
figure.chart{margin:0;background:#fff;border:1px solid #e2e4e8;border-radius:8px;padding:12px 14px;flex:1 1 100%;min-width:0}
figure.half{flex:1 1 calc(50% - 8px)}
.chead{display:flex;justify-content:space-between;align-items:center;gap:12px}
.explain{margin:3px 0 8px;color:#5b6068;font-size:12.5px}
.canvas-box{position:relative;height:340px}
figure.half .canvas-box{height:260px}
.sel{font-size:12.5px;color:#444}.sel select{font:inherit;padding:2px 4px}
footer{margin-top:30px;color:#888;font-size:12px}
@media print{body{background:#fff}.canvas-box{height:300px}}
`;

/** The page script: formatters and chart specs inlined as source, then every chart drawn. */
function runtimeScript(metaIds: string[]): string {
  const fmtSrc = FORMAT_FUNCTIONS.map((fn) => fn.toString()).join('\n');
  const names = FORMAT_FUNCTIONS.map((fn) => fn.name).join(', ');
  return `(function () {
'use strict';
${fmtSrc}
var f = { ${names} };
${chartSource()}
var D = JSON.parse(document.getElementById('mc-data').textContent);
var ids = ${JSON.stringify(metaIds)};
var charts = {};
Chart.defaults.font.family = 'system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", Arial, sans-serif';
Chart.defaults.color = '#3b3f46';
function draw(id) {
  var sel = document.getElementById('sel-' + id);
  var cfg = chartConfig(id, D, sel ? sel.value : 'total', f, { png: false });
  if (charts[id]) charts[id].destroy();
  charts[id] = new Chart(document.getElementById('c-' + id), cfg);
}
ids.forEach(function (id) {
  try { draw(id); } catch (e) { console.error('chart ' + id + ': ' + (e && e.stack || e)); }
  var sel = document.getElementById('sel-' + id);
  if (sel) sel.addEventListener('change', function () { draw(id); });
});
window.mcreplayCharts = charts;
window.mcreplayReady = true;
})();`;
}

/** Builds the HTML report for a results file. */
export function buildHtmlReport(results: ResultsFile, opts: HtmlOptions = {}): string {
  const showKeys = opts.showKeys ?? false;
  const d = opts.data ?? buildReportData(results);
  const metas = chartList(d);
  const r = results;
  const title = `mcreplay ${VERDICT_TEXT[r.verdict.status] ?? r.verdict.status}: ${r.capture.name} → ${r.config.targets.map((t) => stripUserinfo(t.target)).join(', ')}`;
  const csp = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; connect-src 'none'; font-src 'none'";
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="generator" content="mcreplay ${esc(r.tool.version)}">
<title>${esc(title)}</title>
<style>${CSS}</style>
</head>
<body>
<main>
<h1>mcreplay report · ${esc(r.capture.name)} · ${esc(r.run.startedAt)}</h1>
${verdictHtml(r)}
${checksHtml(r)}
${runHtml(r, showKeys)}
<section id="summary"><h2>Summary</h2>
<p class="note">Warm-up excluded: ${esc(fmtDuration(r.summary.durationNs))} summarised. Rates are per second of that time.</p>
${d.warmth ? `<p id="warmth-summary" class="note"><b>Warmth.</b> ${esc(d.warmth.summary)}</p>` : ''}
${throughputTable(r)}
<h3 style="margin-top:16px">Latency</h3>
${latencyTable(r)}
${stepsTable(r)}
</section>
<section id="charts"><h2>Charts</h2><div class="charts">
${chartsHtml(d)}
</div></section>
<footer>Made by mcreplay ${esc(r.tool.version)} from results schema ${esc(r.schema)}. Self-contained: opens offline, fetches nothing.</footer>
</main>
<script type="application/json" id="mc-data">${scriptSafe(JSON.stringify(d))}</script>
<script>${scriptSafe(opts.chartJs ?? chartJsSource())}</script>
<script>${scriptSafe(runtimeScript(metas.map((m) => m.id)))}</script>
</body>
</html>
`;
}
