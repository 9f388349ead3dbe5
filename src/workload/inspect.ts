// `inspect`: what is in a capture and how much of it can be replayed, as a versioned object.
import { basename } from 'node:path';
import { stat } from 'node:fs/promises';
import type { CaptureStats } from '../capture/types.js';
import { commandInfo } from '../protocol/index.js';
import type { Proto } from '../protocol/types.js';
import { extractWorkload, type AsciiAuthStats, type ExtractStats } from './extract.js';
import type { IngestOptions } from './model.js';
import { WorkloadSummary, distributionOf, type CommandTally, type Distribution } from './summary.js';

export const INSPECT_SCHEMA = 'mcreplay.inspect/1';

/** The `inspect --json` object (schema mcreplay.inspect/1); documented in the README. */
export interface InspectReport {
  schema: typeof INSPECT_SCHEMA;
  file: { path: string; name: string; bytes: number | null; format: string; gzip: boolean; nanosecond: boolean };
  /** Capture start as ISO time, and the span from first to last frame. */
  start: string | null;
  durationNs: number;
  packets: number;
  linkTypes: Record<string, number>;
  servers: { endpoint: string; connections: number; requests: number }[];
  connections: { total: number; tcp: number; udp: number; midstream: number; closed: Record<string, number> };
  requests: {
    total: number;
    perCommand: Record<string, CommandTally & { hitRatio: number | null; latencyNs: Distribution | null }>;
    rate: { meanPerSec: number; peakPerSec: number; peakSecond: number | null };
  };
  keys: { distinct: number; distinctExact: boolean; sizeBytes: Distribution | null };
  values: { writtenBytes: Distribution | null; readBytes: Distribution | null };
  hitRatio: number | null;
  latencyNs: Distribution | null;
  quality: {
    truncatedPackets: number;
    truncatedBytes: number;
    malformedPackets: number;
    unsupportedLinkTypes: Record<string, number>;
    nonIp: number;
    otherTransport: number;
    notServerPort: number;
    /** Ports that connections left out by the chosen server ports were opened to (bare SYNs), by port. */
    otherSynPorts: Record<number, number>;
    ipFragments: number;
    retransmittedSegments: number;
    retransmittedBytes: number;
    outOfOrderSegments: number;
    overlapBytes: number;
    gaps: number;
    gapBytes: number;
    timestampInversions: number;
    timestampOutliers: number;
    /** Capture-file option values out of their range, by option name (ignored), and the first described. */
    badOptions: Record<string, number>;
    badOptionNote: string | null;
    unparsableBytes: Record<string, number>;
    unexpectedResponseBytes: number;
    orphanResponseBytes: number;
    requestsLost: number;
    unanswered: { closed: number; desync: number; end: number };
    trailingBytes: number;
    error: string | null;
  };
  replayable: {
    requests: number;
    of: number;
    percent: number;
    /** Of the replayable requests, those of UDP clients: replay sends them over UDP. */
    udp: number;
    /**
     * Not replayable: requests that carry credentials. `udp` is always 0 since UDP requests are
     * replayed over UDP (kept so readers of mcreplay.inspect/1 keep working).
     */
    excluded: { credentials: number; udp: number };
    /** Replayable but held back unless named in --allow. */
    destructive: Record<string, number>;
    /** Ascii auth (memcached -Y): declared with --ascii-auth, or shown by the capture. */
    asciiAuth: AsciiAuthStats;
  };
}

/** Reads a capture and summarises it (streaming; memory does not grow with capture size). */
export async function inspectCapture(input: string, opts: IngestOptions): Promise<InspectReport> {
  const summary = new WorkloadSummary((cmd, proto) => commandInfo(proto as Proto, cmd).destructive);
  const { capture, extract } = await extractWorkload(input, { ...opts, keepRaw: false }, summary);
  const size = input === '-' ? null : (await stat(input)).size;
  return buildReport(input, size, capture, extract, summary);
}

