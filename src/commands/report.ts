// `mcreplay report <results.json>`: re-render the HTML report and PNG charts from a results file
// (an old run, or a CI artifact).
import { statSync } from 'node:fs';
import { relative } from 'node:path';
import type { Command } from 'commander';
import { writeReport } from '../report/index.js';
import { fmtBytes } from '../report/format.js';

interface ReportCliOptions {
  out?: string;
  png: boolean;
  showKeys?: boolean;
  json?: boolean;
}

/** Adds the 'report' verb to the program. */
export function register(program: Command): void {
  program
    .command('report')
    .description('Re-render the HTML report and PNG charts from a results file (an old run or a CI artifact).')
    .argument('<results>', 'results.json written by `mcreplay replay` (reports/<run-id>/results.json)')
    .option('--out <dir>', 'write index.html and charts/ into this folder (default: the results file’s folder)')
    .option('--no-png', 'write only the HTML report, no PNG charts')
    .option('--show-keys', 'show key names and key patterns from the run’s options (credentials are never shown)')
    .option('--json', 'print what was written as JSON')
    .addHelpText(
      'after',
      `
Examples:
  mcreplay report reports/20261207-034500-sample/results.json
  mcreplay report artifacts/results.json --out /tmp/report --no-png
  mcreplay report reports/20261207-034500-sample/results.json --json
(each replay writes reports/<run-id>/results.json; the run id is YYYYMMDD-HHMMSS-<capture name>,
UTC, and the replay prints its path.)

Writes <dir>/index.html (one self-contained file: opens offline, no network) and
<dir>/charts/*.png (1200x600). Exit codes: 0 written, 2 missing or invalid results file.`,
    )
    .action(async (results: string, opts: ReportCliOptions) => {
      const t0 = performance.now();
      const out = await writeReport(results, { png: opts.png, showKeys: opts.showKeys ?? false, outDir: opts.out });
      const ms = Math.round(performance.now() - t0);
      const bytes = statSync(out.html).size;
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ html: out.html, htmlBytes: bytes, pngs: out.pngs, ms }, null, 2)}\n`);
        return;
      }
      const rel = (p: string) => {
        const r = relative(process.cwd(), p);
        return r && !r.startsWith('..') ? r : p;
      };
      process.stdout.write(`report: ${rel(out.html)} (${fmtBytes(bytes)})\n`);
      if (out.pngs.length) process.stdout.write(`charts: ${out.pngs.length} PNG files in ${rel(out.pngs[0]!.replace(/\/[^/]+$/, ''))}/\n`);
      process.stdout.write(`done in ${ms} ms\n`);
    });
}
