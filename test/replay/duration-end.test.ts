// --duration on a capture much longer than the run: the run ends when the time is up and the
// requests in flight are answered, not when the main thread has finished reading the rest of the
// capture to count what was not sent (that took seconds on large captures and stretched the run
// with empty intervals, halving its rates).
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { useMemcached } from '../helpers/memcached.js';
import { LINKTYPE, TcpConv, ethernet, pcapFile, type PcapRecord } from '../helpers/pcap-writer.js';
import { QUIET, replay, tempDir } from './helpers.js';

const tmp = tempDir();
const mc = useMemcached();
afterAll(() => tmp.cleanup());

/** One connection sending `get` every `everyUs` for `seconds`, each answered END 50 µs later; written in chunks (it is large). */
function longCapture(seconds: number, everyUs: number): { path: string; requests: number } {
  const conv = new TcpConv('10.0.0.2', 40001, '10.0.0.1', 11211);
  const base = 1_700_000_000;
  const path = join(tmp.dir, 'long.pcap');
  let recs: PcapRecord[] = [];
  let first = true;
  const flush = (): void => {
    const file = pcapFile({ linkType: LINKTYPE.EN10MB }, recs);
    if (first) writeFileSync(path, file);
    else appendFileSync(path, file.subarray(24));
    first = false;
    recs = [];
  };
  const at = (us: number, data: Buffer): void => {
    recs.push({ sec: base + Math.floor(us / 1e6), frac: us % 1e6, data: ethernet(data) });
    if (recs.length >= 20_000) flush();
  };
  for (const p of conv.handshake()) at(0, p);
  let n = 0;
  for (let us = 1000; us < seconds * 1e6; us += everyUs) {
    at(us, conv.send(0, Buffer.from(`get k${n % 1000}\r\n`)));
    at(us + 50, conv.send(1, Buffer.from('END\r\n')));
    n++;
  }
  flush();
  return { path, requests: n };
}

describe('--duration on a long capture', () => {
  it('ends the run at the duration; the rest of the capture is counted unsent without stretching it', async () => {
    // 300k requests over 300 s; 0.3 s of it is sent, the rest is read on and counted while (and
    // after) the run goes: reading 300k requests takes longer than the run
    const cap = longCapture(300, 1000);
    const run = await replay([cap.path, '--target', mc.address, '--duration', '300ms', '--look-ahead', '100ms', ...QUIET], tmp.dir);
    expect(run.code).toBe(0);
    const r = run.results!;
    const t = r.summary.total.counters;
    expect(r.config.options.stopReason).toBe('duration');
    expect(t.sent + t.unsent).toBe(cap.requests);
    expect(t.unsent).toBeGreaterThan(0.9 * cap.requests);
    expect(r.config.options.captureFullyRead).toBe(true);
    // the run is the 0.3 s plus draining what was in flight from a local memcached, not the time
    // it took to read the rest of the capture (1.01 s on a quiet machine before the fix, more under
    // load; the fixed run took 0.31–0.40 s quiet and up to 0.66 s at load 25)
    expect(r.summary.durationNs).toBeGreaterThanOrEqual(300e6);
    expect(r.summary.durationNs).toBeLessThan(300e6 + 450e6);
    expect(r.intervals).toHaveLength(1);
    expect(r.intervals[0]!.total.counters.unsent).toBe(t.unsent);
    // so the rate of the run is the capture's (1k/s), not diluted
    expect(t.sent / (r.summary.durationNs / 1e9)).toBeGreaterThan(700);
  });
});
