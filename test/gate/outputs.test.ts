import { mkdtempSync, readFileSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Command, InvalidArgumentError } from 'commander';
import { initMetrics } from '../../src/metrics/histogram.js';
import { evaluateChecks } from '../../src/report/check-eval.js';
import { parseChecks } from '../../src/report/check-grammar.js';
import { verdictFor } from '../../src/report/gate.js';
import { compareResults } from '../../src/report/compare.js';
import { toJUnitXml, xmlEscape } from '../../src/report/junit.js';
import { toMarkdownSummary, writeSummary } from '../../src/report/summary-md.js';
import { toBenchJson } from '../../src/report/bench-json.js';
import { applyConfigFile, loadConfigFile } from '../../src/report/config-file.js';
import { runGate, preflightGate } from '../../src/report/gate.js';
import { McError } from '../../src/errors.js';
import { makeResults, samples, truePercentile } from './fixtures.js';
import { findAll, parseXml } from './xml.js';

beforeAll(async () => {
  await initMetrics();
});

const get = samples(1000, 100_000, 3_000_000, 7);
const set = samples(500, 200_000, 800_000, 8);
const results = makeResults([{ perCommand: { get: { response: get.slice(0, 500), counters: { hits: 400, misses: 100, errors: { timeout: 1 } } }, set: { response: set } }, lag: [1000, 2000] }, { perCommand: { get: { response: get.slice(500) } }, lag: [3000] }], { runId: 'run-42' });
const tmp = mkdtempSync(join(tmpdir(), 'mcreplay-gate-'));
const nasty = `errors{cmd=get}.count < 1`;
const checkTexts = ['latency.p99 < 1s', 'latency{cmd=get}.p50 < 1us', nasty, 'hit_ratio{cmd=get} >= 50%'];

describe('JUnit XML', () => {
  it('one test case per check, failures carry the message, and it parses back', () => {
    const checks = evaluateChecks(results, parseChecks(checkTexts));
    const verdict = verdictFor(results, checks);
    const xml = toJUnitXml({ verdict, timestamp: results.run.startedAt, timeS: 2 });
    const doc = parseXml(xml);
    expect(doc.name).toBe('testsuites');
    const suite = findAll(doc, 'testsuite').find((s) => s.attrs.name === 'mcreplay.thresholds')!;
    const cases = findAll(suite, 'testcase');
    expect(cases.map((c) => c.attrs.name)).toEqual(checkTexts); // '<' and '{' survive the round trip
    expect(suite.attrs.tests).toBe('4');
    expect(suite.attrs.failures).toBe('2');
    const failed = cases.filter((c) => c.children.some((k) => k.name === 'failure'));
    expect(failed.map((c) => c.attrs.name)).toEqual(['latency{cmd=get}.p50 < 1us', nasty]);
    const f = findAll(failed[1]!, 'failure')[0]!;
    expect(f.attrs.message).toBe(checks[2]!.message);
    expect(f.attrs.message).toContain('errors{cmd=get}.count = 1');
    const run = findAll(doc, 'testsuite').find((s) => s.attrs.name === 'mcreplay.run')!;
    expect(run.attrs.failures).toBe('0');
  });

  it('a saturated run is a failed test case; a comparison adds a suite', () => {
    const sat = makeResults([{ perCommand: { get: { response: get } } }], { saturated: true });
    const cmp = compareResults(results, results, { maxRegression: ['latency.p99=10%'] });
    const xml = toJUnitXml({ verdict: verdictFor(sat, []), comparison: cmp });
    const doc = parseXml(xml);
    const run = findAll(doc, 'testsuite').find((s) => s.attrs.name === 'mcreplay.run')!;
    expect(run.attrs.failures).toBe('1');
    expect(findAll(run, 'failure')[0]!.attrs.type).toBe('saturated');
    const base = findAll(doc, 'testsuite').find((s) => s.attrs.name === 'mcreplay.baseline')!;
    expect(findAll(base, 'testcase').map((c) => c.attrs.name)).toEqual(['latency.p99=10%']);
  });

  it('escapes everything XML cannot hold raw', () => {
    const evil = `a<b>&"c'\u0000\u0007d]]>é😀`;
    const verdict = { status: 'fail' as const, reasons: [evil], saturated: false, exitCode: 99, checks: [{ check: evil, metric: evil, observed: 1, limit: 0, unit: '', pass: false, message: evil }] };
    const doc = parseXml(toJUnitXml({ verdict, name: evil }));
    const tc = findAll(doc, 'testcase').find((c) => c.attrs.classname?.endsWith('.thresholds'))!;
    expect(tc.attrs.name).toBe(`a<b>&"c'\uFFFD\uFFFDd]]>é😀`);
    expect(findAll(tc, 'failure')[0]!.text).toContain(`a<b>&"c'`);
    expect(xmlEscape('<&>')).toBe('&lt;&amp;&gt;');
    // the test parser is strict: it rejects what a broken writer would produce
    expect(() => parseXml('<a><b></a>')).toThrow();
    expect(() => parseXml('<a x="1" x="2"/>')).toThrow();
    expect(() => parseXml('<a>&</a>')).toThrow();
  });
});

