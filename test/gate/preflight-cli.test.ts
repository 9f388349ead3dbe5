// Mistakes `replay` catches before any load (exit 2, nothing sent: the target's own counters prove
// it), what it says before the load about a ramp the capture cannot feed, what it carries from the
// capture and the target into the summary, and where a finished run goes when --out fails.
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { useMemcached } from '../helpers/memcached.js';
import { fetchStats } from '../../src/metrics/stats-poller.js';
import { ensureBuilt } from './build.js';
import { makeResults } from './fixtures.js';
import type { ResultsFile } from '../../src/metrics/results-types.js';

const root = resolve(import.meta.dirname, '../..');
const sample = join(root, 'captures/sample.pcap');
const tmp = mkdtempSync(join(tmpdir(), 'mcreplay-preflight-'));
const LOOSE = ['--max-lag', '60s', '--max-stall', '60s', '--no-png', '--no-html'];
const mc = useMemcached();

function mcreplay(args: string[], onErr?: (err: string) => void): Promise<{ code: number | null; out: string; err: string }> {
  const p = spawn(process.execPath, [join(root, 'bin/mcreplay.js'), ...args], { cwd: tmp, env: { ...process.env, GITHUB_STEP_SUMMARY: '' } });
  let out = '';
  let err = '';
  p.stdout.on('data', (d: Buffer) => (out += d.toString()));
  p.stderr.on('data', (d: Buffer) => {
    err += d.toString();
    onErr?.(err);
  });
  return new Promise((r) => p.on('exit', (code) => r({ code, out, err })));
}

/** Requests the target has counted (gets, sets, touches, deletes ...). */
async function served(): Promise<number> {
  const s = await fetchStats(mc.address);
  return (s.cmd_get ?? 0) + (s.cmd_set ?? 0) + (s.cmd_touch ?? 0) + (s.delete_misses ?? 0) + (s.delete_hits ?? 0);
}

beforeAll(async () => {
  await ensureBuilt(root);
}, 180_000);

describe('errors caught before any load', () => {
  it('a bad --out, a cmd tag naming no command, a baseline of another rate: exit 2, nothing sent', async () => {
    const before = await served();
    const file = join(tmp, 'in-the-way');
    writeFileSync(file, 'x');
    const bad = await mcreplay(['replay', sample, '--target', mc.address, '--out', file, ...LOOSE]);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--out .*in-the-way: cannot write the reports there \(a file of that name is in the way\); nothing was sent/);
    expect(bad.err).not.toMatch(/\n\s+at /); // no stack trace

    const tag = await mcreplay(['replay', sample, '--target', mc.address, '--threshold', 'latency{cmd=gett}.p99 < 2ms', '--out', tmp, ...LOOSE]);
    expect(tag.code).toBe(2);
    expect(tag.err).toMatch(/cmd=gett is not a memcached command \(did you mean 'get'\?\)/);

    const base = join(tmp, 'base-2x.json');
    writeFileSync(base, JSON.stringify(makeResults([{ perCommand: { get: { response: [1000] } } }], { rate: { mode: 'factor', factor: 2 } })));
    const other = await mcreplay(['replay', sample, '--target', mc.address, '--baseline', base, '--out', tmp, ...LOOSE]);
    expect(other.code).toBe(2);
    expect(other.err).toMatch(/--baseline .* is not comparable with this run, nothing was sent/);
    expect(other.err).toMatch(/rate differs: baseline 2x vs current 1x/);

    // --noise-band is read as merge and compare read it (it used to become NaN here)
    const noise = await mcreplay(['replay', sample, '--target', mc.address, '--baseline', base, '--noise-band', 'lots', '--out', tmp, ...LOOSE]);
    expect(noise.code).toBe(2);
    expect(noise.err).toMatch(/bad --noise-band 'lots': expected a percentage like 5%/);
    // the target's own counters: not one request reached it
    expect(await served()).toBe(before);
  }, 60_000);
});

