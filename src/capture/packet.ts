// The one decoded-packet struct a pipeline reuses for every frame: numbers and a Buffer reference,
// so decoding allocates nothing per packet.

/** Link → IP → TCP/UDP decode results of the current frame. Addresses are 32-bit words (IPv4 uses word 0). */
export class Packet {
  buf: Buffer = Buffer.alloc(0);
  family: 4 | 6 = 4;
  s0 = 0;
  s1 = 0;
  s2 = 0;
  s3 = 0;
  d0 = 0;
  d1 = 0;
  d2 = 0;
  d3 = 0;
  /** IP protocol of the transport header (after IPv6 extension headers). */
  proto = 0;
  /** Transport header offset in buf, its length as the IP header says, and the end of captured bytes. */
  l4Off = 0;
  l4Len = 0;
  availEnd = 0;
  sport = 0;
  dport = 0;
  seq = 0;
  ack = 0;
  flags = 0;
  /** Payload offset in buf, captured payload bytes, and payload bytes the snaplen cut off. */
  payOff = 0;
  payLen = 0;
  missing = 0;
}

/**
 * A value V8 cannot keep as a small integer. Capture times (ns, past 2^31 two seconds into a
 * capture) and sequence numbers outgrow small integers after the code that handles them has been
 * optimized; V8 then moves the fields to doubles and throws that code away, a visible stall in
 * every run. Storing one such value in a throwaway object at load time settles each field's
 * representation before any code is optimized. (Addresses are left alone: the first packets
 * decide theirs, before anything is optimized.)
 */
export const SETTLE_DOUBLE = 2 ** 31;

{
  const p = new Packet();
  p.seq = p.ack = SETTLE_DOUBLE;
}
