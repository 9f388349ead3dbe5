// The warmth curves of a long mirror's report, as a person sees them in headless Chromium: the
// chart draws, its points sit in the middle of their own (mixed-width, rolled-up) intervals, the
// values are the hit ratios put in, and the summary says when the gap closed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../helpers/browser.js';
import { makeResults } from './make-results.js';
import { writeReport } from '../../src/report/index.js';
import { parseRollup, rollingStore } from '../../src/metrics/rollup.js';
import { warmSince } from '../../src/report/warmth-series.js';
import type { Interval } from '../../src/metrics/results-types.js';

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

const N = 600;
const CAPTURED = 0.9;
/** The target's hit ratio at second t: cold at the start, level with the capture from 200 s on. */
const targetRatio = (t: number): number => CAPTURED - Math.max(0, 0.5 * (1 - t / 200));

describe('warmth in the report', () => {
  it('draws captured vs target hit ratio and the gap over rolled-up intervals, and says when it became warm', async () => {
    const r = await makeResults({ intervals: N, warmupIntervals: 0, seed: 5, commands: ['get', 'set'] });
    // 1000 lookups a second: the capture hits 90%, the target warms up over 200 s
    for (const iv of r.intervals) {
      const t = iv.startNs / 1e9;
      const c = iv.perCommand.get!.counters;
      c.hits = Math.round(1000 * targetRatio(t));
      c.misses = 1000 - c.hits;
      iv.total.counters.hits = c.hits;
      iv.total.counters.misses = c.misses;
      iv.captured = { get: { count: 1000, hits: CAPTURED * 1000, misses: 1000 - CAPTURED * 1000 }, set: { count: 300, hits: 0, misses: 0 } };
    }
    // what a long mirror keeps: the last 120 s at 1 s, older intervals rolled up into 30 s ones
    const store = rollingStore(parseRollup('120s:30s', 1e9));
    for (const iv of r.intervals) store.push(iv);
    const kept: Interval[] = store.all();
    expect(kept.length).toBe(120 + (N - 120) / 30);
    r.intervals = kept;
    const dir = mkdtempSync(join(tmpdir(), 'mcr-warmth-'));
    const path = join(dir, 'results.json');
    writeFileSync(path, JSON.stringify(r));
    const { html } = await writeReport(path, { png: false });

    const context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    try {
      await page.goto(pathToFileURL(html).href, { waitUntil: 'load' });
      await page.waitForFunction(() => (window as unknown as { mcreplayReady?: boolean }).mcreplayReady === true, undefined, { timeout: 20_000 });
      const ink = await page.evaluate(() => {
        const c = document.getElementById('c-warmth') as HTMLCanvasElement | null;
        if (!c) return -1;
        const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 3; i < d.length; i += 4) if (d[i]! > 0) n++;
        return n;
      });
      expect(ink).toBeGreaterThan(1000);
      const sets = await page.evaluate(() => {
        const ch = (window as unknown as { mcreplayCharts: Record<string, { data: { datasets: { label: string; data: { x: number; y: number | null }[] }[] } }> }).mcreplayCharts.warmth!;
        return ch.data.datasets.map((ds) => ({ label: ds.label, data: ds.data.map((p) => [p.x, p.y]) }));
      });
      const by = (l: string) => sets.find((s) => s.label.startsWith(l))!.data;
      const cap = by('captured');
      const rep = by('replayed');
      const gap = by('gap');
      expect(cap.length).toBe(kept.length);
      // the first point is a 30 s roll-up: drawn mid-way through [0, 30), its value the exact mean of its seconds
      expect(cap[0]![0]).toBe(15);
      expect(cap[0]![1]).toBeCloseTo(90, 6);
      let hits = 0;
      for (let t = 0; t < 30; t++) hits += Math.round(1000 * targetRatio(t));
      expect(rep[0]![1]).toBeCloseTo(hits / 300, 2);
      expect(gap[0]![1]).toBeCloseTo(90 - hits / 300, 2);
      // the last point is one second, drawn at its middle; the target is level with the capture
      expect(rep[rep.length - 1]![0]).toBe(599.5);
      expect(rep[rep.length - 1]![1]).toBeCloseTo(90, 6);
      expect(gap[gap.length - 1]![1]).toBeCloseTo(0, 6);
      // the summary: default rule (2 points, a window of a sixth of the run: 100 s). The gap is under
      // 2 points from t = 192 s; the 30 s point [180, 210) averages under it, so warm at 180 + 100 s.
      const summary = await page.locator('#warmth-summary').innerText();
      expect(summary).toContain('Warm at 4 min 40 s');
      expect(summary).toContain('within 2% of the capture');
      expect(await page.locator('#chart-warmth').innerText()).toContain('Warm at');
      // per command: the selector shows get's curves (set has no lookups)
      await page.selectOption('#sel-warmth', 'get');
      expect(errors).toEqual([]);
      await page.locator('#chart-warmth').screenshot({ path: join(dir, 'warmth.png') });
    } finally {
      await context.close();
    }
  }, 60_000);

  it('warmSince: the gap must hold over a whole window; a point above the threshold starts it again', () => {
    const t = [0, 10, 20, 30, 40, 50];
    const ends = [10, 20, 30, 40, 50, 60];
    expect(warmSince(t, ends, [0.1, 0.01, 0.01, 0.05, 0.0, 0.0], 2, 20)).toBe(30);
    expect(warmSince(t, ends, [0.1, 0.01, 0.01, 0.05, 0.0, 0.0], 2, 25)).toBeNull();
    expect(warmSince(t, ends, [0.1, 0.05, 0.01, 0.01, 0.01, 0.0], 2, 25)).toBe(45);
    expect(warmSince(t, ends, [0.1, 0.01, null, 0.01, 0.5, 0.0], 2, 30)).toBe(40);
    expect(warmSince(t, ends, [0.1, 0.1, 0.1, 0.1, 0.1, 0.0], 2, 20)).toBeNull();
  });
});
