// The replay engine end to end against a real memcached: every request of a hand-written capture
// (text, meta, binary; pipelined, noreply, quiet) is replayed once, answered, and counted; the
// target's own stats counters are the independent truth.
import { existsSync, readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { useMemcached } from '../helpers/memcached.js';
import { QUIET, accounted, errorSum, mcStats, replay, tempDir, writeCapture } from './helpers.js';
import { MIXED, MIXED_COUNTS } from './mixed.js';
import { resultsAccountingGaps } from '../../src/metrics/counters.js';

describe('replay engine against real memcached', () => {
  const mc = useMemcached();
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());

  it('replays every request of a text/meta/binary capture once, with no errors', async () => {
    const cap = writeCapture(tmp.dir, 'mixed.pcap', MIXED);
    const before = await mcStats(mc.address);
    const run = await replay([cap, '--target', mc.address, ...QUIET.filter((o) => o !== '--no-html'), '--no-png'], tmp.dir);
    expect(run.stderr).toBe('');
    // results.json, the .hlog and the HTML report sit side by side
    expect(existsSync(run.json!.results as string)).toBe(true);
    expect(run.json!.html).toMatch(/index\.html$/);
    expect(existsSync(run.json!.html as string)).toBe(true);
    expect(readFileSync(run.json!.hlog as string, 'utf8')).toMatch(/HISTFAA/);
    expect(run.code).toBe(0);
    const r = run.results!;
    expect(r.schema).toBe('mcreplay.results/1');
    const sent: Record<string, number> = {};
    for (const [cmd, c] of Object.entries(r.summary.perCommand)) sent[cmd] = c.counters.sent;
    expect(sent).toEqual(MIXED_COUNTS);
    const total = r.summary.total.counters;
    expect(errorSum(total)).toBe(0);
    expect(total.completed).toBe(total.sent);
    expect(accounted(total)).toBe(r.config.options.shapedRequests);
    // the product's own check of the identity (src/metrics/counters.ts) agrees with the sums above
    expect(resultsAccountingGaps(r)).toEqual([]);
    expect(r.config.options.warnings).toEqual([]);
    expect(r.capture.requests).toBe(Object.values(MIXED_COUNTS).reduce((a, b) => a + b, 0));

    // memcached's own counters say the same
    const after = await mcStats(mc.address);
    const d = (k: string): number => after[k]! - before[k]!;
    // sets: set a, set n (noreply), ms m1, binary set b1
    expect(d('cmd_set')).toBe(4);
    const hits = Object.values(r.summary.perCommand).reduce((a, c) => a + c.counters.hits, 0);
    const misses = Object.values(r.summary.perCommand).reduce((a, c) => a + c.counters.misses, 0);
    expect(hits).toBe(d('get_hits'));
    expect(misses).toBe(d('get_misses'));
    expect(d('delete_hits') + d('delete_misses')).toBe(2);

    // latencies are real nanoseconds, not zero
    expect(r.summary.perCommand.get!.response.count).toBe(4);
    expect(r.summary.perCommand.get!.service.p50).toBeGreaterThan(1000);
    expect(r.summary.total.response.p50).toBeGreaterThanOrEqual(r.summary.total.service.p50);
    // the captured side is reported next to the replay
    expect(r.captured.get!.count).toBe(4);
    // 0.1 ms between request and answer in the capture (HdrHistogram keeps 3 digits)
    expect(Math.abs(r.captured.get!.latency!.p50 - 100_000)).toBeLessThan(200);
  });
});
