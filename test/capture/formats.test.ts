// File formats: classic pcap (both byte orders, µs/ns), pcapng (sections, interfaces, resolutions,
// EPB/SPB, blocks to skip), gzip, stdin, files that are not captures or are cut short, and every
// chunking of the input giving the same output.
import { describe, expect, test, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, writeFileSync, rmSync, readdirSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { gzipSync } from 'node:zlib';
import { spawn } from 'node:child_process';
import ts from 'typescript';
import { readCapture, createCapturePipeline } from '../../src/capture/index.js';
import { McError } from '../../src/errors.js';
import { ethernet, LINKTYPE, pcapFile, pcapngFile, sll2, nullLink, type NgBlock } from '../helpers/pcap-writer.js';
import { Recorder } from './recorder.js';
import { exchange, feed, feedSplit, REQ, RESP } from './util.js';

const T0 = 1_700_000_000;

function pcapOf(opts: { le?: boolean; nano?: boolean } = {}): Buffer {
  const pk = exchange();
  return pcapFile(
    { linkType: LINKTYPE.EN10MB, ...opts },
    pk.map((p, i) => ({ sec: T0 + i, frac: opts.nano ? 123_456_789 : 123_456, data: ethernet(p) })),
  );
}

function expectExchange(rec: Recorder): void {
  expect(rec.list).toHaveLength(1);
  expect(rec.text(1, 0)).toBe(REQ.toString('latin1'));
  expect(rec.text(1, 1)).toBe(RESP.toString('latin1'));
  expect(rec.flows.get(1)!.close?.reason).toBe('fin');
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'mcr-cap-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('classic pcap', () => {
  for (const le of [true, false])
    for (const nano of [false, true])
      test(`${le ? 'little' : 'big'}-endian, ${nano ? 'ns' : 'µs'}`, () => {
        const { rec, stats } = feed(pcapOf({ le, nano }));
        expectExchange(rec);
        expect(stats.format).toBe('pcap');
        expect(stats.nanosecond).toBe(nano);
        expect(stats.packets).toBe(9);
        expect(stats.linkTypes).toEqual({ EN10MB: 9 });
        expect(stats.baseEpochSec).toBe(T0);
        const frac = nano ? 123_456_789 : 123_456_000;
        expect(stats.firstNs).toBe(frac);
        expect(stats.lastNs).toBe(8e9 + frac);
        // REQ is the 4th packet (index 3), RESP the 5th.
        expect(rec.log.find((l) => l.startsWith('data 1.0'))).toContain(`t=${3e9 + frac}`);
        expect(rec.log.find((l) => l.startsWith('data 1.1'))).toContain(`t=${4e9 + frac}`);
        expect(stats.error).toBeNull();
      });
});

describe('older variants', () => {
  test('the "modified" pcap format (magic a1b2cd34, 24-byte record headers)', () => {
    const plain = pcapOf();
    const parts: Buffer[] = [Buffer.from(plain.subarray(0, 24))];
    parts[0]!.writeUInt32LE(0xa1b2cd34, 0);
    for (let at = 24; at < plain.length; ) {
      const caplen = plain.readUInt32LE(at + 8);
      parts.push(plain.subarray(at, at + 16), Buffer.alloc(8, 0x11), plain.subarray(at + 16, at + 16 + caplen));
      at += 16 + caplen;
    }
    const { rec, stats } = feed(Buffer.concat(parts));
    expectExchange(rec);
    expect(stats.packets).toBe(9);
  });

  test('pcapng obsolete packet blocks (type 2)', () => {
    const pk = exchange();
    const blocks: NgBlock[] = pk.map((p, i) => {
      const data = ethernet(p);
      const body = Buffer.alloc(20 + data.length + ((4 - (data.length % 4)) % 4));
      body.writeUInt16LE(0, 0); // interface
      body.writeUInt16LE(0, 2); // drops
      const ts = BigInt(T0 + i) * 1_000_000n;
      body.writeUInt32LE(Number(ts >> 32n), 4);
      body.writeUInt32LE(Number(ts & 0xffffffffn), 8);
      body.writeUInt32LE(data.length, 12);
      body.writeUInt32LE(data.length, 16);
      data.copy(body, 20);
      return { kind: 'raw', type: 2, body };
    });
    const { rec, stats } = feed(pcapngFile([{ interfaces: [{ linkType: LINKTYPE.EN10MB }], blocks }]));
    expectExchange(rec);
    expect(stats.lastNs - stats.firstNs).toBe(8e9);
  });
});

