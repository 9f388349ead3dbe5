// The live clock (capture timestamp + delay on this host's clock, clock jumps re-anchored and
// counted) and the key sampler (--sample), against hand-computed times and a reference hash.
import { describe, expect, it } from 'vitest';
import { JUMP_BACK_NS, JUMP_NS, liveClock } from '../../src/replay/live-schedule.js';
import { keyFraction, keySampler, parseShare } from '../../src/replay/sample.js';
import type { WorkloadRequest } from '../../src/workload/model.js';

/** A live clock on a hand-driven host clock: wall ms and run ns advance together. */
function driven(delayNs: number, baseSec: number, wallMs0: number) {
  let runNs = 0;
  const clock = liveClock({ delayNs, durationNs: null, captureBaseSec: () => baseSec, runNow: () => runNs, wallNowMs: () => wallMs0 + runNs / 1e6 });
  return { clock, advance: (ns: number) => (runNs += ns), now: () => runNs };
}

describe('live clock', () => {
  it('a request is due its capture time plus the delay, on the host clock', () => {
    // host clock at run 0: 1000.5 s epoch; capture base second 1000
    const d = driven(30e6, 1000, 1000_500);
    // captured 2 ms before now (run 0): due at -2 ms + 30 ms
    expect(d.clock.dueAt(498e6)).toBeCloseTo(28e6, -3);
    d.advance(100e6);
    // captured at run 95 ms
    expect(d.clock.dueAt(595e6)).toBeCloseTo(125e6, -3);
    expect(d.clock.stats.jumps).toBe(0);
    expect(d.clock.stats.firstOffsetNs).toBeCloseTo(-2e6, -3);
  });

  it('a capture clock off the host clock is re-anchored and counted, not turned into lag', () => {
    // the capture comes from a host whose clock is an hour behind
    const d = driven(30e6, 1000, 1000_000 + 3600_000);
    const first = d.clock.dueAt(0);
    expect(first).toBeCloseTo(30e6, -3);
    expect(d.clock.stats.jumps).toBe(1);
    expect(d.clock.stats.firstOffsetNs).toBeCloseTo(-3600e9, -6);
    d.advance(10e6);
    expect(d.clock.dueAt(10e6)).toBeCloseTo(40e6, -3);
    // the capture host's clock steps 5 s forward
    d.advance(10e6);
    expect(d.clock.dueAt(20e6 + 5e9)).toBeCloseTo(20e6 + 30e6, -3);
    expect(d.clock.stats.jumps).toBe(2);
    // the largest offset seen is kept: the hour
    expect(d.clock.stats.worstOffsetNs).toBeCloseTo(-3600e9, -6);
    expect(5e9).toBeGreaterThan(JUMP_NS);
  });

  it('a reader behind by less than the backward bound is lag, not a jump', () => {
    const d = driven(30e6, 1000, 1000_000);
    d.clock.dueAt(0);
    d.advance(5e9);
    // captured 5 s ago (the reader was paused): due in the past, measured as lag
    expect(d.clock.dueAt(1e6)).toBeCloseTo(31e6, -3);
    expect(d.clock.stats.jumps).toBe(0);
    d.advance(JUMP_BACK_NS);
    d.clock.dueAt(2e6);
    expect(d.clock.stats.jumps).toBe(1);
  });
});

function req(cmd: string, keys: string[], proto: 'text' | 'meta' | 'binary' = 'text'): WorkloadRequest {
  return { connId: 1, seq: 0, tsNs: 0, proto, cmd, cls: 'read', expect: 'values', quiet: false, keys, valueLen: 0, exptime: 0, raw: Buffer.from(`${cmd} ${keys.join(' ')}\r\n`), opaque: 0, metaFlags: [] } as unknown as WorkloadRequest;
}

describe('key sampler', () => {
  it('hashes keys with FNV-1a 32 (reference values)', () => {
    // FNV-1a 32 of "" is the offset basis; of "a" 0xe40c292c (published test vectors)
    expect(keyFraction('') * 2 ** 32).toBe(0x811c9dc5);
    expect(keyFraction('a') * 2 ** 32).toBe(0xe40c292c);
    expect(keyFraction('foobar') * 2 ** 32).toBe(0xbf9cf968);
  });

  it('keeps about the share asked, the same keys every time, and cuts multi-gets to them', () => {
    const s = keySampler(0.25);
    let kept = 0;
    for (let i = 0; i < 20_000; i++) if (s(req('get', [`key:${i}`])) === null) kept++;
    expect(kept / 20_000).toBeGreaterThan(0.23);
    expect(kept / 20_000).toBeLessThan(0.27);
    const keys = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
    const inS = keys.filter((k) => keyFraction(k) < 0.25);
    const cut = s(req('get', keys));
    if (inS.length === 0) expect(cut).toBe('not-sampled');
    else {
      expect(typeof cut).toBe('object');
      const p = cut as { keys: readonly string[]; raw: Buffer };
      expect(p.keys).toEqual(inS);
      expect(p.raw.toString()).toBe(`get ${inS.join(' ')}\r\n`);
    }
    expect(s(req('stats', []))).toBeNull();
    expect(s(req('set', ['foobar']))).toBe(keyFraction('foobar') < 0.25 ? null : 'not-sampled');
  });

  it('parses shares', () => {
    expect(parseShare('10%')).toBe(0.1);
    expect(parseShare('0.5')).toBe(0.5);
    expect(parseShare('0%')).toBeNull();
    expect(parseShare('150%')).toBeNull();
    expect(parseShare('x')).toBeNull();
  });
});
