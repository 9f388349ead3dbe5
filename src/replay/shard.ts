// --shard i/N: which captured connections this process replays. Every shard computes the same
// assignment from the capture alone: a first pass counts the requests of every captured
// connection, then connections go, largest first (ties: lower connection id first), each to the
// shard with the fewest requests so far (ties: lower shard). Connection ids are numbered in the
// order the capture opens them, so the assignment is a pure function of the capture bytes and the
// ingest options (ports, --any-port, --ascii-auth): N processes on N machines agree without talking.
// A pool's per-member connections and clones are made from the captured connection, so they stay
// in its shard.
import { McError } from '../errors.js';
import { extractWorkload } from '../workload/extract.js';
import { isPreparedFile, openPrepared, readTrailer } from '../workload/prepared-read.js';
import { VERSION } from '../version.js';
import type { WorkloadSink } from '../workload/model.js';

/** A shard of a run: index 1..count. */
export interface ShardSpec {
  index: number;
  count: number;
}

/** Parses `--shard i/N` (1 <= i <= N). */
export function parseShard(s: string): ShardSpec {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(s);
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || index < 1 || index > count || count > 100000) {
    throw new McError(`--shard ${s}: expected i/N with 1 <= i <= N, e.g. --shard 2/8`, 'MCR_ERR_BAD_OPTION', 'shards are numbered from 1; on Kubernetes use $((JOB_COMPLETION_INDEX+1))/N');
  }
  return { index, count };
}

/** Deterministic greedy assignment of connections (id -> request count) to `count` shards: id -> shard index 0..count-1. */
export function assignShards(requestsPerConn: ReadonlyMap<number, number>, count: number): Map<number, number> {
  const order = [...requestsPerConn.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0]);
  const load = new Array<number>(count).fill(0);
  const conns = new Array<number>(count).fill(0);
  const out = new Map<number, number>();
  for (const [id, n] of order) {
    let best = 0;
    for (let s = 1; s < count; s++) {
      // fewest requests; among equals fewest connections (spreads the idle ones), then lowest index
      if (load[s]! < load[best]! || (load[s] === load[best] && conns[s]! < conns[best]!)) best = s;
    }
    out.set(id, best);
    load[best]! += n;
    conns[best]!++;
  }
  return out;
}

/** Ingest options that decide the connection numbering. */
export interface ShardIngest {
  input: string;
  serverPorts: number[];
  anyPort: boolean;
  asciiAuth?: boolean;
}

/** Requests per captured connection (id -> count; connections without requests count 0). */
export async function countRequestsPerConnection(ing: ShardIngest): Promise<Map<number, number>> {
  const counts = new Map<number, number>();
  if (isPreparedFile(ing.input)) {
    // a prepared file carries the counts in its trailer: no pass over the workload
    const table = (await readTrailer(openPrepared(ing.input, VERSION))).requestsPerConnection;
    for (let id = 0; id < table.length; id++) counts.set(id, table[id]!);
    return counts;
  }
  const sink: WorkloadSink = {
    connection: (c) => void counts.set(c.id, 0),
    request: (r) => void counts.set(r.connId, (counts.get(r.connId) ?? 0) + 1),
    outcome: () => undefined,
    close: () => undefined,
  };
  await extractWorkload(ing.input, { serverPorts: ing.serverPorts, anyPort: ing.anyPort, asciiAuth: ing.asciiAuth === true, keepRaw: false }, sink);
  return counts;
}

/** The connection filter of shard `spec`: true for the captured connections this shard replays. */
export async function shardFilter(ing: ShardIngest, spec: ShardSpec): Promise<(connId: number) => boolean> {
  if (ing.input === '-') throw new McError('--shard needs a capture file, not stdin (every shard reads the whole capture to agree on the split)', 'MCR_ERR_BAD_OPTION');
  const assign = assignShards(await countRequestsPerConnection(ing), spec.count);
  const mine = spec.index - 1;
  // a connection the first pass did not see (cannot happen with the same bytes) is nobody's: shard 1 takes it
  return (id) => (assign.get(id) ?? 0) === mine;
}
