// The keys a capture's clients read, with how often: what `warm` copies first and what its
// coverage is measured over. Every read command of the three protocols counts (text get/gets/gat/
// gats, meta mg, binary get/getq/getk/getkq/gat*); a multi-key get counts once per key. Memory
// grows with the distinct keys read (one map entry each), never with the capture's length.
import { extractWorkload, type ExtractResult } from '../workload/extract.js';
import type { WorkloadRequest } from '../workload/model.js';

/** One key read in the capture. */
export interface ReadKey {
  key: string;
  reads: number;
  /** The captured server that was asked first ("addr:port"). */
  server: string;
}

/** Read keys, hottest first, with the capture's totals. */
export interface ReadKeys {
  keys: ReadKey[];
  /** Key reads (a multi-get counts each key). */
  reads: number;
  /** Read requests that carried credentials or were not reads are not counted; this counts all requests seen. */
  requests: number;
  capture: ExtractResult;
}

/** Whether a request reads values: get family, mg, binary get*, and the gat family (not plain touch). */
export function isRead(r: WorkloadRequest): boolean {
  if (r.credentials) return false;
  if (r.cls === 'read') return true;
  return r.cls === 'touch' && r.cmd.startsWith('gat');
}

/** Streams the capture and counts the keys its clients read; ordered by reads, then key. */
export async function readKeysOf(capture: string, serverPorts: number[], anyPort: boolean, signal?: AbortSignal): Promise<ReadKeys> {
  const byKey = new Map<string, ReadKey>();
  const serverOf = new Map<number, string>();
  let reads = 0;
  let requests = 0;
  const result = await extractWorkload(
    capture,
    { serverPorts, anyPort, keepRaw: false },
    {
      connection(c) {
        serverOf.set(c.id, c.serverKey);
      },
      request(r) {
        requests++;
        if (!isRead(r)) return;
        for (const key of r.keys) {
          reads++;
          const e = byKey.get(key);
          if (e !== undefined) e.reads++;
          else byKey.set(key, { key, reads: 1, server: serverOf.get(r.connId) ?? '' });
        }
      },
      outcome() {},
      close(connId) {
        serverOf.delete(connId);
      },
    },
    signal,
  );
  const keys = [...byKey.values()].sort((a, b) => b.reads - a.reads || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return { keys, reads, requests, capture: result };
}
