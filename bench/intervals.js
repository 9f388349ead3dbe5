// Per-interval schedule lag and service time of one run, from its results.json: where in the run
// the p99 comes from (start-up, the reading thread, the steady state).
// Usage: npx tsc -p . && node bench/intervals.js reports/<run-id>/results.json
import { readFileSync } from 'node:fs';
import { decodeHistogram, initMetrics, percentiles } from '../dist/metrics/histogram.js';

const file = process.argv[2];
if (!file) {
  console.error('usage: node bench/intervals.js <results.json>');
  process.exit(2);
}
await initMetrics();
const r = JSON.parse(readFileSync(file, 'utf8'));
const us = (ns) => (ns / 1e3).toFixed(0).padStart(7);
console.log('interval   lag p50   lag p99   lag max   svc p50   svc p99   event-loop max ms');
for (const iv of r.intervals) {
  const lag = percentiles(decodeHistogram(iv.lag));
  const svc = percentiles(decodeHistogram(iv.total.service));
  console.log(`${String(iv.index).padStart(8)} ${us(lag.p50)}µs ${us(lag.p99)}µs ${us(lag.max)}µs ${us(svc.p50)}µs ${us(svc.p99)}µs ${(iv.eventLoopMaxNs / 1e6).toFixed(1).padStart(8)}`);
}
const s = r.summary;
console.log(`whole run: lag p50 ${us(s.lag.p50)}µs p99 ${us(s.lag.p99)}µs; service p50 ${us(s.total.service.p50)}µs`);
