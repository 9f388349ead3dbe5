// TEST-ONLY writer of pcap and pcapng files, for the edge cases real clients do not produce:
// reordered, duplicated and overlapping segments, gaps, snaplen cuts, garbage, files cut short,
// timestamp inversions, both byte orders, µs and ns, pcapng with several interfaces, VLAN/QinQ,
// SLL, SLL2, raw IP, BSD null/loopback, IPv6 extension headers. Checksums are left zero (the
// reader does not verify them, as offload makes them wrong in real captures too).
import { isIPv4 } from 'node:net';

// ---------------------------------------------------------------- addresses

/** Parses IPv4 dotted or IPv6 text into 4 or 16 bytes. */
export function addrBytes(a: string): Buffer {
  if (isIPv4(a)) return Buffer.from(a.split('.').map(Number));
  let [head, tail] = a.includes('::') ? a.split('::') : [a, undefined];
  const parse = (s: string | undefined): number[] => {
    if (!s) return [];
    const out: number[] = [];
    for (const g of s.split(':')) {
      if (g.includes('.')) {
        const v4 = g.split('.').map(Number);
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else out.push(parseInt(g, 16));
    }
    return out;
  };
  const h = parse(head);
  const t = parse(tail);
  const groups = tail === undefined ? h : [...h, ...new Array(8 - h.length - t.length).fill(0), ...t];
  const b = Buffer.alloc(16);
  groups.forEach((g, i) => b.writeUInt16BE(g, i * 2));
  return b;
}

// ---------------------------------------------------------------- transport

export interface TcpOpts {
  sport: number;
  dport: number;
  seq: number;
  ack?: number;
  /** Any of "SAFRP" (SYN ACK FIN RST PSH). */
  flags: string;
  payload?: Buffer;
  /** TCP options (padded to 4 bytes). */
  options?: Buffer;
}

/** A TCP header plus payload. */
export function tcp(o: TcpOpts): Buffer {
  const opt = o.options ?? Buffer.alloc(0);
  const optLen = (opt.length + 3) & ~3;
  const h = Buffer.alloc(20 + optLen);
  h.writeUInt16BE(o.sport, 0);
  h.writeUInt16BE(o.dport, 2);
  h.writeUInt32BE(o.seq >>> 0, 4);
  h.writeUInt32BE((o.ack ?? 0) >>> 0, 8);
  h[12] = ((20 + optLen) / 4) << 4;
  let f = 0;
  for (const c of o.flags) f |= ({ F: 1, S: 2, R: 4, P: 8, A: 16 } as Record<string, number>)[c] ?? 0;
  h[13] = f;
  h.writeUInt16BE(65535, 14);
  opt.copy(h, 20);
  return Buffer.concat([h, o.payload ?? Buffer.alloc(0)]);
}

/** A UDP header plus payload. */
export function udp(sport: number, dport: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16BE(sport, 0);
  h.writeUInt16BE(dport, 2);
  h.writeUInt16BE(8 + payload.length, 4);
  return Buffer.concat([h, payload]);
}

// ---------------------------------------------------------------- IP

export interface Ip4Opts {
  /** IP options (padded to 4 bytes). */
  options?: Buffer;
  /** Fragment offset in 8-byte units and the more-fragments flag. */
  fragOffset?: number;
  moreFragments?: boolean;
  /** Override the total length field (e.g. 0 as TSO captures show). */
  totalLength?: number;
  /** Bytes appended after the IP packet (Ethernet padding). */
  trailer?: Buffer;
}

/** An IPv4 packet. */
export function ipv4(src: string, dst: string, proto: number, l4: Buffer, o: Ip4Opts = {}): Buffer {
  const opt = o.options ?? Buffer.alloc(0);
  const ihl = 20 + ((opt.length + 3) & ~3);
  const h = Buffer.alloc(ihl);
  h[0] = 0x40 | (ihl / 4);
  h.writeUInt16BE(o.totalLength ?? ihl + l4.length, 2);
  h.writeUInt16BE(0x1234, 4);
  h.writeUInt16BE(((o.moreFragments ? 1 : 0) << 13) | (o.fragOffset ?? 0), 6);
  h[8] = 64;
  h[9] = proto;
  addrBytes(src).copy(h, 12);
  addrBytes(dst).copy(h, 16);
  opt.copy(h, 20);
  return Buffer.concat([h, l4, o.trailer ?? Buffer.alloc(0)]);
}

/** An IPv6 extension header: type (0 hop-by-hop, 43 routing, 60 dest opts, 44 fragment, 51 AH). */
export interface Ext6 {
  type: number;
  /** Fragment header fields (type 44). */
  fragOffset?: number;
  moreFragments?: boolean;
  /** Extra body length in 8-byte units for generic headers (default 0: 8 bytes total). */
  units?: number;
}

/** An IPv6 packet with optional extension headers. */
export function ipv6(src: string, dst: string, proto: number, l4: Buffer, ext: Ext6[] = []): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < ext.length; i++) {
    const e = ext[i]!;
    const next = i + 1 < ext.length ? ext[i + 1]!.type : proto;
    let b: Buffer;
    if (e.type === 44) {
      b = Buffer.alloc(8);
      b[0] = next;
      b.writeUInt16BE(((e.fragOffset ?? 0) << 3) | (e.moreFragments ? 1 : 0), 2);
      b.writeUInt32BE(0xabcd, 4);
    } else if (e.type === 51) {
      const units = e.units ?? 1; // AH length in 4-byte units minus 2
      b = Buffer.alloc((units + 2) * 4);
      b[0] = next;
      b[1] = units;
    } else {
      const units = e.units ?? 0;
      b = Buffer.alloc((units + 1) * 8);
      b[0] = next;
      b[1] = units;
      if (e.type !== 43) b[2] = 1; // a PadN option, as real hop-by-hop/dest-opts carry
    }
    parts.push(b);
  }
  const payload = Buffer.concat([...parts, l4]);
  const h = Buffer.alloc(40);
  h.writeUInt32BE(0x60000000, 0);
  h.writeUInt16BE(payload.length, 4);
  h[6] = ext.length ? ext[0]!.type : proto;
  h[7] = 64;
  addrBytes(src).copy(h, 8);
  addrBytes(dst).copy(h, 24);
  return Buffer.concat([h, payload]);
}