/** One exchange spread over four interfaces of different link types and resolutions, two sections. */
function pcapngOf(): { file: Buffer; expectNs: number[] } {
  const pk = exchange();
  // ifc 0: Ethernet µs; 1: SLL2 ns; 2: NULL with 2^-20 s ticks; 3: Ethernet ns with a 100 s offset.
  const frame = (i: number, p: Buffer): Buffer => (i === 0 || i === 3 ? ethernet(p) : i === 1 ? sll2(p) : nullLink(p, 2, true));
  const units = [1e6, 1e9, 2 ** 20, 1e9];
  const blocks: NgBlock[][] = [[], []];
  const expectNs: number[] = [];
  pk.forEach((p, k) => {
    const ifc = k % 4;
    const sec = T0 + k - (ifc === 3 ? 100 : 0);
    // A fraction every resolution holds exactly: 0.5 s + k/16 s
    const fracNum = 8 + k;
    const ticks = BigInt(sec) * BigInt(units[ifc]!) + (BigInt(units[ifc]!) * BigInt(fracNum)) / 16n;
    blocks[k < 5 ? 0 : 1]!.push({ kind: 'epb', ifc, ts: ticks, data: frame(ifc, p) });
    expectNs.push(k * 1e9 + (1e9 * fracNum) / 16 - 0.5e9 * 0);
    if (k === 2) blocks[0]!.push({ kind: 'raw', type: 4, body: Buffer.from('0100040001020304000000000000', 'hex').subarray(0, 12) }); // NRB
    if (k === 6) {
      blocks[1]!.push({ kind: 'raw', type: 5, body: Buffer.alloc(20) }); // ISB
      blocks[1]!.push({ kind: 'raw', type: 0x0a, body: Buffer.alloc(16) }); // DSB
      blocks[1]!.push({ kind: 'raw', type: 0x40000bad, body: Buffer.alloc(8) }); // custom
      blocks[1]!.push({ kind: 'raw', type: 0x1234, body: Buffer.alloc(0) }); // unknown
    }
  });
  const interfaces = [
    { linkType: LINKTYPE.EN10MB },
    { linkType: LINKTYPE.LINUX_SLL2, tsresol: 9 },
    { linkType: LINKTYPE.NULL, tsresol: 0x80 | 20 },
    { linkType: LINKTYPE.EN10MB, tsresol: 9, tsoffset: 100 },
  ];
  const file = pcapngFile([
    { le: true, interfaces, blocks: blocks[0]! },
    { le: false, interfaces, blocks: blocks[1]! },
  ]);
  return { file, expectNs };
}

