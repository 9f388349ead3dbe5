// memcached's UDP frame on the replay side: the 8-byte header our requests carry, and putting an
// answer's datagrams back in order. memcached 1.6 answers a multi-key get with one datagram
// sequence per item, each numbered from 0 with its own total (DESIGN.md field notes), so an answer
// is a run of sequences: each is handed on once all its datagrams are in, in sequence order.
import { parseUdpFrame } from '../workload/udp-frame.js';

/** Bytes of the frame header: request id, sequence number, datagrams in the sequence, reserved. */
export const UDP_HEADER_BYTES = 8;

/** The frame header of a one-datagram request with request id `rid`. */
export function udpHeader(rid: number): Buffer {
  const h = Buffer.alloc(UDP_HEADER_BYTES);
  h.writeUInt16BE(rid, 0);
  h.writeUInt16BE(0, 2);
  h.writeUInt16BE(1, 4);
  return h;
}

const NONE: Buffer[] = [];

/** The datagrams of one answer, put back into byte order as they arrive. */
export class UdpAnswer {
  /** A datagram was lost, duplicated out of place or inconsistent: the answer cannot be trusted. */
  broken = false;
  private parts: (Buffer | undefined)[] | null = null;
  private got = 0;

  /** Request id, sequence number and total of a datagram, or null when it is no memcached UDP frame. */
  static parse(msg: Buffer): { rid: number; seq: number; total: number } | null {
    const f = parseUdpFrame(msg);
    return f === null ? null : { rid: f.requestId, seq: f.seq, total: f.total };
  }

  /**
   * Takes datagram `seq` of a sequence of `total` (its body is msg[from..]); returns the bodies that
   * are now complete, in order (empty while a sequence waits for a datagram).
   */
  add(seq: number, total: number, msg: Buffer, from: number): Buffer[] {
    if (this.broken) return NONE;
    const body = msg.subarray(from);
    if (this.parts === null) {
      if (total === 1) return [body];
      // a sequence's first datagram to arrive need not be its datagram 0 (reordering)
      this.parts = new Array<Buffer | undefined>(total);
      this.got = 0;
    } else if (this.parts.length !== total) {
      // the next sequence began before this one was complete: a datagram of it was lost
      return this.break();
    }
    // taken already: the next sequence (same total) began before this one was complete, or a
    // duplicate; either way the bytes can no longer be put in order
    if (this.parts[seq] !== undefined) return this.break();
    this.parts[seq] = body;
    if (++this.got < total) return NONE;
    const done = this.parts as Buffer[];
    this.parts = null;
    return done;
  }

  private break(): Buffer[] {
    this.broken = true;
    this.parts = null;
    return NONE;
  }
}
