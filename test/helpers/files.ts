// Reading back what a run wrote, for "the secret is in none of it" checks.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Every file under `dir` (recursively), concatenated as latin1 text. */
export function allFilesText(dir: string): string {
  let out = '';
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    out += statSync(p).isDirectory() ? allFilesText(p) : readFileSync(p).toString('latin1');
  }
  return out;
}
