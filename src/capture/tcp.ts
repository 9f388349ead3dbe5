// TCP header decode into the shared Packet struct. Options are skipped: reassembly needs none.
import { u16be, u32be } from './bytes.js';
import type { Packet } from './packet.js';

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_ACK = 0x10;

/** Decodes the TCP header at pkt.l4Off; false when it is malformed or cut before its fixed part. */
export function decodeTcp(pkt: Packet, b: Buffer): boolean {
  const off = pkt.l4Off;
  const avail = pkt.availEnd - off;
  if (avail < 20 || pkt.l4Len < 20) return false;
  const doff = (b[off + 12]! >> 4) << 2;
  if (doff < 20 || doff > pkt.l4Len) return false;
  pkt.sport = u16be(b, off);
  pkt.dport = u16be(b, off + 2);
  pkt.seq = u32be(b, off + 4);
  pkt.ack = u32be(b, off + 8);
  pkt.flags = b[off + 13]!;
  const total = pkt.l4Len - doff;
  const payOff = off + doff;
  const have = pkt.availEnd - payOff;
  pkt.payOff = have > 0 ? payOff : pkt.availEnd;
  pkt.payLen = have <= 0 ? 0 : have < total ? have : total;
  pkt.missing = total - pkt.payLen;
  return true;
}
