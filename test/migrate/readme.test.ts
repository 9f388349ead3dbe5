// The migration verbs' options are all in the README (as test/cli/readme-options.test.ts checks for
// the other verbs), with their sections and exit codes.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');

describe('README documents warm, keys and top', () => {
  for (const verb of ['warm', 'keys', 'top']) {
    it(verb, () => {
      const help = execFileSync('node', [join(root, 'bin', 'mcreplay.js'), verb, '--help']).toString();
      const options = [...help.matchAll(/^\s+(?:-\w, )?(--[a-z][a-z-]*)/gm)].map((m) => m[1]).filter((o) => o !== '--help');
      expect(options.length).toBeGreaterThan(2);
      const section = readme.slice(readme.indexOf(`## \`mcreplay ${verb}`));
      expect(section.length, `README section "mcreplay ${verb}"`).toBeLessThan(readme.length);
      const body = section.slice(0, section.indexOf('\n## ', 5) < 0 ? undefined : section.indexOf('\n## ', 5));
      const missing = options.filter((o) => !body.includes(`\`${o}`) && !body.includes(` ${o}`));
      expect(missing, `options of ${verb} missing from its README section`).toEqual([]);
      expect(body).toMatch(/[Ee]xit codes?/);
    });
  }
});
