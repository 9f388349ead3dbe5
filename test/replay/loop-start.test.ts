// An open-ended --loop of a small capture: the look-ahead is not filled before t0 (that read the
// capture tens of thousands of times, some 40 s, before the first request went out); the first pass
// is read, the clock starts, and the passes are read on at the pace they are sent. Seen from the
// target: memcached's own command counters move about as soon after the start as they do for the
// same capture replayed once (the baseline of the same machine, measured in the same test).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useMemcached } from '../helpers/memcached.js';
import { waitFor } from '../helpers/wait.js';
import { QUIET, collect, mcStats, spawnReplay } from './helpers.js';

// 30 requests in 43 ms (pymemcache, scripts/make-captures.sh): a loop at 1x runs ~700 requests/s
const FIXTURE = join(import.meta.dirname, '../../captures/fixtures/basic.pcap');
const PER_PASS = 30;

const mc = useMemcached();
let out: string;
beforeAll(() => {
  out = mkdtempSync(join(tmpdir(), 'mcr-loop-start-'));
});
afterAll(() => {
  rmSync(out, { recursive: true, force: true });
});

/** get + set commands memcached has served so far (its own counters). */
async function served(): Promise<number> {
  const s = await mcStats(mc.address);
  return (s.cmd_get ?? 0) + (s.cmd_set ?? 0);
}

/** Starts `replay FIXTURE args`; resolves with how long after the spawn memcached saw its first get or set, and the running child. */
async function firstRequest(args: string[]): Promise<{ ms: number; run: ReturnType<typeof collect>; kill: () => void }> {
  const before = await served();
  const at = Date.now();
  const p = spawnReplay([FIXTURE, '--target', mc.address, ...args, '--json', '--no-progress', '--out', out, ...QUIET]);
  const run = collect(p);
  let exited = false;
  void run.then(() => (exited = true));
  await waitFor('memcached to see the first replayed request', async () => exited || (await served()) > before, 90_000);
  expect(exited, 'the replay ended before any request reached memcached').toBe(false);
  return { ms: Date.now() - at, run, kill: () => p.kill('SIGTERM') };
}

describe('--loop start', () => {
  it('an open-ended loop of a small capture sends its first request as soon as a single replay does, and reads on at the pace it sends', async () => {
    // the baseline: the same capture replayed once, whole look-ahead read before t0 (one pass)
    const before = await served();
    const once = await firstRequest([]);
    const base = await once.run;
    expect(base.code, base.stderr).toBe(0);
    // what memcached counts for one pass (a multi-key get counts once per key: more than PER_PASS)
    const perPass = (await served()) - before;
    expect(perPass).toBeGreaterThanOrEqual(PER_PASS);

    const loop = await firstRequest(['--loop', '--duration', '30m']);
    // the first request left about as soon as in the single replay (the old look-ahead fill took ~40 s)
    expect(loop.ms, `loop ${loop.ms} ms vs once ${once.ms} ms`).toBeLessThan(once.ms + 3000);
    // let it run some passes (the target's own count), then stop it
    const mark = await served();
    await waitFor('21 more passes at memcached', async () => (await served()) >= mark + 21 * perPass, 30_000);
    loop.kill();
    const r = await loop.run;
    expect(r.code, r.stderr).toBe(143);
    const res = r.results!;
    expect(res.config.loop).toBe(true);
    expect(res.config.options.passes as number).toBeGreaterThan(20);
    // the look-ahead stayed a few seconds of schedule (10 s at most, ~7,000 requests), not the
    // 1,000,000-request bound: what was read and not sent when it stopped
    const t = res.summary.total.counters;
    // (memcached counts a multi-key get once per key: its count runs ahead of the requests sent)
    expect(t.sent).toBeGreaterThan(10 * PER_PASS);
    expect(t.unsent).toBeLessThan(12 * 1000 * (PER_PASS / 43) + 2 * PER_PASS);
  }, 180_000);
});
