// A long replay's rolling results (MCREPLAY_CHECKPOINT in seconds): an open-ended `replay --loop`
// appends latency.hlog interval by interval and rewrites results.json atomically every checkpoint,
// so a kill -9 loses at most a checkpoint period. Judged against the target's own `stats` (what it
// received) and the capture's known rate; a SIGINT'ed run keeps its appended hlog at exit.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as hdr from 'hdr-histogram-js';
import { useMemcached } from '../helpers/memcached.js';
import { waitFor } from '../helpers/wait.js';
import { QUIET, collect, mcStats, spawnReplay, tempDir, writeCapture } from './helpers.js';
import type { Interval, ResultsFile } from '../../src/metrics/results-types.js';

const tmp = tempDir();
const mc = useMemcached({ each: true });
afterAll(() => tmp.cleanup());

// one connection, a set then a get every 10 ms for a second: 200 requests a pass, 200 a second at 1x
const PER_PASS = 200;
function capture(name: string): string {
  const steps = [];
  for (let i = 0; i < PER_PASS / 2; i++) {
    const v = `v${i}`;
    steps.push({ t: i * 10, dir: 0 as const, data: `set k${i} 0 0 ${v.length}\r\n${v}\r\n` }, { t: i * 10 + 0.1, dir: 1 as const, data: 'STORED\r\n' });
    steps.push({ t: i * 10 + 5, dir: 0 as const, data: `get k${i}\r\n` }, { t: i * 10 + 5.1, dir: 1 as const, data: `VALUE k${i} 0 ${v.length}\r\n${v}\r\nEND\r\n` });
  }
  return writeCapture(tmp.dir, name, [{ cport: 40001, steps, closeAt: 999 }]);
}
const ENV = { MCREPLAY_CHECKPOINT: '1s', MCREPLAY_ROLLUP: '4s:2s' };
// an endless loop would otherwise read up to the look-ahead bound (1M requests) before t0
const LOOP = ['--loop', '--look-ahead', '2s'];

function runDir(out: string): string | null {
  const d = existsSync(out) ? readdirSync(out)[0] : undefined;
  return d === undefined ? null : join(out, d);
}
/** results.json as on disk now (null if absent; a torn file throws and fails the test). */
function readResults(out: string): ResultsFile | null {
  const d = runDir(out);
  return d !== null && existsSync(join(d, 'results.json')) ? (JSON.parse(readFileSync(join(d, 'results.json'), 'utf8')) as ResultsFile) : null;
}
/** Requests per tag in latency.hlog as HistogramLogReader reads it. */
function hlogCounts(out: string): Map<string, number> {
  const reader = new hdr.HistogramLogReader(readFileSync(join(runDir(out)!, 'latency.hlog'), 'utf8'), 64, false);
  const by = new Map<string, number>();
  for (let h = reader.nextIntervalHistogram(); h; h = reader.nextIntervalHistogram()) {
    by.set(h.tag ?? '', (by.get(h.tag ?? '') ?? 0) + h.totalCount);
    h.destroy();
  }
  return by;
}
const sum = (ivs: Interval[], f: (iv: Interval) => number): number => ivs.reduce((n, iv) => n + f(iv), 0);
const checkpointAt = (r: ResultsFile | null): number | null => (r?.config.options as { checkpoint?: { atNs: number } } | undefined)?.checkpoint?.atNs ?? null;

