// Replays from a prepared file against a real memcached send what replays from the capture send:
// the same requests per connection, in the same order (recorded on the loopback by tcpdump and
// compared with the capture's own, connection by connection), as many intended and sent per
// command, with the same holds (destructive commands, credentials), and with --shard the same
// share per shard.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useMemcached } from '../helpers/memcached.js';
import { haveTcpdump, record } from '../helpers/tcpdump.js';
import { extractWorkload } from '../../src/workload/extract.js';
import type { ResultsFile } from '../../src/metrics/results-types.js';
import { QUIET, accounted, replay, tempDir, writeCapture } from '../replay/helpers.js';
import { MIXED } from '../replay/mixed.js';
import { mcreplay, root } from './helpers.js';


/** What a run decided per command without the target's help: intended, sent, held back, unsent. */
function planned(r: ResultsFile): Record<string, unknown> {
  const per = Object.fromEntries(Object.entries(r.summary.perCommand).map(([cmd, s]) => [cmd, { intended: s.counters.intended, sent: s.counters.sent, heldBack: s.counters.heldBack, unsent: s.counters.unsent }]));
  return {
    per,
    heldBack: r.config.options.heldBack,
    shapedRequests: r.config.options.shapedRequests,
    capture: { ...r.capture, path: undefined },
    captured: r.captured,
    captureQuality: r.captureQuality,
    shard: r.config.shard,
  };
}

/** Requests of every connection of a capture (raw bytes as hex, in order). */
async function requestsByConn(path: string, port: number): Promise<{ conns: string[][]; gaps: number }> {
  const by = new Map<number, string[]>();
  const res = await extractWorkload(path, { serverPorts: [port] }, {
    connection: (c) => void by.set(c.id, []),
    request: (r) => void by.get(r.connId)!.push(r.raw.toString('hex')),
    outcome: () => {},
    close: () => {},
  });
  return { conns: [...by.values()].filter((l) => l.length > 0), gaps: res.capture.gapEvents + res.capture.truncatedPackets };
}

