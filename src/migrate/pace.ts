// Pacing for the migration verbs: a key budget per second shared by every worker, so a busy old
// server sees at most `rate` fetches a second whatever the concurrency.

/** Hands out `rate` permits a second, in order, with a burst of at most 50 ms of budget. */
export function createPacer(rate: number, signal?: AbortSignal): () => Promise<boolean> {
  const gapMs = 1000 / rate;
  const burstMs = 50;
  let next = performance.now();
  return async function take(): Promise<boolean> {
    if (signal?.aborted) return false;
    const now = performance.now();
    if (next < now - burstMs) next = now - burstMs;
    const at = next;
    next += gapMs;
    const wait = at - now;
    if (wait >= 1) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(t);
          signal?.removeEventListener('abort', done);
          resolve();
        };
        const t = setTimeout(done, wait);
        signal?.addEventListener('abort', done, { once: true });
      });
    }
    return !signal?.aborted;
  };
}

/** Parses "20k/s", "5000/s", "5000", "1.5m/s" into keys a second; null when malformed. */
export function parseKeyRate(text: string): number | null {
  const m = /^(\d+(?:\.\d+)?)([km]?)(?:\/s)?$/i.exec(text.trim());
  if (!m) return null;
  const v = Number(m[1]) * (m[2]!.toLowerCase() === 'k' ? 1e3 : m[2]!.toLowerCase() === 'm' ? 1e6 : 1);
  return v > 0 && Number.isFinite(v) ? v : null;
}
