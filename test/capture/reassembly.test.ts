// TCP reassembly edge cases, each checked against the bytes the test put on the wire.
import { describe, expect, test } from 'vitest';
import { ipTcp, LINKTYPE, pcapFile, TcpConv } from '../helpers/pcap-writer.js';
import type { CaptureOptions } from '../../src/capture/types.js';
import { feed, REQ, RESP } from './util.js';

const T0 = 1_700_000_000;

/** Packets 1 ms apart (or at the given ms offsets) on a raw-IP capture, run through the pipeline. */
function run(pkts: Buffer[], opts: Partial<CaptureOptions> = {}, ms?: number[], origLens?: (number | undefined)[]): ReturnType<typeof feed> {
  const file = pcapFile(
    { linkType: LINKTYPE.RAW },
    pkts.map((data, i) => {
      const t = ms ? ms[i]! : i;
      return { sec: T0 + Math.floor(t / 1000), frac: Math.round((t % 1000) * 1000), data, origLen: origLens?.[i] };
    }),
  );
  return feed(file, opts);
}

/** Splits a payload into n nearly equal pieces. */
function pieces(b: Buffer, n: number): Buffer[] {
  const out: Buffer[] = [];
  const step = Math.ceil(b.length / n);
  for (let i = 0; i < b.length; i += step) out.push(b.subarray(i, i + step));
  return out;
}

const BIG = Buffer.from(Array.from({ length: 40 }, (_, i) => `set key:${i} 0 0 10\r\n${String(i).padStart(10, '0')}\r\n`).join(''));

describe('ordering', () => {
  test('reordered segments come out in order', () => {
    const c = new TcpConv('10.0.0.1', 40000, '10.0.0.2', 11211);
    const hs = c.handshake();
    const segs = pieces(BIG, 6).map((p) => c.send(0, p));
    const resp = c.send(1, RESP);
    const r = run([...hs, segs[0]!, segs[2]!, segs[1]!, segs[5]!, segs[4]!, segs[3]!, resp, c.fin(0), c.fin(1)]);
    expect(r.rec.text(1, 0)).toBe(BIG.toString('latin1'));
    expect(r.rec.text(1, 1)).toBe(RESP.toString('latin1'));
    expect(r.stats.outOfOrderSegments).toBe(3);
    expect(r.stats.gapEvents).toBe(0);
    expect(r.rec.flows.get(1)!.close?.reason).toBe('fin');
    expect(r.rec.tsWentBack).toBe(0);
  });

  test('duplicates and retransmissions are delivered once and counted', () => {
    const c = new TcpConv('10.0.0.1', 40000, '10.0.0.2', 11211);
    const hs = c.handshake();
    const segs = pieces(BIG, 4).map((p) => c.send(0, p));
    const r = run([...hs, segs[0]!, segs[0]!, segs[1]!, segs[0]!, segs[3]!, segs[3]!, segs[2]!, segs[2]!, segs[3]!]);
    expect(r.rec.text(1, 0)).toBe(BIG.toString('latin1'));
    const len = (i: number): number => pieces(BIG, 4)[i]!.length;
    // seg0 twice after delivery, seg3 once while queued, seg2 once and seg3 once after delivery.
    expect(r.stats.retransmittedSegments).toBe(5);
    expect(r.stats.retransmittedBytes).toBe(2 * len(0) + 2 * len(3) + len(2));
  });

  test('overlapping segments: each byte once; bytes already delivered are never replaced', () => {
    const c = new TcpConv('10.0.0.1', 40000, '10.0.0.2', 11211, [100, 200]);
    const hs = c.handshake();
    const base = c.seq[0];
    const data = Buffer.from('0123456789abcdefghijklmnopqrstuvwxyz');
    const other = Buffer.from('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ');
    const at = (from: number, to: number, b = data): Buffer => c.packet(0, 'PA', b.subarray(from, to), (base + from) >>> 0);
    const r = run([
      ...hs,
      at(0, 10),
      at(5, 15, other), // 5 bytes already delivered, 5 new: "ABCDE"
      at(20, 30), // queued: "klmnopqrst"
      at(25, 36, other), // queued, overlapping the queued one by 5: only "UVWXYZ" is new
      at(12, 22, other), // fills the hole: 3 old bytes, then "FGHIJKL" (in-order data wins over queued, as in Linux)
    ]);
    expect(r.rec.text(1, 0)).toBe('0123456789ABCDEFGHIJKLmnopqrstUVWXYZ');
    expect(r.stats.overlapBytes).toBe(5 + 3 + 2 + 5);
  });
});

