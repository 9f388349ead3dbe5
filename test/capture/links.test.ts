// Link layers, IP versions and transports: every variant carries the same exchange, which must come
// out byte for byte; what cannot be decoded is counted and named.
import { describe, expect, test } from 'vitest';
import { ethernet, ipTcp, ipv4, ipv6, LINKTYPE, nullLink, pcapFile, sll, sll2, tcp, TcpConv, udp, type Ext6 } from '../helpers/pcap-writer.js';
import { exchange, feed, REQ, RESP } from './util.js';

const T0 = 1_700_000_000;
const V6C = '2001:db8::10';
const V6S = '2001:db8::11';

function capture(link: number, frames: Buffer[]): Buffer {
  return pcapFile({ linkType: link }, frames.map((data, i) => ({ sec: T0, frac: i, data })));
}

function expectExchange(file: Buffer, client: string, server: string): ReturnType<typeof feed> {
  const r = feed(file);
  expect(r.rec.list).toHaveLength(1);
  const f = r.rec.list[0]!;
  expect(f.info.client).toEqual({ addr: client, port: 40000 });
  expect(f.info.server).toEqual({ addr: server, port: 11211 });
  expect(r.rec.text(1, 0)).toBe(REQ.toString('latin1'));
  expect(r.rec.text(1, 1)).toBe(RESP.toString('latin1'));
  expect(f.close?.reason).toBe('fin');
  expect(r.stats.malformedPackets + r.stats.nonIp + r.stats.otherTransport).toBe(0);
  return r;
}

describe('link types', () => {
  const variants: [string, number, (ip: Buffer) => Buffer][] = [
    ['EN10MB', LINKTYPE.EN10MB, (ip) => ethernet(ip)],
    ['EN10MB 802.1Q', LINKTYPE.EN10MB, (ip) => ethernet(ip, [{ vid: 42 }])],
    ['EN10MB QinQ 802.1ad + 802.1Q', LINKTYPE.EN10MB, (ip) => ethernet(ip, [{ tpid: 0x88a8, vid: 100 }, { vid: 42 }])],
    ['EN10MB old QinQ 0x9100 + two 802.1Q', LINKTYPE.EN10MB, (ip) => ethernet(ip, [{ tpid: 0x9100, vid: 1 }, { vid: 2 }, { vid: 3 }])],
    ['LINUX_SLL', LINKTYPE.LINUX_SLL, (ip) => sll(ip)],
    ['LINUX_SLL2', LINKTYPE.LINUX_SLL2, (ip) => sll2(ip)],
    ['RAW (101)', LINKTYPE.RAW, (ip) => ip],
    ['RAW (12)', 12, (ip) => ip],
    ['RAW (14)', 14, (ip) => ip],
    ['NULL little-endian', LINKTYPE.NULL, (ip) => nullLink(ip, ip[0]! >> 4 === 4 ? 2 : 30, true)],
    ['NULL big-endian', LINKTYPE.NULL, (ip) => nullLink(ip, ip[0]! >> 4 === 4 ? 2 : 28, false)],
    ['LOOP', LINKTYPE.LOOP, (ip) => nullLink(ip, ip[0]! >> 4 === 4 ? 2 : 24, false)],
  ];
  for (const [name, link, wrap] of variants)
    for (const v6 of [false, true])
      test(`${name}, IPv${v6 ? 6 : 4}`, () => {
        const [c, s] = v6 ? [V6C, V6S] : ['10.0.0.1', '10.0.0.2'];
        const r = expectExchange(capture(link, exchange(c, s).map(wrap)), c, s);
        expect(Object.keys(r.stats.linkTypes)).toHaveLength(1);
      });

  test('IPV4 (228) and IPV6 (229) link types', () => {
    expectExchange(capture(LINKTYPE.IPV4, exchange()), '10.0.0.1', '10.0.0.2');
    expectExchange(capture(LINKTYPE.IPV6, exchange(V6C, V6S)), V6C, V6S);
  });

  test('every AF_INET6 value of the BSDs and Linux, in both byte orders', () => {
    for (const af of [10, 24, 28, 30])
      for (const le of [true, false]) expectExchange(capture(LINKTYPE.NULL, exchange(V6C, V6S).map((ip) => nullLink(ip, af, le))), V6C, V6S);
  });

  test('non-IP frames and unknown link types are counted and named, never fatal', () => {
    const pk = exchange();
    const arp = ethernet(Buffer.alloc(28), [], 0x0806);
    const llc = ethernet(Buffer.alloc(40), [], 0x0040); // 802.3 length field
    const r = feed(capture(LINKTYPE.EN10MB, [arp, ...pk.map((p) => ethernet(p)), llc, ethernet(Buffer.alloc(4), [{ vid: 1 }], 0x8100).subarray(0, 16)]));
    expect(r.rec.text(1, 0)).toBe(REQ.toString('latin1'));
    expect(r.stats.nonIp).toBe(2);
    expect(r.stats.malformedPackets).toBe(1); // a VLAN tag cut short
    const n = feed(capture(LINKTYPE.NULL, [nullLink(pk[0]!, 7, true)]));
    expect(n.stats.nonIp).toBe(1);
    const w = feed(capture(105, pk));
    expect(w.stats.linkTypes).toEqual({ IEEE802_11: 9 });
    expect(w.stats.unsupportedLinkTypes).toEqual({ IEEE802_11: 9 });
    expect(w.rec.list).toHaveLength(0);
    const odd = feed(capture(4242, pk.slice(0, 2)));
    expect(odd.stats.unsupportedLinkTypes).toEqual({ LINKTYPE_4242: 2 });
  });
});

