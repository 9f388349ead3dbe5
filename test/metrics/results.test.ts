import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { cpus, hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { McError, ExitCode } from '../../src/errors.js';
import { initMetrics } from '../../src/metrics/histogram.js';
import { IntervalRecorder } from '../../src/metrics/recorder.js';
import { Aggregator } from '../../src/metrics/aggregate.js';
import { assembleResults, captureBase, environment, makeRunId, readResults, writeResults } from '../../src/metrics/results.js';
import type { ResultsFile } from '../../src/metrics/results-types.js';

let dir = '';
beforeAll(async () => {
  await initMetrics();
  dir = mkdtempSync(join(tmpdir(), 'mcreplay-results-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function sample(id: string): ResultsFile {
  const rec = new IntervalRecorder({ eventLoop: false });
  const agg = new Aggregator({ workers: 1, rate: { mode: 'factor', factor: 2 } });
  rec.count('get', 'sent', 2);
  rec.count('get', 'completed', 2);
  rec.record('get', 40_000, 30_000);
  rec.record('get', 60_000, 50_000);
  agg.add(rec.snapshot(0));
  rec.destroy();
  const a = agg.finish(1e9);
  return assembleResults({
    run: { id, startedAt: '2026-11-21T01:30:00.000Z', endedAt: '2026-11-21T01:30:01.000Z', ...environment(['replay', 'x.pcap']), replayCpu: null },
    config: {
      rate: { mode: 'factor', factor: 2 },
      targets: [{ target: '127.0.0.1:11211', from: ['*'] }],
      hash: 'none',
      warmup: { ns: null, requests: null },
      loop: false,
      durationNs: null,
      clone: 1,
      ttlScale: 2,
      filters: {},
      allow: [],
      workers: 1,
      timeoutNs: 1e9,
      options: {},
    },
    capture: { path: 'captures/prod.pcap', name: 'prod.pcap', sha256: '0'.repeat(64), bytes: 1, durationNs: 2e9, connections: 1, requests: 2, replayable: 2 },
    intervalNs: a.intervalNs,
    commands: a.commands,
    intervals: a.intervals,
    summary: a.summary,
    steps: a.steps,
    captured: {},
    targetStats: [],
    verdict: { status: 'pass', reasons: [], saturated: false, checks: [], exitCode: 0 },
  });
}

function expectUsage(p: Promise<unknown>, mention: RegExp): Promise<void> {
  return p.then(
    () => {
      throw new Error('expected an McError');
    },
    (e: unknown) => {
      expect(e).toBeInstanceOf(McError);
      expect((e as McError).exitCode).toBe(ExitCode.usage);
      expect((e as McError).message).toMatch(mention);
    },
  );
}

describe('results file', () => {
  it('run ids: UTC stamp and capture base, unique within a reports directory', () => {
    const d = new Date(Date.UTC(2026, 10, 21, 1, 30, 0));
    expect(makeRunId('captures/prod.pcap.gz', d)).toBe('20261121-013000-prod');
    expect(captureBase('/x/My Capture (1).pcapng')).toBe('My_Capture_1_');
    // a capture read from a pipe: 20261121-013000-stdin, not 20261121-013000--
    expect(makeRunId('-', d)).toBe('20261121-013000-stdin');
    mkdirSync(join(dir, 'reports', '20261121-013000-prod'), { recursive: true });
    expect(makeRunId('prod.pcap', d, join(dir, 'reports'))).toBe('20261121-013000-prod-2');
  });

  it('environment describes this machine', () => {
    const e = environment(['replay']);
    expect(e).toMatchObject({ host: hostname(), node: process.version, cpus: cpus().length, argv: ['replay'] });
  });

  it('writes reports/<run-id>/results.json atomically and reads it back', async () => {
    const r = sample('20261121-013000-prod');
    const path = await writeResults(r, join(dir, 'out'));
    expect(path).toBe(join(dir, 'out', '20261121-013000-prod', 'results.json'));
    expect(readdirSync(join(dir, 'out', '20261121-013000-prod'))).toEqual(['results.json']); // no temp file left
    const back = await readResults(path);
    expect(back).toEqual(JSON.parse(JSON.stringify(r)));
    expect(back.schema).toBe('mcreplay.results/1');
    expect(back.summary.total.response.count).toBe(2);
  });

  it('rejects missing, corrupt, foreign, old and incomplete files with a clear McError', async () => {
    const good = JSON.parse(JSON.stringify(sample('r')));
    const write = (name: string, text: string): string => {
      const p = join(dir, name);
      writeFileSync(p, text);
      return p;
    };
    await expectUsage(readResults(join(dir, 'nope.json')), /no such file/);
    await expectUsage(readResults(write('trunc.json', JSON.stringify(good).slice(0, 200))), /not JSON/);
    await expectUsage(readResults(write('foreign.json', '{"hello":1}')), /not an mcreplay results file/);
    await expectUsage(readResults(write('old.json', JSON.stringify({ ...good, schema: 'mcreplay.results/0' }))), /older mcreplay.*results\/0/);
    await expectUsage(readResults(write('new.json', JSON.stringify({ ...good, schema: 'mcreplay.results/7' }))), /newer mcreplay/);
    const broken = JSON.parse(JSON.stringify(good));
    broken.intervals[0].total.response = 'garbage';
    delete broken.summary.total;
    await expectUsage(readResults(write('broken.json', JSON.stringify(broken))), /corrupt.*intervals\[0\]\.total.*summary\.total/);
    expect(readFileSync(join(dir, 'broken.json'), 'utf8').length).toBeGreaterThan(0);
  });
});
