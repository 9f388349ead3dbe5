// A replay worker (in this thread, through runWorker) closes its intervals inside the dispatch loop
// (the run clock is read per request) but must not encode their histograms there: the encoding
// (0.1–1 ms) would make the requests due at the boundary late. The snapshots still arrive once
// each, in index order, before 'done', carrying byte for byte what a WASM histogram of the same
// values encodes.
import { beforeAll, describe, expect, it } from 'vitest';
import { runWorker } from '../../src/replay/worker.js';
import { BatchWriter } from '../../src/replay/batch.js';
import type { FromWorker, ToWorker } from '../../src/replay/messages.js';
import type { Expect } from '../../src/protocol/types.js';
import type { EncodedHist } from '../../src/metrics/hist-config.js';
import { CountsHistogram } from '../../src/metrics/counts-hist.js';
import { IntervalRecorder, type IntervalSnapshot } from '../../src/metrics/recorder.js';
import { createHistogram, decodeHistogram, encodeRaw, freeHistogram, initMetrics, recordNs } from '../../src/metrics/histogram.js';
import { useMemcached } from '../helpers/memcached.js';
import { runToDone, startInThread, syncSchedule, wrap } from './in-thread.js';

const INTERVAL_NS = 200e6;
/** A request every STEP_NS from 5 ms to END_NS: the run crosses six boundaries while sending. */
const STEP_NS = 5e6;
const END_NS = 1.25e9;

/** Text requests of several commands (more histograms to encode), each with the answer it expects. */
const REQS: { cmd: string; raw: string; expect: Expect; keys: number }[] = [
  { cmd: 'set', raw: 'set k 0 0 1\r\nx\r\n', expect: 'line', keys: 1 },
  { cmd: 'get', raw: 'get k\r\n', expect: 'values', keys: 1 },
  { cmd: 'append', raw: 'append k 0 0 1\r\ny\r\n', expect: 'line', keys: 1 },
  { cmd: 'gets', raw: 'gets k m\r\n', expect: 'values', keys: 2 },
  { cmd: 'touch', raw: 'touch k 0\r\n', expect: 'line', keys: 1 },
  { cmd: 'incr', raw: 'incr n 1\r\n', expect: 'line', keys: 1 },
  { cmd: 'delete', raw: 'delete m\r\n', expect: 'line', keys: 1 },
  { cmd: 'version', raw: 'version\r\n', expect: 'line', keys: 0 },
];

/** The schedule: one connection opened at 0, a request every STEP_NS (some due exactly at a boundary), closed at the end. */
function schedule(): ToWorker {
  const w = new BatchWriter(1024);
  w.open(0, 1, 0, false);
  let i = 0;
  for (let at = 5e6; at < END_NS; at += STEP_NS, i++) {
    const r = REQS[i % REQS.length]!;
    w.req({ at, conn: 1, proto: 'text', cmd: r.cmd, expect: r.expect, quiet: false, opaque: 0, keys: new Array<string>(r.keys).fill(''), metaFlags: [], raw: Buffer.from(r.raw, 'latin1'), absExpSec: null, cas: false, pipelined: false });
  }
  w.close(END_NS, 1);
  return { t: 'batch', b: w.take().batch };
}

/** Values in an encoded histogram ('' is empty). */
function countOf(e: EncodedHist): number {
  const h = decodeHistogram(e);
  try {
    return h.totalCount;
  } finally {
    freeHistogram(h);
  }
}

