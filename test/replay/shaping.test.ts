// Shaping against a real memcached: destructive and credential holds, filters, time window, clones
// with key namespaces, CAS token translation and expiry rebasing. The truth is what the target
// holds afterwards and its own stats counters.
import { afterAll, describe, expect, it } from 'vitest';
import { useMemcached } from '../helpers/memcached.js';
import { QUIET, accounted, bin, binRes, errorSum, mcGet, mcRaw, mcStats, replay, tempDir, writeCapture, type ConvSpec } from './helpers.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

function conv(cport: number, reqs: [string | Buffer, string | Buffer | null][], opts: Partial<ConvSpec> = {}, t0 = 0, gap = 2): ConvSpec {
  const steps: ConvSpec['steps'] = [];
  let t = t0;
  for (const [q, a] of reqs) {
    steps.push({ t, dir: 0, data: q });
    if (a !== null) steps.push({ t: t + 0.1, dir: 1, data: a });
    t += gap;
  }
  return { cport, steps, ...opts };
}

describe('shaping', () => {
  const mc = useMemcached({ each: true });

  const DESTRUCTIVE = [
    conv(41001, [
      ['set x 0 0 1\r\n1\r\n', 'STORED\r\n'],
      ['flush_all\r\n', 'OK\r\n'],
      ['verbosity 1\r\n', 'OK\r\n'],
      ['get x\r\n', 'END\r\n'],
    ]),
  ];

  it('holds destructive commands back unless --allow names them', async () => {
    const cap = writeCapture(tmp.dir, 'destructive.pcap', DESTRUCTIVE);
    const run = await replay([cap, '--target', mc.address, ...QUIET], tmp.dir);
    expect(run.code).toBe(0);
    const t = run.results!.summary.total.counters;
    expect(t.heldBack).toEqual({ destructive: 2 });
    expect(t.sent).toBe(2);
    expect(accounted(t)).toBe(4);
    expect(run.results!.summary.perCommand.get!.counters.hits).toBe(1);
    expect(await mcGet(mc.address, 'x')).toBe('1'); // not flushed
    expect((await mcStats(mc.address)).cmd_flush).toBe(0);

    const run2 = await replay([cap, '--target', mc.address, '--allow', 'flush_all', ...QUIET], tmp.dir);
    expect(run2.code).toBe(0);
    expect(run2.results!.summary.total.counters.heldBack).toEqual({ destructive: 1 });
    expect((await mcStats(mc.address)).cmd_flush).toBe(1);
    expect(run2.results!.summary.perCommand.get!.counters.misses).toBe(1);
  });

  it('never replays captured credentials (binary SASL)', async () => {
    const auth = bin(0x21, 'PLAIN', { value: '\0user\0secret-password' });
    const cap = writeCapture(tmp.dir, 'sasl.pcap', [
      conv(41002, [
        [auth, binRes(0x21, { value: 'Authenticated' })],
        [bin(0x0a, ''), binRes(0x0a)],
      ]),
    ]);
    const run = await replay([cap, '--target', mc.address, ...QUIET], tmp.dir);
    expect(run.code).toBe(0);
    const t = run.results!.summary.total.counters;
    expect(t.heldBack).toEqual({ credentials: 1 });
    expect(t.sent).toBe(1);
    expect(t.errors).toEqual({ timeout: 0, reset: 0, refused: 0, server_error: 0, client_error: 0, error: 0, desync: 0 });
    expect(JSON.stringify(run.results)).not.toContain('secret-password');
  });

  it('--read-only, --commands and --server filter; the rest is counted as filtered', async () => {
    const a = conv(41003, [
      ['set a 0 0 1\r\n1\r\n', 'STORED\r\n'],
      ['get a\r\n', 'VALUE a 0 1\r\n1\r\nEND\r\n'],
      ['delete a\r\n', 'DELETED\r\n'],
      ['stats\r\n', 'END\r\n'],
    ]);
    const b = conv(41004, [['get b\r\n', 'END\r\n'], ['set b 0 0 1\r\n2\r\n', 'STORED\r\n']], { server: '10.0.0.9' }, 1);
    const cap = writeCapture(tmp.dir, 'filters.pcap', [a, b]);

    const ro = await replay([cap, '--target', mc.address, '--read-only', ...QUIET], tmp.dir);
    expect(ro.code).toBe(0);
    expect(ro.results!.summary.total.counters.heldBack).toEqual({ filtered: 3 });
    const sentBy = Object.fromEntries(Object.entries(ro.results!.summary.perCommand).map(([k, v]) => [k, v.counters.sent]));
    expect(sentBy).toEqual({ get: 2, stats: 1, set: 0, delete: 0 });
    expect(ro.results!.summary.perCommand.set!.counters.heldBack).toEqual({ filtered: 2 });
    expect((await mcStats(mc.address)).cmd_set).toBe(0);

    const gets = await replay([cap, '--target', mc.address, '--commands', 'get', ...QUIET], tmp.dir);
    expect(gets.results!.summary.total.counters.sent).toBe(2);
    expect(gets.results!.summary.total.counters.heldBack).toEqual({ filtered: 4 });

    const srv = await replay([cap, '--target', mc.address, '--server', '10.0.0.9:11211', ...QUIET], tmp.dir);
    expect(srv.results!.summary.total.counters.sent).toBe(2);
    expect(srv.results!.summary.total.counters.heldBack).toEqual({ filtered: 4 });
    expect(await mcGet(mc.address, 'b')).toBe('2');
    expect(await mcGet(mc.address, 'a')).toBe(null);
  });

  it('--from/--to keep a window of the capture; --max-gap squeezes idle time', async () => {
    // requests at 0, 1, 2, ... 9 s would take 9 s: the window and the squeeze make it short
    const steps: [string, string][] = [];
    for (let i = 0; i < 10; i++) steps.push([`set w${i} 0 0 1\r\n${i}\r\n`, 'STORED\r\n']);
    const cap = writeCapture(tmp.dir, 'window.pcap', [conv(41005, steps, {}, 0, 1000)]);
    const run = await replay([cap, '--target', mc.address, '--from', '3s', '--to', '5.5s', '--max-gap', '100ms', ...QUIET], tmp.dir);
    expect(run.code).toBe(0);
    const t = run.results!.summary.total.counters;
    expect(t.sent).toBe(3); // 3 s, 4 s, 5 s
    expect(t.heldBack).toEqual({ window: 7 });
    expect(await mcGet(mc.address, 'w4')).toBe('4');
    expect(await mcGet(mc.address, 'w6')).toBe(null);
    const wall = Date.parse(run.results!.run.endedAt) - Date.parse(run.results!.run.startedAt);
    expect(wall).toBeLessThan(1500); // 2 s of capture squeezed to 0.2 s
  });

  it('--clone N replays each connection N times; --clone-keys namespaces the keys', async () => {
    const reqs: [string, string][] = [];
    for (let i = 0; i < 5; i++) reqs.push([`set k${i} 0 0 1\r\n${i}\r\n`, 'STORED\r\n']);
    reqs.push(['get k0 k1 k2\r\n', 'VALUE k0 0 1\r\n0\r\nVALUE k1 0 1\r\n1\r\nVALUE k2 0 1\r\n2\r\nEND\r\n']);
    const cap = writeCapture(tmp.dir, 'clone.pcap', [conv(41006, reqs)]);
    const run = await replay([cap, '--target', mc.address, '--clone', '3', '--clone-keys', ...QUIET], tmp.dir);
    expect(run.code).toBe(0);
    const r = run.results!;
    expect(r.summary.perCommand.set!.counters.sent).toBe(15);
    expect(r.summary.perCommand.get!.counters.hits).toBe(9);
    expect(errorSum(r.summary.total.counters)).toBe(0);
    const st = await mcStats(mc.address);
    expect(st.curr_items).toBe(15);
    expect(await mcGet(mc.address, 'c2:k3')).toBe('3');
    expect(st.curr_connections).toBeGreaterThan(0);
    expect(st.total_connections).toBeGreaterThanOrEqual(3 + 1);
  });

  it('cas uses the token the target handed out, not the captured one (text, meta, binary)', async () => {
    const text = conv(41007, [
      ['set c 0 0 1\r\nx\r\n', 'STORED\r\n'],
      ['gets c\r\n', 'VALUE c 0 1 987654\r\nx\r\nEND\r\n'],
      ['cas c 0 0 1 987654\r\ny\r\n', 'STORED\r\n'],
    ]);
    const meta = conv(
      41008,
      [
        ['ms mc 1\r\nx\r\n', 'HD\r\n'],
        ['mg mc c v\r\n', 'VA 1 c555555\r\nx\r\n'],
        ['ms mc 1 C555555\r\nz\r\n', 'HD\r\n'],
      ],
      {},
      1,
    );
    const binary = conv(
      41009,
      [
        [bin(0x01, 'bc', { extras: Buffer.alloc(8), value: 'x' }), binRes(0x01, { cas: 4444n })],
        [bin(0x00, 'bc'), binRes(0x00, { extras: Buffer.alloc(4), value: 'x', cas: 4444n })],
        [bin(0x01, 'bc', { extras: Buffer.alloc(8), value: 'w', cas: 4444n }), binRes(0x01, { cas: 4445n })],
      ],
      {},
      2,
    );
    const cap = writeCapture(tmp.dir, 'cas.pcap', [text, meta, binary]);
    const run = await replay([cap, '--target', mc.address, ...QUIET], tmp.dir);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const errs = Object.fromEntries(Object.entries(run.results!.summary.perCommand).map(([k, v]) => [k, errorSum(v.counters)]));
    expect(errs).toEqual({ set: 0, gets: 0, cas: 0, ms: 0, mg: 0, get: 0 });
    expect(await mcGet(mc.address, 'c')).toBe('y');
    expect(await mcGet(mc.address, 'mc')).toBe('z');
    expect(await mcGet(mc.address, 'bc')).toBe('w');
  });

  it('rebases absolute expiry times to replay time and scales relative ones with --ttl-scale', async () => {
    // the capture was taken at 1_700_000_000 (2023): an absolute expiry one hour later is long past now
    const cap = writeCapture(tmp.dir, 'ttl.pcap', [
      conv(41010, [
        [`set abs 0 ${1_700_000_000 + 3600} 1\r\na\r\n`, 'STORED\r\n'],
        ['set rel 0 1000 1\r\nr\r\n', 'STORED\r\n'],
      ]),
    ]);
    const run = await replay([cap, '--target', mc.address, '--ttl-scale', '10', ...QUIET], tmp.dir);
    expect(run.code).toBe(0);
    const ttl = async (k: string): Promise<number> => {
      const line = await mcRaw(mc.address, `mg ${k} t\r\n`, /\r\n$/);
      const m = /^HD t(-?\d+)/.exec(line);
      return m ? Number(m[1]) : NaN;
    };
    const abs = await ttl('abs');
    expect(abs).toBeGreaterThan(300); // 3600 s / 10, still in the future
    expect(abs).toBeLessThanOrEqual(360);
    const rel = await ttl('rel');
    expect(rel).toBeGreaterThan(90);
    expect(rel).toBeLessThanOrEqual(100);
  });
});
