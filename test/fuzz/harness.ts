// The fuzz suite's harness: runs capture bytes through the whole ingest path (capture reader,
// link/IP decoding, reassembly, request parser and response matcher) in memory and checks what
// must hold for any input. Settings come from the environment so `npm run fuzz` can run long:
//   FUZZ_RUNS  cases per property (npm test: a few hundred each; npm run fuzz: 100,000)
//   FUZZ_SEED  fast-check seed (default fixed, so npm test is reproducible)
//   FUZZ_SAVE  1: a failing input is written to test/fuzz/regressions/ before the test fails
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { createCapturePipeline } from '../../src/capture/index.js';
import type { CaptureStats } from '../../src/capture/types.js';
import { McError } from '../../src/errors.js';
import { createWorkloadBuilder, type ExtractStats } from '../../src/workload/extract.js';
import type { CapturedOutcome, WorkloadConnection, WorkloadRequest, WorkloadSink } from '../../src/workload/model.js';

export const FUZZ_RUNS = Number(process.env.FUZZ_RUNS ?? 0) || 0;
export const FUZZ_SEED = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) : 20261207;
export const REGRESSIONS = new URL('./regressions/', import.meta.url).pathname;
const ROOT = new URL('../../', import.meta.url).pathname;

/** Cases per property: FUZZ_RUNS when set, else the given default (sized for npm test). */
export function runs(def: number): number {
  return FUZZ_RUNS > 0 ? FUZZ_RUNS : def;
}

/** The real fixture captures (recorded by scripts/make-captures.sh), small enough to mutate by thousands. */
export function fixtureCaptures(): { name: string; bytes: Buffer }[] {
  const dir = join(ROOT, 'captures/fixtures');
  return readdirSync(dir)
    .filter((f) => /\.pcap(ng)?$/.test(f))
    .map((f) => {
      const raw = readFileSync(join(dir, f));
      // a gzip fixture is mutated as the capture inside it (gzip damage has its own property)
      return { name: f, bytes: raw[0] === 0x1f && raw[1] === 0x8b ? gunzipSync(raw) : raw };
    })
    .filter((f) => f.bytes.length <= 512 * 1024);
}

/** Inputs kept from earlier failures, replayed by every run. */
export function regressionInputs(): { name: string; bytes: Buffer }[] {
  mkdirSync(REGRESSIONS, { recursive: true });
  return readdirSync(REGRESSIONS)
    .filter((f) => f.endsWith('.bin'))
    .map((f) => ({ name: f, bytes: readFileSync(join(REGRESSIONS, f)) }));
}

/** Writes a failing input to the regressions folder (FUZZ_SAVE=1) and returns its name. */
export function keepRegression(bytes: Buffer, what: string): string | null {
  if (process.env.FUZZ_SAVE !== '1') return null;
  const name = `${what}-${createHash('sha256').update(bytes).digest('hex').slice(0, 16)}.bin`;
  mkdirSync(REGRESSIONS, { recursive: true });
  writeFileSync(join(REGRESSIONS, name), bytes);
  return name;
}

/** What one ingest of an input gave. */
export interface IngestCase {
  /** Not a capture: the typed McError the reader threw (the only exception allowed). */
  notCapture: McError | null;
  capture: CaptureStats | null;
  extract: ExtractStats | null;
  requests: number;
  /** Requests that got no outcome, or more than one, by the end. */
  outcomeMismatches: number;
  connections: number;
  closes: number;
  /** Growth of process ArrayBuffer memory while the input was held, bytes. */
  bufferGrowth: number;
  /** CPU time (user + system) spent, ms: unlike wall time, it does not grow with the machine's load. */
  ms: number;
}

/** Counts what the workload builder emits and checks each request's outcomes. */
class CountingSink implements WorkloadSink {
  requests = 0;
  connections = 0;
  closes = 0;
  private readonly outcomes = new Map<WorkloadRequest, number>();
  connection(_c: WorkloadConnection): void {
    this.connections++;
  }
  request(r: WorkloadRequest): void {
    this.requests++;
    this.outcomes.set(r, 0);
  }
  outcome(r: WorkloadRequest, _o: CapturedOutcome): void {
    this.outcomes.set(r, (this.outcomes.get(r) ?? 0) + 1);
  }
  close(): void {
    this.closes++;
  }
  mismatches(): number {
    let n = 0;
    for (const v of this.outcomes.values()) if (v !== 1) n++;
    return n;
  }
}

/** Runs capture bytes through the whole ingest path in chunks of `chunk` bytes (0: whole). Any exception but McError escapes. */
export function ingest(input: Buffer, chunk = 0): IngestCase {
  const sink = new CountingSink();
  const builder = createWorkloadBuilder(sink, 'none');
  const pipe = createCapturePipeline({ serverPorts: [11211], followSynDirection: true }, builder.streams, 'fuzz');
  const c0 = process.cpuUsage();
  const m0 = process.memoryUsage().arrayBuffers;
  let notCapture: McError | null = null;
  let capture: CaptureStats | null = null;
  let bufferGrowth = 0;
  try {
    if (chunk <= 0) pipe.push(input);
    else for (let o = 0; o < input.length; o += chunk) pipe.push(input.subarray(o, o + chunk));
    bufferGrowth = process.memoryUsage().arrayBuffers - m0;
    capture = pipe.end();
    builder.finish();
  } catch (e) {
    if (!(e instanceof McError)) throw e;
    notCapture = e;
  }
  return {
    notCapture,
    capture,
    extract: capture ? builder.stats : null,
    requests: sink.requests,
    outcomeMismatches: capture ? sink.mismatches() : 0,
    connections: sink.connections,
    closes: sink.closes,
    bufferGrowth,
    ms: cpuMs(c0),
  };
}

/** CPU ms (user + system) since a process.cpuUsage() reading. */
export function cpuMs(since: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1000;
}

/** packets in = decoded to TCP/UDP + counted as a problem (bad blocks are problems that never became packets). */
export function packetIdentity(c: CaptureStats): { packetsIn: number; accounted: number } {
  const unsupported = Object.values(c.unsupportedLinkTypes).reduce((a, b) => a + b, 0);
  return {
    packetsIn: c.packets + c.badBlocks,
    accounted: c.decodedPackets + c.nonIp + c.malformedPackets + c.ipFragments + c.otherTransport + unsupported,
  };
}
