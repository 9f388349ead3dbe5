// Property-based fuzzing of every framer: the request parser (text, meta, binary requests) and the
// response matcher (their answers), fed the real client and server byte streams of the fixture
// captures, mutated and cut into random chunks. Properties: no exception; every byte pushed into
// the request parser is accounted for (in a request, skipped with a reason, or left incomplete at
// the end); every request handed to the matcher gets exactly one answer or "unanswered"; time
// stays proportional to the bytes.
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { createCapturePipeline } from '../../src/capture/index.js';
import { createRequestParser } from '../../src/protocol/request-parser.js';
import { createResponseMatcher, type MatchInfo } from '../../src/protocol/response-matcher.js';
import { Recorder } from '../capture/recorder.js';
import { FUZZ_SEED, cpuMs, fixtureCaptures, runs } from './harness.js';
import { mutation, type Mutation } from './mutate.js';

interface Flow {
  name: string;
  client: Buffer;
  server: Buffer;
}

/** The complete client and server streams of every TCP connection of the fixtures (no gaps). */
function fixtureFlows(): Flow[] {
  const flows: Flow[] = [];
  for (const f of fixtureCaptures()) {
    const rec = new Recorder();
    const pipe = createCapturePipeline({ serverPorts: [11211], followSynDirection: true }, rec, f.name);
    pipe.push(f.bytes);
    pipe.end();
    for (const fl of rec.list) {
      if (fl.parts[0].some((p) => typeof p === 'number') || fl.parts[1].some((p) => typeof p === 'number')) continue;
      const client = rec.bytes(fl.info.id, 0);
      if (client.length === 0 || client.length > 256 * 1024) continue;
      flows.push({ name: `${f.name}#${fl.info.id}`, client, server: rec.bytes(fl.info.id, 1) });
    }
  }
  return flows;
}

/** Byte-level mutations of a stream (record-level ones do not apply): positions modulo its length. */
function mutateStream(b: Buffer, ms: Mutation[]): Buffer {
  let c = Buffer.from(b);
  for (const m of ms) {
    if (c.length === 0) break;
    const at = ('at' in m ? m.at : 0) % c.length;
    if (m.op === 'flip') c[at]! ^= 1 << m.bit;
    else if (m.op === 'fill') c.fill(m.byte, at, Math.min(c.length, at + m.len));
    else if (m.op === 'truncate') c = c.subarray(0, at);
    else if (m.op === 'insert') c = Buffer.concat([c.subarray(0, at), Buffer.from(m.bytes), c.subarray(at)]);
    else if (m.op === 'u32' && at + 4 <= c.length) c.writeUInt32BE(m.value >>> 0, at);
  }
  return c;
}

/** Cuts b into chunks at the given (sorted, deduplicated) offsets. */
function chunks(b: Buffer, cuts: number[]): Buffer[] {
  const at = [...new Set(cuts.map((c) => (b.length ? c % b.length : 0)))].sort((x, y) => x - y);
  const out: Buffer[] = [];
  let p = 0;
  for (const c of [...at, b.length]) {
    if (c > p) out.push(b.subarray(p, c));
    p = c;
  }
  return out;
}

/** Parses a client stream; returns the requests (as MatchInfo copies) and the byte accounting. */
function parse(parts: Buffer[]): { reqs: MatchInfo[]; inRequests: number; skipped: number; left: number } {
  const reqs: MatchInfo[] = [];
  let inRequests = 0;
  let skipped = 0;
  const p = createRequestParser({
    request(r) {
      inRequests += r.raw.length;
      reqs.push({ proto: r.proto, cmd: r.cmd, expect: r.expect, quiet: r.quiet, opaque: r.opaque, metaFlags: [...r.metaFlags], keys: r.keys.map((k) => Buffer.from(k)) });
    },
    skipped(n) {
      skipped += n;
    },
  });
  for (const c of parts) p.push(c, 0);
  const left = p.end();
  return { reqs, inRequests, skipped, left };
}

const flows = fixtureFlows();
const flow = fc.nat({ max: flows.length - 1 });
const cuts = fc.array(fc.nat({ max: 1 << 30 }), { maxLength: 40 });

describe('fuzz: framers', () => {
  test('the fixtures hold text, meta and binary streams, and the identities hold on them unmutated', () => {
    const protos = new Set<string>();
    for (const f of flows) {
      const r = parse([f.client]);
      for (const q of r.reqs) protos.add(q.proto);
      expect(r.inRequests + r.skipped + r.left, f.name).toBe(f.client.length);
    }
    expect([...protos].sort()).toEqual(['binary', 'meta', 'text']);
  });

  test('request parser: every byte is in a request, skipped, or left incomplete; no exception', () => {
    fc.assert(
      fc.property(flow, fc.array(mutation, { maxLength: 5 }), cuts, (i, ms, cs) => {
        const input = mutateStream(flows[i]!.client, ms);
        const c0 = process.cpuUsage();
        const r = parse(chunks(input, cs));
        expect(r.inRequests + r.skipped + r.left).toBe(input.length);
        expect(cpuMs(c0)).toBeLessThan(2000 + input.length * 0.05);
      }),
      { numRuns: runs(1000), seed: FUZZ_SEED },
    );
  }, 600_000);

  test('response matcher: every request gets exactly one answer or "unanswered"; no exception', () => {
    fc.assert(
      fc.property(flow, fc.array(mutation, { maxLength: 5 }), cuts, fc.boolean(), (i, ms, cs, desync) => {
        const f = flows[i]!;
        const { reqs } = parse([f.client]);
        const seen = new Array<number>(reqs.length).fill(0);
        let unexpected = 0;
        const m = createResponseMatcher<number>({
          response(tag) {
            seen[tag]!++;
          },
          unanswered(tag) {
            seen[tag]!++;
          },
          unexpected(n) {
            unexpected += n;
          },
        });
        reqs.forEach((q, k) => m.expect(q, k));
        const input = mutateStream(f.server, ms);
        const parts = chunks(input, cs);
        const c0 = process.cpuUsage();
        parts.forEach((c, k) => {
          if (desync && k === parts.length >> 1) m.desync();
          m.push(c, k);
        });
        m.close();
        expect(seen.filter((n) => n !== 1)).toEqual([]);
        expect(unexpected).toBeLessThanOrEqual(input.length);
        expect(cpuMs(c0)).toBeLessThan(2000 + input.length * 0.05);
      }),
      { numRuns: runs(1000), seed: FUZZ_SEED },
    );
  }, 600_000);
});
