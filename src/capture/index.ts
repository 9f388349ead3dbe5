// The capture layer's entry points: stream a capture file through format reading, link/IP/TCP
// decoding and TCP reassembly into a StreamSink.
import { McError } from '../errors.js';
import { createCapturePipeline } from './pipeline.js';
import { openSource } from './source.js';
import type { CaptureOptions, CaptureStats, StreamSink } from './types.js';

export { createCapturePipeline, emptyCaptureStats, type CapturePipeline } from './pipeline.js';
export { openSource, type CaptureSource } from './source.js';
export { linkTypeName } from './link.js';
export type * from './types.js';

/** Hooks of readCapture: backpressure between chunks and cancellation. */
export interface ReadHooks {
  /** Awaited after each input chunk (about 1 MiB) before the next is read. */
  ready?(): Promise<void> | void;
  /** When aborted, reading stops after the current chunk; the result says so in `error`. */
  signal?: AbortSignal;
}

/**
 * Streams a capture file ('-' = stdin; gzip detected by content) into the sink and resolves with
 * the counters. Throws McError when the input cannot be opened or is not a capture; a capture cut
 * short or unreadable part-way resolves normally with `error` and `trailingBytes` set.
 */
export async function readCapture(input: string, opts: CaptureOptions, sink: StreamSink, hooks: ReadHooks = {}): Promise<CaptureStats> {
  const src = await openSource(input);
  const pipe = createCapturePipeline(opts, sink, src.gzip ? `${src.name} (gunzipped)` : src.name);
  let readError: string | null = null;
  let aborted = false;
  let got = 0;
  try {
    for await (const chunk of src.chunks) {
      got += chunk.length;
      pipe.push(chunk);
      if (hooks.ready) {
        const r = hooks.ready();
        if (r) await r;
      }
      if (hooks.signal?.aborted) {
        aborted = true;
        break;
      }
    }
  } catch (e) {
    if (e instanceof McError) throw e;
    const err = e as NodeJS.ErrnoException;
    if (got === 0) throw new McError(`cannot read capture ${src.name}: ${err.message}`, 'MCR_ERR_CAPTURE_UNREADABLE');
    readError = src.gzip ? `${src.name}: gzip data is damaged or cut short (${err.message})` : `${src.name}: read failed (${err.message})`;
  } finally {
    src.close();
  }
  const stats = pipe.end();
  stats.gzip = src.gzip;
  if (src.gzipReport.problem !== null) {
    // what was decompressed has been read; the damage is named beside any capture problem
    stats.gzipProblem = `${src.name}: ${src.gzipReport.problem}`;
    stats.error = stats.error ? `${stats.gzipProblem}; ${stats.error}` : stats.gzipProblem;
  }
  if (readError) stats.error = stats.error ? `${readError}; ${stats.error}` : readError;
  if (aborted) stats.error = stats.error ?? `${src.name}: reading stopped early (aborted)`;
  return stats;
}
