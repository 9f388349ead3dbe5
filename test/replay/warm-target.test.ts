// The rehearsal's in-process target (src/replay/warm-target.ts, answers from
// src/protocol/answer-build.ts) on what real clients sent: every request of every fixture capture
// that a rehearsal may run is answered so that the response matcher pairs every answer with its
// request (nothing unexpected, nothing lost); and bytes that are no request end one connection of
// the target, never the target (it runs inside the replay's worker thread).
import { readdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { extractWorkload } from '../../src/workload/extract.js';
import { commandInfo } from '../../src/protocol/index.js';
import { plausibleAnswer } from '../../src/protocol/answer-build.js';
import { startWarmTarget } from '../../src/replay/warm-target.js';
import { matchChunks, requestsOf } from '../protocol/helpers.js';

const fixtures = join(import.meta.dirname, '..', '..', 'captures', 'fixtures');
const captures = readdirSync(fixtures).filter((f) => /\.pcap(ng)?$/.test(f));

/** The request bytes of every connection of a capture (UDP ones too: a rehearsal sends theirs over TCP), in order, without what a rehearsal leaves out. */
async function streams(file: string, ports: number[]): Promise<Buffer[]> {
  const byConn = new Map<number, Buffer[]>();
  await extractWorkload(file, { serverPorts: ports }, {
    connection(c) {
      byConn.set(c.id, []);
    },
    request(r) {
      const cls = commandInfo(r.proto, r.cmd).cls;
      if (r.credentials || cls === 'session' || cls === 'auth' || cls === 'unknown') return;
      byConn.get(r.connId)?.push(Buffer.from(r.raw));
    },
    outcome() {},
    close() {},
  });
  return [...byConn.values()].filter((b) => b.length > 0).map((b) => Buffer.concat(b));
}

describe('the rehearsal target', () => {
  for (const name of captures) {
    it(`answers every request ${name} sent, each answer paired with its request`, async () => {
      const truth = JSON.parse(readFileSync(join(fixtures, name.replace(/\.pcap(ng)?$/, '.truth.json')), 'utf8')) as { servers: string[] };
      const ports = truth.servers.map((s) => Number(s.slice(s.lastIndexOf(':') + 1)));
      let requests = 0;
      for (const stream of await streams(join(fixtures, name), ports)) {
        const reqs = requestsOf(stream);
        requests += reqs.length;
        const answers = reqs.map((r) => plausibleAnswer(r)).filter((b): b is Buffer => b !== null);
        const m = matchChunks(reqs, [Buffer.concat(answers)], { wantCas: true, close: true });
        expect(m.unexpected, name).toBe(0);
        expect(m.outcomes.filter((o) => o.kind !== 'response'), name).toEqual([]);
        expect(m.outcomes.length, name).toBe(reqs.length);
        expect(m.outcomes.filter((o) => o.resp?.error != null).map((o) => reqs[o.tag]!.cmd), name).toEqual([]);
      }
      expect(requests).toBeGreaterThan(0);
    });
  }

  it('survives bytes that are no request: that connection ends, the next one is answered', async () => {
    const t = await startWarmTarget();
    try {
      const talk = (bytes: Buffer): Promise<string> =>
        new Promise((resolve, reject) => {
          const s = connect({ host: t.target.host, port: t.target.port });
          let got = '';
          s.on('data', (d: Buffer) => (got += d.toString('latin1')));
          s.on('error', reject);
          s.on('close', () => resolve(got));
          s.on('connect', () => s.end(bytes));
        });
      let seed = 7;
      const garbage = Buffer.alloc(64 * 1024);
      for (let i = 0; i < garbage.length; i++) garbage[i] = (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24;
      await talk(Buffer.concat([garbage, Buffer.from('\x80\x0b\x00\x00', 'latin1'), garbage]));
      expect(await talk(Buffer.from('get a b\r\nversion\r\n', 'latin1'))).toBe('VALUE a 0 4\r\nwarm\r\nVALUE b 0 4\r\nwarm\r\nEND\r\nVERSION warm-up\r\n');
      expect(t.stats.requests).toBeGreaterThanOrEqual(2);
    } finally {
      await t.close();
    }
  });
});
