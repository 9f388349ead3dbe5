// The README is the reference of every verb and option: each option that `--help` lists must be
// documented there, so the two cannot drift apart silently.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');

describe('README documents every option of every verb', () => {
  for (const verb of ['inspect', 'replay', 'mirror', 'report', 'compare']) {
    it(verb, () => {
      const help = execFileSync('node', [join(root, 'bin', 'mcreplay.js'), verb, '--help']).toString();
      const options = [...help.matchAll(/^\s+(?:-\w, )?(--[a-z][a-z-]*)/gm)].map((m) => m[1]).filter((o) => o !== '--help');
      expect(options.length).toBeGreaterThan(2);
      const missing = options.filter((o) => !readme.includes(`\`${o}`) && !readme.includes(` ${o}`));
      expect(missing, `options of ${verb} missing from README.md`).toEqual([]);
      expect(readme).toContain(`mcreplay ${verb}`);
    });
  }
});
