// One ingest measurement in its own process (so peak RSS is its own): prints a JSON line.
// Modes: raw (read the file, touch nothing), pcap-parser (its bare per-packet event loop),
// capture (our reader + decode + TCP reassembly, counting bytes), ingest (capture + memcached
// framing + request/response pairing into workload requests that own their bytes), inspect
// (inspectCapture: ingest without the byte copies, inspect's tallies and its report object).
import { createReadStream, statSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

const [mode, file, portArg] = process.argv.slice(2);
const port = Number(portArg ?? 11211);
const t0 = performance.now();
let packets = 0;
let extra = {};

async function readAll(onChunk) {
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) onChunk(chunk);
}

if (mode === 'raw') {
  let x = 0;
  await readAll((c) => (x ^= c[c.length - 1]));
  extra = { checksum: x };
} else if (mode === 'pcap-parser') {
  const pcapp = (await import('pcap-parser')).default;
  await new Promise((resolve, reject) => {
    const p = pcapp.parse(createReadStream(file, { highWaterMark: 1 << 20 }));
    p.on('packet', () => packets++);
    p.on('end', resolve);
    p.on('error', reject);
  });
} else if (mode === 'capture') {
  const { createCapturePipeline } = await import('../dist/capture/index.js');
  let bytes = 0;
  const sink = { open() {}, data(_f, _d, b) { bytes += b.length; }, gap() {}, close() {}, datagram() {} };
  const pipe = createCapturePipeline({ serverPorts: [port] }, sink, file);
  await readAll((c) => pipe.push(c));
  const st = pipe.end();
  packets = st.packets;
  extra = { streamBytes: bytes, connections: st.tcpConnections };
} else if (mode === 'ingest') {
  const { createCapturePipeline } = await import('../dist/capture/index.js');
  const { createWorkloadBuilder } = await import('../dist/workload/extract.js');
  let requests = 0;
  let outcomes = 0;
  const sink = { connection() {}, request() { requests++; }, outcome() { outcomes++; }, close() {} };
  // keepRaw: every request owns a copy of its bytes, as replay needs
  const builder = createWorkloadBuilder(sink);
  const pipe = createCapturePipeline({ serverPorts: [port] }, builder.streams, file);
  await readAll((c) => pipe.push(c));
  const st = pipe.end();
  builder.finish();
  packets = st.packets;
  extra = { requests, outcomes };
} else if (mode === 'inspect') {
  // what `mcreplay inspect` runs (file reading, ingest, tallies, the report object), minus printing
  const { inspectCapture } = await import('../dist/workload/inspect.js');
  const report = await inspectCapture(file, { serverPorts: [port] });
  packets = report.packets;
  extra = { requests: report.requests.total, distinctKeys: report.keys.distinct };
} else {
  throw new Error(`unknown mode ${mode}`);
}
const seconds = (performance.now() - t0) / 1000;
const bytes = statSync(file).size;
console.log(JSON.stringify({ mode, file, bytes, packets, seconds, packetsPerSec: packets / seconds, mbPerSec: bytes / 1e6 / seconds, maxRssMiB: process.resourceUsage().maxRSS / 1024, ...extra }));