describe('gaps', () => {
  test('a segment the capture lost: the peer ACKs past it, a gap of the right size, then the rest', () => {
    const c = new TcpConv('10.0.0.1', 40000, '10.0.0.2', 11211);
    const hs = c.handshake();
    const parts = pieces(BIG, 4);
    const segs = parts.map((p) => c.send(0, p));
    const ack = c.packet(1, 'A'); // the server got everything
    const resp = c.send(1, RESP);
    const more = c.send(0, REQ);
    const r = run([...hs, segs[0]!, segs[1]!, segs[3]!, ack, resp, more, c.packet(1, 'A'), c.packet(0, 'A'), c.fin(0), c.fin(1)]);
    expect(r.rec.text(1, 0)).toBe(`${parts[0]}${parts[1]}<gap ${parts[2]!.length}>${parts[3]}${REQ}`);
    expect(r.rec.text(1, 1)).toBe(RESP.toString('latin1'));
    expect(r.stats.gapEvents).toBe(1);
    expect(r.stats.gapBytes).toBe(parts[2]!.length);
    expect(r.rec.flows.get(1)!.close?.reason).toBe('fin');
    // The bytes after the gap keep their own capture time (the packet that carried them), and
    // the request's gap and tail come before the response to it.
    const line = r.rec.log.find((l) => l.startsWith(`data 1.0 ${parts[3]!.toString('hex')}`))!;
    expect(line).toContain(`t=${(hs.length + 2) * 1e6}`);
    expect(r.rec.log.indexOf(line)).toBeLessThan(r.rec.log.findIndex((l) => l.startsWith('data 1.1')));
  });

  test('a lost segment with no ACK evidence is declared at the end of the capture', () => {
    const c = new TcpConv('10.0.0.1', 40000, '10.0.0.2', 11211);
    const hs = c.handshake();
    const parts = pieces(BIG, 3);
    const segs = parts.map((p) => c.send(0, p));
    const r = run([...hs, segs[0]!, segs[2]!]);
    expect(r.rec.text(1, 0)).toBe(`${parts[0]}<gap ${parts[1]!.length}>${parts[2]}`);
    expect(r.rec.flows.get(1)!.close?.reason).toBe('end');
  });

  test('a hole open for more than 2 s of capture time is declared lost', () => {
    const c = new TcpConv('10.0.0.1', 40000, '10.0.0.2', 11211);
    const hs = c.handshake();
    const parts = pieces(BIG, 4);
    const segs = parts.map((p) => c.send(0, p));
    const next = new TcpConv('10.0.0.5', 40000, '10.0.0.2', 11211);
    const r = run([...hs, segs[0]!, segs[2]!, segs[3]!, next.handshake()[0]!], {}, [0, 1, 2, 3, 4, 3000, 3001]);
    expect(r.rec.text(1, 0)).toBe(`${parts[0]}<gap ${parts[1]!.length}>${parts[2]}${parts[3]}`);
    // declared when the packet at 3 s arrived, before the next connection opened
    expect(r.rec.log.findIndex((l) => l.startsWith('gap 1.0'))).toBeLessThan(r.rec.log.findIndex((l) => l.startsWith('open 2')));
  });

  test('the out-of-order queue is bounded: past 2048 segments the hole is declared', () => {
    const c = new TcpConv('10.0.0.1', 40000, '10.0.0.2', 11211);
    const hs = c.handshake();
    const lost = c.send(0, Buffer.from('LOST'));
    const segs: Buffer[] = [];
    let want = '';
    for (let i = 0; i < 2100; i++) {
      const p = Buffer.from(`x${i}\n`);
      want += p.toString();
      segs.push(c.send(0, p));
    }
    void lost;
    const r = run([...hs, ...segs]);
    expect(r.rec.text(1, 0)).toBe(`<gap 4>${want}`);
    expect(r.stats.gapEvents).toBe(1);
    expect(r.stats.gapBytes).toBe(4);
  });

  test('packets cut by the snaplen: the cut part is a gap of known size, the stream goes on', () => {
    const c = new TcpConv('10.0.0.1', 40000, '10.0.0.2', 11211);
    const hs = c.handshake();
    const value = Buffer.alloc(3000, 0x76);
    const big = c.send(1, value);
    const after = c.send(1, RESP);
    const cut = big.subarray(0, 40 + 100);
    const r = run([...hs, cut, after], {}, undefined, [undefined, undefined, undefined, big.length]);
    expect(r.rec.text(1, 1)).toBe(`${'v'.repeat(100)}<gap 2900>${RESP}`);
    expect(r.stats.truncatedPackets).toBe(1);
    expect(r.stats.truncatedBytes).toBe(2900);
    expect(r.stats.gapEvents).toBe(0); // snaplen cuts are counted as truncation, not capture loss
  });
});

