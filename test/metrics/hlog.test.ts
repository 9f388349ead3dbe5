import { beforeAll, describe, expect, it } from 'vitest';
import * as hdr from 'hdr-histogram-js';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initMetrics } from '../../src/metrics/histogram.js';
import { IntervalRecorder } from '../../src/metrics/recorder.js';
import { Aggregator } from '../../src/metrics/aggregate.js';
import { writeHlog } from '../../src/metrics/hlog.js';

beforeAll(async () => {
  await initMetrics();
});

describe('hlog', () => {
  it("is read back by hdr-histogram-js' HistogramLogReader with one tag per command", async () => {
    // samples: interval i gets (i+1)*10 gets at 100 µs and i+1 sets at 2 ms, lag 5 µs each
    const rec = new IntervalRecorder({ eventLoop: false });
    const agg = new Aggregator({ workers: 1, rate: { mode: 'factor', factor: 1 } });
    for (let i = 0; i < 3; i++) {
      for (let n = 0; n < (i + 1) * 10; n++) rec.record('get', 100_000, 90_000);
      for (let n = 0; n < i + 1; n++) rec.record('set', 2_000_000, 1_500_000);
      for (let n = 0; n < (i + 1) * 11; n++) rec.recordLag(5_000);
      agg.add(rec.snapshot(i));
    }
    rec.destroy();
    const res = agg.finish(3e9);
    const startedAt = '2026-11-21T01:30:00.000Z';
    const dir = mkdtempSync(join(tmpdir(), 'mcreplay-hlog-'));
    try {
      const path = join(dir, 'run.hlog');
      await writeHlog({ run: { id: 'r1', startedAt }, intervals: res.intervals }, path);
      const text = readFileSync(path, 'utf8');
      expect(text).toContain('#[StartTime: ');
      expect(text).toContain('#[BaseTime: ');
      expect(text).toContain('"StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"');
      expect(hdr.listTags(text).sort()).toEqual(['get', 'get.service', 'lag', 'set', 'set.service', 'total', 'total.service']);

      const reader = new hdr.HistogramLogReader(text, 64, false);
      const seen: { tag: string; startMs: number; endMs: number; count: number; max: number }[] = [];
      for (let h = reader.nextIntervalHistogram(); h; h = reader.nextIntervalHistogram()) {
        seen.push({ tag: h.tag, startMs: h.startTimeStampMsec, endMs: h.endTimeStampMsec, count: h.totalCount, max: h.maxValue });
      }
      const t0 = Date.parse(startedAt);
      for (let i = 0; i < 3; i++) {
        const at = (tag: string) => seen.find((s) => s.tag === tag && s.startMs === t0 + i * 1000)!;
        expect(at('get').count).toBe((i + 1) * 10);
        expect(at('set').count).toBe(i + 1);
        expect(at('total').count).toBe((i + 1) * 11);
        expect(at('lag').count).toBe((i + 1) * 11);
        expect(at('get').endMs).toBe(t0 + (i + 1) * 1000);
        expect(Math.abs(at('set').max - 2_000_000)).toBeLessThan(2_000_000 * 0.001 + 1);
        expect(Math.abs(at('set.service').max - 1_500_000)).toBeLessThan(1_500_000 * 0.001 + 1);
      }
      expect(seen).toHaveLength(3 * 7);
      // Interval_Max column is in ms
      expect(text).toMatch(/^Tag=set,0\.000,1\.000,2\.00\d,HISTF/m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
