// The reassembler's flow table helpers: the LRU list of flows by last packet (live and closed
// ones) and the symmetric hash of a 4-tuple's endpoints (one lookup finds either direction).
// The hash table itself (buckets chained through Flow.hashNext) is in TcpReassembler.
import type { Flow } from './tcp-flow.js';

/** Doubly linked list of flows, oldest activity first. */
export class Lru {
  head: Flow | null = null;
  tail: Flow | null = null;
  size = 0;
  push(f: Flow): void {
    f.prev = this.tail;
    f.next = null;
    if (this.tail) this.tail.next = f;
    else this.head = f;
    this.tail = f;
    this.size++;
  }
  remove(f: Flow): void {
    if (f.prev) f.prev.next = f.next;
    else this.head = f.next;
    if (f.next) f.next.prev = f.prev;
    else this.tail = f.prev;
    f.prev = f.next = null;
    this.size--;
  }
  touch(f: Flow): void {
    if (this.tail === f) return;
    this.remove(f);
    this.push(f);
  }
}

function mix(h: number, v: number): number {
  h = Math.imul(h ^ v, 0x85ebca6b);
  return h ^ (h >>> 15);
}

export function endpointHash(family: number, a0: number, a1: number, a2: number, a3: number, port: number): number {
  let h = mix(0x9e3779b9, a0);
  if (family === 6) h = mix(mix(mix(h, a1), a2), a3);
  h = Math.imul(h ^ port, 0xc2b2ae35);
  return h ^ (h >>> 13);
}
