// A process's resident memory over time, for "memory stays bounded" checks: samples from /proc and
// their least-squares slope (a flat RSS has a slope near 0 however high its level).
import { readFileSync } from 'node:fs';

/** VmRSS of a process in bytes (Linux); 0 once it is gone. */
export function rss(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Least-squares slope of samples taken every `everyMs`, in bytes per second. */
export function slope(samples: number[], everyMs: number): number {
  const n = samples.length;
  const xs = samples.map((_, i) => (i * everyMs) / 1000);
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = samples.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (samples[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return num / den;
}
