// A hand-written capture mixing text, meta and binary: pipelined, noreply and quiet requests.
import { bin, binRes, flagsExp, type ConvSpec } from './helpers.js';

export const MIXED: ConvSpec[] = [
  {
    cport: 40001,
    steps: [
      { t: 0, dir: 0, data: 'set a 0 0 3\r\nabc\r\n' },
      { t: 0.1, dir: 1, data: 'STORED\r\n' },
      { t: 5, dir: 0, data: 'get a\r\n' },
      { t: 5.1, dir: 1, data: 'VALUE a 0 3\r\nabc\r\nEND\r\n' },
      { t: 10, dir: 0, data: 'get a b c\r\n' },
      { t: 10.1, dir: 1, data: 'VALUE a 0 3\r\nabc\r\nEND\r\n' },
      { t: 15, dir: 0, data: 'set n 0 0 1 noreply\r\nx\r\n' },
      { t: 16, dir: 0, data: 'incr ctr 1\r\n' },
      { t: 16.1, dir: 1, data: 'NOT_FOUND\r\n' },
      { t: 20, dir: 0, data: 'delete a\r\n' },
      { t: 20.1, dir: 1, data: 'DELETED\r\n' },
      { t: 25, dir: 0, data: 'gets n\r\n' },
      { t: 25.1, dir: 1, data: 'VALUE n 0 1 77\r\nx\r\nEND\r\n' },
      // pipelined: both gets in one segment before any answer
      { t: 30, dir: 0, data: 'get n\r\nget n\r\n' },
      { t: 30.1, dir: 1, data: 'VALUE n 0 1\r\nx\r\nEND\r\nVALUE n 0 1\r\nx\r\nEND\r\n' },
    ],
  },
  {
    cport: 40002,
    steps: [
      { t: 2, dir: 0, data: 'ms m1 2 T0\r\nhi\r\n' },
      { t: 2.1, dir: 1, data: 'HD\r\n' },
      { t: 7, dir: 0, data: 'mg m1 v\r\n' },
      { t: 7.1, dir: 1, data: 'VA 2\r\nhi\r\n' },
      { t: 12, dir: 0, data: 'mg nokey v q\r\nmn\r\n' },
      { t: 12.1, dir: 1, data: 'MN\r\n' },
      { t: 17, dir: 0, data: 'md m1\r\n' },
      { t: 17.1, dir: 1, data: 'HD\r\n' },
    ],
  },
  {
    cport: 40003,
    steps: [
      { t: 3, dir: 0, data: bin(0x01, 'b1', { extras: flagsExp(), value: 'v1', opaque: 1 }) },
      { t: 3.1, dir: 1, data: binRes(0x01, { opaque: 1, cas: 5n }) },
      { t: 8, dir: 0, data: Buffer.concat([bin(0x09, 'b1', { opaque: 2 }), bin(0x09, 'zz', { opaque: 3 }), bin(0x0a, '', { opaque: 4 })]) },
      { t: 8.1, dir: 1, data: Buffer.concat([binRes(0x09, { extras: Buffer.alloc(4), value: 'v1', opaque: 2, cas: 5n }), binRes(0x0a, { opaque: 4 })]) },
    ],
  },
];

/** Requests per command in MIXED, counted by hand. */
export const MIXED_COUNTS: Record<string, number> = { set: 3, get: 4, incr: 1, delete: 1, gets: 1, ms: 1, mg: 2, mn: 1, md: 1, getq: 2, noop: 1 };

