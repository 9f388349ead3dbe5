// The worker's queue of scheduled items, ordered by due time, then by arrival: requests of one
// connection that are due at the same nanosecond keep their captured order. Items mostly arrive in
// time order (the capture is read in order), so they go to a FIFO in O(1); only an item due before
// the FIFO's tail goes to a binary heap.

/** Anything with a due time (run-clock ns). `ord` is set by the queue. */
export interface Timed {
  at: number;
  ord: number;
}

/** Min-heap over (at, ord). */
export class TimeHeap<T extends Timed> {
  private items: T[] = [];

  get size(): number {
    return this.items.length;
  }

  /** The earliest item, or undefined. */
  peek(): T | undefined {
    return this.items[0];
  }

  /** Adds an item whose `ord` is already set. */
  push(x: T): void {
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

/** FIFO for in-order arrivals plus a heap for the rest; pops in (at, ord) order. */
export class DueQueue<T extends Timed> {
  private fifo: T[] = [];
  private head = 0;
  private heap = new TimeHeap<T>();
  private counter = 0;

  get size(): number {
    return this.fifo.length - this.head + this.heap.size;
  }

  /** Adds an item; ties in `at` leave in push order. */
  push(x: T): void {
    x.ord = this.counter++;
    const n = this.fifo.length;
    if (n === this.head || this.fifo[n - 1]!.at <= x.at) this.fifo.push(x);
    else this.heap.push(x);
  }

  /** The earliest item, or undefined. */
  peek(): T | undefined {
    const f = this.head < this.fifo.length ? this.fifo[this.head] : undefined;
    const h = this.heap.peek();
    if (f === undefined) return h;
    if (h === undefined) return f;
    return less(h, f) ? h : f;
  }

  /** Removes and returns the earliest item. */
  pop(): T | undefined {
    const f = this.head < this.fifo.length ? this.fifo[this.head] : undefined;
    const h = this.heap.peek();
    if (f === undefined || (h !== undefined && less(h, f))) return this.heap.pop();
    this.fifo[this.head++] = undefined as unknown as T;
    if (this.head === this.fifo.length) {
      this.fifo = [];
      this.head = 0;
    } else if (this.head >= 4096 && this.head * 2 >= this.fifo.length) {
      this.fifo = this.fifo.slice(this.head);
      this.head = 0;
    }
    return f;
  }

  /** Removes everything, returning the items in due order. */
  drain(): T[] {
    const out: T[] = [];
    for (let x = this.pop(); x !== undefined; x = this.pop()) out.push(x);
    return out;
  }
}

function less(a: Timed, b: Timed): boolean {
  return a.at < b.at || (a.at === b.at && a.ord < b.ord);
}
