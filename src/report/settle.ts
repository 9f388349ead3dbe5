// When an interval's paired answers (src/metrics/warm-pairs.ts) may be read: they keep taking late
// answers until every request intended in the interval was answered or timed out, `settleNs` after
// its end. The live page, the mirror's warm gauges and --until-warm read an interval only then, by
// this one rule.

/** Items of intervals waiting to settle, oldest first. */
export interface SettleQueue<T> {
  /** Queues `item` of the interval ending at `endNs` (the newest); returns the items settled now, oldest first. */
  add(item: T, endNs: number): T[];
}

/** A queue of items whose intervals settle `settleNs` after their end. */
export function createSettleQueue<T>(settleNs: number): SettleQueue<T> {
  const waiting: { item: T; endNs: number }[] = [];
  return {
    add(item, endNs) {
      waiting.push({ item, endNs });
      const settled: T[] = [];
      while (waiting.length > 0 && waiting[0]!.endNs + settleNs <= endNs) settled.push(waiting.shift()!.item);
      return settled;
    },
  };
}
