// Link layers: find where the IP header starts in a frame. Names follow tcpdump.org's LINKTYPE_ list.
import { u16be, u32be, u32le } from './bytes.js';

export const LINK_NON_IP = -1;
export const LINK_UNSUPPORTED = -2;
export const LINK_MALFORMED = -3;

const NAMES: Record<number, string> = {
  0: 'NULL',
  1: 'EN10MB',
  6: 'IEEE802_5',
  8: 'SLIP',
  9: 'PPP',
  10: 'FDDI',
  12: 'RAW',
  14: 'RAW',
  50: 'PPP_HDLC',
  51: 'PPP_ETHER',
  101: 'RAW',
  104: 'C_HDLC',
  105: 'IEEE802_11',
  108: 'LOOP',
  113: 'LINUX_SLL',
  119: 'PRISM_HEADER',
  127: 'IEEE802_11_RADIOTAP',
  143: 'DOCSIS',
  163: 'IEEE802_11_AVS',
  192: 'PPI',
  195: 'IEEE802_15_4_WITHFCS',
  197: 'ERF',
  201: 'BLUETOOTH_HCI_H4_WITH_PHDR',
  220: 'USB_LINUX_MMAPPED',
  228: 'IPV4',
  229: 'IPV6',
  239: 'NFLOG',
  249: 'USBPCAP',
  253: 'NETLINK',
  276: 'LINUX_SLL2',
};

/** tcpdump's name of a link type, or "LINKTYPE_<n>". */
export function linkTypeName(link: number): string {
  return NAMES[link] ?? `LINKTYPE_${link}`;
}

/** True when frames of this link type can be decoded. */
export function linkSupported(link: number): boolean {
  switch (link) {
    case 0:
    case 1:
    case 12:
    case 14:
    case 101:
    case 108:
    case 113:
    case 228:
    case 229:
    case 276:
      return true;
    default:
      return false;
  }
}

function ethertype(b: Buffer, et: number, p: number, end: number): number {
  // 802.1Q, 802.1ad and the pre-standard QinQ TPIDs, stacked any number of times.
  while (et === 0x8100 || et === 0x88a8 || et === 0x9100 || et === 0x9200) {
    if (end - p < 4) return LINK_MALFORMED;
    et = u16be(b, p + 2);
    p += 4;
  }
  return et === 0x0800 || et === 0x86dd ? p : LINK_NON_IP;
}

/**
 * Offset of the IP header in the frame b[off, end), or a negative LINK_* code.
 * BSD null/loopback carry the address family in either byte order, and AF_INET6 differs per OS
 * (Linux 10, NetBSD/OpenBSD 24, FreeBSD 28, macOS 30).
 */
export function ipOffset(link: number, b: Buffer, off: number, end: number): number {
  switch (link) {
    case 1:
      if (end - off < 14) return LINK_MALFORMED;
      return ethertype(b, u16be(b, off + 12), off + 14, end);
    case 113:
      if (end - off < 16) return LINK_MALFORMED;
      return ethertype(b, u16be(b, off + 14), off + 16, end);
    case 276:
      if (end - off < 20) return LINK_MALFORMED;
      return ethertype(b, u16be(b, off), off + 20, end);
    case 12:
    case 14:
    case 101:
    case 228:
    case 229:
      return off;
    case 0:
    case 108: {
      if (end - off < 4) return LINK_MALFORMED;
      let af = u32le(b, off);
      if (af > 0xffff) af = u32be(b, off);
      return af === 2 || af === 10 || af === 24 || af === 28 || af === 30 ? off + 4 : LINK_NON_IP;
    }
    default:
      return LINK_UNSUPPORTED;
  }
}
