// A whole `warm` run: the keys (a capture's reads, hottest first, or every key by metadump), the
// coverage of the capture's reads before and after, the copy itself, and the summary (schema
// mcreplay.warm/1).
import { fetchStats } from '../metrics/stats-poller.js';
import { formatHostPort, type HostPort } from '../topology/targets.js';
import { MetaConn } from './conn.js';
import { decodeDumpKey, DumpError, metadump } from './metadump.js';
import { readKeysOf, type ReadKeys } from './read-keys.js';
import { destOf, newWarmState, placement, presence, runWarm, sourcesOf, type WarmKey, type WarmSetup, type WarmState } from './warm.js';

/** Coverage of the capture's reads by the new servers' contents. */
export interface Coverage {
  /** Share of the capture's key reads (request-weighted) whose key the new servers hold. */
  requests: number;
  /** Share of the distinct keys read that the new servers hold. */
  keys: number;
}

/** The summary of a warm-up, as printed with --json. */
export interface WarmReport {
  schema: 'mcreplay.warm/1';
  mode: 'capture' | 'all';
  capture: string | null;
  from: string[];
  to: string[];
  rate: number;
  concurrency: number;
  resume: boolean;
  durationS: number;
  interrupted: boolean;
  /** Servers that could not be reached before the run (their keys count under errors). */
  unreachable: string[];
  keys: WarmState['counts'];
  /** Up to 5 keys named per problem class (too large, errors). */
  examples: Record<string, string[]>;
  coverage: { reads: number; distinctKeys: number; before: Coverage; after: Coverage | null } | null;
}

/** What the command line asked for. */
export interface WarmRequest extends Omit<WarmSetup, 'knownPresent'> {
  capture: string | null;
  all: boolean;
  serverPorts: number[];
  anyPort: boolean;
  /** Called every 250 ms and at the end with the live state, and the total when known. */
  progress?: (phase: string, st: WarmState, total: number | null) => void;
  /** Called once the capture is read: its read count (the command refuses a capture without reads). */
  onCapture?: (rk: ReadKeys) => void;
}

/** Servers among `servers` that accept a connection (and the credentials), and those that do not. */
export async function reachable(servers: HostPort[], setup: Pick<WarmSetup, 'timeoutMs' | 'auth'>): Promise<{ up: HostPort[]; down: { server: string; why: string }[] }> {
  const up: HostPort[] = [];
  const down: { server: string; why: string }[] = [];
  await Promise.all(
    servers.map(async (s) => {
      const c = new MetaConn(s, setup.timeoutMs, setup.auth);
      try {
        await c.open();
        up.push(s);
      } catch (e) {
        down.push({ server: formatHostPort(s), why: (e as Error).message });
      } finally {
        c.close();
      }
    }),
  );
  return { up, down };
}

/** Every key of every old server, by metadump, one server after the other. */
async function* dumpKeys(req: WarmRequest, st: WarmState): AsyncGenerator<WarmKey> {
  for (let i = 0; i < req.from.length; i++) {
    const name = formatHostPort(req.from[i]!);
    try {
      for await (const e of metadump(req.from[i]!, req.auth, req.timeoutMs)) {
        yield { key: decodeDumpKey(e.enc), source: i, captured: name, exp: e.exp };
        if (req.signal.aborted) return;
      }
    } catch (e) {
      // counts a server whose keys were never listed, not keys
      const cls = e instanceof DumpError ? `metadump of ${name} failed` : `metadump of ${name} failed: unreachable`;
      st.counts.errors[cls] = (st.counts.errors[cls] ?? 0) + 1;
      (st.examples[cls] ??= []).push((e as Error).message);
    }
  }
}

