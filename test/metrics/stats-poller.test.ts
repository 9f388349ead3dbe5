import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from 'node:net';
import { freePort, startMemcached, type Memcached } from '../helpers/memcached.js';
import { waitFor } from '../helpers/wait.js';
import { StatsPoller, fetchStats, parseStats } from '../../src/metrics/stats-poller.js';

/** Sends raw text and waits until the answer ends with `until`. */
function send(m: Memcached, text: string, until: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: m.host, port: m.port }, () => s.write(text));
    let got = '';
    s.on('error', reject);
    s.on('data', (d) => {
      got += d.toString('latin1');
      if (until.test(got)) {
        s.destroy();
        resolve(got);
      }
    });
  });
}

let a: Memcached;
let b: Memcached;
beforeAll(async () => {
  [a, b] = await Promise.all([startMemcached({ memoryMb: 32 }), startMemcached({ memoryMb: 16 })]);
});
afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
});

describe('stats poller', () => {
  it('parses numeric STAT lines and skips text ones', () => {
    const v = parseStats('STAT pid 12\r\nSTAT version 1.6.18\r\nSTAT rusage_user 0.123456\r\nSTAT curr_items 5\r\nSTAT libevent 2.1.12-stable\r\n');
    expect(v).toEqual({ pid: 12, rusage_user: 0.123456, curr_items: 5 });
  });

  it('reads what real memcached reports', async () => {
    let sets = '';
    for (let i = 0; i < 25; i++) sets += `set k${i} 0 0 3\r\nabc\r\n`;
    await send(a, sets, /(STORED\r\n){25}$/);
    await send(a, 'get k1 k2 nope\r\n', /END\r\n$/);
    const v = await fetchStats(a.address);
    expect(v.curr_items).toBe(25);
    expect(v.cmd_set).toBe(25);
    expect(v.get_hits).toBe(2);
    expect(v.get_misses).toBe(1);
    expect(v.limit_maxbytes).toBe(32 * 1024 * 1024);
    expect(v.curr_connections).toBeGreaterThanOrEqual(1);
    for (const k of ['bytes', 'evictions', 'total_connections', 'cmd_get', 'cmd_touch', 'uptime']) expect(typeof v[k], k).toBe('number');
  });

  it('polls every target each interval over one connection each, and survives a dead target', async () => {
    const dead = `127.0.0.1:${await freePort()}`;
    const errors: string[] = [];
    const t0 = process.hrtime.bigint();
    const poller = new StatsPoller({
      targets: [a.address, b.address, dead],
      intervalMs: 100,
      clock: () => Number(process.hrtime.bigint() - t0),
      onError: (t) => errors.push(t),
      onSample: (t, smp) => (seen[t] ??= []).push(smp.values.curr_items ?? -1),
    });
    const seen: Record<string, number[]> = {};
    poller.start();
    // two polls of every live target and a failed one of the dead target, then an item set on b ...
    await waitFor('two samples of a and b and an error on the dead target', () => (seen[a.address]?.length ?? 0) >= 2 && (seen[b.address]?.length ?? 0) >= 2 && errors.length > 0);
    await send(b, 'set x 0 0 1\r\n1\r\n', /STORED\r\n/);
    // ... and a later poll of b that sees it, a third of a
    await waitFor('a sample of b with the item, a third of a', () => (seen[b.address]?.at(-1) ?? 0) === 1 && (seen[a.address]?.length ?? 0) >= 3);
    const res = await poller.stop();
    expect(res.map((r) => r.target)).toEqual([a.address, b.address, dead]);
    const [sa, sb, sd] = res.map((r) => r.samples);
    expect(sa!.length).toBeGreaterThanOrEqual(3);
    expect(sd).toHaveLength(0);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.every((e) => e === dead)).toBe(true);
    // samples are in time order, and b's last sample shows the item set mid-run
    for (let i = 1; i < sb!.length; i++) expect(sb![i]!.tNs).toBeGreaterThan(sb![i - 1]!.tNs);
    expect(sb![0]!.values.curr_items).toBe(0);
    expect(sb![sb!.length - 1]!.values.curr_items).toBe(1);
    expect(sb![sb!.length - 1]!.values.limit_maxbytes).toBe(16 * 1024 * 1024);
    // one connection for all polls: total_connections grows only by the test's own `send`
    const first = sb![0]!.values.total_connections!;
    expect(sb![sb!.length - 1]!.values.total_connections! - first).toBe(1);
  });

  it('a long run keeps flat memory: samples are thinned by half at the bound, the latest and the final poll are kept', async () => {
    const t0 = process.hrtime.bigint();
    // the poller reads the clock once per poll: that counts the polls
    let polls = 0;
    const clock = (): number => {
      polls++;
      return Number(process.hrtime.bigint() - t0);
    };
    const poller = new StatsPoller({ targets: [a.address], intervalMs: 10, clock, maxKept: 8 });
    poller.start();
    // 40 polls, five times the bound (waited for with a deadline, no fixed sleep)
    const deadline = Date.now() + 20_000;
    while (polls < 40 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(polls).toBeGreaterThanOrEqual(40);
    const [res] = await poller.stop();
    const s = res!.samples;
    // bounded, in time order, spread over the whole run (the first sample is the first poll)
    expect(s.length).toBeLessThanOrEqual(8);
    expect(s.length).toBeGreaterThanOrEqual(3);
    for (let i = 1; i < s.length; i++) expect(s[i]!.tNs).toBeGreaterThan(s[i - 1]!.tNs);
    // the last sample is the final poll of stop(), the one latest() holds
    expect(poller.latest()[0]!.values.uptime).toBe(s[s.length - 1]!.values.uptime);
    expect(s[s.length - 1]!.tNs).toBeGreaterThan(s[0]!.tNs);
  });
});
