// Putting memcached UDP answers back together (src/replay/udp-frame.ts), on the datagram patterns
// memcached 1.6 sends (one sequence per item of a multi-get, each numbered from 0) and on losses.
import { describe, expect, it } from 'vitest';
import { UdpAnswer, udpHeader, UDP_HEADER_BYTES } from '../../src/replay/udp-frame.js';
import { BatchWriter, decodeBatch } from '../../src/replay/batch.js';

/** A datagram as memcached sends it: header (rid, seq, total) and body. */
function dgram(rid: number, seq: number, total: number, body: string): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16BE(rid, 0);
  h.writeUInt16BE(seq, 2);
  h.writeUInt16BE(total, 4);
  return Buffer.concat([h, Buffer.from(body, 'latin1')]);
}

function feed(a: UdpAnswer, ds: Buffer[]): string {
  let out = '';
  for (const d of ds) {
    const f = UdpAnswer.parse(d)!;
    for (const b of a.add(f.seq, f.total, d, UDP_HEADER_BYTES)) out += b.toString('latin1');
  }
  return out;
}

describe('UDP answers', () => {
  it('our request header: id, sequence 0 of 1, reserved 0', () => {
    expect([...udpHeader(0x1234)]).toEqual([0x12, 0x34, 0, 0, 0, 1, 0, 0]);
  });

  it('a multi-get answer of several sequences, each numbered from 0, comes out in byte order', () => {
    const a = new UdpAnswer();
    const out = feed(a, [dgram(7, 0, 1, 'VALUE a 0 1\r\nx\r\n'), dgram(7, 0, 3, 'VALUE big 0 6\r\n'), dgram(7, 1, 3, 'abc'), dgram(7, 2, 3, 'def\r\n'), dgram(7, 0, 1, 'END\r\n')]);
    expect(out).toBe('VALUE a 0 1\r\nx\r\nVALUE big 0 6\r\nabcdef\r\nEND\r\n');
    expect(a.broken).toBe(false);
  });

  it('datagrams of a sequence that arrive out of order are put in order', () => {
    const a = new UdpAnswer();
    expect(feed(a, [dgram(1, 2, 3, 'C'), dgram(1, 0, 3, 'A'), dgram(1, 1, 3, 'B')])).toBe('ABC');
  });

  it('a lost datagram breaks the answer instead of splicing the next sequence into it', () => {
    const a = new UdpAnswer();
    // sequence 1 loses its datagram 2; sequence 2 (same total) must not complete it
    const out = feed(a, [dgram(1, 0, 3, 'A'), dgram(1, 1, 3, 'B'), dgram(1, 0, 3, 'X'), dgram(1, 1, 3, 'Y'), dgram(1, 2, 3, 'Z')]);
    expect(out).toBe('');
    expect(a.broken).toBe(true);
  });

  it('a new sequence of another size before the current one is complete breaks it too', () => {
    const a = new UdpAnswer();
    expect(feed(a, [dgram(1, 0, 2, 'A'), dgram(1, 0, 1, 'END\r\n')])).toBe('');
    expect(a.broken).toBe(true);
  });

  it('frames that are too short or inconsistent are not memcached UDP', () => {
    expect(UdpAnswer.parse(Buffer.alloc(5))).toBeNull();
    expect(UdpAnswer.parse(dgram(1, 3, 2, 'x'))).toBeNull();
  });
});

describe('UDP clients in the worker batches', () => {
  it('an open record says whether the client spoke UDP, and a UDP client is never a mid-way join', () => {
    const w = new BatchWriter(8);
    w.open(0, 1, 0, false, true);
    w.open(5, 2, 1, true, true);
    w.open(9, 3, 0, true);
    const items = decodeBatch(w.take().batch);
    expect(items).toEqual([
      { k: 'open', at: 0, conn: 1, target: 0, early: false, udp: true },
      { k: 'open', at: 5, conn: 2, target: 1, early: false, udp: true },
      { k: 'open', at: 9, conn: 3, target: 0, early: true },
    ]);
  });
});
