// Rate modes (max, ramp), loop/duration, warm-up, pools, safety refusals, saturation, UDP holds and
// target authentication, against real memcached (and pymemcache as the truth for key placement).
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, memcachedBinary, startMemcached, useMemcached } from '../helpers/memcached.js';
import { LINKTYPE, ethernet, ipv4, pcapFile, udp } from '../helpers/pcap-writer.js';
import { QUIET, accounted, errorSum, mcGet, mcStats, replay, steadyGets, tempDir, writeCapture, type ConvSpec } from './helpers.js';
import { MIXED, MIXED_COUNTS } from './mixed.js';

const tmp = tempDir();
const mc = useMemcached();
afterAll(() => tmp.cleanup());

describe('rate modes', () => {
  it('--rate max replays every request closed-loop and says it is capacity mode', async () => {
    const cap = writeCapture(tmp.dir, 'max.pcap', MIXED);
    const run = await replay([cap, '--target', mc.address, '--rate', 'max', ...QUIET], tmp.dir);
    expect(run.code).toBe(0);
    const r = run.results!;
    expect(r.config.rate).toEqual({ mode: 'max' });
    expect(run.json!.mode).toMatch(/capacity/);
    const sent = Object.fromEntries(Object.entries(r.summary.perCommand).map(([k, v]) => [k, v.counters.sent]));
    expect(sent).toEqual(MIXED_COUNTS);
    expect(errorSum(r.summary.total.counters)).toBe(0);
  });

  it('a ramp reports each step separately', async () => {
    const cap = writeCapture(tmp.dir, 'ramp.pcap', steadyGets(1, 3, 10));
    const run = await replay([cap, '--target', mc.address, '--rate', '1x..2x', '--step', '1x', '--step-duration', '1s', ...QUIET], tmp.dir);
    expect(run.code).toBe(0);
    const r = run.results!;
    expect(r.config.rate).toEqual({ mode: 'ramp', from: 1, to: 2, step: 1, stepDurationNs: 1e9 });
    expect(r.steps.map((s) => s.rateFactor)).toEqual([1, 2]);
    // step 0 replays 1 s of capture at 1x, step 1 the other 2 s at 2x: about 100 and 200 requests
    expect(r.steps[0]!.total.counters.sent).toBeGreaterThan(80);
    expect(r.steps[1]!.total.counters.sent).toBeGreaterThan(160);
    expect(r.summary.total.counters.sent).toBe(r.capture.requests);
  });

  it('--duration without --loop stops sending and counts every request of the rest of the capture as unsent', async () => {
    const convs = steadyGets(2, 2, 10);
    const inCapture = convs.reduce((n, c) => n + c.steps.filter((s) => s.dir === 0).length, 0);
    const cap = writeCapture(tmp.dir, 'duration.pcap', convs);
    const run = await replay([cap, '--target', mc.address, '--duration', '500ms', ...QUIET], tmp.dir);
    expect(run.code).toBe(0);
    const r = run.results!;
    const t = r.summary.total.counters;
    expect(r.config.options.stopReason).toBe('duration');
    // 0.5 s of a 2 s capture sent (about a quarter; less when the machine stalls), the rest read on
    // and counted
    expect(t.sent).toBeGreaterThan(0);
    expect(t.sent).toBeLessThan(0.5 * inCapture);
    expect(t.sent + t.unsent).toBe(inCapture);
    expect(r.config.options.unsentScope).toBe('capture');
    expect(r.config.options.captureFullyRead).toBe(true);
  });

  it('--loop --duration replays the capture again until the time is up; --warmup is kept out of the summary', async () => {
    const cap = writeCapture(tmp.dir, 'loop.pcap', steadyGets(1, 0.5, 10));
    const run = await replay([cap, '--target', mc.address, '--loop', '--duration', '2500ms', '--warmup', '1s', '--poll-stats', '500ms', ...QUIET], tmp.dir);
    expect(run.code).toBe(0);
    const r = run.results!;
    // the target's own counters, polled during the run
    const samples = r.targetStats[0]!.samples;
    expect(samples.length).toBeGreaterThanOrEqual(3);
    expect(samples.at(-1)!.values.cmd_get! - samples[0]!.values.cmd_get!).toBeGreaterThan(100);
    expect(r.config.options.stopReason).toBe('duration');
    expect(r.config.options.passes).toBeGreaterThanOrEqual(4);
    const all = r.intervals.reduce((a, iv) => a + iv.total.counters.sent, 0);
    expect(all).toBeGreaterThan(200);
    expect(r.intervals[0]!.warmup).toBe(true);
    // requests still in flight when the warm-up ended are answered in the summary, which counts them
    // as sent too (aggregate.ts carryInFlight)
    const w0 = r.intervals[0]!.total.counters;
    const inFlight = Math.max(0, w0.sent - w0.completed - errorSum(w0));
    expect(r.summary.total.counters.sent).toBe(all - w0.sent + inFlight);
    const total = r.intervals.reduce((a, iv) => a + accounted(iv.total.counters), 0);
    expect(total).toBe(r.config.options.shapedRequests);
    // a looped workload has no end: unsent counts what was read and not sent
    expect(r.config.options.unsentScope).toBe('read');
  });

  // The run's end (--duration, a ramp's end) is a timer of the coordinator's thread; the workers drain
  // what was queued before it without waiting for it. When nothing of the schedule is queued past the
  // end, or the machine is loaded enough to make that timer late, they drained first, and the run was
  // taken for one that had run its whole workload: 'complete' (a --loop --duration run at load 14),
  // with the unsent check failing the verdict (exit 99).
  it('a schedule cut by a ramp end or --duration ends with that reason though its workers drain before the stop timer', async () => {
    // a ramp shorter than the capture: its last request comes 5 ms before the end, nothing is queued after it
    const convs = steadyGets(1, 5, 10);
    const inCapture = convs.reduce((n, c) => n + c.steps.filter((s) => s.dir === 0).length, 0);
    const ramp = writeCapture(tmp.dir, 'ramp-cut.pcap', convs);
    const run = await replay([ramp, '--target', mc.address, '--rate', '1x..2x', '--step', '1x', '--step-duration', '1s', ...QUIET], tmp.dir);
    const r = run.results!;
    expect(r.config.options.stopReason).toBe('ramp-end');
    expect(run.code, run.stderr).toBe(0);
    // 1 s of capture at 1x, 2 s at 2x: the other 2 s were read on and counted as unsent
    const t = r.summary.total.counters;
    expect(t.sent).toBe(300);
    expect(t.sent + t.unsent).toBe(inCapture);
    expect(r.config.options.unsentScope).toBe('capture');

    // --loop cut by --duration 0.1 ms before the last request of the third pass (a pass is 91.1 ms:
    // 10 gets 10 ms apart, the connection left open, closed at the pass's last packet, 0.2 ms after
    // the cut): the workers drain a fraction of a millisecond after the end, with the timer
    const steps: ConvSpec['steps'] = [];
    for (let i = 0; i < 10; i++) steps.push({ t: i * 10, dir: 0, data: `get loop${i}\r\n` }, { t: i * 10 + 0.1, dir: 1, data: 'END\r\n' });
    const loop = writeCapture(tmp.dir, 'loop-cut.pcap', [{ cport: 42100, steps, closeAt: null }]);
    const looped = await replay([loop, '--target', mc.address, '--loop', '--duration', '272.1ms', ...QUIET], tmp.dir);
    const l = looped.results!;
    expect(l.config.options.stopReason).toBe('duration');
    expect(looped.code, looped.stderr).toBe(0);
    expect(l.config.options.passes).toBe(3);
    expect(l.summary.total.counters.sent).toBe(29);
    expect(l.config.options.unsentScope).toBe('read');
  });
});

