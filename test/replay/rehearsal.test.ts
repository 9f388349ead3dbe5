// The rehearsal before t0 (src/replay/rehearsal.ts): each worker runs the kinds of request the
// capture starts with, hundreds of times, against an in-process target, so that their code paths
// are compiled when the schedule starts. Checked on real clients' captures in the three protocols:
// every kind the client sent is rehearsed, every rehearsed request is answered without an error or a
// desync by the builder's answers, and none of it reaches the real target: the target's own
// counters stay within what the client itself sent (truth.json, the client's log).
import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { useMemcached } from '../helpers/memcached.js';
import { QUIET, mcStats, readJson, replay, tempDir, writeCapture, type Step } from './helpers.js';
import { commandInfo } from '../../src/protocol/index.js';

const ROOT = join(import.meta.dirname, '..', '..');
const tmp = tempDir();
const mc = useMemcached({ each: true });
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

  it('leaves out requests over 64 KB (a large set would be copied hundreds of times) but still replays them', async () => {
    const big = 'x'.repeat(200 * 1024);
    /** `data` as segments of 32 KB from `t` on, 1 µs apart (one IP packet holds at most 64 KB). */
    const segments = (t: number, dir: 0 | 1, data: string): Step[] => {
      const out: Step[] = [];
      for (let i = 0; i * 32768 < data.length; i++) out.push({ t: t + i * 0.001, dir, data: data.slice(i * 32768, (i + 1) * 32768) });
      return out;
    };
    const cap = writeCapture(tmp.dir, 'big-set.pcap', [
      {
        cport: 41001,
        steps: [
          ...segments(10, 0, `set big 0 0 ${big.length}\r\n${big}\r\n`),
          { t: 11, dir: 1, data: 'STORED\r\n' },
          { t: 20, dir: 0, data: 'get big\r\n' },
          ...segments(21, 1, `VALUE big 0 ${big.length}\r\n${big}\r\nEND\r\n`),
        ],
      },
    ]);
    const run = await replay([cap, '--target', mc.address, ...QUIET], tmp.dir);
    expect(run.results, run.stderr).not.toBeNull();
    const r = (run.results!.config.options as { rehearsal?: Rehearsal }).rehearsal!;
    expect(r.kinds).toBe(1); // the get
    expect(r.answered).toBe(r.requests);
    expect(run.results!.summary.perCommand['set']!.counters.completed).toBe(1);
    expect(run.results!.summary.perCommand['get']!.counters.hits).toBe(1);
  }, 60_000);

  it('does not run in --rate max, which keeps no schedule and whose CPU per request is a figure of its own', async () => {
    const cap = join(ROOT, 'captures', 'fixtures', 'meta.pcap');
    const run = await replay([cap, '--target', mc.address, '--rate', 'max', ...QUIET], tmp.dir);
    expect(run.results, run.stderr).not.toBeNull();
    expect((run.results!.config.options as { rehearsal?: Rehearsal }).rehearsal).toEqual({ kinds: 0, requests: 0, answered: 0 });
    expect(run.results!.summary.total.counters.sent).toBeGreaterThan(0);
  }, 60_000);
});