describe('replay: rolling results of an open-ended run', () => {
  it('kill -9 mid-run: results.json and latency.hlog on disk are whole and cover the run up to the last checkpoint (vs the target\'s stats)', async () => {
    const out = join(tmp.dir, 'kill9');
    const p = spawnReplay([capture('kill9.pcap'), '--target', mc.address, ...LOOP, ...QUIET, '--json', '--no-progress', '--out', out], ENV);
    const ended = collect(p);
    try {
      // two checkpoints a second apart at least, the later one past a couple of passes
      let first: number | null = null;
      await waitFor('a first checkpoint', () => (first = checkpointAt(readResults(out))) !== null, 30_000);
      let last: ResultsFile | null = null;
      await waitFor('a later checkpoint holding 3 passes and a rolled-up interval', () => {
        const r = readResults(out);
        const at = checkpointAt(r);
        if (at === null || at <= first! || sum(r!.intervals, (iv) => iv.total.counters.completed) < 3 * PER_PASS) return false;
        if (!r!.intervals.some((iv) => iv.endNs - iv.startNs === 2e9)) return false;
        last = r;
        return true;
      }, 30_000);
      const seenAt = Date.now();
      p.kill('SIGKILL');
      const end = await ended;
      const killedAfterMs = Date.now() - seenAt;
      expect(end.signal).toBe('SIGKILL');
      const r = readResults(out)!;
      // the file on disk is a whole checkpoint (maybe one written after `last`), said to be one
      expect(r.verdict.status).toBe('interrupted');
      expect(r.verdict.reasons.join(' ')).toMatch(/checkpoint at \d+ s: the replay was still running/);
      expect(checkpointAt(r)!).toBeGreaterThanOrEqual(checkpointAt(last)!);
      expect(r.config.loop).toBe(true);
      // intervals contiguous from the start up to about the checkpoint (closed intervals only)
      expect(r.intervals[0]!.startNs).toBe(0);
      for (let i = 1; i < r.intervals.length; i++) expect(r.intervals[i]!.startNs).toBe(r.intervals[i - 1]!.endNs);
      expect(r.intervals.at(-1)!.endNs).toBeGreaterThan(checkpointAt(r)! - 2.5e9);
      // rolled up exactly: the older intervals are 2 s wide, the summary is their sum
      expect(r.intervals.some((iv) => iv.endNs - iv.startNs === 2e9)).toBe(true);
      const completed = sum(r.intervals, (iv) => iv.total.counters.completed);
      expect(r.summary.total.counters.completed).toBe(completed);

      // the target's own count of what it received: the checkpoint holds no request it never got,
      // and misses at most what 200 requests/s send in the last checkpoint period, the last open
      // interval and the time to the kill (plus one pass of slack for a busy machine)
      const st = await mcStats(mc.address);
      const set = r.summary.perCommand.set!.counters.completed;
      const get = r.summary.perCommand.get!.counters.completed;
      expect(set + get).toBe(completed);
      expect(set).toBeLessThanOrEqual(st.cmd_set!);
      expect(get).toBeLessThanOrEqual(st.cmd_get!);
      const received = st.cmd_set! + st.cmd_get!;
      const lostS = 1 + 1 + killedAfterMs / 1000 + 1;
      expect(received - completed).toBeLessThanOrEqual(Math.ceil(lostS * 200) + PER_PASS);
      // the checkpoint says how far the run had got: about the target's count at the capture's rate
      expect(completed).toBeGreaterThanOrEqual(3 * PER_PASS);

      // latency.hlog parses and holds at least the checkpoint's requests (appended per interval, at
      // 1 s resolution), never more than the target received
      const h = hlogCounts(out);
      expect(h.get('total')!).toBeGreaterThanOrEqual(completed);
      expect(h.get('total')!).toBeLessThanOrEqual(received);
      expect(h.get('get')! + h.get('set')!).toBe(h.get('total')!);
    } finally {
      if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    }
  }, 90_000);

  it('SIGINT: the final results.json replaces the checkpoints; the appended latency.hlog holds the same requests', async () => {
    const out = join(tmp.dir, 'sigint');
    const p = spawnReplay([capture('sigint.pcap'), '--target', mc.address, ...LOOP, ...QUIET, '--json', '--no-progress', '--out', out], ENV);
    const ended = collect(p);
    try {
      await waitFor('a checkpoint with a rolled-up interval', () => (readResults(out)?.intervals ?? []).some((iv) => iv.endNs - iv.startNs === 2e9), 30_000);
      p.kill('SIGINT');
      const end = await ended;
      expect(end.code).toBe(130);
      const r = end.results!;
      expect(end.json!.results).toBe(join(runDir(out)!, 'results.json'));
      expect(checkpointAt(r)).toBeNull();
      expect(r.verdict.reasons.join(' ')).toMatch(/interrupted by SIGINT/);
      const completed = sum(r.intervals, (iv) => iv.total.counters.completed);
      expect(r.summary.total.counters.completed).toBe(completed);
      // the hlog kept its 1 s lines (not rewritten from the rolled-up intervals) and every request
      const h = hlogCounts(out);
      expect(h.get('total')).toBe(completed);
      const lines = readFileSync(join(runDir(out)!, 'latency.hlog'), 'utf8').split('\n').filter((l) => /^(Tag=total,)/.test(l));
      expect(lines.length).toBeGreaterThan(r.intervals.length);
      const st = await mcStats(mc.address);
      expect(completed).toBeLessThanOrEqual(st.cmd_set! + st.cmd_get!);
    } finally {
      if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    }
  }, 90_000);
});
