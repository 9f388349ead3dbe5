// scripts/ensure-tools.sh installs per need: the demo asks for memcached only, the tests for what
// the suite uses. Here everything the demo needs is installed, so it must say and change nothing.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const script = join(import.meta.dirname, '..', '..', 'scripts', 'ensure-tools.sh');
const run = (need: string) => spawnSync('bash', [script, need], { encoding: 'utf8' });

describe('ensure-tools.sh', () => {
  it('is silent for the demo when memcached is there (the demo needs nothing else)', () => {
    const r = run('demo');
    expect(r.status).toBe(0);
    expect(r.stdout + r.stderr).toBe('');
  });

  it('refuses a need it does not know, naming the ones it knows', () => {
    const r = run('everything');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/unknown need 'everything': use demo, tests, captures or all/);
  });
});