/** An IP packet (v4 or v6 by the address) carrying TCP. */
export function ipTcp(src: string, dst: string, o: TcpOpts, ext: Ext6[] = []): Buffer {
  return isIPv4(src) ? ipv4(src, dst, 6, tcp(o)) : ipv6(src, dst, 6, tcp(o), ext);
}

// ---------------------------------------------------------------- link layers

export const LINKTYPE = {
  NULL: 0,
  EN10MB: 1,
  RAW: 101,
  LOOP: 108,
  LINUX_SLL: 113,
  IPV4: 228,
  IPV6: 229,
  LINUX_SLL2: 276,
} as const;

function etherTypeOf(ip: Buffer): number {
  return ip[0]! >> 4 === 6 ? 0x86dd : 0x0800;
}

/** An Ethernet frame; `tags` are VLAN TCIs, outermost first, with their TPIDs (default 0x8100). */
export function ethernet(ip: Buffer, tags: { tpid?: number; vid: number }[] = [], ethertype?: number): Buffer {
  const h = Buffer.alloc(12 + tags.length * 4 + 2);
  Buffer.from('020000000002020000000001', 'hex').copy(h, 0);
  let p = 12;
  for (const t of tags) {
    h.writeUInt16BE(t.tpid ?? 0x8100, p);
    h.writeUInt16BE(t.vid, p + 2);
    p += 4;
  }
  h.writeUInt16BE(ethertype ?? etherTypeOf(ip), p);
  return Buffer.concat([h, ip]);
}

