// Summarises a worker's send-path trace (MCREPLAY_TRACE=<prefix> writes <prefix>.w<N>.jsonl; README,
// "A busy machine"): where the schedule lag of a replay comes from.
//   - requests: the lag at dispatch (the `submit` events), the time from due to the write of the
//     bytes (the lag results.json records: it is read at the write), and for the worst ones what the worker did meanwhile
//     (answers, dispatch, writes, GC, other: not running, or the event loop);
//   - turns (a wake-up to its pump-end): how late they woke, how many items they sent, how long
//     they took, and the cost of one write in a turn that writes many connections (time between two
//     `flush` events of the same turn);
//   - reads (answers): the cost of one read callback, and GC pauses (MCREPLAY_TRACE observes them).
// Usage: node bench/trace-summary.js <trace.jsonl> [--worst 8] [--json]
import { readFileSync } from 'node:fs';
import { cliArgs } from './args.js';

const args = process.argv.slice(2);
const { opt } = cliArgs(args);
const worstN = Number(opt('--worst', '8'));
const asJson = args.includes('--json');
const file = args.find((a) => !a.startsWith('--'));
if (!file) {
  console.error('usage: node bench/trace-summary.js <trace.jsonl> [--worst 8] [--json]');
  process.exit(2);
}
const ev = readFileSync(file, 'utf8')
  .split('\n')
  .filter((l) => l.length > 0)
  .map((l) => JSON.parse(l));
// gc entries are placed back in time when observed: sort everything by time (stable)
const gcs = ev.filter((e) => e[1] === 'gc');
const main = ev.filter((e) => e[1] !== 'gc');

const q = (a, p) => {
  if (a.length === 0) return null;
  const s = Float64Array.from(a).sort();
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const us = (ns) => (ns === null || ns === undefined ? '-' : ns < 1e6 ? `${(ns / 1e3).toFixed(1)} µs` : `${(ns / 1e6).toFixed(2)} ms`);

// ---- requests --------------------------------------------------------------------------------------
const subs = main.filter((e) => e[1] === 'submit' && e[0] >= 0);
const lags = subs.map((e) => e[2]);

// ---- turns -----------------------------------------------------------------------------------------
const turns = [];
let cur = null;
for (const e of main) {
  const k = e[1];
  if (k.startsWith('wake-')) {
    cur = { t: e[0], src: k, late: e[2], n: 0, end: null, flushes: [], subs: 0, reads: 0 };
  } else if (cur !== null && k === 'flush') cur.flushes.push(e[0]);
  else if (cur !== null && k === 'submit') cur.subs++;
  else if (cur !== null && k === 'read') cur.reads++;
  else if (cur !== null && k === 'pump-end') {
    cur.end = e[0];
    cur.n = e[2];
    if (cur.t >= 0) turns.push(cur);
    cur = null;
  }
}
const sending = turns.filter((t) => t.n > 0);
const perWrite = [];
for (const t of sending) for (let i = 1; i < t.flushes.length; i++) perWrite.push(t.flushes[i] - t.flushes[i - 1]);
const firstWrite = sending.filter((t) => t.flushes.length > 0).map((t) => t.flushes[0] - t.t);
const multi = sending.filter((t) => t.flushes.length >= 8);

// ---- reads -----------------------------------------------------------------------------------------
const reads = main.filter((e) => e[1] === 'read' && e[0] >= 0);
// the cost of one read callback: from the read to the next event (an upper bound)
const readCost = [];
for (let i = 0; i < main.length - 1; i++) if (main[i][1] === 'read' && main[i][0] >= 0) readCost.push(main[i + 1][0] - main[i][0]);

// ---- where each request's lag went ---------------------------------------------------------------
// Intervals of work the worker traced: answer callbacks (read..read-end), the dispatch part of a turn
// (wake-up..dispatched: decoding and queueing what is due) and its write part (dispatched..pump-end),
// garbage collection. What is left between a request's due time and its write is time in which the
// worker ran none of them: waking up, the event loop's own work, or not running at all.
const spans = { read: [], dispatch: [], write: [], gc: gcs.map((g) => [g[0], g[0] + g[2]]) };
{
  // inside a turn: a write runs from its `flush` event to the next event; the rest of the turn is
  // dispatch (decoding, recording, queueing). A turn inside an answer's callback (wake-read: due
  // requests before the answer is parsed) is not the answer's time.
  let rs = null;
  let ws = null;
  let fs = null;
  const turnPart = (t) => {
    if (fs !== null) spans.write.push([fs, t]);
    else if (ws !== null) spans.dispatch.push([ws, t]);
  };
  for (const e of main) {
    const k = e[1];
    const t = e[0];
    if (ws !== null && k !== 'read' && k !== 'read-end') {
      turnPart(t);
      fs = k === 'flush' ? t : null;
      if (k === 'pump-end') {
        ws = null;
        fs = null;
        if (rs !== null) rs = t;
      } else if (fs === null) ws = t;
      continue;
    }
    if (k === 'read') rs = t;
    else if (k === 'read-end' && rs !== null) {
      spans.read.push([rs, t]);
      rs = null;
    } else if (k.startsWith('wake-')) {
      if (rs !== null) spans.read.push([rs, t]);
      ws = t;
    }
  }
}
const overlap = (list, a, b) => list.reduce((acc, [x, y]) => acc + Math.max(0, Math.min(b, y) - Math.max(a, x)), 0);
// the write of a request: the first flush of its connection at or after its submit
const flushAt = new Map();
for (const e of main) if (e[1] === 'flush') (flushAt.get(e[3]) ?? flushAt.set(e[3], []).get(e[3])).push(e[0]);
const firstAfter = (arr, t) => {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const m = (lo + hi) >> 1;
    if (arr[m] < t) lo = m + 1;
    else hi = m;
  }
  return arr[lo];
};
const attrib = (s) => {
  const due = s[0] - s[2];
  const w = firstAfter(flushAt.get(s[3]) ?? [], s[0]) ?? s[0];
  const a = Math.min(due, w);
  const r = { at: s[0], conn: s[3], lag: s[2], toWrite: w - due };
  let known = 0;
  for (const k of ['read', 'dispatch', 'write', 'gc']) {
    r[k] = overlap(spans[k], a, w);
    if (k !== 'gc') known += r[k];
  }
  r.other = Math.max(0, w - a - known);
  return r;
};
const all = subs.map(attrib);
const worst = [...all].sort((a, b) => b.toWrite - a.toWrite).slice(0, worstN);
// the requests at or above the p99 of due-to-write: what their time went to, summed
const cut = q(all.map((r) => r.toWrite), 99);
const tail = all.filter((r) => r.toWrite >= cut);
const tailSum = Object.fromEntries(['read', 'dispatch', 'write', 'gc', 'other'].map((k) => [k, tail.reduce((a, r) => a + r[k], 0) / Math.max(1, tail.length)]));

