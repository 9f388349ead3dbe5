// `mcreplay report <results.json>`: rebuilds the report from a results file; a missing or bad file
// is a clear usage error (exit code 2).
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { register } from '../../src/commands/report.js';
import { McError } from '../../src/errors.js';
import { makeResults } from './make-results.js';

let dir: string;
let resultsPath: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mcr-cli-'));
  resultsPath = join(dir, 'results.json');
  writeFileSync(resultsPath, JSON.stringify(await makeResults({ intervals: 40, seed: 21 })));
});
afterEach(() => {
  vi.restoreAllMocks();
});

async function run(args: string[]): Promise<{ out: string; err: unknown }> {
  const program = new Command().name('mcreplay').exitOverride();
  program.configureOutput({ writeOut: () => {}, writeErr: () => {} });
  register(program);
  let out = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  try {
    await program.parseAsync(['node', 'mcreplay', 'report', ...args]);
    return { out, err: null };
  } catch (err) {
    return { out, err };
  } finally {
    vi.restoreAllMocks();
  }
}

describe('mcreplay report', () => {
  it('writes index.html and charts/ beside the results file', async () => {
    const { out, err } = await run([resultsPath]);
    expect(err).toBeNull();
    expect(existsSync(join(dir, 'index.html'))).toBe(true);
    expect(readdirSync(join(dir, 'charts')).filter((f) => f.endsWith('.png')).length).toBeGreaterThanOrEqual(7);
    expect(out).toMatch(/report: .*index\.html \([\d.]+ KiB\)/);
  });

  it('--out, --no-png and --json', async () => {
    const out2 = mkdtempSync(join(tmpdir(), 'mcr-cli-out-'));
    const { out, err } = await run([resultsPath, '--out', out2, '--no-png', '--json']);
    expect(err).toBeNull();
    const j = JSON.parse(out) as { html: string; htmlBytes: number; pngs: string[] };
    expect(j.html).toBe(join(out2, 'index.html'));
    expect(j.pngs).toEqual([]);
    expect(j.htmlBytes).toBe(readFileSync(j.html).length);
    expect(existsSync(join(out2, 'charts'))).toBe(false);
  });

  const bad: [string, () => string, RegExp][] = [
    ['a missing file', () => join(dir, 'nope.json'), /results file not found: .*nope\.json/],
    ['a folder', () => dir, /is a folder/],
    ['not JSON', () => write('broken.json', '{"schema": "mcreplay.res'), /not valid JSON/],
    ['another schema', () => write('other.json', JSON.stringify({ schema: 'k6.summary/1' })), /not an mcreplay results file \(schema "k6\.summary\/1"/],
    ['an incomplete file', () => write('partial.json', JSON.stringify({ schema: 'mcreplay.results/1', run: { id: 'x' } })), /incomplete: missing or invalid .*intervals/],
  ];
  function write(name: string, content: string): string {
    const p = join(dir, name);
    writeFileSync(p, content);
    return p;
  }
  for (const [what, path, msg] of bad) {
    it(`exits 2 with a clear message on ${what}`, async () => {
      const { err } = await run([path()]);
      expect(err).toBeInstanceOf(McError);
      expect((err as McError).exitCode).toBe(2);
      expect((err as McError).message).toMatch(msg);
    });
  }

  it('--help has examples', async () => {
    const program = new Command().name('mcreplay').exitOverride();
    register(program);
    const help = program.commands.find((c) => c.name() === 'report')!.helpInformation();
    let after = '';
    program.commands.find((c) => c.name() === 'report')!.configureOutput({ writeOut: (s) => (after += s) });
    await program.parseAsync(['node', 'mcreplay', 'report', '--help']).catch(() => {});
    expect(help).toContain('--no-png');
    expect(help).toContain('--show-keys');
    expect(after).toContain('Examples:');
    expect(after).toContain('mcreplay report reports/');
  });
});