/** A Linux cooked (SLL) frame. */
export function sll(ip: Buffer, protocol?: number): Buffer {
  const h = Buffer.alloc(16);
  h.writeUInt16BE(0, 0); // packet type: to us
  h.writeUInt16BE(772, 2); // ARPHRD_LOOPBACK
  h.writeUInt16BE(6, 4);
  h.writeUInt16BE(protocol ?? etherTypeOf(ip), 14);
  return Buffer.concat([h, ip]);
}

/** A Linux cooked v2 (SLL2) frame. */
export function sll2(ip: Buffer, protocol?: number): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt16BE(protocol ?? etherTypeOf(ip), 0);
  h.writeUInt32BE(1, 4); // ifindex
  h.writeUInt16BE(772, 8);
  h[10] = 0;
  h[11] = 6;
  return Buffer.concat([h, ip]);
}

/** A BSD null/loopback frame: the address family as a 4-byte word in the given byte order. */
export function nullLink(ip: Buffer, af: number, littleEndian: boolean): Buffer {
  const h = Buffer.alloc(4);
  if (littleEndian) h.writeUInt32LE(af, 0);
  else h.writeUInt32BE(af, 0);
  return Buffer.concat([h, ip]);
}

// ---------------------------------------------------------------- files

export interface PcapRecord {
  sec: number;
  /** µs or ns as the file says. */
  frac: number;
  data: Buffer;
  /** Length on the wire when the record is cut (caplen = data.length). */
  origLen?: number;
}

export interface PcapOpts {
  le?: boolean;
  nano?: boolean;
  linkType: number;
  snaplen?: number;
}

/** A classic pcap file. */
export function pcapFile(o: PcapOpts, recs: PcapRecord[]): Buffer {
  const le = o.le ?? true;
  const w32 = (b: Buffer, v: number, off: number): void => void (le ? b.writeUInt32LE(v >>> 0, off) : b.writeUInt32BE(v >>> 0, off));
  const w16 = (b: Buffer, v: number, off: number): void => void (le ? b.writeUInt16LE(v, off) : b.writeUInt16BE(v, off));
  const hdr = Buffer.alloc(24);
  w32(hdr, o.nano ? 0xa1b23c4d : 0xa1b2c3d4, 0);
  w16(hdr, 2, 4);
  w16(hdr, 4, 6);
  w32(hdr, o.snaplen ?? 262144, 16);
  w32(hdr, o.linkType, 20);
  const parts: Buffer[] = [hdr];
  for (const r of recs) {
    const h = Buffer.alloc(16);
    w32(h, r.sec, 0);
    w32(h, r.frac, 4);
    w32(h, r.data.length, 8);
    w32(h, r.origLen ?? r.data.length, 12);
    parts.push(h, r.data);
  }
  return Buffer.concat(parts);
}

export interface NgInterface {
  linkType: number;
  snaplen?: number;
  /** Raw if_tsresol byte: 6 = µs (default), 9 = ns, 0x80|k = 2^-k. */
  tsresol?: number;
  /** if_tsoffset in seconds. */
  tsoffset?: number;
}

export type NgBlock =
  | { kind: 'epb'; ifc: number; ts: bigint; data: Buffer; origLen?: number }
  | { kind: 'spb'; data: Buffer; origLen?: number }
  | { kind: 'raw'; type: number; body: Buffer };

export interface NgSection {
  le?: boolean;
  interfaces: NgInterface[];
  blocks: NgBlock[];
}

function pad4(b: Buffer): Buffer {
  const n = (4 - (b.length % 4)) % 4;
  return n ? Buffer.concat([b, Buffer.alloc(n)]) : b;
}

