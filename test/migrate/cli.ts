// Runs the built CLI for the migration tests.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

export const cli = join(import.meta.dirname, '..', '..', 'bin', 'mcreplay.js');
const run = promisify(execFile);

/** Runs `mcreplay args`; resolves with its exit code and output (never throws on a non-zero exit). */
export async function mcreplay(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run('node', [cli, ...args], { env, maxBuffer: 64 << 20 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, stdout: x.stdout, stderr: x.stderr };
  }
}