describe('IP', () => {
  test('IPv4 options and Ethernet padding', () => {
    const c = new TcpConv('10.0.0.1', 40000, '10.0.0.2', 11211);
    const frames = [...c.handshake(), c.send(0, REQ), c.send(1, RESP), c.fin(0), c.fin(1)].map((ip) => {
      // Re-emit each packet with a 4-byte IP option (router alert) and Ethernet padding after it.
      const l4 = ip.subarray(20);
      return ethernet(ipv4('10.0.0.1' === `${ip[12]}.${ip[13]}.${ip[14]}.${ip[15]}` ? '10.0.0.1' : '10.0.0.2', `${ip[16]}.${ip[17]}.${ip[18]}.${ip[19]}`, 6, l4, { options: Buffer.from([0x94, 4, 0, 0]), trailer: Buffer.from('PADPAD') }));
    });
    expectExchange(capture(LINKTYPE.EN10MB, frames), '10.0.0.1', '10.0.0.2');
  });

  test('IPv4 total length 0 (TSO on the sending host) uses the frame length', () => {
    const c = new TcpConv('10.0.0.1', 40000, '10.0.0.2', 11211);
    const pk = [...c.handshake(), c.send(0, REQ), c.send(1, RESP), c.fin(0), c.fin(1)];
    pk[3]!.writeUInt16BE(0, 2);
    expectExchange(capture(LINKTYPE.RAW, pk), '10.0.0.1', '10.0.0.2');
  });

  test('IPv6 extension headers: hop-by-hop, routing, destination options, AH, atomic fragment', () => {
    const ext: Ext6[] = [{ type: 0 }, { type: 43, units: 2 }, { type: 60, units: 1 }, { type: 51 }, { type: 44 }];
    const c = new TcpConv(V6C, 40000, V6S, 11211, [7, 9], ext);
    const pk = [...c.handshake(), c.send(0, REQ), c.send(1, RESP), c.fin(0), c.fin(1)];
    expectExchange(capture(LINKTYPE.EN10MB, pk.map((p) => ethernet(p))), V6C, V6S);
  });

  test('fragments are counted, not reassembled; other transports are counted', () => {
    const seg = tcp({ sport: 40000, dport: 11211, seq: 1, flags: 'PA', payload: REQ });
    const frames = [
      ipv4('10.0.0.1', '10.0.0.2', 6, seg, { moreFragments: true }),
      ipv4('10.0.0.1', '10.0.0.2', 6, seg.subarray(0, 8), { fragOffset: 3 }),
      ipv6(V6C, V6S, 6, seg, [{ type: 44, moreFragments: true }]),
      ipv6(V6C, V6S, 6, seg, [{ type: 0 }, { type: 44, fragOffset: 10 }]),
      ipv4('10.0.0.1', '10.0.0.2', 1, Buffer.from('0800f7ff00000000', 'hex')), // ICMP echo
      ipv6(V6C, V6S, 58, Buffer.alloc(8)), // ICMPv6
      ipv6(V6C, V6S, 59, Buffer.alloc(0)), // no next header
      ipv4('10.0.0.1', '10.0.0.2', 132, Buffer.alloc(12)), // SCTP
    ];
    const r = feed(capture(LINKTYPE.RAW, frames));
    expect(r.stats.ipFragments).toBe(4);
    expect(r.stats.otherTransport).toBe(4);
    expect(r.rec.list).toHaveLength(0);
  });

  test('headers cut by the snaplen or nonsense are malformed, never a crash', () => {
    const pk = exchange();
    const frames = [
      pk[3]!.subarray(0, 10), // IPv4 header cut
      pk[3]!.subarray(0, 30), // TCP header cut
      Buffer.from([0x45]),
      Buffer.from([0x75, 0, 0, 0]), // IP version 7
      Buffer.alloc(0),
      ipv6(V6C, V6S, 6, Buffer.alloc(4)), // TCP header shorter than 20
    ];
    const file = pcapFile({ linkType: LINKTYPE.RAW }, frames.map((data, i) => ({ sec: T0, frac: i, data, origLen: i < 2 ? pk[3]!.length : data.length })));
    const r = feed(file);
    expect(r.stats.malformedPackets).toBe(6);
    expect(r.stats.truncatedPackets).toBe(2);
  });

  test('IPv6 addresses print in RFC 5952 form', () => {
    const cases: [string, string][] = [
      ['2001:0db8:0000:0000:0001:0000:0000:0001', '2001:db8::1:0:0:1'],
      ['::1', '::1'],
      ['fe80:0:0:0:0:0:0:0', 'fe80::'],
      ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2:3:4:5:6'],
      ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
      ['::ffff:10.1.2.3', '::ffff:10.1.2.3'],
    ];
    for (const [c, want] of cases) {
      const r = feed(capture(LINKTYPE.RAW, [ipTcp(c, V6S, { sport: 40000, dport: 11211, seq: 1, flags: 'S' })]));
      expect(r.rec.list[0]!.info.client.addr).toBe(want);
    }
  });
});