const out = {
  file,
  requests: {
    n: subs.length,
    lagP50: q(lags, 50),
    lagP99: q(lags, 99),
    lagMax: lags.length ? Math.max(...lags) : null,
    dueToWriteP50: q(all.map((r) => r.toWrite), 50),
    dueToWriteP99: cut,
  },
  tail: { n: tail.length, ...tailSum },
  turns: {
    n: turns.length,
    sending: sending.length,
    lateP50: q(sending.map((t) => t.late), 50),
    lateP99: q(sending.map((t) => t.late), 99),
    itemsMax: sending.reduce((a, t) => Math.max(a, t.n), 0),
    durP50: q(sending.map((t) => t.end - t.t), 50),
    durP99: q(sending.map((t) => t.end - t.t), 99),
    firstWriteP50: q(firstWrite, 50),
    perWriteP50: q(perWrite, 50),
    perWriteP99: q(perWrite, 99),
    turnsWith8PlusWrites: multi.length,
    byWake: Object.fromEntries(['wake-waker', 'wake-timer', 'wake-spin', 'wake-read'].map((k) => [k, sending.filter((t) => t.src === k).length])),
  },
  reads: { n: reads.length, costP50: q(readCost, 50), costP99: q(readCost, 99) },
  gc: { n: gcs.length, totalMs: gcs.reduce((a, g) => a + g[2], 0) / 1e6, maxMs: gcs.reduce((a, g) => Math.max(a, g[2]), 0) / 1e6 },
  worst,
};
if (asJson) {
  console.log(JSON.stringify(out));
  process.exit(0);
}
const r = out.requests;
const t = out.turns;
console.log(`${file}`);
console.log(`requests ${r.n}: lag p50 ${us(r.lagP50)}, p99 ${us(r.lagP99)}, max ${us(r.lagMax)} (at dispatch)`);
console.log(
  `turns ${t.n} (${t.sending} sending: ${JSON.stringify(t.byWake)}): late p50 ${us(t.lateP50)} p99 ${us(t.lateP99)}; took p50 ${us(t.durP50)} p99 ${us(t.durP99)}; most items ${t.itemsMax}`,
);
console.log(`  first write after wake-up p50 ${us(t.firstWriteP50)}; between two writes of a turn (a write, and since write order the next dispatch): p50 ${us(t.perWriteP50)} p99 ${us(t.perWriteP99)} (${t.turnsWith8PlusWrites} turns with 8+ writes)`);
console.log(`reads ${out.reads.n}: callback p50 ${us(out.reads.costP50)} p99 ${us(out.reads.costP99)}; gc ${out.gc.n} pauses, ${out.gc.totalMs.toFixed(2)} ms in all, longest ${out.gc.maxMs.toFixed(2)} ms`);
console.log(`due to write (the lag as results.json records it): p50 ${us(r.dueToWriteP50)}, p99 ${us(r.dueToWriteP99)}`);
const tl = out.tail;
console.log(`the ${tl.n} requests at or over that p99, mean: ${['read', 'dispatch', 'write', 'gc', 'other'].map((k) => `${k} ${us(tl[k])}`).join(', ')}`);
console.log('worst requests (due to write, and what the worker did meanwhile):');
for (const w of worst)
  console.log(`  t=${us(w.at)} conn ${w.conn}: lag ${us(w.lag)}, to write ${us(w.toWrite)}: answers ${us(w.read)}, dispatch ${us(w.dispatch)}, writes ${us(w.write)}, gc ${us(w.gc)}, other ${us(w.other)}`);