describe('pcapng', () => {
  test('two sections of different byte order, four interfaces of different link types and if_tsresol', () => {
    const { file, expectNs } = pcapngOf();
    const { rec, stats } = feed(file);
    expectExchange(rec);
    expect(stats.format).toBe('pcapng');
    expect(stats.nanosecond).toBe(false); // the first interface is µs
    expect(stats.packets).toBe(9);
    expect(stats.linkTypes).toEqual({ EN10MB: 5, LINUX_SLL2: 2, NULL: 2 });
    expect(stats.malformedPackets).toBe(0);
    expect(stats.baseEpochSec).toBe(T0);
    expect(stats.firstNs).toBe(expectNs[0]);
    expect(stats.lastNs).toBe(expectNs[8]);
    expect(rec.log.find((l) => l.startsWith('data 1.0'))).toContain(`t=${expectNs[3]}`);
    expect(rec.log.find((l) => l.startsWith('data 1.1'))).toContain(`t=${expectNs[4]}`);
    expect(stats.timestampInversions + stats.timestampOutliers).toBe(0);
  });

  test('simple packet blocks use interface 0 and its snaplen', () => {
    const pk = exchange();
    const blocks: NgBlock[] = pk.map((p, i) => (i === 3 ? { kind: 'spb', data: ethernet(p) } : { kind: 'epb', ifc: 0, ts: BigInt(T0 + i) * 1_000_000n, data: ethernet(p) }));
    const { rec, stats } = feed(pcapngFile([{ interfaces: [{ linkType: LINKTYPE.EN10MB }], blocks }]));
    expectExchange(rec);
    expect(stats.packets).toBe(9);
    // With a snaplen of 54 (Ethernet + IP + TCP headers) the SPB's payload is cut: a known gap.
    const cut = pcapngFile([{ interfaces: [{ linkType: LINKTYPE.EN10MB, snaplen: 54 }], blocks }]);
    const r2 = feed(cut);
    expect(r2.rec.text(1, 0)).toBe(`<gap ${REQ.length}>`);
    expect(r2.stats.truncatedPackets).toBe(1);
    expect(r2.stats.truncatedBytes).toBe(REQ.length);
  });

  test('a packet for an interface that was never described is counted, not fatal', () => {
    const pk = exchange();
    const blocks: NgBlock[] = pk.map((p, i) => ({ kind: 'epb', ifc: i === 8 ? 7 : 0, ts: BigInt(T0 + i) * 1_000_000n, data: ethernet(p) }));
    const { rec, stats } = feed(pcapngFile([{ interfaces: [{ linkType: LINKTYPE.EN10MB }], blocks }]));
    expect(rec.text(1, 1)).toBe(RESP.toString('latin1'));
    expect(stats.malformedPackets).toBe(1);
  });
});

describe('any chunking gives the same output', () => {
  const cases: [string, Buffer][] = [
    ['pcap', pcapOf()],
    ['pcap big-endian ns', pcapOf({ le: false, nano: true })],
    ['pcapng', pcapngOf().file],
  ];
  for (const [name, file] of cases)
    test(`${name}: split at every byte offset, and in chunks of 1..17 bytes`, () => {
      const whole = feed(file);
      expectExchange(whole.rec);
      for (let cut = 0; cut <= file.length; cut++) {
        const r = feedSplit(file, [cut]);
        expect(r.rec.log, `cut at ${cut}`).toEqual(whole.rec.log);
        expect(r.stats).toEqual(whole.stats);
      }
      for (let chunk = 1; chunk <= 17; chunk++) {
        const r = feed(file, {}, chunk);
        expect(r.rec.log, `chunks of ${chunk}`).toEqual(whole.rec.log);
        expect(r.stats).toEqual(whole.stats);
      }
    });
});

