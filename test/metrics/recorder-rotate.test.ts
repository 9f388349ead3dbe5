// The recorder's two-step interval close: rotate() at the boundary (a swap of storage, no encoding),
// takeClosed() later. What takeClosed() gives must be exactly what snapshot() gave at the boundary,
// whatever is recorded into the next interval in between, and the storage must be reused (no new
// 135 KB histograms per interval).
import { describe, expect, it } from 'vitest';
import { IntervalRecorder, type IntervalSnapshot } from '../../src/metrics/recorder.js';
import { ERROR_CLASSES } from '../../src/metrics/results-types.js';
import type { CountsHistogram } from '../../src/metrics/counts-hist.js';
import { rng } from '../helpers/rng.js';

const CMDS = ['get', 'set', 'delete', 'incr', 'gets', 'touch'];

/** One recorder operation, applied alike to several recorders. */
type Op = (rec: IntervalRecorder) => void;

/** A random operation: latencies, lag, counters, errors, held-back counts, warmth pairs, on a random command. */
function randomOp(r: () => number, interval: number): Op {
  const cmd = CMDS[Math.floor(r() * r() * CMDS.length)]!;
  const k = Math.floor(r() * 7);
  const ns = Math.floor(r() * r() * 2e7);
  switch (k) {
    case 0:
    case 1:
      return (rec) => rec.record(cmd, ns + 5000, ns);
    case 2:
      return (rec) => rec.recordSlot(rec.slot(cmd), ns * 2, ns);
    case 3:
      return (rec) => rec.recordLag(ns - 1e6);
    case 4: {
      const field = r() < 0.5 ? 'sent' : 'bytesIn';
      return (rec) => rec.count(cmd, field, 1 + (ns % 100));
    }
    case 5: {
      const cls = ERROR_CLASSES[ns % ERROR_CLASSES.length]!;
      const withResp = r() < 0.5;
      return (rec) => rec.error(cmd, cls, withResp ? ns : undefined);
    }
    default: {
      const at = (interval - (ns % 2)) * 1e9 + 1000;
      const reason = ns % 3 === 0 ? 'destructive' : 'filtered';
      return (rec) => {
        rec.warm(rec.slot(cmd), at, ns % 3, 1);
        if (ns % 5 === 0) rec.heldBack(cmd, reason);
      };
    }
  }
}

/** The snapshot with its encodings as hex, for a deep comparison with a readable diff. */
function plain(s: IntervalSnapshot): unknown {
  const hex = (e: unknown): unknown => (e instanceof Uint8Array ? Buffer.from(e).toString('hex') : e);
  const perCommand = Object.fromEntries(Object.entries(s.perCommand).map(([c, v]) => [c, { ...v, response: hex(v.response), service: hex(v.service) }]));
  return { ...s, perCommand, lag: hex(s.lag), order: Object.keys(s.perCommand) };
}

describe('IntervalRecorder rotate / takeClosed', () => {
  it('gives what snapshot() gave at the boundary, with the next interval recorded in between', () => {
    const r = rng(11);
    const now = new IntervalRecorder({ eventLoop: false });
    const later = new IntervalRecorder({ eventLoop: false });
    try {
      const viaSnapshot: unknown[] = [];
      const viaRotate: unknown[] = [];
      for (let iv = 0; iv < 12; iv++) {
        // some intervals stay empty, and the first of some commands come after a rotation
        const n = iv % 5 === 3 ? 0 : 200 + Math.floor(r() * 2000);
        const ops: Op[] = [];
        for (let i = 0; i < n; i++) ops.push(randomOp(r, iv));
        // `later` saw the first part of this interval's ops before it took the interval before
        const early = Math.floor(ops.length * r());
        for (const op of ops) op(now);
        viaSnapshot.push(plain(now.snapshot(iv)));
        for (const op of ops.slice(0, early)) op(later);
        if (later.pending) viaRotate.push(plain(later.takeClosed()));
        for (const op of ops.slice(early)) op(later);
        later.rotate(iv);
        expect(later.pending).toBe(true);
      }
      viaRotate.push(plain(later.takeClosed()));
      expect(later.pending).toBe(false);
      expect(viaRotate).toEqual(viaSnapshot);
    } finally {
      now.destroy();
      later.destroy();
    }
  });

  it('reuses its histograms: two sets per command, swapped at every rotation', () => {
    const rec = new IntervalRecorder({ eventLoop: false });
    try {
      const seen = new Set<CountsHistogram>();
      for (let iv = 0; iv < 10; iv++) {
        for (const cmd of CMDS) rec.record(cmd, 1000 + iv, 500);
        rec.rotate(iv);
        for (const cmd of CMDS) {
          const s = rec.slot(cmd);
          for (const h of [s.response, s.service, s.closed.response, s.closed.service]) seen.add(h);
          // the live side is clean at once; the closed one holds the interval
          expect(s.response.totalCount).toBe(0);
          expect(s.closed.response.totalCount).toBe(1);
        }
        rec.takeClosed();
      }
      expect(seen.size).toBe(CMDS.length * 4);
    } finally {
      rec.destroy();
    }
  });

  it('holds one closed interval: rotating again before it is taken is an error', () => {
    const rec = new IntervalRecorder({ eventLoop: false });
    try {
      rec.record('get', 1000, 500);
      rec.rotate(0);
      expect(() => rec.rotate(1)).toThrow(/interval 0 was closed and not taken/);
      expect(rec.takeClosed().index).toBe(0);
      expect(() => rec.takeClosed()).toThrow(/no closed interval/);
    } finally {
      rec.destroy();
    }
  });

  it('puts event-loop delay in the interval it was measured in, not the one the encoding runs in', async () => {
    const rec = new IntervalRecorder({ eventLoopResolutionMs: 5 });
    try {
      // the probe is a timer: an idle stretch, the rotation, then a 60 ms block seen after it
      await new Promise((res) => setTimeout(res, 25));
      rec.record('get', 1000, 500);
      rec.rotate(0);
      const t0 = process.hrtime.bigint();
      while (process.hrtime.bigint() - t0 < 60_000_000n) {
        /* block the loop */
      }
      await new Promise((res) => setTimeout(res, 25));
      const closed = rec.takeClosed();
      const next = rec.snapshot(1);
      expect(closed.eventLoopMaxNs).toBeLessThan(40e6);
      expect(next.eventLoopMaxNs).toBeGreaterThanOrEqual(45e6);
    } finally {
      rec.destroy();
    }
  });

  it('does not count a hold of the loop that was excused (the worker sleeping in its thread) as delay', async () => {
    const rec = new IntervalRecorder({ eventLoopResolutionMs: 5 });
    try {
      await new Promise((res) => setTimeout(res, 25));
      rec.snapshot(0);
      const t0 = process.hrtime.bigint();
      while (process.hrtime.bigint() - t0 < 60_000_000n) {
        /* the loop held on purpose */
      }
      rec.excuseEventLoop(Number(process.hrtime.bigint() - t0));
      await new Promise((res) => setTimeout(res, 25));
      expect(rec.snapshot(1).eventLoopMaxNs).toBeLessThan(40e6);
      // an unexcused hold of the same length still counts
      const t1 = process.hrtime.bigint();
      while (process.hrtime.bigint() - t1 < 60_000_000n) {
        /* block the loop */
      }
      await new Promise((res) => setTimeout(res, 25));
      expect(rec.snapshot(2).eventLoopMaxNs).toBeGreaterThanOrEqual(45e6);
    } finally {
      rec.destroy();
    }
  });
});
