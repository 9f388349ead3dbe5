// A run that read its whole capture and measured nothing is not a pass: a capture whose memcached
// traffic is on another port than the chosen one (a real client's capture replayed with the default
// --port 11211 when its server listened elsewhere) used to say "0 sent ... PASS, exit 0". It is now
// exit 4 with the ports the capture's connections went to, and so is a run whose every request was
// held back. inspect says the same. Truth: the capture's own server port (basic.pcap, a real client
// recorded against 11211) and memcached's own command counters (nothing reached it).
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { useMemcached } from '../helpers/memcached.js';
import { BIN, QUIET, collect, mcStats, replay, tempDir } from './helpers.js';

const ROOT = join(import.meta.dirname, '..', '..');
const basic = join(ROOT, 'captures', 'fixtures', 'basic.pcap');
const tmp = tempDir();
const mc = useMemcached();
afterAll(() => tmp.cleanup());

/** What the target was asked so far: gets, sets, touches and deletes by its own counters. */
async function asked(): Promise<number> {
  const s = await mcStats(mc.address);
  return (s.cmd_get ?? 0) + (s.cmd_set ?? 0) + (s.cmd_touch ?? 0) + (s.delete_hits ?? 0) + (s.delete_misses ?? 0);
}

describe('a run that measured nothing', () => {
  it('no requests on the chosen port: exit 4, the message names the port the capture used, nothing sent', async () => {
    const before = await asked();
    const r = await replay([basic, '--target', mc.address, '--port', '4242', ...QUIET], join(tmp.dir, 'port'));
    expect(r.code, r.stderr).toBe(4);
    expect(r.results?.verdict?.status).toBe('error');
    const reason = r.results?.verdict?.reasons.join(' ') ?? '';
    expect(reason).toContain('nothing to replay');
    expect(reason).toContain('port(s) 4242');
    expect(reason).toMatch(/try --port 11211\b/);
    expect(r.results?.summary.total.counters.sent).toBe(0);
    expect(await asked()).toBe(before);
  });

  it('inspect gives the same hint', async () => {
    const r = await collect(spawn(process.execPath, [BIN, 'inspect', basic, '--port', '4242'], { stdio: ['ignore', 'pipe', 'pipe'] }));
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/no replayable memcached requests on port\(s\) 4242; .*try --port 11211\b/);
  });

  it('every request held back: exit 4 with the reason and its count', async () => {
    const before = await asked();
    // basic.pcap has no append: the filter holds every request back
    const r = await replay([basic, '--target', mc.address, '--commands', 'append', ...QUIET], join(tmp.dir, 'held'));
    expect(r.code, r.stderr).toBe(4);
    const held = Object.values(r.results?.config.options.heldBack as Record<string, number>).reduce((a, b) => a + b, 0);
    expect(held).toBeGreaterThan(0);
    expect(r.results?.verdict?.reasons.join(' ')).toContain(`nothing was sent: all ${held} requests`);
    expect(await asked()).toBe(before);
  });

  it('with --loop the run ends after one pass instead of reading the capture for ever', async () => {
    const a = await replay([basic, '--target', mc.address, '--port', '4242', '--loop', ...QUIET], join(tmp.dir, 'loop-port'));
    expect(a.code, a.stderr).toBe(4);
    expect(a.results?.config.options.passes).toBe(1);
    const b = await replay([basic, '--target', mc.address, '--commands', 'append', '--loop', ...QUIET], join(tmp.dir, 'loop-held'));
    expect(b.code, b.stderr).toBe(4);
    expect(b.results?.config.options.passes).toBe(1);
  });

  it('the same capture on its own port still passes', async () => {
    const r = await replay([basic, '--target', mc.address, ...QUIET], join(tmp.dir, 'ok'));
    expect(r.code, r.stderr).toBe(0);
    expect(r.results?.summary.total.counters.sent).toBeGreaterThan(0);
  });
});