describe('files that are not captures, or are damaged', () => {
  test('text, HTML and empty input name the file and show its first bytes', () => {
    const run = (b: Buffer): unknown => {
      try {
        feed(b);
      } catch (e) {
        return e;
      }
      return null;
    };
    const e1 = run(Buffer.from('<!DOCTYPE html><html>')) as McError;
    expect(e1).toBeInstanceOf(McError);
    expect(e1.message).toContain('test.pcap');
    expect(e1.message).toContain('not a pcap or pcapng capture');
    expect(e1.message).toContain('3c 21 44 4f');
    expect(e1.message).toContain('<!DOCTYPE');
    expect((run(Buffer.alloc(0)) as McError).message).toContain('empty');
    expect((run(Buffer.from('ab')) as McError).message).toContain('61 62');
  });

  test('a file cut in the middle of a record: everything before it, trailingBytes and error set', () => {
    const file = pcapOf();
    const lastRec = 16 + ethernet(exchange()[8]!).length;
    for (const lose of [1, 5, lastRec - 16, lastRec - 1]) {
      const { rec, stats } = feed(file.subarray(0, file.length - lose));
      expect(stats.packets).toBe(8);
      expect(rec.text(1, 0)).toBe(REQ.toString('latin1'));
      expect(rec.text(1, 1)).toBe(RESP.toString('latin1'));
      expect(stats.trailingBytes).toBe(lastRec - lose);
      expect(stats.error).toMatch(/test\.pcap: the capture is cut short in the middle of a record/);
      expect(rec.flows.get(1)!.close?.reason).toBe('fin'); // both FINs precede the lost final ACK
    }
    const ng = pcapngOf().file;
    const r = feed(ng.subarray(0, ng.length - 3));
    expect(r.stats.packets).toBe(8);
    expect(r.stats.trailingBytes).toBeGreaterThan(0);
    expect(r.stats.error).toContain('cut short');
  });

  test('a file cut inside its header is a capture with nothing in it', () => {
    const { stats } = feed(pcapOf().subarray(0, 10));
    expect(stats.format).toBe('pcap');
    expect(stats.packets).toBe(0);
    expect(stats.trailingBytes).toBe(10);
    expect(stats.error).toContain('file header');
  });

  test('garbage in place of a record stops reading there with the byte offset', () => {
    const file = pcapOf();
    const at = 24 + 16 + ethernet(exchange()[0]!).length + 16 + ethernet(exchange()[1]!).length;
    const bad = Buffer.concat([file.subarray(0, at), Buffer.from('GET / HTTP/1.1\r\nHost: example.com\r\n\r\n'), file.subarray(at)]);
    const { rec, stats } = feed(bad);
    expect(stats.packets).toBe(2);
    expect(stats.error).toContain(`at byte ${at}`);
    expect(stats.trailingBytes).toBe(bad.length - at);
    expect(rec.list).toHaveLength(1);
    const ng = pcapngOf().file;
    const r2 = feed(Buffer.concat([ng.subarray(0, 200), Buffer.alloc(64, 0xee)]));
    expect(r2.stats.error).toMatch(/corrupt pcapng data|cut short/);
  });
});

