// `mcreplay prepare` round trip on every bundled capture: the prepared file, read back, gives the
// very events extracting the capture gives (every connection, every request with its capture time,
// fields and bytes, every captured answer, every close, in the same order), and the same extraction
// results; the shard split computed from it is the capture's. The truth is the capture read by the
// extraction every other test checks against tshark and the clients' own logs.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { extractWorkload } from '../../src/workload/extract.js';
import type { WorkloadSink } from '../../src/workload/model.js';
import { openPrepared, readPrepared } from '../../src/workload/prepared-read.js';
import { countRequestsPerConnection } from '../../src/replay/shard.js';
import { VERSION } from '../../src/version.js';
import { tempDir } from '../replay/helpers.js';
import { mcreplay, root } from './helpers.js';

/** Every event a sink sees, as comparable values (raw bytes as hex, copied during the call). */
function recorder(blankCredentials: boolean): { sink: WorkloadSink; events: unknown[] } {
  const events: unknown[] = [];
  return {
    events,
    sink: {
      connection: (c) => void events.push(['conn', { ...c }]),
      request: (r) => {
        // the prepared file does not hold what a credentials request carried, only that it was one
        const cred = blankCredentials && r.credentials;
        events.push(['req', {
          ...r,
          keys: cred ? r.keys.map(() => '') : [...r.keys],
          valueLen: cred ? 0 : r.valueLen,
          flags: cred ? 0 : r.flags,
          exptime: cred ? -1 : r.exptime,
          cas: cred ? '0' : r.cas.toString(),
          metaFlags: [...r.metaFlags],
          raw: r.raw.toString('hex'),
        }]);
      },
      outcome: (r, o) => void events.push(['out', r.connId, r.seq, { ...o }]),
      close: (id, ts, reason) => void events.push(['close', id, ts, reason]),
    },
  };
}

const CAPTURES = [
  'captures/sample.pcap',
  ...readdirSync(join(root, 'captures', 'fixtures')).filter((f) => /\.pcap(ng)?$/.test(f)).sort().map((f) => `captures/fixtures/${f}`),
];

describe('prepare round trip: the prepared file replays the capture\'s workload exactly', () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());

  for (const cap of CAPTURES) {
    it(cap, async () => {
      const path = join(root, cap);
      const out = join(tmp.dir, `${cap.replace(/\W/g, '_')}.mcw`);
      const run = await mcreplay(['prepare', path, '--out', out, '--json']);
      expect(run.code, run.stderr).toBe(0);
      const report = JSON.parse(run.stdout) as { requests: number; connections: number; capture: { sha256: string; bytes: number } };

      const want = recorder(true);
      const wantRes = await extractWorkload(path, { serverPorts: [11211] }, want.sink);
      const got = recorder(false);
      const gotRes = await readPrepared(openPrepared(out, VERSION), got.sink);

      expect(got.events.length).toBe(want.events.length);
      // event by event, so a difference names its place
      for (let i = 0; i < want.events.length; i++) expect(got.events[i], `event ${i}`).toEqual(want.events[i]);
      expect(gotRes).toEqual(JSON.parse(JSON.stringify(wantRes)));
      // what prepare said it wrote is what is in there
      expect(report.requests).toBe(want.events.filter((e) => (e as unknown[])[0] === 'req').length);
      expect(report.connections).toBe(want.events.filter((e) => (e as unknown[])[0] === 'conn').length);
      expect(report.capture.bytes).toBe(readFileSync(path).length);

      // --shard computes the same split from the prepared file (its trailer) as from the capture
      const fromCapture = await countRequestsPerConnection({ input: path, serverPorts: [11211], anyPort: false });
      const fromPrepared = await countRequestsPerConnection({ input: out, serverPorts: [11211], anyPort: false });
      expect([...fromPrepared.entries()]).toEqual([...fromCapture.entries()].sort((a, b) => a[0] - b[0]));
    });
  }

  it('--any-port and several --port values are read as the capture is', async () => {
    const path = join(root, 'captures/fixtures/pool-two-servers.pcap');
    const out = join(tmp.dir, 'anyport.mcw');
    const run = await mcreplay(['prepare', path, '--out', out, '--any-port', '--port', '11211,11311']);
    expect(run.code, run.stderr).toBe(0);
    const want = recorder(true);
    await extractWorkload(path, { serverPorts: [11211, 11311], anyPort: true }, want.sink);
    const got = recorder(false);
    await readPrepared(openPrepared(out, VERSION), got.sink);
    expect(got.events).toEqual(want.events);
    expect(openPrepared(out, VERSION).header.shape).toMatchObject({ serverPorts: [11211, 11311], anyPort: true, asciiAuth: false });
  });
});
