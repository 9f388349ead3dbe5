// The warmth of a mirror over its recent past, as /metrics serves it (mcreplay_warm_*): the paired
// answers (src/metrics/warm-pairs.ts: the capture's and the target's answers to the same requests,
// counted by intended send time) of the settled intervals of the last window, all lookup commands
// together. The same intervals the live page draws and `--until-warm` judges: an interval is taken
// once it is settled (`settleNs` after its end, every request intended in it answered or timed
// out), never before, as a late answer still changes it; the window is `--until-warm`'s, or the
// report's default warm window (10 minutes, also what the live page shows).
import type { Interval } from '../metrics/results-types.js';
import type { Paired } from '../metrics/warm-pairs.js';
import { createSettleQueue } from './settle.js';

/** The paired answers of a window of settled intervals. */
export interface WarmWindowView {
  capturedHits: number;
  capturedLookups: number;
  replayedHits: number;
  replayedLookups: number;
  /** Run time covered: from the first settled interval kept to the last one's end (at most the window). */
  spanNs: number;
}

/** Follows a mirror's intervals; `view()` is null until the first interval is settled. */
export interface WarmWindow {
  add(iv: Interval): void;
  view(): WarmWindowView | null;
}

interface Entry {
  startNs: number;
  endNs: number;
  capturedHits: number;
  capturedLookups: number;
  replayedHits: number;
  replayedLookups: number;
}

/** An interval's paired answers, all commands together (read once it is settled: final then). */
function entryOf(startNs: number, endNs: number, paired: Paired | undefined): Entry {
  const e: Entry = { startNs, endNs, capturedHits: 0, capturedLookups: 0, replayedHits: 0, replayedLookups: 0 };
  for (const v of Object.values(paired ?? {})) {
    e.capturedHits += v.capturedHits;
    e.capturedLookups += v.capturedHits + v.capturedMisses;
    e.replayedHits += v.replayedHits;
    e.replayedLookups += v.replayedHits + v.replayedMisses;
  }
  return e;
}

/** A window `windowNs` long over intervals judged `settleNs` after their end (the live page's and --until-warm's rule). */
export function createWarmWindow(settleNs: number, windowNs: number): WarmWindow {
  // intervals whose paired answers may still grow (their `paired` object keeps taking late answers)
  const waiting = createSettleQueue<Interval>(settleNs);
  const kept: Entry[] = [];
  return {
    add(iv) {
      for (const w of waiting.add(iv, iv.endNs)) kept.push(entryOf(w.startNs, w.endNs, w.paired));
      const last = kept[kept.length - 1];
      if (last === undefined) return;
      while (kept.length > 0 && kept[0]!.startNs < last.endNs - windowNs) kept.shift();
    },
    view() {
      if (kept.length === 0) return null;
      const v: WarmWindowView = { capturedHits: 0, capturedLookups: 0, replayedHits: 0, replayedLookups: 0, spanNs: kept[kept.length - 1]!.endNs - kept[0]!.startNs };
      for (const e of kept) {
        v.capturedHits += e.capturedHits;
        v.capturedLookups += e.capturedLookups;
        v.replayedHits += e.replayedHits;
        v.replayedLookups += e.replayedLookups;
      }
      return v;
    },
  };
}