/** A pcapng file of one or more sections. */
export function pcapngFile(sections: NgSection[]): Buffer {
  const out: Buffer[] = [];
  for (const s of sections) {
    const le = s.le ?? true;
    const u32 = (v: number): Buffer => {
      const b = Buffer.alloc(4);
      if (le) b.writeUInt32LE(v >>> 0);
      else b.writeUInt32BE(v >>> 0);
      return b;
    };
    const u16 = (v: number): Buffer => {
      const b = Buffer.alloc(2);
      if (le) b.writeUInt16LE(v);
      else b.writeUInt16BE(v);
      return b;
    };
    const block = (type: number, body: Buffer): Buffer => {
      const b = pad4(body);
      const len = 12 + b.length;
      return Buffer.concat([u32(type), u32(len), b, u32(len)]);
    };
    const opt = (code: number, v: Buffer): Buffer => pad4(Buffer.concat([u16(code), u16(v.length), v]));
    // SHB: magic, version 1.0, section length -1, an shb_userappl option, end of options.
    out.push(block(0x0a0d0d0a, Buffer.concat([u32(0x1a2b3c4d), u16(1), u16(0), Buffer.alloc(8, 0xff), opt(4, Buffer.from('pcap-writer')), u32(0)])));
    for (const i of s.interfaces) {
      const opts: Buffer[] = [opt(2, Buffer.from('eth0'))];
      if (i.tsresol !== undefined) opts.push(opt(9, Buffer.from([i.tsresol])));
      if (i.tsoffset !== undefined) {
        const v = Buffer.alloc(8);
        if (le) v.writeBigInt64LE(BigInt(i.tsoffset));
        else v.writeBigInt64BE(BigInt(i.tsoffset));
        opts.push(opt(14, v));
      }
      opts.push(u32(0));
      out.push(block(1, Buffer.concat([u16(i.linkType), u16(0), u32(i.snaplen ?? 0), ...opts])));
    }
    for (const b of s.blocks) {
      if (b.kind === 'epb') {
        const hi = Number(b.ts >> 32n);
        const lo = Number(b.ts & 0xffffffffn);
        out.push(block(6, Buffer.concat([u32(b.ifc), u32(hi), u32(lo), u32(b.data.length), u32(b.origLen ?? b.data.length), b.data, opt(1, Buffer.from('c')), u32(0)])));
      } else if (b.kind === 'spb') {
        out.push(block(3, Buffer.concat([u32(b.origLen ?? b.data.length), b.data])));
      } else out.push(block(b.type, b.body));
    }
  }
  return Buffer.concat(out);
}

// ---------------------------------------------------------------- a TCP conversation

/** Builds the IP packets of one TCP connection, keeping sequence numbers. dir 0 = client → server. */
export class TcpConv {
  seq: [number, number];
  constructor(
    readonly client: string,
    readonly cport: number,
    readonly server: string,
    readonly sport: number,
    isn: [number, number] = [1000, 5000],
    readonly ext: Ext6[] = [],
  ) {
    this.seq = [isn[0] >>> 0, isn[1] >>> 0];
  }

  /** A packet from dir with the given flags and payload at an explicit or the current seq (does not advance). */
  packet(dir: 0 | 1, flags: string, payload: Buffer = Buffer.alloc(0), seq?: number): Buffer {
    const [src, dst, sp, dp] = dir === 0 ? [this.client, this.server, this.cport, this.sport] : [this.server, this.client, this.sport, this.cport];
    return ipTcp(src, dst, { sport: sp, dport: dp, seq: seq ?? this.seq[dir], ack: this.seq[1 - dir], flags, payload }, this.ext);
  }

  /** The three-way handshake. */
  handshake(): Buffer[] {
    const syn = this.packet(0, 'S');
    this.seq[0] = (this.seq[0] + 1) >>> 0;
    const synAck = ipTcp(this.server, this.client, { sport: this.sport, dport: this.cport, seq: this.seq[1], ack: this.seq[0], flags: 'SA' }, this.ext);
    this.seq[1] = (this.seq[1] + 1) >>> 0;
    return [syn, synAck, this.packet(0, 'A')];
  }

  /** Data from dir; advances that side's seq. */
  send(dir: 0 | 1, payload: Buffer, flags = 'PA'): Buffer {
    const p = this.packet(dir, flags, payload);
    this.seq[dir] = (this.seq[dir] + payload.length) >>> 0;
    return p;
  }

  /** FIN from dir; advances seq by one. */
  fin(dir: 0 | 1): Buffer {
    const p = this.packet(dir, 'FA');
    this.seq[dir] = (this.seq[dir] + 1) >>> 0;
    return p;
  }
}
