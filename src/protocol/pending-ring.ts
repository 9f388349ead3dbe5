// The requests a response matcher waits for, oldest first: a ring of parallel arrays (no object per
// request), read on every response. It starts small (most connections have a request or two in
// flight, and a flow table holds hundreds of thousands of matchers) and doubles for deep pipelines.
// Its fields are public and read directly by the matcher (a hot path: no getters).

/** Pending requests in send order; slot i of every array is one request. */
export class PendingRing<I, T> {
  /** Slots; always a power of two. */
  cap = 8;
  /** cap - 1: slot of the n-th pending request is (head + n) & mask. */
  mask = 7;
  head = 0;
  count = 0;
  info: (I | undefined)[] = new Array(8);
  tag: (T | undefined)[] = new Array(8);
  /** What kind of answer each waits for (the matcher's Kind). */
  kind = new Int32Array(8);
  /** Meta command kind or binary opcode. */
  sub = new Int32Array(8);
  /** The matcher's Flag bits. */
  flags = new Int32Array(8);

  /** Appends a request (grows the ring when full). */
  push(info: I, tag: T, kind: number, sub: number, flags: number): void {
    if (this.count === this.cap) this.grow();
    const i = (this.head + this.count) & this.mask;
    this.info[i] = info;
    this.tag[i] = tag;
    this.kind[i] = kind;
    this.sub[i] = sub;
    this.flags[i] = flags;
    this.count++;
  }

  /** Drops the oldest request (its info and tag are released). */
  pop(): void {
    this.info[this.head] = undefined;
    this.tag[this.head] = undefined;
    this.head = (this.head + 1) & this.mask;
    this.count--;
  }

  /** Position (0 = oldest) of the first pending request of `kind` and `sub`, or count when none. */
  indexOf(kind: number, sub: number): number {
    let i = 0;
    while (i < this.count && !(this.kind[(this.head + i) & this.mask] === kind && this.sub[(this.head + i) & this.mask] === sub)) i++;
    return i;
  }

  private grow(): void {
    const ncap = this.cap * 2;
    const ni: (I | undefined)[] = new Array(ncap);
    const nt: (T | undefined)[] = new Array(ncap);
    const nk = new Int32Array(ncap);
    const ns = new Int32Array(ncap);
    const nf = new Int32Array(ncap);
    for (let i = 0; i < this.count; i++) {
      const j = (this.head + i) & this.mask;
      ni[i] = this.info[j];
      nt[i] = this.tag[j];
      nk[i] = this.kind[j];
      ns[i] = this.sub[j];
      nf[i] = this.flags[j];
    }
    this.info = ni;
    this.tag = nt;
    this.kind = nk;
    this.sub = ns;
    this.flags = nf;
    this.head = 0;
    this.cap = ncap;
    this.mask = ncap - 1;
  }
}
