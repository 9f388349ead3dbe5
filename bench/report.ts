// Report bench: how long building the report takes for a 1-hour run with 1 s intervals and 10
// commands, and how big the HTML is. Not a test (no assertions on speed); figures go to
// bench/README.md. Run:
//   npx tsc -p bench/tsconfig.report.json && node node_modules/.cache/mcreplay-bench/bench/report.js [--intervals 3600] [--commands 10] [--regen]
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeResults } from '../test/report/make-results.js';
import { buildReportData, groupIntervals } from '../src/report/data.js';
import { pointsInParallel } from '../src/report/parallel.js';
import { buildHtmlReport, chartJsSource } from '../src/report/html.js';
import { writePngs } from '../src/report/png.js';
import { loadResults } from '../src/report/index.js';

const args = process.argv.slice(2);
const arg = (name: string, dflt: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const intervals = arg('intervals', 3600);
const nCommands = arg('commands', 10);
const commands = ['get', 'set', 'gets', 'mg', 'ms', 'delete', 'incr', 'touch', 'cas', 'md', 'add', 'append'].slice(0, nCommands);
const dir = join(tmpdir(), `mcreplay-bench-report-${intervals}x${nCommands}`);
const resultsPath = join(dir, 'results.json');
mkdirSync(dir, { recursive: true });

if (!existsSync(resultsPath) || args.includes('--regen')) {
  const t = performance.now();
  const r = await makeResults({ intervals, commands, warmupIntervals: 60, samplesPerInterval: 150, baseRps: 20000, heldBack: false });
  writeFileSync(resultsPath, JSON.stringify(r));
  console.log(`fixture: ${intervals} intervals × ${commands.length} commands written in ${((performance.now() - t) / 1000).toFixed(1)} s`);
}
const mb = (n: number) => `${(n / 1024 / 1024).toFixed(2)} MB`;
console.log(`results.json: ${mb(statSync(resultsPath).size)} (${resultsPath})`);

const t0 = performance.now();
const results = await loadResults(resultsPath);
const t1 = performance.now();
const { groups, cmds } = groupIntervals(results);
const points = args.includes('--single-thread') ? null : await pointsInParallel(groups, cmds);
const data = buildReportData(results, { points: points ?? undefined });
const t2 = performance.now();
const html = buildHtmlReport(results, { data });
writeFileSync(join(dir, 'index.html'), html);
const t3 = performance.now();
const pngs = await writePngs(data, join(dir, 'charts'));
const t4 = performance.now();

const htmlBytes = Buffer.byteLength(html);
const dataBytes = Buffer.byteLength(JSON.stringify(data));
const rows = [
  ['read + parse results.json', t1 - t0],
  [`decode histograms, chart data (${points ? 'parallel' : '1 thread'})`, t2 - t1],
  ['build + write HTML', t3 - t2],
  [`render ${pngs.length} PNGs (1200×600)`, t4 - t3],
  ['total (HTML + PNGs)', t4 - t0],
  ['total without PNGs', t3 - t0],
] as const;
for (const [k, v] of rows) console.log(`${k.padEnd(46)} ${(v / 1000).toFixed(2)} s`);
console.log(`HTML: ${mb(htmlBytes)} (embedded data ${mb(dataBytes)}, Chart.js ${mb(chartJsSource().length)})`);
console.log(`report: ${join(dir, 'index.html')}`);