/** Items the old servers hold now (stats curr_items), for the progress bar of --all; null when unknown. */
async function itemCount(req: WarmRequest): Promise<number | null> {
  let n = 0;
  for (const f of req.from) {
    try {
      const s = await fetchStats(formatHostPort(f), req.timeoutMs, req.auth ? { ...req.auth, mech: 'ascii' } : null);
      n += s.curr_items ?? 0;
    } catch {
      return null;
    }
  }
  return n;
}

function coverageOf(rk: ReadKeys, held: Uint8Array): Coverage {
  let reads = 0;
  let keys = 0;
  rk.keys.forEach((k, i) => {
    if (held[i]) {
      reads += k.reads;
      keys++;
    }
  });
  return { requests: rk.reads ? reads / rk.reads : 0, keys: rk.keys.length ? keys / rk.keys.length : 0 };
}

/** Runs a warm-up and returns its summary. */
export async function warmRun(req: WarmRequest, unreachable: string[]): Promise<WarmReport> {
  const t0 = performance.now();
  const st = newWarmState();
  let rk: ReadKeys | null = null;
  let before: Coverage | null = null;
  let held: Uint8Array | null = null;
  const place = placement(req.to);
  const tick = (phase: string, total: number | null): NodeJS.Timeout => setInterval(() => req.progress?.(phase, st, total), 250);
  if (req.capture !== null) {
    rk = await readKeysOf(req.capture, req.serverPorts, req.anyPort, req.signal);
    req.onCapture?.(rk);
    const keyList = rk.keys;
    const destFor = (i: number): HostPort | null => {
      const k = keyList[i]!;
      return destOf(place, k.key, sourcesOf(req.from, { key: k.key, source: null, captured: k.server })[0]!);
    };
    held = await presence(keyList.map((k) => k.key), destFor, req);
    before = coverageOf(rk, held);
  }
  const heldNow = held;
  const index = new Map<string, number>();
  if (rk !== null && req.resume && !req.all) rk.keys.forEach((k, i) => index.set(k.key, i));
  const setup: WarmSetup = {
    ...req,
    knownPresent: index.size ? (key) => (heldNow !== null && index.has(key) ? heldNow[index.get(key)!] === 1 : undefined) : undefined,
  };
  const total = req.all ? await itemCount(req) : (rk?.keys.length ?? 0);
  const timer = tick('copy', total);
  try {
    const source: AsyncIterable<WarmKey> | Iterable<WarmKey> = req.all
      ? dumpKeys(req, st)
      : rk!.keys.map((k) => ({ key: k.key, source: null, captured: k.server }));
    await runWarm(setup, source, st);
  } finally {
    clearInterval(timer);
    req.progress?.('copy', st, total);
  }
  let after: Coverage | null = null;
  if (rk !== null && !req.signal.aborted) {
    const keyList = rk.keys;
    const heldAfter = await presence(
      keyList.map((k) => k.key),
      (i) => destOf(place, keyList[i]!.key, sourcesOf(req.from, { key: keyList[i]!.key, source: null, captured: keyList[i]!.server })[0]!),
      req,
    );
    if (!req.signal.aborted) after = coverageOf(rk, heldAfter);
  }
  return {
    schema: 'mcreplay.warm/1',
    mode: req.all ? 'all' : 'capture',
    capture: req.capture,
    from: req.from.map(formatHostPort),
    to: req.to.kind === 'single' ? [formatHostPort(req.to.target)] : req.to.kind === 'pool' ? req.to.members.map(formatHostPort) : [...[...req.to.map].map(([a, b]) => `${a}=${formatHostPort(b)}`), ...(req.to.fallback ? [formatHostPort(req.to.fallback)] : [])],
    rate: req.rate,
    concurrency: req.concurrency,
    resume: req.resume,
    durationS: Math.round(performance.now() - t0) / 1000,
    interrupted: req.signal.aborted,
    unreachable,
    keys: st.counts,
    examples: st.examples,
    coverage: rk === null || before === null ? null : { reads: rk.reads, distinctKeys: rk.keys.length, before, after },
  };
}