describe('what the summary carries', () => {
  it('a target that already holds data is read before the load and warned about', async () => {
    // 25 items put there by hand: the truth the summary must show
    await new Promise<void>((res, rej) => {
      const s = connect(mc.port, mc.host);
      let got = '';
      s.on('data', (d) => {
        got += d.toString();
        if ((got.match(/STORED\r\n/g) ?? []).length === 25) s.end(() => res());
      });
      s.on('error', rej);
      for (let i = 0; i < 25; i++) s.write(`set preload:${i} 0 0 1\r\nx\r\n`);
    });
    const items = (await fetchStats(mc.address)).curr_items!;
    const r = await mcreplay(['replay', sample, '--target', mc.address, '--rate', '10x', '--out', join(tmp, 'full'), ...LOOSE]);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(new RegExp(`warning: target\\(s\\) already hold data: ${mc.address} \\(${items} items`));
    expect(r.out).toMatch(/WARNING: target\(s\) already held data before the load/);
    const path = /^results: (.+)$/m.exec(r.out)![1]!;
    const res = JSON.parse(readFileSync(path, 'utf8')) as ResultsFile;
    expect(res.targetState?.[0]?.before?.curr_items).toBe(items);
    expect(res.targetState?.[0]?.after?.curr_items).toBeGreaterThan(items);
    // compare flags runs whose targets started in different states
    const empty = structuredClone(res);
    empty.targetState![0]!.before!.curr_items = 0;
    const emptyPath = join(tmp, 'empty-start.json');
    writeFileSync(emptyPath, JSON.stringify(empty));
    const cmp = await mcreplay(['compare', emptyPath, path]);
    expect(cmp.out).toMatch(/WARNING: the targets started in different states: baseline 0 items, current \d+ items/);
  }, 60_000);

  it('a capture cut short says so in the summary and results.json', async () => {
    const cut = join(tmp, 'cut.pcap');
    copyFileSync(sample, cut);
    truncateSync(cut, statSync(sample).size - 37);
    const r = await mcreplay(['replay', cut, '--target', mc.address, '--rate', '10x', '--out', join(tmp, 'cut'), ...LOOSE]);
    expect(r.out).toMatch(/^capture: the capture is cut short/m);
    const res = JSON.parse(readFileSync(/^results: (.+)$/m.exec(r.out)![1]!, 'utf8')) as ResultsFile;
    expect(res.captureQuality?.cutShort).toBe(true);
    const whole = await mcreplay(['replay', sample, '--target', mc.address, '--rate', '10x', '--out', join(tmp, 'whole'), ...LOOSE]);
    expect(whole.out).not.toMatch(/^capture: /m);
  }, 60_000);

  it('a ramp the capture cannot feed: which steps fit, before the load; the per-step table after', async () => {
    // 10 s of capture; steps of 1 s at 2x, 4x, 6x, 8x need 2 + 4 + 6 + 8 = 20 s: 2x and 4x fit, 6x 67 %
    const r = await mcreplay(['replay', sample, '--target', mc.address, '--rate', '2x..8x', '--step', '2x', '--step-duration', '1s', '--out', join(tmp, 'ramp'), ...LOOSE]);
    expect(r.code, r.err).toBe(0);
    const warn = r.err.indexOf('warning: the ramp needs');
    expect(warn).toBeGreaterThanOrEqual(0);
    expect(warn).toBeLessThan(r.err.indexOf('mcreplay: replaying'));
    expect(r.err).toMatch(/steps that fit: 2x, 4x; 6x only 6\d%/);
    expect(r.err).toMatch(/add --loop/);
    expect(r.out).toMatch(/^ramp steps:/m);
    expect(r.out).toMatch(/the ramp stopped at 6x of 8x/);
  }, 60_000);
});

describe('a finished run is never lost', () => {
  it('when --out disappears during the run, the results go to a temp dir, and stderr says where', async () => {
    const out = join(tmp, 'vanishing');
    const r = await mcreplay(['replay', sample, '--target', mc.address, '--rate', '4x', '--out', out, ...LOOSE], (err) => {
      if (err.includes('mcreplay: replaying') && !existsSync(join(tmp, 'vanished'))) {
        writeFileSync(join(tmp, 'vanished'), '');
        rmSync(out, { recursive: true, force: true });
        writeFileSync(out, 'now a file');
      }
    });
    expect(r.code, r.err).toBe(0);
    const m = /could not write the results under .*vanishing .*; they are written to (\S+) instead/.exec(r.err);
    expect(m, r.err).not.toBeNull();
    expect(existsSync(join(m![1]!, 'results.json'))).toBe(true);
    expect(r.out).toContain(join(m![1]!, 'results.json'));
  }, 60_000);
});
