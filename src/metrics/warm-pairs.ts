// Warmth pairing of a mirror: per interval of the requests' intended send time, the hit/miss answers
// the capture holds and the target's answers for the same requests. The target's answers are counted
// by intended send time (not by when they came back), so a mirror that lags does not pair one
// interval's captured answers with a neighbour's replayed ones: both sides count the same requests,
// and the gap curve is flat when the target is as warm as the source.

/** One command's paired lookups in one interval (results.json `Interval.paired`). */
export interface PairedCounts {
  /** The source's answers in the capture. */
  capturedHits: number;
  capturedMisses: number;
  /** The target's answers to the same requests (those that came back with hits or misses). */
  replayedHits: number;
  replayedMisses: number;
}

/** Per command. */
export type Paired = Record<string, PairedCounts>;

/**
 * Answers keep coming for an interval after it closed (a lagging target, the capture's late
 * response): its object stays updatable this many intervals, then is let go (memory stays flat).
 */
export const PAIR_HORIZON = 600;

/** The paired answers of a run, by interval index of the intended send time. */
export interface PairBook {
  /** The capture's answer to a replayed request intended at run time `atNs`. */
  captured(atNs: number, cmd: string, hits: number, misses: number): void;
  /** The target's answers to requests intended in interval `index`. */
  replayed(index: number, cmd: string, hits: number, misses: number): void;
  /** Interval `index` closes: its paired object (later answers still land in it), or undefined when nothing is paired in this run. */
  closed(index: number): Paired | undefined;
}

const empty = (): PairedCounts => ({ capturedHits: 0, capturedMisses: 0, replayedHits: 0, replayedMisses: 0 });

/** A pair book for intervals `intervalNs` wide; active once the first captured answer arrives. */
export function createPairBook(intervalNs: number): PairBook {
  const book = new Map<number, Paired>();
  let active = false;
  let closedUpTo = -1;
  const at = (index: number, cmd: string): PairedCounts | null => {
    if (index <= closedUpTo - PAIR_HORIZON) return null;
    let p = book.get(index);
    if (p === undefined) book.set(index, (p = {}));
    return (p[cmd] ??= empty());
  };
  return {
    captured(atNs, cmd, hits, misses) {
      if (hits + misses === 0) return;
      active = true;
      const c = at(Math.max(0, Math.floor(atNs / intervalNs)), cmd);
      if (c === null) return;
      c.capturedHits += hits;
      c.capturedMisses += misses;
    },
    replayed(index, cmd, hits, misses) {
      const c = at(index, cmd);
      if (c === null) return;
      c.replayedHits += hits;
      c.replayedMisses += misses;
    },
    closed(index) {
      closedUpTo = Math.max(closedUpTo, index);
      book.delete(index - PAIR_HORIZON);
      if (!active) return undefined;
      let p = book.get(index);
      if (p === undefined) book.set(index, (p = {}));
      return p;
    },
  };
}

/** The sum of paired objects (a rolled-up interval). */
export function addPaired(into: Paired, from: Paired): void {
  for (const [cmd, v] of Object.entries(from)) {
    const s = (into[cmd] ??= empty());
    s.capturedHits += v.capturedHits;
    s.capturedMisses += v.capturedMisses;
    s.replayedHits += v.replayedHits;
    s.replayedMisses += v.replayedMisses;
  }
}
