// A request answered by silence (noreply) written last on a connection must still reach the
// target: in max mode the connection's close is handled in the same turn as that write, before the
// turn's flush. The target's own `cmd_set` counter is the independent truth.
import { afterAll, describe, expect, it } from 'vitest';
import { useMemcached } from '../helpers/memcached.js';
import { QUIET, mcStats, replay, tempDir, writeCapture, type ConvSpec } from './helpers.js';

const CONNS = 20;

/** Each connection: a get (answered), then a noreply set, then the client closes. */
function convs(): ConvSpec[] {
  return Array.from({ length: CONNS }, (_, i) => ({
    cport: 41000 + i,
    steps: [
      { t: i * 0.01, dir: 0 as const, data: `get a${i}\r\n` },
      { t: 0.05 + i * 0.01, dir: 1 as const, data: 'END\r\n' },
      { t: 0.1 + i * 0.01, dir: 0 as const, data: `set z${i} 0 0 1 noreply\r\nq\r\n` },
    ],
  }));
}

describe('a noreply request last on its connection', () => {
  const mc = useMemcached();
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());

  for (const rate of ['max', '1x']) {
    it(`reaches the target before the connection closes (--rate ${rate})`, async () => {
      const cap = writeCapture(tmp.dir, `silent-last-${rate}.pcap`, convs());
      const before = await mcStats(mc.address);
      const run = await replay([cap, '--target', mc.address, '--rate', rate, ...QUIET], tmp.dir);
      expect(run.code).toBe(0);
      expect(run.results!.summary.total.counters.sent).toBe(2 * CONNS);
      const after = await mcStats(mc.address);
      // every set counted as sent was received by memcached
      expect(after.cmd_set! - before.cmd_set!).toBe(CONNS);
    });
  }
});
