// The capture-quality findings `inspect` shows (cut short, gaps, snapped packets, requests lost,
// unreplayable share), carried into every replay's summary, results.json and report: a replay of a
// damaged capture measures a different workload than the one recorded, and must say so.
import type { CaptureStats } from '../capture/types.js';
import type { ExtractStats } from '../workload/extract.js';
import type { CaptureQuality } from '../metrics/results-types.js';

const int = (n: number): string => Math.round(n).toLocaleString('en-US');

/** The findings from the first read of the capture; `requests`/`replayable` are the capture's counts. */
export function captureQuality(stats: CaptureStats | null, extract: ExtractStats | null, requests: number, replayable: number): CaptureQuality {
  const cutShort = stats !== null && (stats.trailingBytes > 0 || stats.error !== null);
  const gaps = stats?.gapEvents ?? 0;
  const gapBytes = stats?.gapBytes ?? 0;
  const truncatedPackets = stats?.truncatedPackets ?? 0;
  const requestsLost = extract?.requestsCut ?? 0;
  const unreplayableShare = requests > 0 ? Math.max(0, requests - replayable) / requests : 0;
  const findings: string[] = [];
  if (cutShort) {
    findings.push(`the capture is cut short${stats?.error ? ` (${stats.error})` : ''}${stats && stats.trailingBytes > 0 ? `: ${int(stats.trailingBytes)} trailing bytes are not a whole record` : ''}; what was readable was replayed`);
  }
  if (gaps > 0) findings.push(`the capture lost bytes in ${int(gaps)} gap(s) (${int(gapBytes)} bytes known)`);
  if (truncatedPackets > 0) findings.push(`${int(truncatedPackets)} packet(s) were cut by the snap length (record with tcpdump -s 0)`);
  if (requestsLost > 0) findings.push(`at least ${int(requestsLost)} request(s) were lost to gaps or the capture's end`);
  if (unreplayableShare >= 0.01) findings.push(`${(unreplayableShare * 100).toFixed(1)}% of the captured requests cannot be replayed (${int(requests - replayable)} of ${int(requests)}; \`mcreplay inspect\` says why)`);
  return { cutShort, gaps, gapBytes, truncatedPackets, requestsLost, unreplayableShare, findings };
}
