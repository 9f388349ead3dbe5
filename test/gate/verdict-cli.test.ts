// The verdict as a person meets it: the spawned CLI against real memcached. A target killed mid-run
// turns PASS into FAIL (exit 99) with the failing default checks named on the terminal, in
// results.json and in the HTML report (opened in headless Chromium, checks right under the verdict).
// --max-lag/--max-stall are raised so the shared, noisy test machine cannot make these runs
// saturated: they are about the target's failures, not the generator's.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { startMemcached, type Memcached } from '../helpers/memcached.js';
import { ensureBuilt } from './build.js';
import type { ResultsFile } from '../../src/metrics/results-types.js';

const root = resolve(import.meta.dirname, '../..');
const sample = join(root, 'captures/sample.pcap');
const tmp = mkdtempSync(join(tmpdir(), 'mcreplay-verdict-'));
const LOOSE = ['--max-lag', '60s', '--max-stall', '60s', '--no-png'];
let browser: Browser;
const servers: Memcached[] = [];

interface Spawned {
  code: Promise<number | null>;
  out: () => string;
  err: () => string;
  /** Resolves once stderr matches `re` (bounded by the test's timeout). */
  waitErr(re: RegExp): Promise<void>;
}

function mcreplay(args: string[]): Spawned {
  const p = spawn(process.execPath, [join(root, 'bin/mcreplay.js'), ...args], { cwd: tmp, env: { ...process.env, GITHUB_STEP_SUMMARY: '' } });
  let out = '';
  let err = '';
  const waiters: { re: RegExp; f: () => void }[] = [];
  p.stdout.on('data', (d: Buffer) => (out += d.toString()));
  p.stderr.on('data', (d: Buffer) => {
    err += d.toString();
    for (const w of waiters.splice(0)) if (w.re.test(err)) w.f();
    else waiters.push(w);
  });
  const code = new Promise<number | null>((r) => p.on('exit', (c) => r(c)));
  return {
    code,
    out: () => out,
    err: () => err,
    waitErr: (re) => (re.test(err) ? Promise.resolve() : new Promise<void>((f) => waiters.push({ re, f }))),
  };
}

function resultsOf(stdout: string): { path: string; r: ResultsFile } {
  const m = /^results: (.+)$/m.exec(stdout);
  expect(m, stdout).not.toBeNull();
  return { path: m![1]!, r: JSON.parse(readFileSync(m![1]!, 'utf8')) as ResultsFile };
}

beforeAll(async () => {
  await ensureBuilt(root);
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}, 180_000);
afterAll(async () => {
  await browser?.close();
  for (const s of servers) await s.stop();
});

describe('the verdict of a run whose target died', () => {
  it('PASS names its default checks; the same run with memcached killed mid-way is FAIL (exit 99)', async () => {
    const mc = await startMemcached();
    servers.push(mc);
    const out = join(tmp, 'pass');
    const ok = mcreplay(['replay', sample, '--target', mc.address, '--rate', '4x', '--out', out, ...LOOSE]);
    expect(await ok.code, ok.err()).toBe(0);
    expect(ok.out()).toMatch(/✓ errors\{class=timeout\|reset\|refused\|desync\}\.rate < 1% \(default\)/);
    expect(ok.out()).toMatch(/✓ unsent\.count == 0 \(default\)/);
    expect(ok.out()).toMatch(/✓ requests\.answered >= 99% sent \(default\)/);
    expect(ok.out()).toMatch(/verdict: PASS \(exit 0\)/);

    const dead = await startMemcached();
    servers.push(dead);
    const run = mcreplay(['replay', sample, '--target', dead.address, '--out', join(tmp, 'fail'), '--timeout', '500ms', '--threshold', 'latency.p99 < 60s', ...LOOSE]);
    // non-TTY progress prints a line every 5 s of the 10 s capture, with elapsed/total, percent and
    // ETA: half-way, the target dies
    await run.waitErr(/^0:05\/0:10 (49|50)% ETA 0:05 /m);
    dead.proc.kill('SIGKILL');
    const code = await run.code;
    expect(code, run.err()).toBe(99);
    expect(run.out()).toMatch(/✗ errors\{class=timeout\|reset\|refused\|desync\}\.rate < 1% \(default\)/);
    expect(run.out()).toMatch(/✗ requests\.answered >= 99% sent \(default\)/);
    expect(run.out()).toMatch(/verdict: FAIL \(exit 99\)\n {2}- default check failed: errors\{class=timeout\|reset\|refused\|desync\}\.rate < 1%/);
    const { path, r } = resultsOf(run.out());
    const t = r.summary.total.counters;
    const errors = Object.values(t.errors).reduce((a, b) => a + b, 0);
    // independent truth: the requests after the kill failed (some hundreds at 1 000/s), none got lost
    expect(errors).toBeGreaterThan(500);
    expect(r.verdict.status).toBe('fail');
    expect(r.verdict.checks.filter((c) => !c.pass).map((c) => c.check)).toEqual(['errors{class=timeout|reset|refused|desync}.rate < 1%', 'requests.answered >= 99% sent']);

    // the HTML report, as a person sees it
    const html = join(path, '..', 'index.html');
    expect(existsSync(html)).toBe(true);
    const ctx = await browser.newContext({ viewport: { width: 1360, height: 900 } });
    try {
      const page = await ctx.newPage();
      await page.goto(pathToFileURL(html).href, { waitUntil: 'load' });
      expect(await page.locator('#verdict .status').innerText()).toBe('FAIL');
      // the checks come right after the verdict, before what ran and the latency tables
      const order = await page.evaluate(() => Array.from(document.querySelectorAll('main > header, main > section')).map((e) => e.id || e.className));
      expect(order.slice(0, 2)).toEqual(['verdict', 'thresholds']);
      const failRow = page.locator('#thresholds tr.fail', { hasText: 'errors{class=timeout|reset|refused|desync}.rate < 1%' });
      expect(await failRow.count()).toBe(1);
      expect(await failRow.innerText()).toMatch(/default/);
      // visible in the first screen, without scrolling
      const box = await page.locator('#thresholds').boundingBox();
      expect(box!.y).toBeLessThan(900);
      // the Command row pastes back into a shell: arguments with spaces stay quoted
      expect(await page.locator('dd code', { hasText: 'mcreplay replay' }).innerText()).toContain(`--timeout 500ms --threshold 'latency.p99 < 60s'`);
    } finally {
      await ctx.close();
    }
  }, 120_000);
});