function rate(s: WorkloadSummary): InspectReport['requests']['rate'] {
  if (s.requests === 0 || s.firstRequestNs === null) return { meanPerSec: 0, peakPerSec: 0, peakSecond: null };
  const spanS = Math.max((s.lastRequestNs - s.firstRequestNs) / 1e9, 1e-9);
  const { peakPerSec: peak, peakSecond } = s.perSecond.peakOf();
  // a capture shorter than a second has no meaningful mean rate beyond its count
  const mean = spanS < 1 ? s.requests : s.requests / spanS;
  return { meanPerSec: Math.round(mean * 10) / 10, peakPerSec: peak, peakSecond };
}

/** ISO time of epoch ms, or null beyond what a Date holds (±8.64e15 ms): capture clocks can be anything. */
function isoTime(ms: number): string | null {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

function ratio(hits: number, misses: number): number | null {
  return hits + misses === 0 ? null : hits / (hits + misses);
}

function buildReport(input: string, size: number | null, c: CaptureStats, x: ExtractStats, s: WorkloadSummary): InspectReport {
  const perCommand: InspectReport['requests']['perCommand'] = {};
  const destructive: Record<string, number> = {};
  const sorted = [...s.commands.entries()].sort((a, b) => b[1].tally.count - a[1].tally.count);
  for (const [cmd, acc] of sorted) {
    perCommand[cmd] = { ...acc.tally, hitRatio: ratio(acc.tally.hits, acc.tally.misses), latencyNs: distributionOf(acc.latency) };
    if (acc.tally.destructive) destructive[cmd] = acc.tally.count;
  }
  const replayable = s.requests - s.credentials;
  const of = s.requests + x.requestsCut;
  return {
    schema: INSPECT_SCHEMA,
    file: { path: input, name: input === '-' ? '(stdin)' : basename(input), bytes: size, format: c.format, gzip: c.gzip, nanosecond: c.nanosecond },
    start: c.packets > 0 ? isoTime(c.baseEpochSec * 1000 + Math.floor(c.firstNs / 1e6)) : null,
    durationNs: c.packets > 0 ? c.lastNs - c.firstNs : 0,
    packets: c.packets,
    linkTypes: c.linkTypes,
    servers: [...s.servers.entries()].map(([endpoint, v]) => ({ endpoint, ...v })).sort((a, b) => b.requests - a.requests),
    connections: s.connections,
    requests: { total: s.requests, perCommand, rate: rate(s) },
    keys: { distinct: s.distinct.count(), distinctExact: s.distinct.isExact, sizeBytes: distributionOf(s.keySizes) },
    values: { writtenBytes: distributionOf(s.valuesWritten), readBytes: distributionOf(s.valuesRead) },
    hitRatio: ratio(s.hits, s.misses),
    latencyNs: distributionOf(s.latency),
    quality: {
      truncatedPackets: c.truncatedPackets,
      truncatedBytes: c.truncatedBytes,
      malformedPackets: c.malformedPackets,
      unsupportedLinkTypes: c.unsupportedLinkTypes,
      nonIp: c.nonIp,
      otherTransport: c.otherTransport,
      notServerPort: c.notServerPort,
      otherSynPorts: c.otherSynPorts,
      ipFragments: c.ipFragments,
      retransmittedSegments: c.retransmittedSegments,
      retransmittedBytes: c.retransmittedBytes,
      outOfOrderSegments: c.outOfOrderSegments,
      overlapBytes: c.overlapBytes,
      gaps: c.gapEvents,
      gapBytes: c.gapBytes,
      timestampInversions: c.timestampInversions,
      timestampOutliers: c.timestampOutliers,
      badOptions: c.badOptions,
      badOptionNote: c.badOptionNote,
      unparsableBytes: x.skippedRequestBytes,
      unexpectedResponseBytes: x.unexpectedResponseBytes,
      orphanResponseBytes: x.orphanResponseBytes,
      requestsLost: x.requestsCut,
      unanswered: x.unanswered,
      trailingBytes: c.trailingBytes,
      error: c.error,
    },
    replayable: {
      requests: replayable,
      of,
      percent: of === 0 ? 0 : Math.round((replayable / of) * 10000) / 100,
      udp: s.udpReplayable,
      excluded: { credentials: s.credentials, udp: 0 },
      destructive,
      asciiAuth: x.asciiAuth,
    },
  };
}
