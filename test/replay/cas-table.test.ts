// The shared CAS token table: a lossy fixed-size map that replay workers read and write at the same
// time. Threads are real worker_threads running the same source (transpiled on the fly, since
// workers cannot load TypeScript), sharing one SharedArrayBuffer with this thread.
import { afterAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import ts from 'typescript';
import { CasTable, DEFAULT_ENTRIES } from '../../src/replay/cas-table.js';
import { tempDir } from './helpers.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

describe('CasTable', () => {
  it('returns what was set, the latest token per key, and undefined for a miss', () => {
    const t = CasTable.create(64);
    expect(t.get(0, 'k')).toBeUndefined();
    t.set(0, 'k', 17n);
    expect(t.get(0, 'k')).toBe(17n);
    t.set(0, 'k', 5n); // the latest wins, not the largest
    expect(t.get(0, 'k')).toBe(5n);
    expect(t.get(0, 'k2')).toBeUndefined();
    expect(t.get(0, 'K')).toBeUndefined();
  });

  it('keeps targets apart and takes any key and the whole 64-bit token range', () => {
    const t = CasTable.create(64);
    t.set(0, 'same', 1n);
    t.set(1, 'same', 2n);
    expect(t.get(0, 'same')).toBe(1n);
    expect(t.get(1, 'same')).toBe(2n);
    expect(t.get(2, 'same')).toBeUndefined();
    const max = (1n << 64n) - 1n;
    t.set(0, '', max);
    t.set(0, 'k\u0000\u00ff bin', 1n << 63n);
    expect(t.get(0, '')).toBe(max);
    expect(t.get(0, 'k\u0000\u00ff bin')).toBe(1n << 63n);
    expect(t.get(0, 'k\u0000\u00fe bin')).toBeUndefined();
  });

  it('is seen by another handle on the same buffer, and refuses a buffer that is not a table', () => {
    const a = CasTable.create(64);
    const b = new CasTable(a.buffer);
    a.set(3, 'x', 99n);
    expect(b.get(3, 'x')).toBe(99n);
    expect(b.capacity).toBe(a.capacity);
    expect(() => new CasTable(new SharedArrayBuffer(100))).toThrow(/not a table.*CasTable\.create/);
  });

  it('has a fixed size: more keys than entries overwrite old ones, never give a wrong token', () => {
    expect(CasTable.create().capacity).toBe(DEFAULT_ENTRIES);
    const t = CasTable.create(256);
    expect(t.capacity).toBe(256);
    const bytes = t.buffer.byteLength;
    const n = 20_000;
    for (let i = 0; i < n; i++) t.set(i & 1, `key:${i}`, BigInt(i) * 1000n + 7n);
    expect(t.buffer.byteLength).toBe(bytes);
    let hits = 0;
    for (let i = 0; i < n; i++) {
      const v = t.get(i & 1, `key:${i}`);
      if (v === undefined) continue;
      hits++;
      expect(v).toBe(BigInt(i) * 1000n + 7n);
    }
    expect(hits).toBeLessThanOrEqual(t.capacity);
    // most entries are in use (buckets fill before they evict), and the newest key is always kept
    expect(hits).toBeGreaterThan(t.capacity / 2);
    expect(t.get((n - 1) & 1, `key:${n - 1}`)).toBe(BigInt(n - 1) * 1000n + 7n);
  });

  it('spreads keys over the buckets like a uniform hash: at half load few keys are lost', () => {
    const t = CasTable.create(4096);
    for (let i = 0; i < 2048; i++) t.set(0, `user:${i}:profile`, BigInt(i));
    let hits = 0;
    for (let i = 0; i < 2048; i++) if (t.get(0, `user:${i}:profile`) === BigInt(i)) hits++;
    // uniform hashing into 4-way buckets at half load overflows about 77 of 2048 keys (Poisson, mean 2)
    expect(hits).toBeGreaterThan(1940);
  });
});

/** cas-table.ts as an ES module a worker thread can import (the file imports nothing). */
function compiledTable(): string {
  const src = readFileSync(resolve(import.meta.dirname, '../../src/replay/cas-table.ts'), 'utf8');
  const out = ts.transpileModule(src, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } });
  const p = join(tmp.dir, 'cas-table.mjs');
  writeFileSync(p, out.outputText);
  return pathToFileURL(p).href;
}

/**
 * Each thread sets and gets random keys of a small table (so every bucket is contended and evicts).
 * A token says whose it is: high 32 bits = key id (target * KEYS + key), then writer id and a
 * counter. A read that pairs one write's tag with another's token shows up as a foreign key id.
 */
const HAMMER = `
import { workerData, parentPort } from 'node:worker_threads';
const { CasTable } = await import(workerData.module);
const t = new CasTable(workerData.buffer);
const { id, loops, keys } = workerData;
const names = [];
for (let k = 0; k < keys; k++) names.push('key:' + k);
let s = (id + 1) * 0x9e3779b1;
const rnd = () => { s ^= s << 13; s ^= s >>> 17; s ^= s << 5; return s >>> 0; };
let hits = 0, misses = 0, bad = [];
for (let i = 0; i < loops; i++) {
  const r = rnd();
  const target = r & 1, k = (r >>> 1) % keys, kid = target * keys + k;
  t.set(target, names[k], (BigInt(kid) << 32n) | (BigInt(id) << 24n) | BigInt(i & 0xffffff));
  const r2 = rnd();
  const target2 = r2 & 1, k2 = (r2 >>> 1) % keys, kid2 = target2 * keys + k2;
  const v = t.get(target2, names[k2]);
  if (v === undefined) { misses++; continue; }
  hits++;
  const writer = Number((v >> 24n) & 0xffn);
  if (Number(v >> 32n) !== kid2 || writer >= workerData.writers || Number(v & 0xffffffn) >= loops) {
    if (bad.length < 5) bad.push({ want: kid2, got: v.toString(16) });
  }
}
parentPort.postMessage({ hits, misses, bad });
`;

describe('CasTable across threads', () => {
  it('two threads hammering one table never read a token that was not written for that key', async () => {
    const module = compiledTable();
    // 4 buckets for 32 (target, key) pairs: constant contention and eviction. Without the seqlock
    // (reader check and writer exclusion removed) this reads foreign tokens in every trial run.
    const table = CasTable.create(16);
    const writers = 2;
    const loops = 200_000;
    const keys = 16;
    const runs = Array.from({ length: writers }, (_, id) => {
      const w = new Worker(HAMMER, { eval: true, workerData: { module, buffer: table.buffer, id, loops, keys, writers } });
      return new Promise<{ hits: number; misses: number; bad: unknown[] }>((res, rej) => {
        w.once('message', res);
        w.once('error', rej);
        w.once('exit', (code) => rej(new Error(`hammer thread ${id} exited with ${code} before reporting`)));
      });
    });
    const results = await Promise.all(runs);
    for (const r of results) {
      expect(r.bad).toEqual([]);
      // the loop really read tokens (and missed evicted ones): the check above was exercised
      expect(r.hits).toBeGreaterThan(loops / 20);
      expect(r.misses).toBeGreaterThan(0);
    }
    // every key this thread can still read carries its own id
    for (let k = 0; k < keys; k++) {
      for (const target of [0, 1]) {
        const v = table.get(target, `key:${k}`);
        if (v !== undefined) expect(Number(v >> 32n)).toBe(target * keys + k);
      }
    }
  });
});
