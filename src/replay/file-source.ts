// The request source of a replay from a file (a capture or a prepared workload, or stdin): passes over it (several with
// --loop), each through the feed on its own capture clock, read ahead of the schedule by a bounded
// look-ahead (backpressure through the workload sink's ready()).
import { heldBackTotal } from '../metrics/counters.js';
import type { ExtractResult } from '../workload/extract.js';
import { readWorkload } from '../workload/read-workload.js';
import type { WorkloadSink } from '../workload/model.js';
import type { ShapeOptions } from '../workload/shape.js';
import { RECORD_OVERHEAD_BYTES } from './batch.js';
import { captureClock } from './capture-schedule.js';
import { createFeed, type FeedRun } from './feed.js';
import type { Schedule } from './schedule.js';
import type { WorkerPool } from './worker-pool.js';

/**
 * The look-ahead: requests read from the capture and handed to the workers but not yet sent, at
 * most this many and MAX_OUTSTANDING_BYTES (~112 bytes a request beyond its own bytes: its packed
 * record, its queue entry in the worker; see batch.ts). It is filled before t0 and is large so that
 * reading the capture competes as little as possible with the replay it measures: on 2 cores a
 * reading thread costs the sender and the server their CPU (bench/README.md, "Latest results": at
 * 1x the lag p99 went from 1.0–2.9 ms with 2 s of look-ahead to 0.5–0.8 ms with the whole capture
 * read first). `--look-ahead <d>` caps it further in schedule time (timed modes).
 */
const MAX_OUTSTANDING_ITEMS = 1_000_000;
const MAX_OUTSTANDING_BYTES = 128 * 1024 * 1024;

/**
 * A loop reads the capture again pass after pass, so its look-ahead is never "the whole capture":
 * before t0 it reads its first pass only (filling the whole look-ahead read a small capture tens of
 * thousands of times, some 40 s, before the first request went out), and in a timed mode it then
 * keeps at most this much schedule (or one pass, if longer) ahead of the clock, so the passes are
 * read at the pace they are sent rather than in a burst at the start of the measurement.
 */
const LOOP_AHEAD_NS = 10e9;

/** What the file source needs of the run beyond the feed. */
export interface FileSourceRun {
  setup: {
    input: string;
    serverPorts: number[];
    anyPort: boolean;
    asciiAuth?: boolean;
    loop: boolean;
    shape: ShapeOptions;
    ttlScale: number | null;
    durationNs: number | null;
    lookAheadNs: number;
  };
  schedule: Schedule;
  maxMode: boolean;
  pool: WorkerPool;
  /** The feed's view of the run; its beyondEnd is set by the source. */
  feed: Omit<FeedRun, 'beyondEnd'>;
  /** Aborts the reading (interrupt, loop end). */
  extractAbort: AbortController;
  /** t0 is fixed. */
  started(): boolean;
  /** Fixes t0 once every worker holds the start of the schedule (idempotent). */
  start(): Promise<void>;
  /** Run clock, ns since t0. */
  runNow(): number;
}

/** What the file source read. */
export interface FileSourceResult {
  firstExtract: ExtractResult | null;
  passes: number;
  squeezedNs: number;
}

/** Reads the capture (pass after pass with --loop) into the workers; returns when the reading ends. */
export async function runFileSource(run: FileSourceRun): Promise<FileSourceResult> {
  const { setup, schedule, maxMode, pool, extractAbort } = run;
  let passes = 0;
  let passOffset = 0; // capture ns added to this pass (loop)
  let passSpan = 0;
  let firstExtract: ExtractResult | null = null;
  let readingBeyondCutoff = false;
  let squeezedNs = 0;
  // the schedule time of the first pass's last request (a loop's look-ahead in schedule time)
  let firstPassNs: number | null = null;
  const lookAheadNs = (): number => (setup.loop && firstPassNs !== null ? Math.min(setup.lookAheadNs, Math.max(LOOP_AHEAD_NS, firstPassNs)) : setup.lookAheadNs);

  async function runPass(pass: number): Promise<ExtractResult | null> {
    const clock = captureClock(schedule, setup.shape, passOffset, setup);
    const feed = createFeed({ ...run.feed, beyondEnd: stopRunAtCutoff }, clock, pass);
    const sink: WorkloadSink = {
      connection: feed.connection,
      request: feed.request,
      outcome: feed.outcome,
      close: feed.close,
      async ready(): Promise<void> {
        if (pool.fatal) throw pool.fatal;
        pool.flushAll();
        if (run.feed.counting() || run.feed.stopped()) return;
        const avg = pool.postedItems > 0 ? pool.postedBytes / pool.postedItems : 100;
        const maxItems = Math.max(1000, Math.min(MAX_OUTSTANDING_ITEMS, Math.floor(MAX_OUTSTANDING_BYTES / (avg + RECORD_OVERHEAD_BYTES))));
        if (!run.started()) {
          // fill the whole look-ahead before t0: reading after t0 competes for the CPU with the
          // workers (worst while they start: with a quarter read first, the first second of a 38k
          // requests/s replay had the run's worst lag)
          // (a loop starts once its first pass is read)
          if (pool.postedItems >= maxItems || (!maxMode && pool.lastAt >= setup.lookAheadNs) || pass > 0) await run.start();
          else return;
        }
        for (;;) {
          if (run.feed.stopped() || pool.fatal) return;
          const tooMany = pool.outstanding() > maxItems;
          const ahead = maxMode ? 0 : pool.lastAt - run.runNow() - lookAheadNs();
          if (!tooMany && ahead <= 0) return;
          if (tooMany) {
            await pool.waitProgress(100);
          } else {
            await new Promise<void>((res) => setTimeout(res, Math.max(1, Math.min(100, Math.floor(ahead / 1e6)))));
          }
        }
      },
    };

    function stopRunAtCutoff(): void {
      // the schedule reached the run's end: the timer stops the run when the clock gets there
      readingBeyondCutoff = true;
      if (setup.loop) extractAbort.abort();
    }

    let res: ExtractResult | null = null;
    try {
      // a prepared file (mcreplay prepare) gives the same events as the capture, without parsing it
      res = await readWorkload(setup.input, { serverPorts: setup.serverPorts, anyPort: setup.anyPort, asciiAuth: setup.asciiAuth === true, rawView: true }, sink, extractAbort.signal);
    } catch (err) {
      if (!extractAbort.signal.aborted) throw err;
    }
    passSpan = clock.span();
    if (pass === 0) squeezedNs = clock.squeezedNs();
    // connections the capture left open are closed by the workers at the end
    return res;
  }

  for (;;) {
    const res = await runPass(passes);
    if (passes === 0) {
      firstExtract = res;
      firstPassNs = pool.lastAt;
    }
    passes++;
    if (!setup.loop || run.feed.stopped() || extractAbort.signal.aborted || pool.fatal) break;
    // a capture with nothing to send (no requests on the chosen ports, or every one held back) would
    // be read again and again for ever: one pass shows it, and the verdict says so (results.ts)
    if (run.feed.st.shapedRequests === heldBackTotal(run.feed.st.heldBack)) break;
    passOffset += passSpan;
    if (readingBeyondCutoff) break;
  }
  return { firstExtract, passes, squeezedNs };
}
