// Worker-thread entry: computes the chart numbers of a share of the time points (histogram
// decoding is the report's main cost, and it splits cleanly by time).
import { parentPort } from 'node:worker_threads';
import type { Interval } from '../metrics/results-types.js';
import { pointStats } from './data.js';

parentPort?.on('message', (msg: { groups: Interval[][]; cmds: string[] }) => {
  const points = pointStats(msg.groups, msg.cmds);
  parentPort!.postMessage(points, points.flatMap((p) => [p.heat.lo.buffer, p.heat.hi.buffer, p.heat.n.buffer] as ArrayBuffer[]));
});
