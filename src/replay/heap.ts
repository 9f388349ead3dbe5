// A binary min-heap of scheduled items ordered by time, then by insertion order: requests of one
// connection that are due at the same nanosecond keep their captured order.

/** Anything with a due time (run-clock ns). `ord` is set by the heap. */
export interface Timed {
  at: number;
  ord: number;
}

/** Min-heap over (at, ord). */
export class TimeHeap<T extends Timed> {
  private items: T[] = [];
  private counter = 0;

  get size(): number {
    return this.items.length;
  }

  /** The earliest item, or undefined. */
  peek(): T | undefined {
    return this.items[0];
  }

  /** Adds an item; ties in `at` leave in push order. */
  push(x: T): void {
    x.ord = this.counter++;
    const a = this.items;
    a.push(x);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(x, a[p]!)) break;
      a[i] = a[p]!;
      i = p;
    }
    a[i] = x;
  }

  /** Removes and returns the earliest item. */
  pop(): T | undefined {
    const a = this.items;
    const top = a[0];
    if (top === undefined) return undefined;
    const last = a.pop()!;
    if (a.length > 0) {
      let i = 0;
      const n = a.length;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && less(a[r]!, a[l]!) ? r : l;
        if (!less(a[c]!, last)) break;
        a[i] = a[c]!;
        i = c;
      }
      a[i] = last;
    }
    return top;
  }

  /** Removes everything, returning the items (unordered). */
  drain(): T[] {
    const a = this.items;
    this.items = [];
    return a;
  }
}

function less(a: Timed, b: Timed): boolean {
  return a.at < b.at || (a.at === b.at && a.ord < b.ord);
}
