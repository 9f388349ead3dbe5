// External sort of a key listing: entries are cut into runs of at most `runSize`, each sorted in
// memory and spilled to a temporary file, then merged back in key order through a small heap. Memory
// holds one run while sorting and one entry per run while merging, whatever the key count.
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import type { DumpEntry } from './metadump.js';

/** Sorted runs of one listing, ready to be merged. */
export interface Runs {
  /** Run files on disk, in order written. */
  files: string[];
  /** The last run, kept in memory (the only one when everything fit). */
  tail: DumpEntry[];
  count: number;
}

const byKey = (a: DumpEntry, b: DumpEntry): number => (a.enc < b.enc ? -1 : a.enc > b.enc ? 1 : 0);

async function spill(entries: DumpEntry[], file: string): Promise<void> {
  const out: WriteStream = createWriteStream(file);
  const done = new Promise<void>((resolve, reject) => {
    out.once('finish', resolve);
    out.once('error', reject);
  });
  let chunk: string[] = [];
  for (const e of entries) {
    chunk.push(`${e.enc}\t${e.exp}\t${e.la}\t${e.size}\n`);
    if (chunk.length === 8192) {
      if (!out.write(chunk.join(''))) await new Promise<void>((r) => out.once('drain', () => r()));
      chunk = [];
    }
  }
  out.end(chunk.join(''));
  await done;
}

/** Reads `entries` into sorted runs under `dir` (files named `<prefix>-<n>.tsv`). */
export async function sortIntoRuns(entries: AsyncIterable<DumpEntry>, dir: string, prefix: string, runSize: number): Promise<Runs> {
  const files: string[] = [];
  let buf: DumpEntry[] = [];
  let count = 0;
  for await (const e of entries) {
    buf.push(e);
    count++;
    if (buf.length >= runSize) {
      buf.sort(byKey);
      const f = join(dir, `${prefix}-${files.length}.tsv`);
      await spill(buf, f);
      files.push(f);
      buf = [];
    }
  }
  buf.sort(byKey);
  return { files, tail: buf, count };
}

async function* readRun(file: string): AsyncGenerator<DumpEntry> {
  const rl = createInterface({ input: createReadStream(file, { highWaterMark: 1 << 16 }), crlfDelay: Infinity });
  for await (const line of rl) {
    const t1 = line.indexOf('\t');
    const t2 = line.indexOf('\t', t1 + 1);
    const t3 = line.indexOf('\t', t2 + 1);
    yield { enc: line.slice(0, t1), exp: Number(line.slice(t1 + 1, t2)), la: Number(line.slice(t2 + 1, t3)), size: Number(line.slice(t3 + 1)) };
  }
}

interface Head {
  e: DumpEntry;
  it: AsyncIterator<DumpEntry> | Iterator<DumpEntry>;
}

/** Restores the min-heap order (by key) of run heads below position i. */
function siftDown(h: Head[], i: number): void {
  for (;;) {
    const l = 2 * i + 1;
    const r = l + 1;
    let m = i;
    if (l < h.length && h[l]!.e.enc < h[m]!.e.enc) m = l;
    if (r < h.length && h[r]!.e.enc < h[m]!.e.enc) m = r;
    if (m === i) return;
    [h[i], h[m]] = [h[m]!, h[i]!];
    i = m;
  }
}

/** Merges the runs into one stream in key order; a key listed twice (metadump met it twice) comes once. */
export async function* mergeRuns(runs: Runs): AsyncGenerator<DumpEntry> {
  const its: (AsyncIterator<DumpEntry> | Iterator<DumpEntry>)[] = [...runs.files.map((f) => readRun(f)[Symbol.asyncIterator]()), runs.tail[Symbol.iterator]()];
  const heap: Head[] = [];
  for (const it of its) {
    const n = await it.next();
    if (!n.done) heap.push({ e: n.value, it });
  }
  for (let i = (heap.length >> 1) - 1; i >= 0; i--) siftDown(heap, i);
  let last: string | null = null;
  while (heap.length > 0) {
    const top = heap[0]!;
    if (top.e.enc !== last) {
      last = top.e.enc;
      yield top.e;
    }
    const n = await top.it.next();
    if (n.done) {
      heap[0] = heap[heap.length - 1]!;
      heap.pop();
    } else top.e = n.value;
    if (heap.length > 0) siftDown(heap, 0);
  }
}
