// The live page of --metrics as a person sees it: a running mirror's `/` opened in headless
// Chromium (playwright-core, Debian chromium): the charts draw, the numbers change between two
// looks, nothing is fetched from any host but the page's own, the console stays clean; the warmth
// chart leaves out the newest seconds, whose answers may still come.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { startMemcached, freePort } from '../helpers/memcached.js';
import { runLoad, startMirror, stats, until, type MirrorProc } from './helpers.js';

let browser: Browser;
const cleanup: (() => Promise<void> | void)[] = [];
beforeAll(async () => {
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});
afterAll(async () => {
  await browser?.close();
});
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

describe('mirror --metrics live page', () => {
  it('draws the charts and updates the numbers every second, from its own host only', async () => {
    const src = await startMemcached();
    const tgt = await startMemcached();
    const out = mkdtempSync(join(tmpdir(), 'mcr-live-'));
    cleanup.push(() => src.stop(), () => tgt.stop(), () => rmSync(out, { recursive: true, force: true }));
    const mport = await freePort();
    const m: MirrorProc = startMirror(['--interface', 'lo', '--port', String(src.port), '--target', tgt.address, '--out', out, '--metrics', `127.0.0.1:${mport}`, '--poll-stats', '200ms', '--max-lag', '60s', '--max-stall', '60s', '--no-html']);
    cleanup.push(async () => {
      if (m.proc.exitCode === null && m.proc.signalCode === null) {
        m.proc.kill('SIGKILL');
        await m.exit;
      }
    });
    await m.waitErr(/mirroring/, 30_000);
    const load = runLoad(src.address, 12, 300, 100, 2, 6, true);

    const context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
    cleanup.push(() => context.close());
    const page = await context.newPage();
    const foreign: string[] = [];
    const consoleErrors: string[] = [];
    await context.route('**', (route) => {
      const u = new URL(route.request().url());
      if (u.host !== `127.0.0.1:${mport}`) {
        foreign.push(u.href);
        return route.abort();
      }
      return route.continue();
    });
    page.on('console', (msg) => {
      if (msg.type() === 'error') consoleErrors.push(msg.text());
    });
    await page.goto(`http://127.0.0.1:${mport}/`);
    // a first look once some seconds are drawn
    await page.waitForFunction(() => (window as unknown as { Chart: { getChart(id: string): { data: { labels: unknown[] } } } }).Chart.getChart('c-rate').data.labels.length >= 2, undefined, { timeout: 20_000 });
    const look = () => page.evaluate(() => ({ sent: document.getElementById('n-sent')!.textContent, points: (window as unknown as { Chart: { getChart(id: string): { data: { labels: unknown[] } } } }).Chart.getChart('c-rate').data.labels.length }));
    const first = await look();
    // the second look: the page has fetched again and the numbers moved on
    await page.waitForFunction((s) => document.getElementById('n-sent')!.textContent !== s, first.sent, { timeout: 10_000 });
    const second = await look();
    expect(Number(second.sent)).toBeGreaterThan(Number(first.sent));
    expect(second.points).toBeGreaterThan(first.points);
    // every chart has drawn something: its canvas is not blank
    for (const id of ['c-rate', 'c-lat', 'c-hit', 'c-err', 'c-items']) {
      const inked = await page.evaluate((cid) => {
        const c = document.getElementById(cid) as HTMLCanvasElement;
        const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 3; i < d.length; i += 4) if (d[i]! > 0) n++;
        return n;
      }, id);
      expect(inked, id).toBeGreaterThan(500);
    }
    const rateLine = await page.evaluate(() => (window as unknown as { Chart: { getChart(id: string): { data: { datasets: { data: number[] }[] } } } }).Chart.getChart('c-rate').data.datasets[0]!.data);
    expect(Math.max(...rateLine)).toBeGreaterThan(50);
    mkdirSync('/tmp/mcreplay-report-test/screens', { recursive: true });
    await page.screenshot({ path: '/tmp/mcreplay-report-test/screens/mirror-live.png', fullPage: true });
    expect(foreign).toEqual([]);
    expect(consoleErrors).toEqual([]);
    await load;
    // once the load is over and the target caught up, the page shows the target's own item count
    await until(async () => (await stats(tgt.port)).cmd_set === (await stats(src.port)).cmd_set, 20_000, 'the target to catch up');
    const items = (await stats(tgt.port)).curr_items;
    await page.waitForFunction((n) => document.getElementById('n-items')!.textContent === String(n), items, { timeout: 20_000 });
    expect(items).toBeGreaterThan(0);
    // the warmth chart: target, capture and gap, paired by intended send time; the newest seconds
    // (not settled: answers may still come within delay + timeout) are left out, and the page says so
    type HitChart = { data: { datasets: { label: string; data: (number | null)[] }[] } };
    await page.waitForFunction(() => (window as unknown as { Chart: { getChart(id: string): HitChart } }).Chart.getChart('c-hit').data.datasets[1]!.data.some((v) => v !== null), undefined, { timeout: 20_000 });
    const hit = await page.evaluate(() => ({
      sets: (window as unknown as { Chart: { getChart(id: string): HitChart } }).Chart.getChart('c-hit').data.datasets.map((d) => ({ label: d.label, data: d.data })),
      note: document.getElementById('hit-note')!.textContent!,
    }));
    expect(hit.sets.map((d) => d.label)).toEqual(['hit ratio, target', 'hit ratio, capture', 'gap (capture - target)']);
    const open = Number(/the last (\d+) s wait for their answers/.exec(hit.note)?.[1]);
    expect(hit.note).toMatch(/paired by intended send time/);
    expect(open).toBeGreaterThanOrEqual(4);
    for (const d of hit.sets) expect(d.data.slice(-open), d.label).toEqual(new Array(open).fill(null));
    const drawnGaps = hit.sets[2]!.data.filter((v): v is number => v !== null);
    expect(drawnGaps.length).toBeGreaterThan(0);
    m.proc.kill('SIGTERM');
    expect((await m.exit).code, m.stderr()).toBe(0);
  }, 120_000);
});
