// Shared by the scale tests: run the CLI, read a run's results.json.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ResultsFile } from '../../src/metrics/results-types.js';

export const root = join(import.meta.dirname, '..', '..');
export const cli = join(root, 'bin', 'mcreplay.js');

export interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command (bounded in time: killed after `timeoutMs`). */
export function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env, timeoutMs = 120_000): Promise<Ran> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}

/** `mcreplay args...` */
export const mcreplay = (args: string[], timeoutMs?: number): Promise<Ran> => run(process.execPath, [cli, ...args], process.env, timeoutMs);

/** The one results.json under a reports directory (reports/<run-id>/results.json). */
export function resultsIn(dir: string): { path: string; results: ResultsFile } {
  const ids = readdirSync(dir).filter((f) => existsSync(join(dir, f, 'results.json')));
  if (ids.length !== 1) throw new Error(`${dir}: expected one run directory, found ${ids.join(', ') || 'none'}`);
  const path = join(dir, ids[0]!, 'results.json');
  return { path, results: JSON.parse(readFileSync(path, 'utf8')) as ResultsFile };
}

/** A wall-clock moment `s` seconds ahead, as ISO 8601 with ms. */
export const secondsAhead = (s: number): string => new Date(Date.now() + s * 1000).toISOString();