describe('lifecycle', () => {
  test('joined mid-way: no SYN, gap(-1) before the first data of both directions', () => {
    const c = new TcpConv('10.0.0.1', 40000, '10.0.0.2', 11211);
    c.handshake();
    c.send(0, Buffer.from('get earlier\r\n'));
    const tail = Buffer.from('0123456789\r\nEND\r\n');
    const r = run([c.send(1, tail), c.send(0, REQ), c.send(1, RESP), c.fin(0), c.fin(1)]);
    const f = r.rec.list[0]!;
    expect(f.info.synSeen).toBe(false);
    expect(f.info.serverBy).toBe('port');
    expect(f.info.server.port).toBe(11211);
    expect(r.rec.text(1, 0)).toBe(`<gap ?>${REQ}`);
    expect(r.rec.text(1, 1)).toBe(`<gap ?>${tail}${RESP}`);
    expect(r.stats.midstreamConnections).toBe(1);
    expect(f.close?.reason).toBe('fin');
  });

  test('SYN-ACK seen but not the SYN: the streams start at their beginning, no resync needed', () => {
    const c = new TcpConv('10.0.0.1', 40000, '10.0.0.2', 11211);
    const [, synAck, ack] = c.handshake();
    const r = run([synAck!, ack!, c.send(0, REQ), c.send(1, RESP)]);
    expect(r.rec.text(1, 0)).toBe(REQ.toString('latin1'));
    expect(r.rec.text(1, 1)).toBe(RESP.toString('latin1'));
    expect(r.rec.list[0]!.info.synSeen).toBe(true);
  });

  test('RST closes the flow; late packets after it open nothing', () => {
    const c = new TcpConv('10.0.0.1', 40000, '10.0.0.2', 11211);
    const pk = [...c.handshake(), c.send(0, REQ), c.packet(1, 'R'), c.packet(0, 'A'), c.send(0, Buffer.from('late\r\n'))];
    const r = run(pk);
    expect(r.rec.list).toHaveLength(1);
    expect(r.rec.flows.get(1)!.close?.reason).toBe('rst');
    expect(r.rec.text(1, 0)).toBe(REQ.toString('latin1'));
  });

  test('a 4-tuple reused by a new SYN: after a FIN close, and while the old flow looked open', () => {
    const a = new TcpConv('10.0.0.1', 40000, '10.0.0.2', 11211, [1000, 5000]);
    const b = new TcpConv('10.0.0.1', 40000, '10.0.0.2', 11211, [900000, 700000]);
    const d = new TcpConv('10.0.0.1', 40000, '10.0.0.2', 11211, [3, 4]);
    const pk = [...a.handshake(), a.send(0, REQ), a.fin(0), a.fin(1), a.packet(0, 'A'), ...b.handshake(), b.send(0, Buffer.from('second\r\n')), ...d.handshake(), d.send(0, Buffer.from('third\r\n'))];
    const r = run(pk);
    expect(r.rec.list.map((f) => f.close?.reason)).toEqual(['fin', 'reused', 'end']);
    expect(r.rec.text(1, 0)).toBe(REQ.toString('latin1'));
    expect(r.rec.text(2, 0)).toBe('second\r\n');
    expect(r.rec.text(3, 0)).toBe('third\r\n');
    expect(r.stats.reusedTuples).toBe(2);
    expect(r.stats.tcpConnections).toBe(3);
  });

  test('a retransmitted SYN is not a new connection', () => {
    const c = new TcpConv('10.0.0.1', 40000, '10.0.0.2', 11211);
    const [syn, synAck, ack] = c.handshake();
    const r = run([syn!, syn!, synAck!, ack!, c.send(0, REQ)]);
    expect(r.rec.list).toHaveLength(1);
    expect(r.stats.reusedTuples).toBe(0);
    expect(r.rec.text(1, 0)).toBe(REQ.toString('latin1'));
  });

  test('a SYN carrying data (TCP Fast Open)', () => {
    const c = new TcpConv('10.0.0.1', 40000, '10.0.0.2', 11211);
    const syn = c.packet(0, 'S', REQ);
    c.seq[0] = (c.seq[0] + 1 + REQ.length) >>> 0;
    const synAck = ipTcp('10.0.0.2', '10.0.0.1', { sport: 11211, dport: 40000, seq: c.seq[1], ack: c.seq[0], flags: 'SA' });
    c.seq[1]++;
    const r = run([syn, synAck, c.send(1, RESP), c.send(0, Buffer.from('more'))]);
    expect(r.rec.text(1, 0)).toBe(`${REQ}more`);
    expect(r.rec.text(1, 1)).toBe(RESP.toString('latin1'));
  });

  test('a FIN behind a hole waits for the hole to fill', () => {
    const c = new TcpConv('10.0.0.1', 40000, '10.0.0.2', 11211);
    const hs = c.handshake();
    const parts = pieces(REQ, 2);
    const s0 = c.send(0, parts[0]!);
    const s1 = c.send(0, parts[1]!);
    const fin0 = c.fin(0);
    const fin1 = c.fin(1);
    const r = run([...hs, s0, fin0, fin1, s1]);
    expect(r.rec.text(1, 0)).toBe(REQ.toString('latin1'));
    expect(r.rec.flows.get(1)!.close?.reason).toBe('fin');
    expect(r.stats.gapEvents).toBe(0);
  });

  test('32-bit sequence wraparound, with reordering across the wrap', () => {
    const c = new TcpConv('10.0.0.1', 40000, '10.0.0.2', 11211, [0xffffffff - 30, 0xfffffff0]);
    const hs = c.handshake();
    const segs = pieces(BIG, 8).map((p) => c.send(0, p));
    const resp = pieces(RESP, 3).map((p) => c.send(1, p));
    const r = run([...hs, segs[0]!, segs[2]!, segs[1]!, ...segs.slice(3), resp[1]!, resp[0]!, resp[2]!, c.fin(0), c.fin(1)]);
    expect(r.rec.text(1, 0)).toBe(BIG.toString('latin1'));
    expect(r.rec.text(1, 1)).toBe(RESP.toString('latin1'));
    expect(r.rec.flows.get(1)!.close?.reason).toBe('fin');
    expect(r.stats.gapEvents + r.stats.retransmittedSegments).toBe(0);
  });
});

