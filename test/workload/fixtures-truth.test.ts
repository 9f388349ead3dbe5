// inspect --json and the extracted workload, checked against what the real clients logged they
// did (captures/fixtures/*.truth.json, written by scripts/make-captures.sh) and, for binary, against
// tshark's memcache dissector.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { endpointKey, extractWorkload } from '../../src/workload/extract.js';
import type { CapturedOutcome, WorkloadRequest } from '../../src/workload/model.js';
import type { InspectReport } from '../../src/workload/inspect.js';

const root = join(import.meta.dirname, '..', '..');
const fixtures = join(root, 'captures', 'fixtures');

interface TruthOp {
  conn: number;
  seq: number;
  cmd: string;
  keys: string[];
  quiet: boolean;
  result: string | null;
  hits?: number;
  misses?: number;
  partial?: 'request' | 'response';
}
interface Truth {
  capture: string;
  transport: 'tcp' | 'udp';
  protocol: string;
  servers: string[];
  connectionCount: number;
  midstreamConnections: number;
  requests: number;
  quietRequests: number;
  readKeys: { hits: number; misses: number };
  perCommand: Record<string, { requests: number; keys: number; quiet: number; hits?: number; misses?: number }>;
  distinctKeys: number;
  connections: { id: number; transport: string; client: string; server: string; midstream: boolean; requests: number }[];
  ops?: TruthOp[];
  partialRequests?: number;
  tshark?: { binaryRequestsPerOpcode?: Record<string, number> };
}

const truthFiles = existsSync(fixtures) ? readdirSync(fixtures).filter((f) => f.endsWith('.truth.json')).map((f) => join(fixtures, f)) : [];
if (existsSync(join(root, 'captures', 'sample.truth.json'))) truthFiles.push(join(root, 'captures', 'sample.truth.json'));

