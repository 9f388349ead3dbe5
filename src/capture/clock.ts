// Capture timestamps → one non-decreasing schedule in integer ns relative to the first frame's
// epoch second.
//
// Captures are not always in time order: dumpcap merges per-CPU rings, busy hosts write small
// inversions, and now and then one frame carries a wild timestamp (zeroed, or years off). The
// schedule must survive both, so every frame's time is decided with one frame of look-ahead:
//
//   Let L be the time delivered for the previous frame, c this frame's raw time and n the next
//   frame's raw time, T = 1 s.
//   1. Outlier: c lies more than T outside the span of its neighbours (c > max(L, n) + T or
//      c < min(L, n) - T). It is delivered at L and counted in `timestampOutliers`; it does not
//      move L, so one wild frame neither stretches nor shrinks the schedule.
//   2. Inversion: otherwise, c < L. It is delivered at L (clamped) and counted in
//      `timestampInversions`. A lasting step back of the clock therefore holds time still until
//      the raw clock catches up: it can shrink the schedule, never reorder it.
//   3. Otherwise c is delivered as is. A forward jump that the next frame confirms is kept: it
//      cannot be told apart from a quiet period, and quiet periods are real.
//   The first and the last frame have one neighbour only; they count as outliers only when they
//   are more than EDGE_NS (1 day) from it (a zeroed timestamp at the start would otherwise move
//   the capture's base by decades), or, for the last frame, more than T behind L.
//   When the first two frames are more than EDGE_NS apart, either may be the wild one: the first
//   is delivered at its own time, and the second frame's look-ahead decides. If the second agrees
//   with the third, the first was wild: the base moves to the second's epoch second (the first
//   frame, already delivered at its sub-second part, stays within a second of the new base).
//   Otherwise the second is wild and rule 1 holds it at L.
//
// Relative times are JS numbers: exact integers for 2^53 ns, 104 days after the base second.
import { SETTLE_DOUBLE } from './packet.js';

const T_NS = 1e9;
const EDGE_NS = 86_400e9;

/** Decides delivered frame times from raw (epoch second, ns) pairs with one frame of look-ahead. */
export class Clock {
  /** Epoch second of the first delivered frame; NaN before any. */
  base = NaN;
  first = NaN;
  last = 0;
  inversions = 0;
  outliers = 0;
  private pSec = 0;
  private pFrac = 0;
  private pending = false;
  /** The first frame was far from the second: which of the two is wild is decided at the second. */
  private firstInDoubt = false;

  /** Offers a frame's raw time; returns the delivered time of the PREVIOUS frame, or NaN if none. */
  push(sec: number, fracNs: number): number {
    if (!this.pending) {
      this.pending = true;
      this.pSec = sec;
      this.pFrac = fracNs;
      return NaN;
    }
    const t = this.decide(true, sec, fracNs);
    this.pSec = sec;
    this.pFrac = fracNs;
    return t;
  }

  /** Delivered time of the last offered frame (no look-ahead left), or NaN if none is pending. */
  finish(): number {
    if (!this.pending) return NaN;
    this.pending = false;
    return this.decide(false, 0, 0);
  }

  private decide(hasNext: boolean, nSec: number, nFrac: number): number {
    if (this.base !== this.base) {
      // First frame: only the next one to compare with.
      this.firstInDoubt = hasNext && Math.abs((this.pSec - nSec) * 1e9 + (this.pFrac - nFrac)) > EDGE_NS;
      this.base = this.pSec;
      this.last = this.first = this.pFrac;
      return this.last;
    }
    if (this.firstInDoubt) {
      this.firstInDoubt = false;
      if (hasNext && Math.abs((this.pSec - nSec) * 1e9 + (this.pFrac - nFrac)) <= EDGE_NS) {
        // the second and third frames agree: the first was the wild one
        this.outliers++;
        this.base = this.pSec;
        const c0 = this.pFrac;
        if (c0 > this.last) this.last = c0;
        return this.last;
      }
    }
    const c = (this.pSec - this.base) * 1e9 + this.pFrac;
    const L = this.last;
    if (hasNext) {
      const n = (nSec - this.base) * 1e9 + nFrac;
      if (c > (L > n ? L : n) + T_NS || c < (L < n ? L : n) - T_NS) {
        this.outliers++;
        return L;
      }
    } else if (c > L + EDGE_NS || c < L - T_NS) {
      this.outliers++;
      return L;
    }
    if (c < L) {
      this.inversions++;
      return L;
    }
    this.last = c;
    return c;
  }
}

// Delivered times pass 2^31 ns two seconds into a capture: see SETTLE_DOUBLE in packet.ts.
new Clock().last = SETTLE_DOUBLE;