describe('which side is the server', () => {
  test('both ports are server ports: the SYN receiver', () => {
    const c = new TcpConv('10.0.0.1', 11311, '10.0.0.2', 11211);
    const r = run([...c.handshake(), c.send(0, REQ)], { serverPorts: [11211, 11311] });
    expect(r.rec.list[0]!.info).toMatchObject({ serverBy: 'syn', server: { port: 11211 }, client: { port: 11311 } });
  });

  test('the server port decides even when the server sent the SYN', () => {
    const c = new TcpConv('10.0.0.2', 11211, '10.0.0.1', 40000);
    const r = run([...c.handshake(), c.send(0, REQ)]);
    expect(r.rec.list[0]!.info).toMatchObject({ serverBy: 'port', server: { addr: '10.0.0.2', port: 11211 } });
    expect(r.rec.text(1, 1)).toBe(REQ.toString('latin1'));
  });

  test('neither port: ignored and counted, unless followSynDirection (SYN receiver, or the lower port mid-way)', () => {
    const c = new TcpConv('10.0.0.1', 40000, '10.0.0.2', 9000);
    const m = new TcpConv('10.0.0.3', 41000, '10.0.0.4', 9001);
    const pk = [...c.handshake(), c.send(0, REQ), m.send(1, RESP), m.send(0, REQ)];
    const off = run(pk);
    expect(off.rec.list).toHaveLength(0);
    expect(off.stats.notServerPort).toBe(6);
    const on = run(pk, { followSynDirection: true });
    expect(on.rec.list.map((f) => [f.info.serverBy, f.info.server.port])).toEqual([
      ['syn', 9000],
      ['guess', 9001],
    ]);
    expect(on.rec.text(1, 0)).toBe(REQ.toString('latin1'));
    expect(on.rec.text(2, 0)).toBe(`<gap ?>${REQ}`);
  });
});