describe('UDP', () => {
  test('datagrams to and from a server port, in both IP versions; others counted', () => {
    const hdr = Buffer.from([0, 1, 0, 0, 0, 1, 0, 0]);
    const req = Buffer.concat([hdr, Buffer.from('get a b\r\n')]);
    const resp = Buffer.concat([hdr, Buffer.from('VALUE a 0 1\r\nx\r\nEND\r\n')]);
    const frames = [
      ipv4('10.0.0.1', '10.0.0.2', 17, udp(50000, 11211, req)),
      ipv4('10.0.0.2', '10.0.0.1', 17, udp(11211, 50000, resp)),
      ipv6(V6C, V6S, 17, udp(50001, 11211, req)),
      ipv4('10.0.0.1', '10.0.0.3', 17, udp(50000, 53, Buffer.from('dns'))),
    ];
    const r = feed(capture(LINKTYPE.RAW, frames));
    expect(r.stats.udpDatagrams).toBe(3);
    expect(r.stats.notServerPort).toBe(1);
    const [a, b, c] = r.rec.datagrams;
    expect(a).toMatchObject({ dir: 0, client: { addr: '10.0.0.1', port: 50000 }, server: { addr: '10.0.0.2', port: 11211 } });
    expect(a!.payload.equals(req)).toBe(true);
    expect(b).toMatchObject({ dir: 1, client: { addr: '10.0.0.1', port: 50000 }, server: { addr: '10.0.0.2', port: 11211 } });
    expect(b!.payload.equals(resp)).toBe(true);
    expect(c).toMatchObject({ dir: 0, client: { addr: V6C, port: 50001 } });
  });

  test('a datagram cut by the snaplen is counted, not delivered', () => {
    const d = ipv4('10.0.0.1', '10.0.0.2', 17, udp(50000, 11211, Buffer.alloc(100, 0x61)));
    const file = pcapFile({ linkType: LINKTYPE.RAW, snaplen: 60 }, [{ sec: T0, frac: 0, data: d.subarray(0, 60), origLen: d.length }]);
    const r = feed(file);
    expect(r.rec.datagrams).toHaveLength(0);
    expect(r.stats.truncatedPackets).toBe(1);
    expect(r.stats.truncatedBytes).toBe(100 - 32);
  });
});
