// The Node.js check that runs before the CLI, the demo and the tests: an old Node gets a message
// saying what to install, not a cryptic syntax or vitest start-up error.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const { nodeProblem } = createRequire(import.meta.url)(join(root, 'bin', 'node-version.cjs')) as { nodeProblem: (kind: string, version?: string) => string | null };

describe('Node.js version check', () => {
  it("refuses Debian 12's Node 18 for the CLI and the tests, saying what to install", () => {
    for (const kind of ['cli', 'tests']) {
      const m = nodeProblem(kind, '18.20.4');
      expect(m).toMatch(/needs Node\.js 20/);
      expect(m).toMatch(/this is Node\.js 18\.20\.4/);
      expect(m).toMatch(/nodesource|nvm/i);
    }
  });

  it('takes what commander (>=20) and vitest 4 on vite 7 (^20.19 || >=22.12) take', () => {
    expect(nodeProblem('cli', '20.0.0')).toBeNull();
    expect(nodeProblem('tests', '20.18.3')).toMatch(/20\.19/);
    expect(nodeProblem('tests', '20.19.0')).toBeNull();
    expect(nodeProblem('tests', '21.7.3')).not.toBeNull();
    expect(nodeProblem('tests', '22.11.0')).not.toBeNull();
    expect(nodeProblem('tests', '22.12.0')).toBeNull();
    expect(nodeProblem('tests', '24.1.0')).toBeNull();
  });

  it('passes silently on this Node, as the CLI and pretest run it', () => {
    expect(nodeProblem('tests')).toBeNull();
    expect(execFileSync('node', [join(root, 'bin', 'node-version.cjs'), 'tests']).toString()).toBe('');
    expect(execFileSync('node', [join(root, 'bin', 'mcreplay.js'), '--version']).toString().trim()).toMatch(/^\d+\.\d+\.\d+/);
  });
});
