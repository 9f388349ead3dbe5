// The rehearsal before t0 (src/replay/rehearsal.ts): each worker runs the kinds of request the
// capture starts with, hundreds of times, against an in-process target, so that their code paths
// are compiled when the schedule starts. Checked on real clients' captures in the three protocols:
// every kind the client sent is rehearsed, every rehearsed request is answered without an error or a
// desync by the builder's answers, and none of it reaches the real target: the target's own
// counters stay within what the client itself sent (truth.json, the client's log).
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { startMemcached, type Memcached } from '../helpers/memcached.js';
import { QUIET, mcStats, readJson, replay, tempDir } from './helpers.js';
import { commandInfo } from '../../src/protocol/index.js';

const ROOT = join(import.meta.dirname, '..', '..');
const tmp = tempDir();
let mc: Memcached;
beforeEach(async () => {
  mc = await startMemcached();
});
afterEach(async () => {
  await mc?.stop();
});
afterAll(() => tmp.cleanup());

interface Truth {
  requests: number;
  protocol: string;
  perCommand: Record<string, { requests: number; keys: number }>;
}

/** Rehearsal counts as results.json states them. */
interface Rehearsal {
  kinds: number;
  requests: number;
  answered: number;
}

describe('the rehearsal before t0', () => {
  for (const name of ['memccapable-ascii', 'memccapable-binary', 'meta']) {
    it(`rehearses every kind of request ${name} sends, answered in full, without touching the target`, async () => {
      const cap = join(ROOT, 'captures', 'fixtures', `${name}.pcap`);
      const truth = readJson<Truth>(join(ROOT, 'captures', 'fixtures', `${name}.truth.json`));
      const run = await replay([cap, '--target', mc.address, ...QUIET], tmp.dir);
      expect(run.results, run.stderr).not.toBeNull();
      const r = (run.results!.config.options as { rehearsal?: Rehearsal }).rehearsal;
      expect(r, 'results.json config.options.rehearsal').toBeDefined();
      // the commands the client sent that a replay sends (not destructive ones, which are held
      // back, nor quit, nor credentials); the binary protocol names them per opcode
      const proto = truth.protocol === 'binary' ? 'binary' : 'text';
      const sent = Object.keys(truth.perCommand).filter((c) => {
        const info = commandInfo(c.startsWith('m') && c.length === 2 ? 'meta' : proto, c);
        return !info.destructive && info.cls !== 'session' && info.cls !== 'auth' && info.cls !== 'unknown';
      });
      expect(r!.kinds).toBeGreaterThanOrEqual(sent.length);
      // four connections, each kind at least ten times on each
      expect(r!.requests).toBeGreaterThanOrEqual(r!.kinds * 40);
      expect(r!.answered).toBe(r!.requests);
      // none of it reached the target: its gets and sets are at most the keys the client named
      const st = await mcStats(mc.address);
      const keys = Object.values(truth.perCommand).reduce((n, c) => n + c.keys, 0);
      expect(st['cmd_get']! + st['cmd_set']! + st['cmd_touch']!).toBeLessThanOrEqual(keys);
      expect(r!.requests).toBeGreaterThan(keys);
    }, 60_000);
  }

  it('does not run in --rate max, which keeps no schedule and whose CPU per request is a figure of its own', async () => {
    const cap = join(ROOT, 'captures', 'fixtures', 'meta.pcap');
    const run = await replay([cap, '--target', mc.address, '--rate', 'max', ...QUIET], tmp.dir);
    expect(run.results, run.stderr).not.toBeNull();
    expect((run.results!.config.options as { rehearsal?: Rehearsal }).rehearsal).toEqual({ kinds: 0, requests: 0, answered: 0 });
    expect(run.results!.summary.total.counters.sent).toBeGreaterThan(0);
  }, 60_000);
});
