// IPv4 and IPv6 headers (with extension headers). Fragments are counted, not reassembled: memcached
// traffic on a sane MTU does not fragment, and a half-decoded fragment is worse than none.
// Checksums are not verified: with offload, captures taken on the sending host carry wrong ones.
import { u16be, u32be } from './bytes.js';
import type { Packet } from './packet.js';

export const IP_MALFORMED = -1;
export const IP_FRAGMENT = -2;
export const IP_NO_TRANSPORT = -3;

/**
 * Decodes the IP header at off into pkt. `end` is the end of captured bytes, `origEnd` where the
 * frame ended on the wire. Returns the transport protocol number, or a negative IP_* code.
 */
export function decodeIp(pkt: Packet, b: Buffer, off: number, end: number, origEnd: number): number {
  if (end - off < 1) return IP_MALFORMED;
  const v = b[off]! >> 4;
  if (v === 4) {
    if (end - off < 20) return IP_MALFORMED;
    const ihl = (b[off]! & 15) << 2;
    if (ihl < 20 || end - off < ihl) return IP_MALFORMED;
    let tot = u16be(b, off + 2);
    // TSO: a capture on the sending host sees the unsegmented packet, often with length 0.
    if (tot === 0) tot = origEnd - off;
    if (tot < ihl) return IP_MALFORMED;
    if ((u16be(b, off + 6) & 0x3fff) !== 0) return IP_FRAGMENT;
    pkt.family = 4;
    pkt.s0 = u32be(b, off + 12);
    pkt.d0 = u32be(b, off + 16);
    pkt.s1 = pkt.s2 = pkt.s3 = pkt.d1 = pkt.d2 = pkt.d3 = 0;
    pkt.l4Off = off + ihl;
    pkt.l4Len = tot - ihl;
    const ipEnd = off + tot;
    pkt.availEnd = ipEnd < end ? ipEnd : end;
    pkt.proto = b[off + 9]!;
    return pkt.proto;
  }
  if (v === 6) {
    if (end - off < 40) return IP_MALFORMED;
    let rem = u16be(b, off + 4);
    if (rem === 0) rem = origEnd - off - 40; // jumbogram or TSO
    let nh = b[off + 6]!;
    pkt.family = 6;
    pkt.s0 = u32be(b, off + 8);
    pkt.s1 = u32be(b, off + 12);
    pkt.s2 = u32be(b, off + 16);
    pkt.s3 = u32be(b, off + 20);
    pkt.d0 = u32be(b, off + 24);
    pkt.d1 = u32be(b, off + 28);
    pkt.d2 = u32be(b, off + 32);
    pkt.d3 = u32be(b, off + 36);
    let p = off + 40;
    for (;;) {
      let hl: number;
      if (nh === 0 || nh === 43 || nh === 60 || nh === 135 || nh === 139 || nh === 140) {
        if (end - p < 2) return IP_MALFORMED;
        hl = (b[p + 1]! + 1) << 3;
      } else if (nh === 44) {
        if (end - p < 8) return IP_MALFORMED;
        // offset != 0 or more-fragments: a real fragment. Both zero: an atomic fragment, decode on.
        if ((u16be(b, p + 2) & 0xfff9) !== 0) return IP_FRAGMENT;
        hl = 8;
      } else if (nh === 51) {
        if (end - p < 2) return IP_MALFORMED;
        hl = (b[p + 1]! + 2) << 2;
      } else break;
      nh = b[p]!;
      p += hl;
      rem -= hl;
      if (rem < 0) return IP_MALFORMED;
    }
    if (nh === 59) return IP_NO_TRANSPORT;
    pkt.l4Off = p;
    pkt.l4Len = rem;
    const ipEnd = p + rem;
    pkt.availEnd = ipEnd < end ? ipEnd : end;
    pkt.proto = nh;
    return nh;
  }
  return IP_MALFORMED;
}

/** Dotted IPv4 text of a 32-bit address. */
export function ipv4Text(a: number): string {
  return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
}

/** RFC 5952 text of an IPv6 address given as four 32-bit words (IPv4-mapped as ::ffff:a.b.c.d). */
export function ipv6Text(w0: number, w1: number, w2: number, w3: number): string {
  if (w0 === 0 && w1 === 0 && w2 === 0xffff) return `::ffff:${ipv4Text(w3)}`;
  const g = [w0 >>> 16, w0 & 0xffff, w1 >>> 16, w1 & 0xffff, w2 >>> 16, w2 & 0xffff, w3 >>> 16, w3 & 0xffff];
  // The longest run of two or more zero groups becomes "::" (the first such run on a tie).
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (from: number, to: number): string => g.slice(from, to).map((x) => x.toString(16)).join(':');
  if (bestAt < 0) return hex(0, 8);
  return `${hex(0, bestAt)}::${hex(bestAt + bestLen, 8)}`;
}

/** Source address of the decoded packet as text. */
export function srcText(p: Packet): string {
  return p.family === 4 ? ipv4Text(p.s0) : ipv6Text(p.s0, p.s1, p.s2, p.s3);
}

/** Destination address of the decoded packet as text. */
export function dstText(p: Packet): string {
  return p.family === 4 ? ipv4Text(p.d0) : ipv6Text(p.d0, p.d1, p.d2, p.d3);
}
