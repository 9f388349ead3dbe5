// The HTML report as a person sees it: opened in headless Chromium (Debian chromium driven by
// playwright-core), every chart must draw, nothing may be fetched, the console stays clean, and a
// screenshot is kept for a human to look at (/tmp/mcreplay-report-test/screens).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { makeResults, type FixtureOptions } from './make-results.js';
import { writeReport } from '../../src/report/index.js';

const OUT = '/tmp/mcreplay-report-test';
const SCREENS = join(OUT, 'screens');
let browser: Browser;

beforeAll(async () => {
  mkdirSync(SCREENS, { recursive: true });
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});
afterAll(async () => {
  await browser?.close();
});

interface Opened {
  page: Page;
  requests: string[];
  consoleErrors: string[];
  close(): Promise<void>;
}

async function open(htmlPath: string): Promise<Opened> {
  // a fresh profile for every page: nothing cached from another run can hide a fetch
  const context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
  const page = await context.newPage();
  const requests: string[] = [];
  const consoleErrors: string[] = [];
  await context.route('**', (route) => {
    requests.push(route.request().url());
    return route.continue();
  });
  page.on('request', (r) => requests.push(r.url()));
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') consoleErrors.push(`${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => consoleErrors.push(`pageerror: ${e.message}`));
  await page.goto(pathToFileURL(htmlPath).href, { waitUntil: 'load' });
  await page.waitForFunction(() => (window as unknown as { mcreplayReady?: boolean }).mcreplayReady === true, undefined, { timeout: 20_000 });
  return { page, requests, consoleErrors, close: () => context.close() };
}

/** Per canvas: how many pixels are not fully transparent. */
async function canvasInk(page: Page): Promise<Record<string, number>> {
  return page.evaluate(() => {
    const out: Record<string, number> = {};
    for (const c of Array.from(document.querySelectorAll('canvas'))) {
      const ctx = c.getContext('2d');
      if (!ctx || c.width === 0 || c.height === 0) {
        out[c.id] = 0;
        continue;
      }
      const d = ctx.getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 3; i < d.length; i += 4) if (d[i]! > 0) n++;
      out[c.id] = n;
    }
    return out;
  });
}

async function render(name: string, opts: FixtureOptions): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), `mcr-report-${name}-`));
  const results = await makeResults(opts);
  const path = join(dir, 'results.json');
  writeFileSync(path, JSON.stringify(results));
  const { html } = await writeReport(path, { png: false });
  return html;
}

const CASES: [string, FixtureOptions, string[]][] = [
  ['steady', { intervals: 180, seed: 1 }, ['latency', 'throughput', 'errors', 'hit-ratio', 'spectrum', 'heatmap', 'lag', 'target-items', 'target-bytes', 'target-evictions', 'target-hit-ratio', 'target-connections']],
  ['ramp', { intervals: 240, ramp: [1, 2, 4, 6, 8, 10], status: 'fail', stall: false, seed: 2 }, ['latency', 'knee', 'heatmap', 'spectrum']],
  ['saturated-no-targets', { intervals: 60, targets: [], status: 'saturated', seed: 3, commands: ['get', 'set'] }, ['latency', 'lag']],
];

describe('HTML report in headless Chromium', () => {
  for (const [name, opts, mustHave] of CASES) {
    it(`${name}: every chart draws, no fetches, no console errors`, async () => {
      const html = await render(name, opts);
      const o = await open(html);
      try {
        const ink = await canvasInk(o.page);
        const ids = Object.keys(ink);
        for (const id of mustHave) expect(ids).toContain(`c-${id}`);
        if (!opts.targets || opts.targets.length) expect(ids.some((i) => i.startsWith('c-target-'))).toBe(true);
        else expect(ids.some((i) => i.startsWith('c-target-'))).toBe(false);
        for (const [id, n] of Object.entries(ink)) expect(n, `canvas ${id} drew nothing`).toBeGreaterThan(1000);
        // the only request is the page itself
        expect(o.requests.filter((u) => u !== pathToFileURL(html).href)).toEqual([]);
        expect(o.consoleErrors).toEqual([]);
        // the verdict is the first thing on the page
        const firstSection = await o.page.evaluate(() => document.querySelector('main > header, main > section')?.id);
        expect(firstSection).toBe('verdict');
        await o.page.screenshot({ path: join(SCREENS, `${name}.png`), fullPage: true });
      } finally {
        await o.close();
      }
    });
  }

  // results files written by real replays (reports/*/results.json, or MCREPLAY_REPORT_RESULTS=a,b)
  const real = [
    ...(process.env.MCREPLAY_REPORT_RESULTS?.split(',').filter(Boolean) ?? []),
    ...(existsSync('reports') ? readdirSync('reports').map((d) => join('reports', d, 'results.json')) : []),
  ]
    .filter((p) => existsSync(p))
    .slice(0, 3);
  for (const path of real) {
    it(`a real run (${path}): every chart draws, no fetches, no console errors`, async () => {
      const out = mkdtempSync(join(tmpdir(), 'mcr-report-real-'));
      const { html } = await writeReport(path, { png: false, outDir: out });
      const o = await open(html);
      try {
        const ink = await canvasInk(o.page);
        expect(Object.keys(ink).length).toBeGreaterThanOrEqual(7);
        for (const [id, n] of Object.entries(ink)) expect(n, `canvas ${id} drew nothing`).toBeGreaterThan(1000);
        expect(o.requests.filter((u) => u !== pathToFileURL(html).href)).toEqual([]);
        expect(o.consoleErrors).toEqual([]);
        await o.page.screenshot({ path: join(SCREENS, `real-${path.split('/').slice(-2, -1)[0]}.png`), fullPage: true });
      } finally {
        await o.close();
      }
    });
  }

  it('the command selector redraws the spectrum and the latency chart for one command', async () => {
    const html = await render('select', { intervals: 90, seed: 4 });
    const o = await open(html);
    try {
      const labelsOf = (id: string) =>
        o.page.evaluate((cid) => {
          const charts = (window as unknown as { mcreplayCharts: Record<string, { options: { scales: { y: { title: { text: string } } } } }> }).mcreplayCharts;
          return charts[cid]!.options.scales.y.title.text;
        }, id);
      expect(await labelsOf('spectrum')).toContain('all commands');
      await o.page.selectOption('#sel-spectrum', 'set');
      await o.page.selectOption('#sel-latency', 'get');
      expect(await labelsOf('spectrum')).toContain('set');
      expect(await labelsOf('latency')).toContain('get');
      const ink = await canvasInk(o.page);
      expect(ink['c-spectrum']).toBeGreaterThan(1000);
      expect(ink['c-latency']).toBeGreaterThan(1000);
      expect(o.consoleErrors).toEqual([]);
      await o.page.locator('#chart-spectrum').screenshot({ path: join(SCREENS, 'spectrum-set.png') });
    } finally {
      await o.close();
    }
  });
});
