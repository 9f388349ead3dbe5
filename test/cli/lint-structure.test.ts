// scripts/lint-structure.mjs keeps functions short: one over 150 lines fails the lint (an error,
// not a warning), one of exactly 150 lines passes. The lint runs on a small tree written here
// (--root), so the counts are the ones this test wrote.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../replay/helpers.js';

const ROOT = join(import.meta.dirname, '..', '..');
const tmp = tempDir();
afterAll(() => tmp.cleanup());

/** A function declaration of exactly `lines` lines (its first and last line included). */
function fn(name: string, lines: number): string {
  const body = Array.from({ length: lines - 4 }, (_, i) => `  n += ${i};`);
  return [`export function ${name}(): number {`, '  let n = 0;', ...body, '  return n;', '}', ''].join('\n');
}

function lintTree(name: string, files: Record<string, string>): { status: number | null; stdout: string } {
  const root = join(tmp.dir, name);
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(join(root, 'src', rel, '..'), { recursive: true });
    writeFileSync(join(root, 'src', rel), text);
  }
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'lint-structure.mjs'), '--root', root], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout };
}

describe('lint:structure and long functions', () => {
  it('a function of 151 lines is an error that names it, its line and its length', { timeout: 60_000 }, () => {
    const text = fn('short', 10) + fn('long', 151);
    expect(text.split('\n').length).toBe(10 + 151 + 1);
    const r = lintTree('long', { 'capture/long.ts': text });
    expect(r.stdout).toMatch(/^error: src\/capture\/long\.ts:11: function long is 151 lines \(limit 150\)/m);
    expect(r.stdout).not.toMatch(/function short/);
    expect(r.status).toBe(1);
  });

  it('a function of 150 lines passes', { timeout: 60_000 }, () => {
    const r = lintTree('ok', { 'capture/ok.ts': fn('edge', 150) });
    expect(r.stdout).toMatch(/0 errors \(ok\)/);
    expect(r.status).toBe(0);
  });
});
