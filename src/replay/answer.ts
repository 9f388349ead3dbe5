// Recording a target's answer to one request: the one rule of measurement that TCP (conn.ts) and
// UDP (udp-conn.ts) connections share.
import type { CommandSlot, IntervalRecorder } from '../metrics/recorder.js';
import type { ErrorClass } from '../metrics/results-types.js';
import type { ParsedResponse } from '../protocol/types.js';
import type { WorkerTotals } from './messages.js';
import type { CasTable } from './cas-table.js';

/** What recording an answer needs of the worker (a TCP connection's ConnCtx is one). */
export interface AnswerCtx {
  rec: IntervalRecorder;
  totals: WorkerTotals;
  /** Latest CAS unique the target handed out, by target index and key; shared by all workers. */
  cas: CasTable;
}

/** A written request as far as recording its answer goes. */
export interface AnsweredRequest {
  cmd: string;
  slot: CommandSlot;
  intended: number;
  written: number;
  /** May be answered by silence: its latency is only recorded when an answer really came. */
  silent: boolean;
}

/** Counts an error of class `cls` for `p` at run time `ts`. */
export function countError(ctx: AnswerCtx, p: AnsweredRequest, cls: ErrorClass, ts: number): void {
  ctx.rec.error(p.cmd, cls, ts - p.intended);
  ctx.totals.errors++;
  ctx.totals.byClass[cls]++;
}

/** Records the answer `resp` to `p`, received at run time `ts` (counters, latency, CAS tokens of target `targetIndex`). */
export function recordAnswer(ctx: AnswerCtx, targetIndex: number, p: AnsweredRequest, resp: ParsedResponse, ts: number): void {
  const rec = ctx.rec;
  if (resp.bytes > 0) rec.count(p.cmd, 'bytesIn', resp.bytes);
  if (resp.error !== null) {
    const cls: ErrorClass = resp.error === 'SERVER_ERROR' ? 'server_error' : resp.error === 'CLIENT_ERROR' ? 'client_error' : 'error';
    countError(ctx, p, cls, ts);
  } else {
    rec.count(p.cmd, 'completed');
    if (resp.hits > 0) rec.count(p.cmd, 'hits', resp.hits);
    if (resp.misses > 0) rec.count(p.cmd, 'misses', resp.misses);
    if (resp.hits + resp.misses > 0) rec.warm(p.slot, p.intended, resp.hits, resp.misses);
    ctx.totals.completed++;
    // silence proves a quiet request done but says nothing of its latency
    if (resp.status !== 'none' || !p.silent) rec.recordSlot(p.slot, ts - p.intended, ts - p.written);
  }
  if (resp.casByKey !== undefined) for (const [k, v] of resp.casByKey) ctx.cas.set(targetIndex, k, v);
}
