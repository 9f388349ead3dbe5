// Contracts of the capture layer: frames in, per-direction TCP byte streams and UDP datagrams out.
// The capture layer knows nothing of memcached; it only knows which ports are "server" ports.

/** A network endpoint as printed to people: IPv4 dotted, IPv6 compressed (no brackets). */
export interface Endpoint {
  addr: string;
  port: number;
}

/** 0 = client → server, 1 = server → client. */
export type Dir = 0 | 1;

/** How the capture layer decided which side is the server. */
export type ServerBy = 'port' | 'syn' | 'guess';

/** One TCP connection as seen in the capture. `id` is unique per capture, including 4-tuple reuse. */
export interface TcpFlowInfo {
  id: number;
  client: Endpoint;
  server: Endpoint;
  /** Capture time of the first packet seen, ns relative to the capture's start. */
  startNs: number;
  /** False when the capture joined the connection mid-way (no SYN seen). */
  synSeen: boolean;
  serverBy: ServerBy;
}

/**
 * Why a flow ended: FIN both ways, RST, end of the capture, a new SYN on the same 4-tuple, or its
 * state was freed after `idleTimeoutSec` without packets (a later packet opens a new, mid-way flow).
 */
export type CloseReason = 'fin' | 'rst' | 'end' | 'reused' | 'idle';

/** One UDP datagram to or from a server port. Payload is a view, valid only during the call. */
export interface UdpDatagram {
  client: Endpoint;
  server: Endpoint;
  dir: Dir;
  tsNs: number;
  payload: Buffer;
}

/**
 * Receiver of reassembled traffic. Calls arrive in capture order, except that bytes stored before
 * bytes of the other direction that they ACK wait for those (causal order; see reassembly.ts).
 * Buffers passed to `data` are views into the reader's chunks: valid only during the call, copy
 * what must outlive it.
 */
export interface StreamSink {
  open(flow: TcpFlowInfo): void;
  /** In-order bytes of one direction; `tsNs` is the capture time of the segment that carried them. */
  data(flowId: number, dir: Dir, data: Buffer, tsNs: number): void;
  /**
   * Optional: the same bytes as `data`, as the range buf[offset, offset + length) of a larger
   * buffer, which spares a Buffer view per segment (~100 ns, a third of a small packet's cost).
   * A sink that has it gets these calls instead of `data`; the same validity rules apply.
   */
  dataAt?(flowId: number, dir: Dir, buf: Buffer, offset: number, length: number, tsNs: number): void;
  /**
   * Bytes of one direction that the capture does not hold (lost packets, snaplen cut, or the part
   * before a mid-way join when known). `bytes` is -1 when the size is unknown. The next `data` of
   * that direction starts at an arbitrary byte: the consumer must resynchronise.
   */
  gap(flowId: number, dir: Dir, bytes: number, tsNs: number): void;
  close(flowId: number, tsNs: number, reason: CloseReason): void;
  datagram(d: UdpDatagram): void;
}

/** Counters of what the capture layer read and could not read; all are plain counts. */
export interface CaptureStats {
  format: 'pcap' | 'pcapng' | 'unknown';
  gzip: boolean;
  /** Timestamp resolution of the file (pcapng: of the first interface). */
  nanosecond: boolean;
  bytesRead: number;
  packets: number;
  /** Packets by link type name, e.g. { EN10MB: 10, LINUX_SLL2: 3 }; unknown ones as "LINKTYPE_<n>". */
  linkTypes: Record<string, number>;
  /** Packets skipped because their link type cannot be decoded, by name. */
  unsupportedLinkTypes: Record<string, number>;
  nonIp: number;
  /** Frames decoded down to a TCP or UDP header (whatever became of them after). */
  decodedPackets: number;
  /** Blocks that carry no readable frame (pcapng EPB/SPB too short, unknown interface); also in malformedPackets. */
  badBlocks: number;
  otherTransport: number; // IP but not TCP/UDP (ICMP ...)
  ipFragments: number; // fragments are not reassembled: counted
  notServerPort: number; // TCP/UDP packets not to/from a server port
  /**
   * Among those, the ports that connection openings (bare SYNs) went to, by port, at most
   * OTHER_SYN_PORTS_MAX of them: what to suggest for --port when nothing was on the chosen ones.
   */
  otherSynPorts: Record<number, number>;
  truncatedPackets: number; // caplen < origlen
  truncatedBytes: number; // payload bytes lost to snaplen
  malformedPackets: number; // headers that do not parse
  retransmittedSegments: number;
  retransmittedBytes: number;
  outOfOrderSegments: number;
  overlapBytes: number;
  gapEvents: number;
  gapBytes: number; // known lost bytes (size-unknown gaps are not added)
  tcpConnections: number;
  midstreamConnections: number;
  reusedTuples: number;
  udpDatagrams: number;
  timestampInversions: number; // frames whose timestamp went backwards (clamped)
  timestampOutliers: number; // single frames far from their neighbours (replaced)
  /** Option values out of their range (pcapng if_tsresol, if_tsoffset, option lengths), by name; each was ignored. */
  badOptions: Record<string, number>;
  /** The first bad option, described for the user (file, interface, value, what was assumed). */
  badOptionNote: string | null;
  /** Trailing bytes that are not a whole record (file cut short), and why reading stopped early. */
  trailingBytes: number;
  error: string | null;
  /** gzip input: the damage met in the compressed stream (bad CRC, cut short, trailing bytes), also in `error`. */
  gzipProblem: string | null;
  /** Epoch second of the capture's first frame; frame times are ns relative to this. */
  baseEpochSec: number;
  firstNs: number;
  lastNs: number;
}

export interface CaptureOptions {
  /** TCP/UDP ports that are memcached servers (default [11211]). Other traffic falls back to SYN direction. */
  serverPorts: number[];
  /** If true, TCP flows not on a server port are still decoded when a SYN shows the direction. */
  followSynDirection?: boolean;
  /** Capture seconds without a packet after which an open TCP flow is closed ('idle') and freed (default 900). */
  idleTimeoutSec?: number;
  /** Most TCP flows held open at once; beyond it the least recently active is closed ('idle') (default 262144). */
  maxFlows?: number;
}
