// The synchronous capture pipeline: file bytes → frames → IP → TCP/UDP → StreamSink. Benches and
// tests feed it Buffers directly; readCapture (index.ts) feeds it from a file or stdin.
import { decodeIp, dstText, IP_FRAGMENT, IP_MALFORMED, srcText } from './ip.js';
import { ipOffset, LINK_MALFORMED, LINK_NON_IP, linkSupported, linkTypeName } from './link.js';
import { Packet, SETTLE_DOUBLE } from './packet.js';
import { CaptureReader, type FrameSink } from './reader.js';
import { TcpReassembler } from './reassembly.js';
import { decodeTcp } from './tcp.js';
import { decodeUdp } from './udp.js';
import type { CaptureOptions, CaptureStats, StreamSink } from './types.js';

/** A capture pipeline fed by hand: push the file's bytes in any chunking, then end(). */
export interface CapturePipeline {
  /** Feeds the next bytes of the capture file. Throws McError if the file is not a capture. */
  push(chunk: Buffer): void;
  /** Input is over: delivers what is left, closes open flows ('end'), returns the final counters. */
  end(): CaptureStats;
  /** Counters so far (a copy). */
  stats(): CaptureStats;
}

/** All-zero capture counters. */
export function emptyCaptureStats(): CaptureStats {
  return {
    format: 'unknown',
    gzip: false,
    nanosecond: false,
    bytesRead: 0,
    packets: 0,
    linkTypes: {},
    unsupportedLinkTypes: {},
    nonIp: 0,
    decodedPackets: 0,
    badBlocks: 0,
    otherTransport: 0,
    ipFragments: 0,
    notServerPort: 0,
    otherSynPorts: {},
    truncatedPackets: 0,
    truncatedBytes: 0,
    malformedPackets: 0,
    retransmittedSegments: 0,
    retransmittedBytes: 0,
    outOfOrderSegments: 0,
    overlapBytes: 0,
    gapEvents: 0,
    gapBytes: 0,
    tcpConnections: 0,
    midstreamConnections: 0,
    reusedTuples: 0,
    udpDatagrams: 0,
    timestampInversions: 0,
    timestampOutliers: 0,
    badOptions: {},
    badOptionNote: null,
    trailingBytes: 0,
    error: null,
    gzipProblem: null,
    baseEpochSec: 0,
    firstNs: 0,
    lastNs: 0,
  };
}

class Decoder implements FrameSink {
  readonly pkt = new Packet();
  lastTs = 0;
  constructor(
    private readonly stats: CaptureStats,
    private readonly tcp: TcpReassembler,
    private readonly sink: StreamSink,
    private readonly isServer: Uint8Array,
  ) {}

  frame(link: number, b: Buffer, off: number, caplen: number, origlen: number, ts: number): void {
    const st = this.stats;
    this.lastTs = ts;
    if (caplen < origlen) st.truncatedPackets++;
    const end = off + caplen;
    const ip = ipOffset(link, b, off, end);
    if (ip < 0) {
      if (ip === LINK_NON_IP) st.nonIp++;
      else if (ip === LINK_MALFORMED) st.malformedPackets++;
      // unsupported link types are counted per link type by the reader
      return;
    }
    const p = this.pkt;
    const proto = decodeIp(p, b, ip, end, off + origlen);
    if (proto === 6) {
      if (!decodeTcp(p, b)) {
        st.malformedPackets++;
        return;
      }
      st.decodedPackets++;
      p.buf = b;
      st.truncatedBytes += p.missing;
      this.tcp.segment(p, ts);
    } else if (proto === 17) {
      if (!decodeUdp(p, b)) {
        st.malformedPackets++;
        return;
      }
      st.decodedPackets++;
      p.buf = b;
      st.truncatedBytes += p.missing;
      this.udp(p, ts);
    } else if (proto === IP_FRAGMENT) st.ipFragments++;
    else if (proto === IP_MALFORMED) st.malformedPackets++;
    else st.otherTransport++;
  }

  private udp(p: Packet, ts: number): void {
    const sS = this.isServer[p.sport]!;
    const dS = this.isServer[p.dport]!;
    if (sS === 0 && dS === 0) {
      this.stats.notServerPort++;
      return;
    }
    // A datagram cut by the snaplen cannot be framed: counted in truncatedBytes, not delivered.
    if (p.missing > 0) return;
    const src = { addr: srcText(p), port: p.sport };
    const dst = { addr: dstText(p), port: p.dport };
    const toServer = dS !== 0;
    this.stats.udpDatagrams++;
    this.sink.datagram({
      client: toServer ? src : dst,
      server: toServer ? dst : src,
      dir: toServer ? 0 : 1,
      tsNs: ts,
      payload: p.buf.subarray(p.payOff, p.payOff + p.payLen),
    });
  }
}

// Frame times outgrow small integers two seconds into a capture: see SETTLE_DOUBLE.
new Decoder(emptyCaptureStats(), null as unknown as TcpReassembler, null as unknown as StreamSink, new Uint8Array(0)).lastTs = SETTLE_DOUBLE;

/** Builds a synchronous pipeline from capture-file bytes to the sink; `name` labels errors. */
export function createCapturePipeline(opts: CaptureOptions, sink: StreamSink, name = 'capture'): CapturePipeline {
  const stats = emptyCaptureStats();
  const isServer = new Uint8Array(65536);
  for (const port of opts.serverPorts) if (port >= 0 && port < 65536) isServer[port] = 1;
  const tcp = new TcpReassembler(sink, stats, isServer, opts.followSynDirection === true, opts.idleTimeoutSec, opts.maxFlows);
  const decoder = new Decoder(stats, tcp, sink, isServer);
  const reader = new CaptureReader(decoder, name);
  let ended = false;

  const snapshot = (): CaptureStats => {
    const s: CaptureStats = { ...stats, linkTypes: {}, unsupportedLinkTypes: {}, badOptions: { ...reader.badOptions }, badOptionNote: reader.badOptionNote };
    s.format = reader.format;
    s.nanosecond = reader.nano;
    s.bytesRead = reader.bytesRead;
    s.packets = reader.packets;
    s.malformedPackets += reader.badBlocks;
    s.badBlocks = reader.badBlocks;
    for (const [link, n] of reader.linkCounts()) {
      const nm = linkTypeName(link);
      s.linkTypes[nm] = (s.linkTypes[nm] ?? 0) + n;
      if (!linkSupported(link)) s.unsupportedLinkTypes[nm] = (s.unsupportedLinkTypes[nm] ?? 0) + n;
    }
    const c = reader.clock;
    s.timestampInversions = c.inversions;
    s.timestampOutliers = c.outliers;
    s.baseEpochSec = c.base === c.base ? c.base : 0;
    s.firstNs = c.first === c.first ? c.first : 0;
    s.lastNs = c.base === c.base ? c.last : 0;
    s.trailingBytes = reader.trailingBytes;
    s.error = reader.error;
    return s;
  };

  return {
    push(chunk: Buffer): void {
      if (ended) throw new Error('capture pipeline: push() after end()');
      reader.push(chunk);
    },
    end(): CaptureStats {
      if (!ended) {
        ended = true;
        reader.end();
        tcp.finish(decoder.lastTs);
      }
      return snapshot();
    },
    stats: snapshot,
  };
}
