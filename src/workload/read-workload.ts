// The one way a replay reads its workload: a prepared file (mcreplay prepare) when the input is one
// (known by its first bytes, whatever its name), else the capture itself. Both give the same sink
// events in the same order (test/scale/prepare-roundtrip.test.ts).
import { VERSION } from '../version.js';
import { extractWorkload, type ExtractResult } from './extract.js';
import type { IngestOptions, WorkloadSink } from './model.js';
import { isPreparedFile, openPrepared, readPrepared } from './prepared-read.js';

/** Streams the workload of a capture or a prepared file into the sink, in capture order. */
export async function readWorkload(input: string, opts: IngestOptions, sink: WorkloadSink, signal?: AbortSignal): Promise<ExtractResult> {
  if (isPreparedFile(input)) return readPrepared(openPrepared(input, VERSION), sink, signal);
  return extractWorkload(input, opts, sink, signal);
}
