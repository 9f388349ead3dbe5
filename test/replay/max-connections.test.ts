// --rate max keeps the capture's connection concurrency: everything is due at once there, and the
// look-ahead holds up to a million requests, so a capture of clients that connect per request (PHP
// and other per-request clients) would otherwise have every one of its connections opened at the
// same moment against the target.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useMemcached } from '../helpers/memcached.js';
import { startDelayProxy, type DelayProxy } from '../helpers/delay-proxy.js';
import { QUIET, errorSum, replay, tempDir, writeCapture, type ConvSpec } from './helpers.js';

const tmp = tempDir();
const mc = useMemcached();
let proxy: DelayProxy;
beforeAll(async () => {
  // in front of the real memcached, only to count the connections open at once
  proxy = await startDelayProxy(mc.address, 0);
});
afterAll(async () => {
  await proxy.stop();
  tmp.cleanup();
});

/** `n` short connections one after another: each opens, sets and gets its key, and closes before the next opens. */
function churn(n: number): ConvSpec[] {
  const out: ConvSpec[] = [];
  for (let k = 0; k < n; k++) {
    const t = k * 20;
    out.push({
      cport: 30000 + k,
      steps: [
        { t: t + 1, dir: 0, data: `set churn${k} 0 0 1\r\nx\r\n` },
        { t: t + 1.2, dir: 1, data: 'STORED\r\n' },
        { t: t + 2, dir: 0, data: `get churn${k}\r\n` },
        { t: t + 2.2, dir: 1, data: `VALUE churn${k} 0 1\r\nx\r\nEND\r\n` },
      ],
      closeAt: t + 3,
    });
  }
  return out;
}

describe('--rate max and connection churn', () => {
  it('opens each captured connection where the capture did relative to the requests before it: the concurrency stays the capture\'s', async () => {
    const n = 200;
    const cap = writeCapture(tmp.dir, 'churn.pcap', churn(n));
    const run = await replay([cap, '--target', proxy.address, '--rate', 'max', ...QUIET], tmp.dir);
    expect(run.code).toBe(0);
    const c = run.results!.summary.total.counters;
    expect(c.sent).toBe(2 * n);
    expect(c.completed).toBe(2 * n);
    expect(errorSum(c)).toBe(0);
    expect(run.results!.summary.perCommand.get!.counters.hits).toBe(n);
    // the capture never had two of them open at once; a connection may open while the one before
    // it waits for its last answer (its requests are written), so 2, and the start-up probe
    expect(proxy.peakClients()).toBeLessThanOrEqual(3);
  });
});