describe('replay from a prepared file = replay from the capture (real memcached)', () => {
  const mc = useMemcached();
  const tmp = tempDir();
  const sample = join(root, 'captures/sample.pcap');
  const sampleMcw = join(tmp.dir, 'sample.mcw');
  beforeAll(async () => {
    const p = await mcreplay(['prepare', sample, '--out', sampleMcw]);
    expect(p.code, p.stderr).toBe(0);
  });
  afterAll(() => tmp.cleanup());

  it('at 2x: every command intended, sent and held back alike, with the capture\'s own figures', async () => {
    const a = await replay([sample, '--target', mc.address, '--rate', '2x', ...QUIET], join(tmp.dir, 'pcap'));
    const b = await replay([sampleMcw, '--target', mc.address, '--rate', '2x', ...QUIET], join(tmp.dir, 'mcw'));
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    const ra = a.results!;
    const rb = b.results!;
    expect(planned(rb)).toEqual(planned(ra));
    // the capture's identity, not the prepared file's: merge and --baseline compare captures
    expect(rb.capture.sha256).toBe(ra.capture.sha256);
    expect(rb.capture.requests).toBe(10298);
    // (per-interval intended counts are not compared: a request is counted in the interval where the
    // worker takes it up, which moves with the lag; the intended times themselves are compared
    // exactly, request by request, in prepare-roundtrip.test.ts, and the schedule is a function of them)
    expect(rb.summary.total.counters.intended).toBe(ra.summary.total.counters.intended);
  }, 60_000);

  it('holds back destructive commands and captured credentials exactly as from the capture', async () => {
    for (const [cap, reason] of [['memccapable-ascii.pcap', 'destructive'], ['binary-quiet.pcap', 'credentials']] as const) {
      const path = join(root, 'captures/fixtures', cap);
      const mcw = join(tmp.dir, `${cap}.mcw`);
      expect((await mcreplay(['prepare', path, '--out', mcw])).code).toBe(0);
      const a = await replay([path, '--target', mc.address, '--rate', 'max', ...QUIET], join(tmp.dir, `h-${cap}-pcap`));
      const b = await replay([mcw, '--target', mc.address, '--rate', 'max', ...QUIET], join(tmp.dir, `h-${cap}-mcw`));
      expect([a.code, b.code], `${a.stderr}\n${b.stderr}`).toEqual([a.code, a.code]);
      expect(b.results!.config.options.heldBack).toEqual(a.results!.config.options.heldBack);
      expect(planned(b.results!).per).toEqual(planned(a.results!).per);
      // the fixture does hold that kind (else the comparison above proves nothing)
      expect((a.results!.config.options.heldBack as Record<string, number>)[reason] ?? 0, cap).toBeGreaterThan(0);
    }
  }, 60_000);

  it('--shard i/3: each shard sends from the prepared file what it sends from the capture', async () => {
    const cap = join(root, 'captures/fixtures/memaslap-64conns.pcap');
    const mcw = join(tmp.dir, 'memaslap.mcw');
    expect((await mcreplay(['prepare', cap, '--out', mcw])).code).toBe(0);
    const truth = JSON.parse(readFileSync(cap.replace(/\.pcap$/, '.truth.json'), 'utf8')) as { requests: number };
    let accountedFor = 0;
    for (const i of [1, 2, 3]) {
      const a = await replay([cap, '--target', mc.address, '--rate', 'max', '--shard', `${i}/3`, ...QUIET], join(tmp.dir, `s${i}-pcap`));
      const b = await replay([mcw, '--target', mc.address, '--rate', 'max', '--shard', `${i}/3`, ...QUIET], join(tmp.dir, `s${i}-mcw`));
      expect(a.code, a.stderr).toBe(0);
      expect(b.code, b.stderr).toBe(0);
      expect(planned(b.results!)).toEqual(planned(a.results!));
      accountedFor += accounted(b.results!.summary.total.counters);
    }
    // the shards together: the whole capture, each request once
    expect(accountedFor).toBe(truth.requests);
  }, 60_000);

  it('--loop, --start-at and --shard take a prepared file', async () => {
    const cap = join(root, 'captures/fixtures/pymemcache-50conns.pcap');
    const mcw = join(tmp.dir, 'loop.mcw');
    expect((await mcreplay(['prepare', cap, '--out', mcw])).code).toBe(0);
    const startAt = new Date(Date.now() + 6000).toISOString();
    const r = await replay([mcw, '--target', mc.address, '--shard', '1/2', '--start-at', startAt, '--loop', '--duration', '3s', '--rate', '4x', '--no-default-checks', ...QUIET], join(tmp.dir, 'loop'));
    expect([0, 4], r.stderr).toContain(r.code);
    const res = r.results!;
    expect(res.config.shard).toEqual({ index: 1, count: 2 });
    expect(res.run.t0!.iso).toBe(startAt);
    // the capture lasts well under a second at 4x: 3 s of it are several passes over the file
    expect(res.config.options.passes as number).toBeGreaterThanOrEqual(2);
    expect(res.config.loop).toBe(true);
    expect(res.summary.total.counters.sent).toBeGreaterThan(0);
  }, 60_000);

  describe.skipIf(!haveTcpdump || process.getuid?.() !== 0)('on the wire (tcpdump on the loopback)', () => {
    // a memcached of its own: the recording holds only these replays' connections
    const wire = useMemcached();
    /**
     * Runs `runs` while tcpdump records the target's port; returns the recording's requests per
     * connection. A recording that lost packets cannot hold every request: it is recorded again (the
     * replays are judged by the recording, not the other way round), as in test/replay/roundtrip.
     */
    async function recorded(name: string, runs: () => Promise<void>): Promise<string[][]> {
      let got = { conns: [] as string[][], gaps: -1 };
      for (let attempt = 0; attempt < 3 && got.gaps !== 0; attempt++) got = await recordOnce(`${name}-${attempt}`, runs);
      expect(got.gaps, 'every recording lost packets of the replayed connections').toBe(0);
      // the probe asks only for the version, the target-state reads only for `stats`: not the replay
      return got.conns.filter((l) => !(l.length === 1 && ['version\r\n', 'stats\r\n'].includes(Buffer.from(l[0]!, 'hex').toString('latin1'))));
    }
    async function recordOnce(name: string, runs: () => Promise<void>): Promise<{ conns: string[][]; gaps: number }> {
      const rec = join(tmp.dir, `${name}.pcap`);
      const recording = await record(rec, `tcp port ${wire.port}`);
      await runs();
      await recording.stop();
      return requestsByConn(rec, wire.port);
    }
    const key = (l: string[]): string => l.join(',');

    it('the prepared file\'s replay, whole and as two shards, sends the capture\'s requests per connection, in order', async () => {
      const cap = writeCapture(tmp.dir, 'mixed.pcap', MIXED);
      const mcw = join(tmp.dir, 'mixed.mcw');
      expect((await mcreplay(['prepare', cap, '--out', mcw])).code).toBe(0);
      const original = (await requestsByConn(cap, 11211)).conns.map(key).sort();

      const whole = await recorded('whole', async () => {
        const r = await replay([mcw, '--target', wire.address, ...QUIET], join(tmp.dir, 'wire-whole'));
        expect(r.code, r.stderr).toBe(0);
      });
      expect(whole.map(key).sort()).toEqual(original);

      const sharded = await recorded('sharded', async () => {
        for (const i of [1, 2]) {
          const r = await replay([mcw, '--target', wire.address, '--shard', `${i}/2`, '--rate', '4x', ...QUIET], join(tmp.dir, `wire-shard${i}`));
          expect(r.code, r.stderr).toBe(0);
        }
      });
      expect(sharded.map(key).sort()).toEqual(original);
    }, 120_000);
  });
});