/** Function names on the current stack (deep enough to reach the worker's timing loop). */
function stackFrames(): string[] {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 100;
  const stack = new Error().stack ?? '';
  Error.stackTraceLimit = limit;
  return stack.split('\n').map((l) => /^\s*at (?:async )?([^\s(]+)/.exec(l)?.[1] ?? '');
}

beforeAll(async () => {
  await initMetrics();
});
const mc = useMemcached();

describe('replay worker: interval snapshots off the send path', () => {
  it('does not encode at a boundary crossed inside a dispatch turn; every snapshot still arrives, in order, identical', async () => {
    // what each live histogram holds, to check every encoding against WASM's for the same values
    const values = new Map<CountsHistogram, number[]>();
    const encodedInClockRead: string[] = [];
    const rotatedInPump: number[] = [];
    const mismatches: string[] = [];
    let encodes = 0;
    let undo: (() => void)[] = [];
    let got: FromWorker[] = [];
    try {
      const iw = await startInThread(runWorker, mc, { intervalNs: INTERVAL_NS });
      got = iw.got;
      await syncSchedule(iw, schedule());
      // watched from the start of the run: the rehearsal before t0 (rehearsal.ts) encodes its own
      // throwaway recorder's intervals, on a clock of its own
      undo = [
        wrap(CountsHistogram.prototype, 'record', (h, args) => {
          let v = values.get(h as CountsHistogram);
          if (v === undefined) values.set(h as CountsHistogram, (v = []));
          v.push(args[0] as number);
        }),
        wrap(CountsHistogram.prototype, 'reset', (h) => values.delete(h as CountsHistogram)),
        wrap(CountsHistogram.prototype, 'encode', (h, _args, result) => {
          encodes++;
          const frames = stackFrames();
          // now() is the run clock read per request in the dispatch loop: encoding there delays what is due
          if (frames.includes('now')) encodedInClockRead.push(frames.filter((f) => f !== '').slice(2, 9).join(' < '));
          const w = createHistogram();
          for (const v of values.get(h as CountsHistogram) ?? []) recordNs(w, v);
          if (Buffer.compare(Buffer.from(encodeRaw(w)), Buffer.from(result as Uint8Array)) !== 0) mismatches.push(`encoding #${encodes}`);
          freeHistogram(w);
        }),
      ];
      if (typeof (IntervalRecorder.prototype as unknown as Record<string, unknown>)['rotate'] === 'function') {
        undo.push(wrap(IntervalRecorder.prototype, 'rotate', (_r, args) => stackFrames().includes('pump') && rotatedInPump.push(args[0] as number)));
      }
      await runToDone(iw, 20e6);
    } finally {
      for (const u of undo.reverse()) u();
    }
    expect(got.filter((m) => m.t === 'fatal')).toEqual([]);
    expect(encodedInClockRead.length, `histograms encoded inside a run-clock read (the dispatch loop), e.g. ${encodedInClockRead[0]}`).toBe(0);
    // the boundaries were crossed in dispatch turns (the worker's clock read at a due request)
    expect(rotatedInPump.length).toBeGreaterThan(0);

    const done = got.find((m) => m.t === 'done')!;
    expect(done.t === 'done' && got.indexOf(done)).toBe(got.length - 1);
    const snaps = got.filter((m): m is { t: 'snap'; snap: IntervalSnapshot } => m.t === 'snap').map((m) => m.snap);
    const last = done.t === 'done' ? Math.floor(done.endNs / INTERVAL_NS) : -1;
    expect(snaps.map((s) => s.index)).toEqual(Array.from({ length: last + 1 }, (_, i) => i));
    expect(last).toBeGreaterThanOrEqual(6);

    // every encoding is WASM's for the values recorded, and the counts add up to the run's totals
    expect(mismatches).toEqual([]);
    let sent = 0;
    let completed = 0;
    let lagged = 0;
    for (const s of snaps) {
      for (const [cmd, c] of Object.entries(s.perCommand)) {
        sent += c.counters.sent;
        completed += c.counters.completed;
        expect(countOf(c.response), `${cmd} in interval ${s.index}`).toBe(c.counters.completed);
      }
      lagged += countOf(s.lag);
    }
    const requests = Math.ceil((END_NS - 5e6) / STEP_NS);
    expect(done.t === 'done' && done.totals.sent).toBe(requests);
    expect(sent).toBe(requests);
    expect(completed).toBe(requests);
    expect(lagged).toBe(requests);
  });
});
