// PNG charts: written beside the report, valid PNG files of the expected size that actually show a
// chart. The files are decoded here by hand (signature, IHDR, zlib IDAT, row filters), not by the
// canvas library that wrote them.
import { beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { makeResults } from './make-results.js';
import { writeReport } from '../../src/report/index.js';

const KEEP = '/tmp/mcreplay-report-test/png';

interface Png {
  width: number;
  height: number;
  colorType: number;
  /** RGBA rows, unfiltered. */
  rgba: Uint8Array;
}

function decodePng(buf: Buffer): Png {
  expect([...buf.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  let p = 8;
  let width = 0;
  let height = 0;
  let bitDepth = 0;
  let colorType = 0;
  const idat: Buffer[] = [];
  let first = true;
  for (;;) {
    const len = buf.readUInt32BE(p);
    const type = buf.toString('latin1', p + 4, p + 8);
    const data = buf.subarray(p + 8, p + 8 + len);
    if (first) {
      expect(type).toBe('IHDR');
      first = false;
    }
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      bitDepth = data[8]!;
      colorType = data[9]!;
      expect(data[12]).toBe(0); // not interlaced
    } else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') break;
    p += 12 + len;
  }
  expect(bitDepth).toBe(8);
  const channels = colorType === 6 ? 4 : colorType === 2 ? 3 : 0;
  expect(channels).toBeGreaterThan(0);
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  expect(raw.length).toBe((stride + 1) * height);
  const cur = new Uint8Array(stride);
  const prev = new Uint8Array(stride);
  const rgba = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    const f = raw[y * (stride + 1)]!;
    const row = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let i = 0; i < stride; i++) {
      const a = i >= channels ? cur[i - channels]! : 0;
      const b = prev[i]!;
      const c = i >= channels ? prev[i - channels]! : 0;
      let v = row[i]!;
      if (f === 1) v += a;
      else if (f === 2) v += b;
      else if (f === 3) v += (a + b) >> 1;
      else if (f === 4) {
        const pp = a + b - c;
        const pa = Math.abs(pp - a);
        const pb = Math.abs(pp - b);
        const pc = Math.abs(pp - c);
        v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      cur[i] = v & 0xff;
    }
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 4;
      rgba[o] = cur[x * channels]!;
      rgba[o + 1] = cur[x * channels + 1]!;
      rgba[o + 2] = cur[x * channels + 2]!;
      rgba[o + 3] = channels === 4 ? cur[x * channels + 3]! : 255;
    }
    prev.set(cur);
  }
  return { width, height, colorType, rgba };
}

describe('PNG charts', () => {
  let pngs: string[] = [];
  let html = '';
  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mcr-png-'));
    const path = join(dir, 'results.json');
    writeFileSync(path, JSON.stringify(await makeResults({ intervals: 150, ramp: [1, 2, 4, 8], seed: 7 })));
    ({ html, pngs } = await writeReport(path));
    mkdirSync(KEEP, { recursive: true });
    for (const p of pngs) copyFileSync(p, join(KEEP, basename(p)));
  });

  it('writes one PNG per chart of the report into charts/', () => {
    const ids = [...readFileSync(html, 'utf8').matchAll(/<canvas id="c-([a-z-]+)"/g)].map((m) => m[1]);
    expect(pngs.map((p) => basename(p, '.png')).sort()).toEqual([...ids].sort());
    for (const p of pngs) expect(p).toBe(join(html.replace(/index\.html$/, 'charts'), basename(p)));
    expect(ids).toContain('knee');
  });

  it('every PNG is a valid 1200×600 image with an opaque background and a drawn chart', () => {
    for (const p of pngs) {
      const png = decodePng(readFileSync(p));
      expect([png.width, png.height], p).toEqual([1200, 600]);
      let opaque = 0;
      let nonWhite = 0;
      const colours = new Set<number>();
      for (let i = 0; i < png.rgba.length; i += 4) {
        const [r, g, b, a] = [png.rgba[i]!, png.rgba[i + 1]!, png.rgba[i + 2]!, png.rgba[i + 3]!];
        if (a === 255) opaque++;
        if (r < 235 || g < 235 || b < 235) nonWhite++;
        if (colours.size < 200) colours.add((r << 16) | (g << 8) | b);
      }
      const pixels = png.width * png.height;
      // a white background (chat previews show transparent PNGs on dark themes) ...
      expect(opaque / pixels, p).toBe(1);
      // ... with axes, text and data on it: not blank, not a solid fill
      expect(nonWhite / pixels, p).toBeGreaterThan(0.01);
      expect(nonWhite / pixels, p).toBeLessThan(0.9);
      expect(colours.size, p).toBeGreaterThan(5);
    }
  });
});
