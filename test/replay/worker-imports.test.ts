// A replay must not load hdr-histogram-js in any thread: importing it and instantiating its
// WebAssembly costs a thread 100-170 ms of CPU (workers record into plain-JS histograms,
// src/metrics/counts-hist.ts; the main thread decodes and merges with src/metrics/dense-hist.ts).
// Checked twice on the built code (dist/, what `mcreplay` runs): the static import graph of the
// worker module, and a real replay whose threads report what they loaded.
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { useMemcached } from '../helpers/memcached.js';
import { replay, tempDir } from './helpers.js';

const ROOT = resolve(import.meta.dirname, '../..');
const DIST = join(ROOT, 'dist');
const HDR = 'hdr-histogram-js';

/** Modules reachable from `entry` through static imports, re-exports and literal dynamic imports: relative files and bare specifiers. */
function importGraph(entry: string): { files: Set<string>; bare: Set<string> } {
  const files = new Set<string>();
  const bare = new Set<string>();
  const re = /\b(?:import|export)\s[^'";]*?\bfrom\s*['"]([^'"]+)['"]|\bimport\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)|\brequire\(\s*['"]([^'"]+)['"]\s*\)/g;
  const walk = (file: string): void => {
    if (files.has(file)) return;
    files.add(file);
    for (const m of readFileSync(file, 'utf8').matchAll(re)) {
      const spec = (m[1] ?? m[2] ?? m[3] ?? m[4])!;
      if (spec.startsWith('.')) walk(resolve(dirname(file), spec));
      else bare.add(spec);
    }
  };
  walk(entry);
  return { files, bare };
}

describe('replay worker threads and hdr-histogram-js', () => {
  it('the worker module does not import it, statically or through a literal dynamic import', () => {
    const worker = importGraph(join(DIST, 'replay/worker.js'));
    // the walk does follow imports: it reaches the recorder and the connection code
    expect(worker.files).toContain(join(DIST, 'metrics/recorder.js'));
    expect(worker.files).toContain(join(DIST, 'replay/conn.js'));
    expect([...worker.bare].filter((s) => s.startsWith(HDR))).toEqual([]);
    expect(worker.files).not.toContain(join(DIST, 'metrics/histogram.js'));
  });

  it('the replay command does not import it either, and the walk sees the packages it does import', () => {
    const cmd = importGraph(join(DIST, 'commands/replay.js'));
    expect(cmd.files).toContain(join(DIST, 'metrics/histogram.js'));
    expect(cmd.files).toContain(join(DIST, 'metrics/dense-hist.js'));
    expect(cmd.bare).toContain('commander');
    expect([...cmd.bare].filter((s) => s.startsWith(HDR))).toEqual([]);
  });

  describe('in a real replay', () => {
    const mc = useMemcached();
    const tmp = tempDir();
    afterAll(() => tmp.cleanup());

    it('no thread loads it, and the results carry histograms', async () => {
      // preloaded into every thread (workers inherit NODE_OPTIONS): each thread notes whether the
      // library is in its module cache whenever it posts a message (a worker posts 'ready', its
      // snapshots and 'done': by then it has loaded all it will) and when it exits
      const out = join(tmp.dir, 'threads.jsonl');
      const probe = join(tmp.dir, 'probe.mjs');
      writeFileSync(
        probe,
        `import { appendFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isMainThread, parentPort, threadId, workerData } from 'node:worker_threads';
const cache = createRequire(import.meta.url).cache;
const loaded = (pkg) => Object.keys(cache).some((k) => k.includes('/node_modules/' + pkg + '/'));
const role = isMainThread ? 'main' : workerData?.mcreplayWaker ? 'waker' : 'worker';
const note = (when) => appendFileSync(${JSON.stringify(out)}, JSON.stringify({ role, threadId, when, hdr: loaded('${HDR}'), commander: loaded('commander') }) + '\\n');
if (parentPort) {
  const post = parentPort.postMessage.bind(parentPort);
  parentPort.postMessage = (m, t) => { note(m?.t ?? 'post'); return post(m, t); };
}
process.on('exit', () => note('exit'));
`,
      );
      const capture = join(ROOT, 'captures/fixtures/gzip-no-suffix.pcap');
      const nodeOptions = `${process.env.NODE_OPTIONS ?? ''} --import=${pathToFileURL(probe).href}`.trim();
      const run = await replay([capture, '--target', mc.address, '--rate', 'max', '--workers', '2', '--no-html', '--no-png'], join(tmp.dir, 'reports'), {
        NODE_OPTIONS: nodeOptions,
      });
      expect(run.code, run.stderr).toBe(0);
      const notes = readFileSync(out, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { role: string; threadId: number; when: string; hdr: boolean; commander: boolean });
      const workers = notes.filter((n) => n.role === 'worker');
      expect(new Set(workers.map((n) => n.threadId)).size).toBe(2);
      // each worker got as far as its last message
      expect(workers.filter((n) => n.when === 'done').length).toBe(2);
      expect(workers.filter((n) => n.hdr)).toEqual([]);
      // nor the main thread, which decodes and merges them; the probe does see what it loads (the CLI's parser)
      const main = notes.filter((n) => n.role === 'main');
      expect(main.length).toBeGreaterThan(0);
      expect(main.filter((n) => n.hdr)).toEqual([]);
      expect(main.some((n) => n.commander)).toBe(true);
      // and the workers' histograms reached the results
      const get = run.results!.summary.perCommand.get!;
      expect(get.response.count).toBeGreaterThan(0);
      expect(get.response.count).toBe(get.counters.completed);
      expect(readdirSync(join(tmp.dir, 'reports')).length).toBe(1);
    });
  });
});
