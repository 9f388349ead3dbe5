// Captures that store a segment after the peer's answer to it (multi-queue NICs captured on several
// rings, `-i any`, mergecap of two interfaces, SPAN ports, bonding): requests must still come before
// their responses and pair with them; genuine loss must still be a gap, and what follows it must
// pair as before. Checked on the capture streams and on the extracted workload.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { LINKTYPE, pcapFile, TcpConv } from '../helpers/pcap-writer.js';
import { Recorder } from '../capture/recorder.js';
import { feed } from '../capture/util.js';
import type { CaptureStats } from '../../src/capture/types.js';
import { extractWorkload, type ExtractStats } from '../../src/workload/extract.js';
import type { CapturedOutcome, WorkloadRequest } from '../../src/workload/model.js';

const T0 = 1_700_000_000;
const dir = mkdtempSync(join(tmpdir(), 'mcreplay-late-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A packet and its capture time in µs from T0. */
interface Rec {
  pkt: Buffer;
  us: number;
}

function pcap(recs: Rec[]): Buffer {
  return pcapFile(
    { linkType: LINKTYPE.RAW },
    recs.map((r) => ({ sec: T0 + Math.floor(r.us / 1e6), frac: r.us % 1e6, data: r.pkt })),
  );
}

interface Extracted {
  reqs: WorkloadRequest[];
  outcomes: Map<WorkloadRequest, CapturedOutcome>;
  capture: CaptureStats;
  extract: ExtractStats;
  /** The capture layer's view of the same file. */
  rec: Recorder;
}

let fileNo = 0;
async function extract(recs: Rec[]): Promise<Extracted> {
  const file = pcap(recs);
  const path = join(dir, `c${fileNo++}.pcap`);
  writeFileSync(path, file);
  const reqs: WorkloadRequest[] = [];
  const outcomes = new Map<WorkloadRequest, CapturedOutcome>();
  const res = await extractWorkload(path, { serverPorts: [11211] }, {
    connection() {},
    request: (r) => void reqs.push(r),
    outcome: (r, o) => void outcomes.set(r, o),
    close() {},
  });
  return { reqs, outcomes, capture: res.capture, extract: res.extract, rec: feed(file).rec };
}

const GET = (k: string): Buffer => Buffer.from(`get ${k}\r\n`);
const HIT = (k: string, v: string): Buffer => Buffer.from(`VALUE ${k} 0 ${v.length}\r\n${v}\r\nEND\r\n`);
/** Values of different lengths, so a response paired with the wrong request shows in valueBytes. */
const VAL = ['a', 'bb', 'ccc', 'dddd', 'eeeee'];

/** One connection: handshake, then get k<i> answered by VAL[i] for each i, then FIN both ways. */
function conversation(n: number, cport = 40000): { hs: Buffer[]; req: Buffer[]; resp: Buffer[]; end: Buffer[] } {
  const c = new TcpConv('10.0.0.1', cport, '10.0.0.2', 11211);
  const hs = c.handshake();
  const req: Buffer[] = [];
  const resp: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    req.push(c.send(0, GET(`k${i}`)));
    resp.push(c.send(1, HIT(`k${i}`, VAL[i]!)));
  }
  return { hs, req, resp, end: [c.packet(0, 'A'), c.fin(0), c.fin(1), c.packet(0, 'A')] };
}

/** Packets at the given µs, in the given order. */
const at = (pairs: [Buffer, number][]): Rec[] => pairs.map(([pkt, us]) => ({ pkt, us }));

/** Every request k<i> of `keys` is there in order, and paired with its own answer. */
function expectPaired(x: Extracted, keys: number[]): void {
  expect(x.reqs.map((r) => r.keys.join(' '))).toEqual(keys.map((i) => `k${i}`));
  for (const [j, r] of x.reqs.entries()) {
    const o = x.outcomes.get(r);
    expect(o, `outcome of k${keys[j]}`).toBeDefined();
    expect([o!.status, o!.hits, o!.valueBytes], `outcome of k${keys[j]}`).toEqual(['VALUE', 1, VAL[keys[j]!]!.length]);
    expect(o!.latencyNs).not.toBeNull();
    expect(o!.latencyNs!).toBeGreaterThanOrEqual(0);
  }
  expect(x.extract.unexpectedResponseBytes).toBe(0);
  expect(x.extract.orphanResponseBytes).toBe(0);
}

/** The capture layer handed on the client bytes of k<i> before the server bytes answering them. */
function expectCausal(x: Extracted, keys: number[]): void {
  const dataLines = x.rec.log.filter((l) => l.startsWith('data 1.'));
  for (const i of keys) {
    const req = dataLines.findIndex((l) => l.startsWith('data 1.0') && Buffer.from(l.split(' ')[2]!, 'hex').toString().includes(`get k${i}\r\n`));
    const resp = dataLines.findIndex((l) => l.startsWith('data 1.1') && Buffer.from(l.split(' ')[2]!, 'hex').toString().includes(`VALUE k${i} `));
    expect(req, `request k${i} delivered`).toBeGreaterThanOrEqual(0);
    expect(req, `request k${i} before its response`).toBeLessThan(resp);
  }
  expect(x.rec.tsWentBack).toBe(0);
}

describe('a client segment stored after the answer to it', () => {
  test('(a) same timestamp as the response', async () => {
    const { hs, req, resp, end } = conversation(3);
    const x = await extract(at([[hs[0]!, 0], [hs[1]!, 10], [hs[2]!, 20], [req[0]!, 1000], [resp[0]!, 1100], [resp[1]!, 2000], [req[1]!, 2000], [req[2]!, 3000], [resp[2]!, 3100], ...end.map((p, i): [Buffer, number] => [p, 4000 + i])]));
    expectPaired(x, [0, 1, 2]);
    expectCausal(x, [0, 1, 2]);
    expect(x.capture.gapEvents).toBe(0);
    expect(x.extract.requestsCut).toBe(0);
    expect(x.rec.flows.get(1)!.close?.reason).toBe('fin');
  });

  test('(b) 50 µs later than the response', async () => {
    const { hs, req, resp, end } = conversation(3);
    const x = await extract(at([[hs[0]!, 0], [hs[1]!, 10], [hs[2]!, 20], [req[0]!, 1000], [resp[0]!, 1100], [resp[1]!, 2000], [req[1]!, 2050], [req[2]!, 3000], [resp[2]!, 3100], ...end.map((p, i): [Buffer, number] => [p, 4000 + i])]));
    expectPaired(x, [0, 1, 2]);
    expectCausal(x, [0, 1, 2]);
    expect(x.capture.gapEvents).toBe(0);
    // the request's time is its own; its answer cannot come before it
    const r1 = x.reqs[1]!;
    expect(r1.tsNs).toBe(2_050_000);
    expect(x.outcomes.get(r1)!.latencyNs).toBe(0);
  });

  test('(c) file order differs from time order: the request is earlier in time, later in the file', async () => {
    const { hs, req, resp, end } = conversation(3);
    const x = await extract(at([[hs[0]!, 0], [hs[1]!, 10], [hs[2]!, 20], [req[0]!, 1000], [resp[0]!, 1100], [resp[1]!, 2100], [req[1]!, 2000], [req[2]!, 3000], [resp[2]!, 3100], ...end.map((p, i): [Buffer, number] => [p, 4000 + i])]));
    expectPaired(x, [0, 1, 2]);
    expectCausal(x, [0, 1, 2]);
    expect(x.capture.gapEvents).toBe(0);
    expect(x.capture.timestampInversions).toBe(1);
  });

  test('(d) a request in two segments, the second stored after the response', async () => {
    const c = new TcpConv('10.0.0.1', 40000, '10.0.0.2', 11211);
    const hs = c.handshake();
    const r0 = c.send(0, GET('k0'));
    const a0 = c.send(1, HIT('k0', VAL[0]!));
    const whole = GET('k1 k2'); // a multi-key get, split inside a key
    const s1 = c.send(0, whole.subarray(0, 6));
    const s2 = c.send(0, whole.subarray(6));
    const a1 = c.send(1, Buffer.concat([HIT('k1', VAL[1]!).subarray(0, -5), HIT('k2', VAL[2]!)]));
    const end = [c.fin(0), c.fin(1), c.packet(0, 'A')];
    const x = await extract(at([[hs[0]!, 0], [hs[1]!, 10], [hs[2]!, 20], [r0, 1000], [a0, 1100], [s1, 2000], [a1, 2100], [s2, 2100], ...end.map((p, i): [Buffer, number] => [p, 3000 + i])]));
    expect(x.reqs.map((r) => r.keys.join(' '))).toEqual(['k0', 'k1 k2']);
    const o = x.outcomes.get(x.reqs[1]!)!;
    expect([o.status, o.hits, o.misses, o.valueBytes]).toEqual(['VALUE', 2, 0, 5]);
    expect(x.rec.text(1, 0)).toBe(`${GET('k0')}${whole}`);
    expect(x.capture.gapEvents).toBe(0);
    expect(x.extract.unexpectedResponseBytes).toBe(0);
    expect(x.rec.flows.get(1)!.close?.reason).toBe('fin');
  });

  test('(d) a request in two segments, the first stored after the response', async () => {
    const c = new TcpConv('10.0.0.1', 40000, '10.0.0.2', 11211);
    const hs = c.handshake();
    const r0 = c.send(0, GET('k0'));
    const a0 = c.send(1, HIT('k0', VAL[0]!));
    const whole = GET('k1 k2');
    const s1 = c.send(0, whole.subarray(0, 6));
    const s2 = c.send(0, whole.subarray(6));
    const a1 = c.send(1, Buffer.concat([HIT('k1', VAL[1]!).subarray(0, -5), HIT('k2', VAL[2]!)]));
    const end = [c.fin(0), c.fin(1), c.packet(0, 'A')];
    const x = await extract(at([[hs[0]!, 0], [hs[1]!, 10], [hs[2]!, 20], [r0, 1000], [a0, 1100], [s2, 2000], [a1, 2100], [s1, 2100], ...end.map((p, i): [Buffer, number] => [p, 3000 + i])]));
    expect(x.reqs.map((r) => r.keys.join(' '))).toEqual(['k0', 'k1 k2']);
    const o = x.outcomes.get(x.reqs[1]!)!;
    expect([o.status, o.hits, o.misses, o.valueBytes]).toEqual(['VALUE', 2, 0, 5]);
    expect(x.rec.text(1, 0)).toBe(`${GET('k0')}${whole}`);
    expect(x.capture.gapEvents).toBe(0);
    expect(x.extract.unexpectedResponseBytes).toBe(0);
  });

  test('the client direction runs two exchanges behind the server direction', async () => {
    const { hs, req, resp, end } = conversation(5);
    const x = await extract(at([[hs[0]!, 0], [hs[1]!, 10], [hs[2]!, 20], [req[0]!, 1000], [resp[0]!, 1100], [resp[1]!, 2100], [resp[2]!, 3100], [req[1]!, 3200], [req[2]!, 3200], [resp[3]!, 4100], [req[3]!, 4200], [req[4]!, 5000], [resp[4]!, 5100], ...end.map((p, i): [Buffer, number] => [p, 6000 + i])]));
    expectPaired(x, [0, 1, 2, 3, 4]);
    expectCausal(x, [0, 1, 2, 3, 4]);
    expect(x.capture.gapEvents).toBe(0);
  });

  test('a server segment stored after the next request that ACKs it', async () => {
    const c = new TcpConv('10.0.0.1', 40000, '10.0.0.2', 11211);
    const hs = c.handshake();
    const r0 = c.send(0, GET('k0'));
    const head = c.send(1, HIT('k0', VAL[0]!).subarray(0, 8));
    const tail = c.send(1, HIT('k0', VAL[0]!).subarray(8));
    const r1 = c.send(0, GET('k1'));
    const a1 = c.send(1, HIT('k1', VAL[1]!));
    const x = await extract(at([[hs[0]!, 0], [hs[1]!, 10], [hs[2]!, 20], [r0, 1000], [head, 1100], [r1, 2000], [tail, 2000], [a1, 2100], [c.fin(0), 3000], [c.fin(1), 3001]]));
    expectPaired(x, [0, 1]);
    expect(x.capture.gapEvents).toBe(0);
  });
});

describe('genuine loss is still a gap', () => {
  test('(e) a request the capture never holds: a gap of its size, the rest pairs as before', async () => {
    const { hs, req, resp, end } = conversation(4);
    const x = await extract(at([[hs[0]!, 0], [hs[1]!, 10], [hs[2]!, 20], [req[0]!, 1000], [resp[0]!, 1100], [resp[1]!, 2100], [req[2]!, 3000], [resp[2]!, 3100], [req[3]!, 4000], [resp[3]!, 4100], ...end.map((p, i): [Buffer, number] => [p, 5000 + i])]));
    expectPairedExcept(x, [0, 2, 3], resp[1]!.length - 40);
    expect(x.capture.gapEvents).toBe(1);
    expect(x.capture.gapBytes).toBe(GET('k1').length);
    expect(x.extract.requestsCut).toBe(1);
    expect(x.rec.text(1, 0)).toBe(`${GET('k0')}<gap ${GET('k1').length}>${GET('k2')}${GET('k3')}`);
    expect(x.rec.flows.get(1)!.close?.reason).toBe('fin');
  });

  test('(e) a lost request with a pipelined one behind it: the answer to the lost one pairs with nothing', async () => {
    const c = new TcpConv('10.0.0.1', 40000, '10.0.0.2', 11211);
    const hs = c.handshake();
    const r0 = c.send(0, GET('k0'));
    const a0 = c.send(1, HIT('k0', VAL[0]!));
    const lost = c.send(0, GET('k1'));
    const a1 = c.send(1, HIT('k1', VAL[1]!));
    const r2 = c.send(0, GET('k2'));
    const a2 = c.send(1, HIT('k2', VAL[2]!));
    void lost;
    const x = await extract(at([[hs[0]!, 0], [hs[1]!, 10], [hs[2]!, 20], [r0, 1000], [a0, 1100], [a1, 2100], [r2, 2200], [a2, 2300], [c.fin(0), 3000], [c.fin(1), 3001]]));
    expectPairedExcept(x, [0, 2], a1.length - 40);
    expect(x.capture.gapEvents).toBe(1);
  });

  test('(e) the last request of a capture is lost: a gap, the answer pairs with nothing', async () => {
    const { hs, req, resp } = conversation(2);
    const x = await extract(at([[hs[0]!, 0], [hs[1]!, 10], [hs[2]!, 20], [req[0]!, 1000], [resp[0]!, 1100], [resp[1]!, 2100]]));
    expectPairedExcept(x, [0], resp[1]!.length - 40);
    expect(x.capture.gapEvents).toBe(1);
    expect(x.capture.gapBytes).toBe(GET('k1').length);
  });
});

/** Requests `keys` pair with their own answers; `orphan` server bytes answered a lost request. */
function expectPairedExcept(x: Extracted, keys: number[], orphan: number): void {
  expect(x.reqs.map((r) => r.keys.join(' '))).toEqual(keys.map((i) => `k${i}`));
  for (const [j, r] of x.reqs.entries()) {
    const o = x.outcomes.get(r);
    expect(o, `outcome of k${keys[j]}`).toBeDefined();
    expect([o!.status, o!.valueBytes], `outcome of k${keys[j]}`).toEqual(['VALUE', VAL[keys[j]!]!.length]);
  }
  expect(x.extract.unexpectedResponseBytes).toBe(orphan);
}

describe('what is held waiting for a late segment is bounded', () => {
  /** A lost request, then `n` server segments of `size` bytes that ACK past it at `us(i)`, then a marker connection. */
  function lostThenMany(n: number, size: number, us: (i: number) => number, markerAfter: number): Rec[] {
    const c = new TcpConv('10.0.0.1', 40000, '10.0.0.2', 11211);
    const hs = c.handshake();
    c.send(0, GET('lost'));
    const recs = at([[hs[0]!, 0], [hs[1]!, 10], [hs[2]!, 20]]);
    const marker = new TcpConv('10.0.0.9', 40009, '10.0.0.2', 11211);
    for (let i = 0; i < n; i++) {
      recs.push({ pkt: c.send(1, Buffer.alloc(size, 0x61 + (i % 26))), us: us(i) });
      if (i === markerAfter) recs.push({ pkt: marker.handshake()[0]!, us: us(i) });
    }
    return recs;
  }

  /** The first server bytes were handed on before the marker connection opened, and all bytes arrived. */
  function expectReleasedBeforeMarker(recs: Rec[], n: number, size: number): void {
    const { rec, stats } = feed(pcap(recs));
    const firstData = rec.log.findIndex((l) => l.startsWith('data 1.1'));
    expect(firstData).toBeGreaterThanOrEqual(0);
    expect(firstData).toBeLessThan(rec.log.findIndex((l) => l.startsWith('open 2')));
    expect(rec.bytes(1, 1).length).toBe(n * size);
    expect(rec.text(1, 0)).toBe(`<gap ${GET('lost').length}>`);
    expect(stats.gapEvents).toBe(1);
    expect(rec.tsWentBack).toBe(0);
  }

  test('by packets: at most 1000 of the flow', () => {
    expectReleasedBeforeMarker(lostThenMany(1200, 10, (i) => 1000 + i, 1100), 1200, 10);
  });

  test('by capture time: at most 100 ms', () => {
    expectReleasedBeforeMarker(lostThenMany(30, 10, (i) => 1000 + i * 10_000, 15), 30, 10);
  });

  test('by bytes: at most 1 MiB per direction', () => {
    expectReleasedBeforeMarker(lostThenMany(40, 60_000, () => 1000, 25), 40, 60_000);
  });
});

describe('holds and the rest of TCP', () => {
  test('a request sent with FIN, answered after it: the ACK of the FIN holds nothing', async () => {
    const c = new TcpConv('10.0.0.1', 40000, '10.0.0.2', 11211);
    const hs = c.handshake();
    const r0 = c.send(0, GET('k0'));
    const fin0 = c.fin(0);
    const a0 = c.send(1, HIT('k0', VAL[0]!)); // ACKs the FIN's sequence number too
    const x = await extract(at([[hs[0]!, 0], [hs[1]!, 10], [hs[2]!, 20], [r0, 1000], [fin0, 1001], [a0, 1100], [c.fin(1), 1200], [c.packet(0, 'A'), 1300]]));
    expectPaired(x, [0]);
    expect(x.capture.gapEvents).toBe(0);
    expect(x.rec.log.at(-1)).toBe('close 1 fin t=1200000');
  });

  test('late segments across the 32-bit sequence wrap', async () => {
    const c = new TcpConv('10.0.0.1', 40000, '10.0.0.2', 11211, [0xffffffff - 12, 0xfffffffa]);
    const hs = c.handshake();
    const req = [0, 1, 2].map((i) => c.send(0, GET(`k${i}`)));
    const resp = [0, 1, 2].map((i) => c.send(1, HIT(`k${i}`, VAL[i]!)));
    // the client's requests all stored after the server's answers
    const x = await extract(at([[hs[0]!, 0], [hs[1]!, 10], [hs[2]!, 20], [resp[0]!, 1000], [resp[1]!, 1000], [resp[2]!, 1000], [req[0]!, 1000], [req[1]!, 1000], [req[2]!, 1000]]));
    expectPaired(x, [0, 1, 2]);
    expectCausal(x, [0, 1, 2]);
    expect(x.capture.gapEvents).toBe(0);
  });

  test('a quiet flow does not keep its hold until the end: the sweep ends it on capture time', () => {
    const c = new TcpConv('10.0.0.1', 40000, '10.0.0.2', 11211);
    const hs = c.handshake();
    c.send(0, GET('lost'));
    const a = c.send(1, HIT('lost', 'x'));
    const other = new TcpConv('10.0.0.3', 40003, '10.0.0.2', 11211);
    const ohs = other.handshake();
    const recs = at([[hs[0]!, 0], [hs[1]!, 10], [hs[2]!, 20], [a, 1000], [ohs[0]!, 500_000], [ohs[1]!, 500_010], [ohs[2]!, 500_020], [other.send(0, GET('z')), 1_500_000]]);
    const { rec } = feed(pcap(recs));
    const released = rec.log.findIndex((l) => l.startsWith('data 1.1'));
    expect(released).toBeGreaterThan(0);
    expect(released).toBeLessThan(rec.log.findIndex((l) => l.startsWith('data 2.0')));
    expect(rec.text(1, 0)).toBe(`<gap ${GET('lost').length}>`);
  });

  test('a quiet flow with a hole and no ACK past it keeps waiting for the retransmission that fills it', () => {
    const c = new TcpConv('10.0.0.1', 40000, '10.0.0.2', 11211);
    const hs = c.handshake();
    const parts = [GET('k0'), GET('k1'), GET('k2')].map((b) => c.send(0, b));
    const other = new TcpConv('10.0.0.3', 40003, '10.0.0.2', 11211);
    const ohs = other.handshake();
    const recs = at([[hs[0]!, 0], [hs[1]!, 10], [hs[2]!, 20], [parts[0]!, 1000], [parts[2]!, 1010], [ohs[0]!, 1_000_000], [ohs[1]!, 1_800_000], [ohs[2]!, 2_600_000], [parts[1]!, 3_000_000]]);
    const { rec, stats } = feed(pcap(recs));
    expect(rec.text(1, 0)).toBe(`${GET('k0')}${GET('k1')}${GET('k2')}`);
    expect(stats.gapEvents).toBe(0);
  });

  test('segments that ACK each other in a circle (no real stack does): both holds run out, nothing is lost', () => {
    const c = new TcpConv('10.0.0.1', 40000, '10.0.0.2', 11211);
    const hs = c.handshake();
    const cs = c.seq[0];
    const ss = c.seq[1];
    // each side's first segment ACKs the other side's first segment
    const pc = c.packet(0, 'PA', GET('k0'));
    const ps = c.packet(1, 'PA', HIT('k0', 'a'));
    const fix = (pkt: Buffer, ack: number): Buffer => {
      pkt.writeUInt32BE(ack >>> 0, 20 + 8);
      return pkt;
    };
    fix(pc, ss + HIT('k0', 'a').length);
    fix(ps, cs + GET('k0').length);
    const { rec, stats } = feed(pcap(at([[hs[0]!, 0], [hs[1]!, 10], [hs[2]!, 20], [pc, 1000], [ps, 1000]])));
    expect(rec.text(1, 0)).toBe(GET('k0').toString());
    expect(rec.text(1, 1)).toBe(HIT('k0', 'a').toString());
    expect(stats.gapEvents).toBe(0);
  });

  test('only the server direction was captured after the handshake: gaps of the ACKed size, data goes on', () => {
    const c = new TcpConv('10.0.0.1', 40000, '10.0.0.2', 11211);
    const hs = c.handshake();
    const recs = at([[hs[0]!, 0], [hs[1]!, 10], [hs[2]!, 20]]);
    let want = '';
    for (let i = 0; i < 5; i++) {
      c.send(0, GET(`k${i}`));
      const r = HIT(`k${i}`, VAL[i]!);
      want += r.toString();
      recs.push({ pkt: c.send(1, r), us: 1000 + i * 200_000 });
    }
    const { rec, stats } = feed(pcap(recs));
    expect(rec.text(1, 1)).toBe(want);
    expect(rec.text(1, 0)).toBe([0, 1, 2, 3, 4].map((i) => `<gap ${GET(`k${i}`).length}>`).join(''));
    expect(stats.gapEvents).toBe(5);
  });
});