/** A truth log; the sample's ops live beside it, gzipped, one JSON object per line. */
function loadTruth(path: string): Truth {
  const t = JSON.parse(readFileSync(path, 'utf8')) as Truth;
  const opsFile = path.replace(/\.truth\.json$/, '.truth.ops.jsonl.gz');
  if (!t.ops && existsSync(opsFile)) {
    t.ops = gunzipSync(readFileSync(opsFile)).toString('utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as TruthOp);
  }
  return t;
}

function ports(t: Truth): string {
  return [...new Set(t.servers.map((s) => s.slice(s.lastIndexOf(':') + 1)))].join(',');
}

function inspectJson(file: string, t: Truth): InspectReport {
  const r = spawnSync('node', [join(root, 'bin', 'mcreplay.js'), 'inspect', file, '--port', ports(t), '--json'], { maxBuffer: 1 << 26 });
  // UDP requests are replayable (over UDP): a UDP-only capture exits 0 like any other
  expect(r.status, r.stderr.toString()).toBe(0);
  const rep = JSON.parse(r.stdout.toString()) as InspectReport;
  const udpReqs = t.connections.filter((c) => c.transport === 'udp').reduce((n, c) => n + c.requests, 0);
  expect(rep.replayable.udp).toBe(udpReqs);
  expect(rep.replayable.excluded.udp).toBe(0);
  return rep;
}

describe.skipIf(truthFiles.length === 0)('fixture captures against their truth logs', () => {
  for (const tf of truthFiles) {
    const t = loadTruth(tf);
    const file = join(dirname(tf), t.capture);
    // ops that are only partly in the capture (mid-way joins) cannot be counted as requests
    // (partial 'request': only its tail is there; partial 'response': only the tail of its answer)
    const partialReq = (t.ops ?? []).filter((o) => o.partial !== undefined).length;

    it(`${t.capture}: inspect --json counts what the client did`, () => {
      const r = inspectJson(file, t);
      expect(r.servers.map((s) => s.endpoint).sort()).toEqual([...t.servers].sort());
      if (t.transport === 'tcp') {
        expect(r.connections.tcp).toBe(t.connectionCount);
        expect(r.connections.midstream).toBe(t.midstreamConnections);
      }
      expect(r.requests.total).toBe(t.requests - partialReq);
      const ours = Object.fromEntries(Object.entries(r.requests.perCommand).map(([c, v]) => [c, v.count]));
      const theirs: Record<string, number> = {};
      for (const o of t.ops ?? []) if (o.partial === undefined) theirs[o.cmd] = (theirs[o.cmd] ?? 0) + 1;
      if (t.ops) expect(ours).toEqual(theirs);
      else expect(ours).toEqual(Object.fromEntries(Object.entries(t.perCommand).map(([c, v]) => [c, v.requests])));
      if (partialReq === 0) {
        for (const [cmd, v] of Object.entries(t.perCommand)) {
          expect(r.requests.perCommand[cmd]?.keys, `${cmd} keys`).toBe(v.keys);
          expect(r.requests.perCommand[cmd]?.quiet, `${cmd} quiet`).toBe(v.quiet);
          if (v.hits !== undefined) {
            expect(r.requests.perCommand[cmd]?.hits, `${cmd} hits`).toBe(v.hits);
            expect(r.requests.perCommand[cmd]?.misses, `${cmd} misses`).toBe(v.misses);
          }
        }
        expect(r.keys.distinct).toBe(t.distinctKeys);
      }
      expect(r.quality.unexpectedResponseBytes).toBe(0);
      // what a mid-way join cut off is counted as lost, never silently dropped
      expect(r.replayable.of - r.replayable.requests - r.replayable.excluded.credentials - r.replayable.excluded.udp).toBe(partialReq);
      expect(r.replayable.of).toBeGreaterThan(0);
    });

    it.skipIf(!t.ops)(`${t.capture}: every connection holds the client's requests in order, with the client's outcomes`, async () => {
      const byConn = new Map<number, { client: string; reqs: WorkloadRequest[]; outcomes: Map<WorkloadRequest, CapturedOutcome> }>();
      await extractWorkload(file, { serverPorts: ports(t).split(',').map(Number) }, {
        connection(c) {
          byConn.set(c.id, { client: endpointKey(c.client), reqs: [], outcomes: new Map() });
        },
        request(r) {
          byConn.get(r.connId)!.reqs.push(r);
        },
        outcome(r, o) {
          byConn.get(r.connId)!.outcomes.set(r, o);
        },
        close() {},
      });
      const ourByClient = new Map([...byConn.values()].map((c) => [c.client, c]));
      for (const tc of t.connections.filter((c) => c.transport === 'tcp')) {
        const ours = ourByClient.get(tc.client);
        const ops = t.ops!.filter((o) => o.conn === tc.id && o.partial === undefined).sort((a, b) => a.seq - b.seq);
        if (ops.length === 0) continue;
        expect(ours, `connection from ${tc.client}`).toBeDefined();
        expect(ours!.reqs.map((r) => `${r.cmd} ${r.keys.join(' ')}`), `requests of ${tc.client}`).toEqual(ops.map((o) => `${o.cmd} ${o.keys.join(' ')}`));
        ops.forEach((o, i) => {
          const out = ours!.outcomes.get(ours!.reqs[i]);
          if (o.hits !== undefined) {
            expect(out, `${o.cmd} #${o.seq} outcome`).toBeDefined();
            expect([out!.hits, out!.misses], `${o.cmd} ${o.keys.join(' ')} hits/misses`).toEqual([o.hits, o.misses]);
          }
        });
      }
    });

    it.skipIf(!t.tshark?.binaryRequestsPerOpcode || t.protocol !== 'binary')(`${t.capture}: binary request counts equal tshark's memcache dissector`, () => {
      const r = inspectJson(file, t);
      const ours = Object.fromEntries(Object.entries(r.requests.perCommand).map(([c, v]) => [c, v.count]));
      expect(ours).toEqual(t.tshark!.binaryRequestsPerOpcode);
    });
  }
});
