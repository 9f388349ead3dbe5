// The request source of a live mirror: pcap/pcapng bytes as they are captured (tcpdump's stdout or
// standard input), through the capture pipeline and the workload builder, into the feed on the live
// clock. Reading never waits for the workers (a slow target must not slow the capture reader into
// kernel drops): beyond the backlog bound a request is dropped, counted with its reason.
import { createCapturePipeline } from '../capture/index.js';
import { createWorkloadBuilder, type ExtractResult } from '../workload/extract.js';
import type { WorkloadRequest, WorkloadSink } from '../workload/model.js';
import { McError } from '../errors.js';
import { createFeed, type FeedRun } from './feed.js';
import { liveClock, type LiveClockStats } from './live-schedule.js';
import type { PoolPart } from './pool-route.js';
import type { WorkerPool } from './worker-pool.js';

/** Default backlog bound: requests handed to the workers and not yet sent. */
export const DEFAULT_BACKLOG_REQUESTS = 100_000;
/** Default backlog bound in request bytes (estimated from the average request size). */
export const DEFAULT_BACKLOG_BYTES = 64 * 1024 * 1024;

/** A live capture stream and how to mirror it. */
export interface LiveInput {
  /** The capture's bytes as they come. */
  chunks: AsyncIterable<Buffer>;
  /** How errors name it ("tcpdump -i lo ...", "standard input"). */
  name: string;
  /** A request is due this long after its capture timestamp. */
  delayNs: number;
  backlog: { requests: number; bytes: number };
  /** --sample: hold reason, cut request, or null; null = every key. */
  sampler: ((r: WorkloadRequest) => string | PoolPart | null) | null;
  /** Makes `chunks` end soon (the run stops). */
  cancel(): void;
}

/** What the live source needs of the run. */
export interface LiveSourceRun {
  setup: { serverPorts: number[]; anyPort: boolean; asciiAuth?: boolean; durationNs: number | null };
  live: LiveInput;
  pool: WorkerPool;
  feed: Omit<FeedRun, 'beyondEnd' | 'epochSec'>;
  extractAbort: AbortController;
  start(): Promise<void>;
  runNow(): number;
}

/** What the live source read. */
export interface LiveSourceResult {
  extract: ExtractResult;
  clock: LiveClockStats;
}

/** Mirrors the live stream until it ends or the run stops. */
export async function runLiveSource(run: LiveSourceRun): Promise<LiveSourceResult> {
  const { live, pool, extractAbort } = run;
  let baseSec = Number.NaN;
  let pipe: ReturnType<typeof createCapturePipeline>;
  const captureBaseSec = (): number => {
    if (baseSec !== baseSec) baseSec = pipe.stats().baseEpochSec;
    return baseSec;
  };
  const clock = liveClock({ delayNs: live.delayNs, durationNs: run.setup.durationNs, captureBaseSec, runNow: run.runNow });
  const backlogFull = (): boolean => {
    const out = pool.outstanding();
    if (out >= live.backlog.requests) return true;
    const avg = pool.postedItems > 0 ? pool.postedBytes / pool.postedItems : 0;
    return out * avg >= live.backlog.bytes;
  };
  const feedRun: FeedRun = {
    ...run.feed,
    epochSec: null,
    beyondEnd: () => {
      /* the duration timer stops the run */
    },
    filter: (r) => (backlogFull() ? 'backlog-full' : live.sampler === null ? null : live.sampler(r)),
  };
  // capture times count from the capture's first epoch second, known once a frame is read
  Object.defineProperty(feedRun, 'epochSec', { get: () => (baseSec === baseSec ? baseSec : null) });
  const feed = createFeed(feedRun, clock, 0);
  const sink: WorkloadSink = { connection: feed.connection, request: feed.request, outcome: feed.outcome, close: feed.close };
  const builder = createWorkloadBuilder(sink, 'view', run.setup.asciiAuth === true);
  pipe = createCapturePipeline({ serverPorts: run.setup.serverPorts, followSynDirection: run.setup.anyPort }, builder.streams, live.name);

  const onAbort = (): void => live.cancel();
  extractAbort.signal.addEventListener('abort', onAbort, { once: true });
  // live: the clock starts now, nothing is read ahead
  await run.start();
  let readError: string | null = null;
  try {
    for await (const chunk of live.chunks) {
      pipe.push(chunk);
      pool.flushAll();
      if (pool.fatal) throw pool.fatal;
      if (extractAbort.signal.aborted) break;
    }
  } catch (e) {
    if (e === pool.fatal || e instanceof McError) throw e;
    if (!extractAbort.signal.aborted) readError = `${live.name}: read failed (${(e as Error).message})`;
  } finally {
    extractAbort.signal.removeEventListener('abort', onAbort);
  }
  const capture = pipe.end();
  builder.finish();
  pool.flushAll();
  if (readError) capture.error = capture.error ? `${readError}; ${capture.error}` : readError;
  return { extract: { capture, extract: builder.stats }, clock: clock.stats };
}
