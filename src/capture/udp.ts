// UDP header decode into the shared Packet struct.
import { u16be } from './bytes.js';
import type { Packet } from './packet.js';

/** Decodes the UDP header at pkt.l4Off; false when it is malformed or cut. */
export function decodeUdp(pkt: Packet, b: Buffer): boolean {
  const off = pkt.l4Off;
  if (pkt.availEnd - off < 8 || pkt.l4Len < 8) return false;
  pkt.sport = u16be(b, off);
  pkt.dport = u16be(b, off + 2);
  let ulen = u16be(b, off + 4);
  if (ulen === 0) ulen = pkt.l4Len; // jumbogram / TSO
  if (ulen < 8) return false;
  const total = (ulen < pkt.l4Len ? ulen : pkt.l4Len) - 8;
  const have = pkt.availEnd - off - 8;
  pkt.payOff = off + 8;
  pkt.payLen = have < total ? (have > 0 ? have : 0) : total;
  pkt.missing = total - pkt.payLen;
  pkt.flags = 0;
  return true;
}