describe('markdown summary', () => {
  it('verdict, check table, comparison and chart paths', () => {
    const checks = evaluateChecks(results, parseChecks(['latency.p99 < 1s', 'latency{cmd=get}.p50 < 1us', 'errors.count < 5']));
    const verdict = verdictFor(results, checks);
    const cmp = compareResults(results, results, { maxRegression: ['latency.p99=10%'] });
    const md = toMarkdownSummary({ verdict, results, comparison: cmp, charts: ['reports/run-42/charts/latency.png', 'reports/run-42/charts/throughput.png'] });
    expect(md).toMatch(/^## mcreplay: ❌ FAIL \(exit 99\)/);
    expect(md).toContain('Run `run-42`');
    expect(md).toContain('| ✅ | `latency.p99 < 1s` |');
    expect(md).toContain('| ❌ | `latency{cmd=get}.p50 < 1us` |');
    expect(md).toContain('### Baseline comparison');
    expect(md).toMatch(/\| get \| 1000 → 1000 \(\+0%\)/);
    expect(md).toContain('`latency.p99=10%`');
    expect(md).toContain('- chart: `reports/run-42/charts/latency.png`');
    expect(md).toContain('- chart: `reports/run-42/charts/throughput.png`');
    // every table row has the same number of cells as its header
    const rows = md.split('\n').filter((l) => l.startsWith('|'));
    const cellsOf = (l: string) => l.replace(/\\\|/g, '').split('|').length;
    for (const block of md.split('\n\n')) {
      const r = block.split('\n').filter((l) => l.startsWith('|'));
      if (r.length) expect(new Set(r.map(cellsOf)).size).toBe(1);
    }
    expect(rows.length).toBeGreaterThan(5);
  });

  it('a pipe in a check does not break the table', () => {
    const verdict = { status: 'pass' as const, reasons: [], saturated: false, exitCode: 0, checks: [{ check: 'a|b', metric: 'a', observed: 1, limit: 2, unit: '', pass: true, message: 'x|y' }] };
    const md = toMarkdownSummary({ verdict });
    const row = md.split('\n').find((l) => l.includes('a\\|b'))!;
    expect(row.replace(/\\\|/g, '').split('|').length).toBe(7);
  });

  it('writes the file and appends to $GITHUB_STEP_SUMMARY', () => {
    const step = join(tmp, 'step.md');
    writeFileSync(step, 'before\n');
    const out = join(tmp, 'sub', 'summary.md');
    const written = writeSummary('# hello', out, { GITHUB_STEP_SUMMARY: step });
    expect(written).toEqual([out, step]);
    expect(readFileSync(out, 'utf8')).toBe('# hello');
    expect(readFileSync(step, 'utf8')).toBe('before\n# hello\n');
  });
});

describe('bench JSON', () => {
  it('customSmallerIsBetter entries with values from the samples', () => {
    const entries = toBenchJson(results);
    for (const e of entries) {
      expect(Object.keys(e).sort()).toEqual(['extra', 'name', 'unit', 'value']);
      expect(typeof e.value).toBe('number');
    }
    const byName = Object.fromEntries(entries.map((e) => [e.name, e]));
    expect(byName['get p99 response']!.unit).toBe('us');
    expect(Math.abs(byName['get p99 response']!.value * 1000 - truePercentile(get, 99)) / truePercentile(get, 99)).toBeLessThan(1e-3);
    expect(Math.abs(byName['total p50 response']!.value * 1000 - truePercentile([...get, ...set], 50)) / truePercentile([...get, ...set], 50)).toBeLessThan(1e-3);
    expect(byName['get error rate']).toMatchObject({ unit: '%', value: 0.1 });
    expect(byName['schedule lag p99']!.unit).toBe('us');
    expect(JSON.parse(JSON.stringify(entries))).toEqual(entries);
  });
});

describe('config file', () => {
  function replayLike(): Command {
    const collect = (v: string, p: string[] = []) => [...p, v];
    return new Command('replay')
      .exitOverride()
      .argument('[capture]')
      .option('--target <addr>', 'target')
      .option('--rate <r>', 'rate', '1x')
      .option('--workers <n>', 'workers', (v) => {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('not a positive integer');
        return n;
      })
      .option('--threshold <check>', 'threshold', collect, [])
      .option('--max-regression <rule>', 'rule', collect, [])
      .option('--abort-on-fail', 'abort')
      .option('--config <file>', 'config')
      .action(() => {});
  }
  function file(obj: unknown): string {
    const p = join(tmp, `cfg-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(p, typeof obj === 'string' ? obj : JSON.stringify(obj));
    return p;
  }

  it('file options apply, the command line overrides them, thresholds fill --threshold', async () => {
    const path = file({ target: '10.0.0.1:11211', rate: '2x', workers: 4, 'abort-on-fail': true, maxRegression: ['latency.p99=10%'], thresholds: ['latency.p99 < 2ms', 'errors.rate < 1%'] });
    const cmd = replayLike();
    await cmd.parseAsync(['cap.pcap', '--rate', '4x'], { from: 'user' });
    applyConfigFile(cmd, loadConfigFile(path));
    expect(cmd.opts()).toMatchObject({ workers: 4, target: '10.0.0.1:11211', rate: '4x', abortOnFail: true, maxRegression: ['latency.p99=10%'], threshold: ['latency.p99 < 2ms', 'errors.rate < 1%'] });
    const cli = replayLike();
    await cli.parseAsync(['cap.pcap', '--threshold', 'latency.p50 < 1ms'], { from: 'user' });
    applyConfigFile(cli, loadConfigFile(path));
    expect(cli.opts().threshold).toEqual(['latency.p50 < 1ms']);
  });

  it('unknown keys, wrong types and bad JSON are exit-2 errors', async () => {
    const cases: [unknown, RegExp][] = [
      [{ tagret: 'x' }, /unknown key 'tagret'.*did you mean 'target'/],
      [{ 'abort-on-fail': 'yes' }, /is a flag: use true or false/],
      [{ target: ['a', 'b'] }, /takes one value, not a list/],
      [{ thresholds: 'latency.p99 < 1ms' }, /'thresholds' must be an array of strings/],
      [[1, 2], /must hold a JSON object/],
      ['{ "target": ', /not valid JSON/],
      [{ config: 'other.json' }, /unknown key 'config'/],
      [{ workers: 0 }, /'workers': not a positive integer/],
    ];
    for (const [obj, re] of cases) {
      const cmd = replayLike();
      await cmd.parseAsync(['cap.pcap'], { from: 'user' });
      let err: unknown;
      try {
        applyConfigFile(cmd, loadConfigFile(file(obj)));
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(obj)).toBeInstanceOf(McError);
      expect((err as McError).exitCode).toBe(2);
      expect((err as McError).message).toMatch(re);
    }
    expect(() => loadConfigFile(join(tmp, 'missing.json'))).toThrow(/no such file/);
  });
});

describe('runGate', () => {
  it('evaluates, compares, writes JUnit, summary, bench JSON and the step summary', async () => {
    const dir = join(tmp, 'gate');
    mkdirSync(join(dir, 'report', 'charts'), { recursive: true });
    writeFileSync(join(dir, 'report', 'charts', 'latency.png'), '');
    const baseline = join(dir, 'baseline.json');
    writeFileSync(baseline, JSON.stringify(results));
    const step = join(dir, 'step.md');
    const out = await runGate(results, {
      checks: parseChecks(['latency.p99 < 1s', 'errors.count < 1']),
      baseline,
      maxRegression: ['latency.p99=10%'],
      junit: join(dir, 'junit.xml'),
      summary: join(dir, 'summary.md'),
      benchJson: join(dir, 'bench.json'),
      reportDir: join(dir, 'report'),
      env: { GITHUB_STEP_SUMMARY: step },
      defaultChecks: false,
    });
    expect(out.exitCode).toBe(99);
    expect(out.verdict.status).toBe('fail');
    expect(out.comparison?.regressed).toBe(false);
    expect(out.text).toMatch(/✗ errors.count < 1/);
    for (const f of ['junit.xml', 'summary.md', 'bench.json', 'step.md']) expect(existsSync(join(dir, f)), f).toBe(true);
    expect(findAll(parseXml(readFileSync(join(dir, 'junit.xml'), 'utf8')), 'testcase')).toHaveLength(4);
    expect(readFileSync(join(dir, 'summary.md'), 'utf8')).toContain('charts/latency.png');
    expect(JSON.parse(readFileSync(join(dir, 'bench.json'), 'utf8')).length).toBeGreaterThan(3);
  });

  it('a baseline of another capture makes the verdict an exit-2 error, with what differed', async () => {
    const other = join(tmp, 'other.json');
    writeFileSync(other, JSON.stringify(makeResults([{ perCommand: { get: { response: [1] } } }], { sha256: 'c'.repeat(64) })));
    const out = await runGate(results, { checks: [], baseline: other, env: {} });
    expect(out.exitCode).toBe(2);
    expect(out.verdict.reasons.join('\n')).toMatch(/capture differs/);
    const forced = await runGate(results, { checks: [], baseline: other, force: true, env: {} });
    expect(forced.exitCode).toBe(0);
  });

  it('preflight rejects bad rules and a missing baseline before any load', () => {
    expect(() => preflightGate({ maxRegression: ['latency.p99=10%'] })).toThrow(/needs --baseline/);
    expect(() => preflightGate({ baseline: join(tmp, 'nope.json') })).toThrow(/no such file/);
    expect(() => preflightGate({ baseline: join(tmp, 'other.json'), maxRegression: ['nope=1%'] })).toThrow(McError);
  });
});
