// Captures whose time runs far: one record a year off is held at its neighbour's time (the replay
// takes the real schedule's time), and a real quiet period longer than setTimeout's 2^31-1 ms does
// not make Node fire the timer at once with a TimeoutOverflowWarning in a loop.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { useMemcached } from '../helpers/memcached.js';
import { QUIET, buildPcap, replay, tempDir } from './helpers.js';

const tmp = tempDir();
const mc = useMemcached();
afterAll(() => tmp.cleanup());

const DAY_MS = 86_400_000;

describe('time far apart in a capture', () => {
  it('one record a year off: the replay keeps the real schedule (about 200 ms at 2x)', async () => {
    const steps = [];
    for (let i = 0; i < 40; i++) steps.push({ t: i * 10, dir: 0 as const, data: `get k${i}\r\n` }, { t: i * 10 + 0.1, dir: 1 as const, data: 'END\r\n' });
    const file = buildPcap([{ cport: 40001, steps }]);
    // the 20th record's seconds field a year ahead (records: 24-byte header, 16-byte record headers)
    let off = 24;
    for (let i = 0; i < 20; i++) off += 16 + file.readUInt32LE(off + 8);
    file.writeUInt32LE(file.readUInt32LE(off) + 365 * 86_400, off);
    const path = join(tmp.dir, 'year-off.pcap');
    writeFileSync(path, file);
    const t0 = Date.now();
    const run = await replay([path, '--target', mc.address, '--rate', '2x', ...QUIET], tmp.dir);
    expect(run.stderr).not.toContain('TimeoutOverflowWarning');
    expect(run.code).toBe(0);
    expect(run.results!.summary.total.counters.sent).toBe(40);
    expect(Date.now() - t0).toBeLessThan(60_000);
  });

  it('a real quiet period of 30 days: the replay waits without timer overflow, and --duration ends it', async () => {
    const a = { cport: 40001, steps: [{ t: 0, dir: 0 as const, data: 'get a\r\n' }, { t: 0.1, dir: 1 as const, data: 'END\r\n' }] };
    const late = 30 * DAY_MS;
    const b = { cport: 40002, steps: [{ t: late, dir: 0 as const, data: 'get b\r\n' }, { t: late + 0.1, dir: 1 as const, data: 'END\r\n' }] };
    const path = join(tmp.dir, 'quiet.pcap');
    writeFileSync(path, buildPcap([a, b]));
    const run = await replay([path, '--target', mc.address, '--duration', '1500ms', ...QUIET], tmp.dir);
    expect(run.stderr).not.toContain('TimeoutOverflowWarning');
    expect(run.code).toBe(0);
    const c = run.results!.summary.total.counters;
    expect(c.sent).toBe(1);
  });
});
