// HdrHistogram interval log (.hlog, HistogramLogWriter format 1.3) of a run: per interval one line
// per command for response time (tag "<cmd>"), service time ("<cmd>.service"), the totals ("total",
// "total.service") and schedule lag ("lag"). Values are ns; Interval_Max is in ms, like Java tools
// that log ns with a maxValueUnitRatio of 1e6. Readable by HistogramLogReader / HistogramLogProcessor.
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Interval, ResultsFile } from './results-types.js';
import { decodeHistogram } from './histogram.js';

/** What the log needs from a results file. */
export type HlogInput = Pick<ResultsFile, 'intervals'> & { run: Pick<ResultsFile['run'], 'startedAt' | 'id'>; tool?: ResultsFile['tool'] };

const MAX_UNIT_RATIO = 1e6;

function sec(ns: number): string {
  return (ns / 1e9).toFixed(3);
}

function line(tag: string, iv: Interval, encoded: string): string {
  const h = decodeHistogram(encoded);
  try {
    if (h.totalCount === 0) return '';
    const max = (h.maxValue / MAX_UNIT_RATIO).toFixed(3);
    return `Tag=${tag},${sec(iv.startNs)},${sec(iv.endNs - iv.startNs)},${max},${encoded}\n`;
  } finally {
    h.destroy();
  }
}

/** Tags must not hold the log's separators. */
function safeTag(cmd: string): string {
  return cmd.replace(/[\s,=]/g, '_');
}

/** The header of a run's .hlog (format 1.3), up to the column names. */
export function hlogHeader(res: Omit<HlogInput, 'intervals'>): string {
  const startMs = Date.parse(res.run.startedAt);
  const startSec = (Number.isFinite(startMs) ? startMs : 0) / 1000;
  return [
    `#[Logged with ${res.tool?.name ?? 'mcreplay'} ${res.tool?.version ?? ''} run ${res.run.id}]\n`,
    '#[Histogram log format version 1.3]\n',
    `#[StartTime: ${startSec.toFixed(3)} (seconds since epoch), ${new Date(startSec * 1000).toISOString()}]\n`,
    `#[BaseTime: ${startSec.toFixed(3)} (seconds since epoch)]\n`,
    '#[Values in nanoseconds; Interval_Max in milliseconds. Tags: <cmd> response time, <cmd>.service service time, total, total.service, lag]\n',
    '"StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"\n',
  ].join('');
}

/** The .hlog lines of one interval (a long run appends them as it goes). */
export function hlogIntervalLines(iv: Interval): string {
  const out: string[] = [];
  for (const cmd of Object.keys(iv.perCommand).sort()) {
    const c = iv.perCommand[cmd]!;
    const tag = safeTag(cmd);
    out.push(line(tag, iv, c.response), line(`${tag}.service`, iv, c.service));
  }
  out.push(line('total', iv, iv.total.response), line('total.service', iv, iv.total.service), line('lag', iv, iv.lag));
  return out.join('');
}

/** The .hlog text of a run; empty histograms are left out (no records in that interval). */
export function hlogText(res: HlogInput): string {
  return hlogHeader(res) + res.intervals.map(hlogIntervalLines).join('');
}

/** Writes the .hlog of a run atomically (temp file + rename). */
export async function writeHlog(res: HlogInput, path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, hlogText(res));
  await rename(tmp, path);
}