describe('reading files', () => {
  test('readCapture reads plain and gzip files, gzip recognised by content not name', async () => {
    const file = pcapOf({ nano: true });
    writeFileSync(join(dir, 'plain.pcap'), file);
    writeFileSync(join(dir, 'packed.pcap'), gzipSync(file)); // no .gz in the name
    for (const name of ['plain.pcap', 'packed.pcap']) {
      const rec = new Recorder();
      const stats = await readCapture(join(dir, name), { serverPorts: [11211] }, rec);
      expectExchange(rec);
      expect(stats.gzip).toBe(name === 'packed.pcap');
      expect(stats.nanosecond).toBe(true);
      expect(stats.bytesRead).toBe(file.length);
    }
  });

  test('a large file in many chunks with backpressure between chunks', async () => {
    // ~3 MiB: several 1 MiB chunks; ready() is awaited between them.
    const pk = exchange();
    const recs = [];
    for (let i = 0; i < 3000; i++) recs.push({ sec: T0, frac: i, data: ethernet(pk[3]!, [], 0x88b5) }); // non-IP filler
    const file = pcapFile({ linkType: LINKTYPE.EN10MB }, [...pk.slice(0, 4).map((p, i) => ({ sec: T0, frac: i, data: ethernet(p) })), ...recs.flatMap((r) => Array(10).fill(r)), ...pk.slice(4).map((p, i) => ({ sec: T0 + 1, frac: i, data: ethernet(p) }))]);
    writeFileSync(join(dir, 'big.pcap'), file);
    const rec = new Recorder();
    let readies = 0;
    const stats = await readCapture(join(dir, 'big.pcap'), { serverPorts: [11211] }, rec, {
      ready: async () => {
        readies++;
        await new Promise((r) => setTimeout(r, 1)); // a slow consumer: the delay is the backpressure being tested, not a wait for something
      },
    });
    expectExchange(rec);
    expect(stats.nonIp).toBe(30000);
    expect(readies).toBeGreaterThanOrEqual(Math.floor(file.length / (1 << 20)));
  });

  test('gzip cut short: what was readable, and an error', async () => {
    const gz = gzipSync(pcapOf());
    writeFileSync(join(dir, 'cut.pcap.gz'), gz.subarray(0, gz.length - 30));
    const rec = new Recorder();
    const stats = await readCapture(join(dir, 'cut.pcap.gz'), { serverPorts: [11211] }, rec);
    expect(stats.gzip).toBe(true);
    expect(stats.error).toContain('gzip');
    expect(stats.packets).toBeGreaterThan(0);
  });

  test('missing files, directories and non-captures are McErrors naming the file', async () => {
    const sink = new Recorder();
    await expect(readCapture(join(dir, 'nope.pcap'), { serverPorts: [11211] }, sink)).rejects.toThrow(/nope\.pcap: no such file/);
    await expect(readCapture(dir, { serverPorts: [11211] }, sink)).rejects.toThrow(/is a directory/);
    writeFileSync(join(dir, 'notes.txt.gz'), gzipSync(Buffer.from('hello world, not a capture')));
    await expect(readCapture(join(dir, 'notes.txt.gz'), { serverPorts: [11211] }, sink)).rejects.toThrow(/notes\.txt\.gz \(gunzipped\): not a pcap or pcapng capture \(first bytes 68 65 6c 6c 6f/);
  });

  test('an aborted read stops early and says so', async () => {
    writeFileSync(join(dir, 'abort.pcap'), pcapOf());
    const ac = new AbortController();
    ac.abort();
    const stats = await readCapture(join(dir, 'abort.pcap'), { serverPorts: [11211] }, new Recorder(), { signal: ac.signal });
    expect(stats.error).toContain('aborted');
  });

  test("'-' reads standard input (a child process fed through a pipe, plain and gzip)", async () => {
    // Transpile the capture layer into a scratch directory so a plain node child can run it.
    const root = join(dirname(new URL(import.meta.url).pathname), '..', '..');
    const out = join(dir, 'js');
    const files = [...readdirSync(join(root, 'src', 'capture')).map((f) => join('src', 'capture', f)), join('src', 'errors.ts')].filter((f) => f.endsWith('.ts'));
    for (const f of files) {
      const js = ts.transpileModule(readFileSync(join(root, f), 'utf8'), { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
      mkdirSync(dirname(join(out, f)), { recursive: true });
      writeFileSync(join(out, f).replace(/\.ts$/, '.js'), js);
    }
    writeFileSync(join(out, 'package.json'), '{"type":"module"}');
    const child = join(out, 'child.mjs');
    writeFileSync(
      child,
      `import { readCapture } from './src/capture/index.js';
const chunks = [[], []];
const sink = { open() {}, data(id, dir, b) { chunks[dir].push(Buffer.from(b)); }, gap() {}, close() {}, datagram() {} };
const st = await readCapture('-', { serverPorts: [11211] }, sink);
process.stdout.write(JSON.stringify({ gzip: st.gzip, packets: st.packets, c: Buffer.concat(chunks[0]).toString(), s: Buffer.concat(chunks[1]).toString() }));`,
    );
    const file = pcapOf();
    for (const input of [file, gzipSync(file)]) {
      const res = await new Promise<string>((resolve, reject) => {
        const p = spawn(process.execPath, [child], { stdio: ['pipe', 'pipe', 'pipe'] });
        let o = '';
        let e = '';
        p.stdout.on('data', (d) => (o += d));
        p.stderr.on('data', (d) => (e += d));
        p.on('exit', (code) => (code === 0 ? resolve(o) : reject(new Error(`child exited ${code}: ${e}`))));
        // Dribble the input in small pieces to exercise joins across reads.
        let at = 0;
        const step = (): void => {
          if (at >= input.length) return void p.stdin.end();
          p.stdin.write(input.subarray(at, at + 50), step);
          at += 50;
        };
        step();
      });
      const j = JSON.parse(res);
      expect(j).toEqual({ gzip: input !== file, packets: 9, c: REQ.toString(), s: RESP.toString() });
    }
  });
});

test('createCapturePipeline refuses input after end()', () => {
  const p = createCapturePipeline({ serverPorts: [11211] }, new Recorder());
  p.push(pcapOf());
  p.end();
  expect(() => p.push(Buffer.alloc(1))).toThrow(/after end/);
});
