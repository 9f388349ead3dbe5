// `top`: samples `stats` on every server each interval and turns two samples into the rates a
// migration watches (gets/s, sets/s, interval hit ratio, evictions/s, bytes/s) beside the levels
// (items, bytes, fill of limit_maxbytes, connections). A server that does not answer is "down" and
// the others go on.
import { fetchStats, PollAuthRefused, type PollAuth } from '../metrics/stats-poller.js';
import type { AuthCred } from '../protocol/auth.js';
import { formatHostPort, type HostPort } from '../topology/targets.js';

/** One server's row (or a group's totals). Rates are null until two samples exist. */
export interface TopRow {
  server: string;
  up: boolean;
  /** Why the server is down. */
  error: string | null;
  getsPerS: number | null;
  setsPerS: number | null;
  /** get_hits / cmd_get over the interval; null without gets. */
  hitRatio: number | null;
  items: number | null;
  bytes: number | null;
  limitBytes: number | null;
  /** bytes / limit_maxbytes. */
  fill: number | null;
  evictionsPerS: number | null;
  connections: number | null;
  readBytesPerS: number | null;
  writeBytesPerS: number | null;
}

interface Sample {
  tMs: number;
  v: Record<string, number>;
}

/** Polls one server: remembers the previous sample and how the server takes credentials. */
export class ServerWatch {
  readonly name: string;
  private prev: Sample | null = null;
  private mech: 'sasl' | 'ascii' | null = null;

  constructor(
    readonly server: HostPort,
    private readonly auth: AuthCred | null,
  ) {
    this.name = formatHostPort(server);
  }

  private async stats(timeoutMs: number): Promise<Record<string, number>> {
    if (this.auth === null) return fetchStats(this.name, timeoutMs);
    // a binary-only SASL server (-S) and a text-only ascii-auth one (-Y) each refuse the other's
    // way in; the one that worked is remembered
    const tries: ('sasl' | 'ascii')[] = this.mech ? [this.mech] : ['sasl', 'ascii'];
    let last: Error | null = null;
    for (const mech of tries) {
      const a: PollAuth = { ...this.auth, mech };
      try {
        const s = await fetchStats(this.name, timeoutMs, a);
        this.mech = mech;
        return s;
      } catch (e) {
        last = e as Error;
        if (e instanceof PollAuthRefused && mech === 'ascii') break;
      }
    }
    this.mech = null;
    throw last!;
  }

  /** Takes a sample and returns the row against the previous one. */
  async poll(timeoutMs: number): Promise<TopRow> {
    let v: Record<string, number>;
    try {
      v = await this.stats(timeoutMs);
    } catch (e) {
      this.prev = null;
      return downRow(this.name, (e as Error).message.replace(`stats ${this.name}: `, ''));
    }
    const cur: Sample = { tMs: performance.now(), v };
    const row = rowOf(this.name, this.prev, cur);
    this.prev = cur;
    return row;
  }
}

function downRow(server: string, error: string): TopRow {
  return { server, up: false, error, getsPerS: null, setsPerS: null, hitRatio: null, items: null, bytes: null, limitBytes: null, fill: null, evictionsPerS: null, connections: null, readBytesPerS: null, writeBytesPerS: null };
}

/** The row of two consecutive samples (rates null for the first). */
export function rowOf(server: string, prev: Sample | null, cur: Sample): TopRow {
  const v = cur.v;
  const dt = prev ? (cur.tMs - prev.tMs) / 1000 : 0;
  // a restarted server's counters go back to zero: no rate for that interval
  const rate = (name: string): number | null => {
    if (prev === null || dt <= 0 || v[name] === undefined || prev.v[name] === undefined) return null;
    const d = v[name]! - prev.v[name]!;
    return d < 0 ? null : d / dt;
  };
  const gets = rate('cmd_get');
  const hits = rate('get_hits');
  const limit = v.limit_maxbytes ?? null;
  return {
    server,
    up: true,
    error: null,
    getsPerS: gets,
    setsPerS: rate('cmd_set'),
    hitRatio: gets !== null && hits !== null && gets > 0 ? hits / gets : null,
    items: v.curr_items ?? null,
    bytes: v.bytes ?? null,
    limitBytes: limit,
    fill: limit && v.bytes !== undefined ? v.bytes / limit : null,
    evictionsPerS: rate('evictions'),
    connections: v.curr_connections ?? null,
    readBytesPerS: rate('bytes_read'),
    writeBytesPerS: rate('bytes_written'),
  };
}

/** Totals of a group of rows: sums of rates and levels, the hit ratio weighted by gets. */
export function groupRow(name: string, rows: TopRow[]): TopRow {
  const up = rows.filter((r) => r.up);
  const sum = (f: (r: TopRow) => number | null): number | null => {
    const xs = up.map(f).filter((x): x is number => x !== null);
    return xs.length ? xs.reduce((a, b) => a + b, 0) : null;
  };
  const gets = sum((r) => r.getsPerS);
  const hits = sum((r) => (r.getsPerS !== null && r.hitRatio !== null ? r.getsPerS * r.hitRatio : r.getsPerS !== null ? 0 : null));
  const bytes = sum((r) => r.bytes);
  const limit = sum((r) => r.limitBytes);
  const down = rows.length - up.length;
  return {
    server: name,
    up: up.length > 0,
    error: down ? `${down} of ${rows.length} down` : null,
    getsPerS: gets,
    setsPerS: sum((r) => r.setsPerS),
    hitRatio: gets !== null && gets > 0 && hits !== null ? hits / gets : null,
    items: sum((r) => r.items),
    bytes,
    limitBytes: limit,
    fill: bytes !== null && limit ? bytes / limit : null,
    evictionsPerS: sum((r) => r.evictionsPerS),
    connections: sum((r) => r.connections),
    readBytesPerS: sum((r) => r.readBytesPerS),
    writeBytesPerS: sum((r) => r.writeBytesPerS),
  };
}
