// pcapng option values out of their range (a corrupt if_tsresol or if_tsoffset, an option running
// past its block) are counted by name and ignored: never an exception, never an invalid date.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { ethernet, LINKTYPE, pcapngFile, type NgBlock } from '../helpers/pcap-writer.js';
import { exchange, feed } from './util.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'mcreplay-options-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** One exchange on one Ethernet interface with the given raw if_tsresol byte / if_tsoffset; ticks as µs-like counts. */
function capture(tsresol?: number, tsoffset?: number): Buffer {
  const blocks: NgBlock[] = exchange().map((p, i) => ({ kind: 'epb', ifc: 0, ts: 1_700_000_000_000_000n + BigInt(i * 1000), data: ethernet(p) }));
  return pcapngFile([{ interfaces: [{ linkType: LINKTYPE.EN10MB, tsresol, tsoffset }], blocks }]);
}

describe('pcapng options out of range', () => {
  test('every if_tsresol byte: in range it sets the units, out of range it is counted and µs assumed', () => {
    for (let v = 0; v < 256; v++) {
      const { stats } = feed(capture(v));
      const inRange = v & 0x80 ? (v & 0x7f) <= 50 : v <= 15;
      expect(stats.badOptions, `0x${v.toString(16)}`).toEqual(inRange ? {} : { if_tsresol: 1 });
      expect(stats.packets).toBe(9);
      if (!inRange) {
        expect(stats.baseEpochSec).toBe(1_700_000_000); // the ticks read as µs
        expect(stats.badOptionNote).toContain('if_tsresol');
      }
    }
  });

  test('an if_tsoffset beyond 2^33 s is counted and ignored', () => {
    const { stats } = feed(capture(6, 2 ** 40));
    expect(stats.badOptions).toEqual({ if_tsoffset: 1 });
    expect(stats.baseEpochSec).toBe(1_700_000_000);
    expect(feed(capture(6, -100)).stats.badOptions).toEqual({});
  });

  test('inspect: a corrupt if_tsresol is a named problem; a clock beyond any date gives no start; exit 0 both', () => {
    const run = (name: string, file: Buffer, json = true): { status: number | null; stdout: string; stderr: string } => {
      const path = join(dir, name);
      writeFileSync(path, file);
      return spawnSync(process.execPath, [join(ROOT, 'bin/mcreplay.js'), 'inspect', path, ...(json ? ['--json'] : [])], { encoding: 'utf8' });
    };
    type Rep = { start: string | null; quality: { badOptions: Record<string, number>; badOptionNote: string | null }; requests: { total: number } };
    const bad = run('bad-tsresol.pcapng', capture(0x7f));
    expect(bad.stderr).not.toContain('internal error');
    expect(bad.status).toBe(0);
    const rep = JSON.parse(bad.stdout) as Rep;
    expect(rep.start).toBe('2023-11-14T22:13:20.000Z');
    expect(rep.quality.badOptions).toEqual({ if_tsresol: 1 });
    expect(rep.quality.badOptionNote).toMatch(/bad-tsresol\.pcapng: interface 0: if_tsresol 0x7f is out of range/);
    expect(rep.requests.total).toBe(2);
    const text = run('bad-tsresol-text.pcapng', capture(0x7f), false);
    expect(text.status).toBe(0);
    expect(text.stdout).toMatch(/options out of range \(ignored\)\s+if_tsresol 1/);
    // if_tsresol 0 (whole seconds) is valid, but these ticks then lie 54 million years ahead
    const far = run('far.pcapng', capture(0));
    expect(far.stderr).not.toContain('internal error');
    expect(far.status).toBe(0);
    const farRep = JSON.parse(far.stdout) as Rep;
    expect(farRep.start).toBeNull();
    expect(farRep.quality.badOptions).toEqual({});
    expect(farRep.requests.total).toBe(2);
  });
});
