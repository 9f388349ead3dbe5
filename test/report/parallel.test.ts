// The worker-thread path computes exactly what the single-thread path does. Workers run compiled
// JavaScript, so this uses dist/ (built by `npm run build`, which `npm test` runs first).
import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { makeResults } from './make-results.js';

const dist = fileURLToPath(new URL('../../dist/report/', import.meta.url));
const built = existsSync(`${dist}parallel.js`) && existsSync(`${dist}data-worker.js`);

describe.skipIf(!built)('report data on worker threads', () => {
  it('gives the same chart data as one thread', async () => {
    const data = (await import(`${dist}data.js`)) as typeof import('../../src/report/data.js');
    const par = (await import(`${dist}parallel.js`)) as typeof import('../../src/report/parallel.js');
    const r = await makeResults({ intervals: 2500, commands: ['get', 'set', 'mg'], samplesPerInterval: 30, seed: 31 });
    const { groups, cmds } = data.groupIntervals(r);
    expect(groups[0]!.length).toBe(3); // points merge intervals, so the split crosses merged groups
    const points = await par.pointsInParallel(groups, cmds, { threads: 3, minHistograms: 0 });
    expect(points).not.toBeNull();
    expect(JSON.stringify(data.buildReportData(r, { points: points! }))).toBe(JSON.stringify(data.buildReportData(r)));
  });
});
