// Builds dist/ for tests that spawn the CLI, once: test files run in parallel, and a second `tsc`
// rewriting dist/ while another test's CLI is loading it makes that CLI fail at random.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmdirSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from '../helpers/wait.js';

function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestMtime(p));
    else if (e.name.endsWith('.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

/** Runs `tsc -p .` unless dist/ is newer than every file in src/; serialised across test workers by a lock directory. */
export async function ensureBuilt(root: string): Promise<void> {
  const lock = join(root, 'node_modules', '.mcreplay-gate-build.lock');
  // the lock is a directory another worker removes when its build is done: poll for it, bounded
  await waitFor(`build lock ${lock} (another test worker building dist/)`, () => {
    try {
      mkdirSync(lock);
      return true;
    } catch {
      // a lock older than 3 minutes is left over from a killed run
      try {
        if (Date.now() - statSync(lock).mtimeMs > 180_000) rmdirSync(lock);
      } catch {
        /* gone meanwhile */
      }
      return false;
    }
  }, 180_000, 200);
  try {
    const cli = join(root, 'dist', 'cli.js');
    if (existsSync(cli) && statSync(cli).mtimeMs >= newestMtime(join(root, 'src'))) return;
    try {
      execFileSync('npx', ['tsc', '-p', '.'], { cwd: root, stdio: 'pipe' });
    } catch {
      /* type errors in other files still emit JS; the caller checks that the CLI runs */
    }
  } finally {
    rmdirSync(lock);
  }
}
