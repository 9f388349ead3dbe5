// What `mcreplay mirror` prints when it ends: a few lines for people (stdout), or one JSON object
// (--json); the results file and the report hold the rest.
import type { ResultsFile } from '../metrics/results-types.js';
import { fmtInt, fmtNs } from './format.js';

/** How the mirror ended, beside its results. */
export interface MirrorEnd {
  /** Where the traffic came from: the tcpdump command or "standard input". */
  source: string;
  delayNs: number;
  stopReason: string;
  heldBack: Record<string, number>;
  /** The capture clock against this host's (jumps, offsets), or null. */
  clock: unknown;
  /** --until-warm: the end of the window that held (intended send time), when it was judged, and how long after its end an interval is judged. */
  warm: { rule: string; heldAtNs: number | null; decidedAtNs: number | null; settleNs: number; last: string | null } | null;
  tcpdump: { captured: number | null; receivedByFilter: number | null; droppedByKernel: number | null } | null;
  warnings: string[];
}

/** The paths a mirror wrote. */
export interface MirrorPaths {
  runId: string;
  results: string;
  hlog: string;
  html: string | null;
}

/** The --json summary of a mirror. */
export function mirrorJson(r: ResultsFile, end: MirrorEnd, paths: MirrorPaths): unknown {
  return {
    runId: paths.runId,
    results: paths.results,
    hlog: paths.hlog,
    html: paths.html,
    verdict: r.verdict,
    stopReason: end.stopReason,
    durationNs: r.summary.durationNs,
    counters: r.summary.total.counters,
    heldBack: end.heldBack,
    lag: r.summary.lag,
    clock: end.clock,
    warm: end.warm,
    tcpdump: end.tcpdump,
    warnings: end.warnings,
  };
}

/** The people's summary of a mirror, before the gate's text. */
export function mirrorText(r: ResultsFile, end: MirrorEnd, paths: MirrorPaths): string {
  const t = r.summary.total.counters;
  const lines = [`mirrored ${end.source}: ${fmtInt(t.sent)} sent, ${fmtInt(t.completed)} answered in ${fmtNs(r.summary.durationNs)}`];
  const held = Object.entries(end.heldBack).filter(([, n]) => n > 0);
  if (held.length) lines.push(`held back / dropped: ${held.map(([k, n]) => `${k} ${fmtInt(n)}`).join(', ')}`);
  const lag = r.summary.lag;
  if (lag.count > 0) lines.push(`lag behind capture + ${fmtNs(end.delayNs)}: p50 ${fmtNs(lag.p50)}, p99 ${fmtNs(lag.p99)}, max ${fmtNs(lag.max)}`);
  const w = end.warm;
  if (w !== null) {
    // the check runs on intervals older than the timeout: the newest seconds still take answers
    const judged = `intervals judged ${fmtNs(w.settleNs)} after their end`;
    lines.push(w.heldAtNs !== null ? `warm: '${w.rule}' held at ${fmtNs(w.heldAtNs)} (judged at ${fmtNs(w.decidedAtNs ?? w.heldAtNs)}; ${judged})` : `NOT warm: '${w.rule}' never held over a whole window (${judged})${w.last ? ` (last: ${w.last})` : ''}`);
  }
  if (end.tcpdump !== null) lines.push(`tcpdump: ${end.tcpdump.captured ?? '?'} packets captured, ${end.tcpdump.droppedByKernel ?? '?'} dropped by the kernel`);
  for (const x of end.warnings) lines.push(`warning: ${x}`);
  lines.push(`results: ${paths.results}${paths.html ? `\nreport:  ${paths.html}` : ''}`);
  return lines.join('\n');
}