describe('many flows and bounded state', () => {
  test('interleaved IPv4 and IPv6 connections stay apart', () => {
    const convs = Array.from({ length: 300 }, (_, i) =>
      i % 2 ? new TcpConv(`2001:db8::${(i + 1).toString(16)}`, 30000 + i, '2001:db8::ffff', 11211, [i * 7919, i * 104729]) : new TcpConv(`10.0.${i >> 8}.${i & 255}`, 30000 + i, '10.9.9.9', 11211 + (i % 3), [i * 7919, i * 104729]),
    );
    const pk: Buffer[] = [];
    for (const c of convs) pk.push(...c.handshake());
    for (let round = 0; round < 3; round++)
      for (const [i, c] of convs.entries()) {
        pk.push(c.send(0, Buffer.from(`get k${i}.${round}\r\n`)));
        pk.push(c.send(1, Buffer.from(`END ${i}.${round}\r\n`)));
      }
    const r = run(pk, { serverPorts: [11211, 11212, 11213] });
    expect(r.rec.list).toHaveLength(300);
    for (const [i, f] of r.rec.list.entries()) {
      expect(r.rec.text(f.info.id, 0)).toBe([0, 1, 2].map((k) => `get k${i}.${k}\r\n`).join(''));
      expect(r.rec.text(f.info.id, 1)).toBe([0, 1, 2].map((k) => `END ${i}.${k}\r\n`).join(''));
    }
  });

  test('flows idle longer than idleTimeoutSec are closed and freed; traffic after opens a new mid-way flow', () => {
    const c = new TcpConv('10.0.0.1', 40000, '10.0.0.2', 11211);
    const other = new TcpConv('10.0.0.3', 40001, '10.0.0.2', 11211);
    const pk = [...c.handshake(), c.send(0, REQ), other.send(0, REQ), other.send(0, REQ), c.send(0, REQ)];
    const r = run(pk, { idleTimeoutSec: 10 }, [0, 1, 2, 3, 5000, 30000, 35000]);
    expect(r.rec.log.filter((l) => l.startsWith('close'))).toEqual(['close 1 idle t=3000000', 'close 2 idle t=5000000000', 'close 3 end t=35000000000', 'close 4 end t=35000000000']);
    expect(r.rec.list[3]!.info).toMatchObject({ synSeen: false, client: { port: 40000 } });
    expect(r.rec.text(4, 0)).toBe(`<gap ?>${REQ}`);
  });

  test('at most maxFlows open flows: the least recently active is closed first', () => {
    const convs = Array.from({ length: 5 }, (_, i) => new TcpConv('10.0.0.1', 40000 + i, '10.0.0.2', 11211));
    const pk = [...convs.flatMap((c) => c.handshake()), convs[0]!.send(0, REQ)];
    const more = new TcpConv('10.0.0.1', 50000, '10.0.0.2', 11211);
    pk.push(...more.handshake());
    const r = run(pk, { maxFlows: 5 });
    expect(r.rec.log.filter((l) => l.startsWith('close'))[0]).toMatch(/^close 2 idle/);
  });
});