describe('pools and safety', () => {
  it('--pool places every key where pymemcache HashClient (rendezvous) would, and splits multi-gets', async () => {
    const b = await startMemcached();
    try {
      const keys = Array.from({ length: 30 }, (_, i) => `user:${i}:profile`);
      const steps: ConvSpec['steps'] = [];
      keys.forEach((k, i) => steps.push({ t: i, dir: 0, data: `set ${k} 0 0 1\r\n${i % 10}\r\n` }, { t: i + 0.1, dir: 1, data: 'STORED\r\n' }));
      steps.push({ t: 40, dir: 0, data: `get ${keys.join(' ')}\r\n` }, { t: 40.1, dir: 1, data: 'END\r\n' });
      const cap = writeCapture(tmp.dir, 'pool.pcap', [{ cport: 44001, steps }]);
      const run = await replay([cap, '--pool', `${mc.address},${b.address}`, '--hash', 'rendezvous', ...QUIET], tmp.dir);
      expect(run.code).toBe(0);
      const r = run.results!;
      expect(errorSum(r.summary.total.counters)).toBe(0);
      expect(r.summary.perCommand.get!.counters.hits).toBe(30);
      expect(r.summary.perCommand.get!.counters.sent).toBe(2); // one get per member
      expect(r.config.hash).toBe('rendezvous');
      const py = execFileSync(
        '/usr/bin/python3',
        ['-c', 'import sys,json\nfrom pymemcache.client.rendezvous import RendezvousHash\nh=RendezvousHash(nodes=sys.argv[1].split(","))\nprint(json.dumps([h.get_node(k) for k in sys.argv[2:]]))', `${mc.address},${b.address}`, ...keys],
        { encoding: 'utf8' },
      );
      const placement = JSON.parse(py) as string[];
      for (let i = 0; i < keys.length; i++) {
        const on = placement[i]!;
        const off = on === mc.address ? b.address : mc.address;
        expect(await mcGet(on, keys[i]!)).toBe(String(i % 10));
        expect(await mcGet(off, keys[i]!)).toBe(null);
      }
    } finally {
      await b.stop();
    }
  });

  it('refuses a target that is one of the captured servers unless --allow-source-target', async () => {
    const conv: ConvSpec = { cport: 44002, server: '127.0.0.1', sport: mc.port, steps: [{ t: 0, dir: 0, data: 'get x\r\n' }, { t: 0.1, dir: 1, data: 'END\r\n' }] };
    const cap = writeCapture(tmp.dir, 'source.pcap', [conv]);
    const before = (await mcStats(mc.address)).cmd_get!;
    const run = await replay([cap, '--target', mc.address, '--port', String(mc.port), ...QUIET], tmp.dir);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/refusing to replay into 127\.0\.0\.1:\d+.*server of the capture/);
    expect((await mcStats(mc.address)).cmd_get).toBe(before);
    const ok = await replay([cap, '--target', mc.address, '--port', String(mc.port), '--allow-source-target', ...QUIET], tmp.dir);
    expect(ok.code).toBe(0);
    expect((await mcStats(mc.address)).cmd_get).toBe(before + 1);
  });

  it('--threshold checks are parsed before any load and decide the exit code (99)', async () => {
    const cap = writeCapture(tmp.dir, 'gate.pcap', steadyGets(1, 0.2, 10));
    const bad = await replay([cap, '--target', mc.address, '--threshold', 'latency.p99 <<< 2ms', ...QUIET], tmp.dir);
    expect(bad.code).toBe(2);
    expect(bad.results).toBe(null);
    const fail = await replay([cap, '--target', mc.address, '--threshold', 'latency.p99 < 1us', '--threshold', 'errors.rate < 1%', ...QUIET], tmp.dir);
    expect(fail.code).toBe(99);
    expect(fail.results!.verdict.status).toBe('fail');
    expect(fail.results!.verdict.checks.filter((c) => c.origin !== 'default').map((c) => c.pass)).toEqual([false, true]);
    const pass = await replay([cap, '--target', mc.address, '--threshold', 'errors.rate < 1%', ...QUIET], tmp.dir);
    expect(pass.code).toBe(0);
  });

  it('a run whose schedule lag is over --max-lag is saturated: exit 4', async () => {
    const cap = writeCapture(tmp.dir, 'sat.pcap', steadyGets(1, 0.2, 5));
    const run = await replay([cap, '--target', mc.address, '--workers', '1', '--max-lag', '1ns'], tmp.dir);
    expect(run.code).toBe(4);
    expect(run.results!.verdict.status).toBe('saturated');
    expect(run.results!.verdict.reasons.join(' ')).toMatch(/lag/);
  });

  it('UDP requests are sent over UDP: a target without UDP answers none of them (timeout)', async () => {
    const frame = (id: number, body: string): Buffer => {
      const h = Buffer.alloc(8);
      h.writeUInt16BE(id, 0);
      h.writeUInt16BE(1, 4);
      return Buffer.concat([h, Buffer.from(body, 'latin1')]);
    };
    const pkt = (src: string, dst: string, sp: number, dp: number, p: Buffer): Buffer => ethernet(ipv4(src, dst, 17, udp(sp, dp, p)));
    const recs = [
      { sec: 1_700_000_000, frac: 0, data: pkt('10.0.0.2', '10.0.0.1', 5000, 11211, frame(1, 'get u1\r\n')) },
      { sec: 1_700_000_000, frac: 100, data: pkt('10.0.0.1', '10.0.0.2', 11211, 5000, frame(1, 'END\r\n')) },
    ];
    const cap = join(tmp.dir, 'udp.pcap');
    writeFileSync(cap, pcapFile({ linkType: LINKTYPE.EN10MB }, recs));
    // this memcached listens on TCP only (-U 0): the datagram is refused by the kernel, and the
    // request fails as a timeout (UDP has no connection to report the refusal on); test/replay/udp.test.ts
    // replays against memcached with UDP on
    const run = await replay([cap, '--target', mc.address, '--timeout', '200ms', ...QUIET], tmp.dir);
    expect(run.results!.summary.total.counters.heldBack).toEqual({});
    expect(run.results!.summary.total.counters.sent).toBe(1);
    expect(run.results!.summary.total.counters.errors.timeout).toBe(1);
  });

  it('authenticates to the target with --sasl-user and MCREPLAY_SASL_PASSWORD (ascii auth)', async () => {
    // memcached -Y from the shared fixture: it returns once the server answers
    const secure = await startMemcached({ asciiAuth: { user: 'replayer', password: 's3cret' } });
    try {
      const cap = writeCapture(tmp.dir, 'auth.pcap', [{ cport: 44003, steps: [{ t: 0, dir: 0, data: 'set a 0 0 1\r\n1\r\n' }, { t: 0.1, dir: 1, data: 'STORED\r\n' }] }]);
      const no = await replay([cap, '--target', secure.address, ...QUIET], tmp.dir);
      expect(no.code).toBe(3);
      expect(no.stderr).toMatch(/requires authentication/);
      const yes = await replay([cap, '--target', secure.address, '--sasl-user', 'replayer', ...QUIET], tmp.dir, { MCREPLAY_SASL_PASSWORD: 's3cret' });
      expect(yes.code).toBe(0);
      expect(errorSum(yes.results!.summary.total.counters)).toBe(0);
      expect(JSON.stringify(yes.results)).not.toContain('s3cret');
    } finally {
      await secure.stop();
    }
  });
});
