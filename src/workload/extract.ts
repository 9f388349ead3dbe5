// Turns reassembled capture streams into the workload model: per connection, requests paired with
// the captured responses. Capture order in, capture order out; memory is per open connection only.
import type { CaptureStats, Dir, StreamSink, TcpFlowInfo, UdpDatagram, Endpoint, CloseReason } from '../capture/types.js';
import { readCapture } from '../capture/index.js';
import { SETTLE_DOUBLE } from '../capture/packet.js';
import { copyRequestRaw, createRequestParser, createResponseMatcher, placeholderKeys, requestKeyCount, requestKeyStrings, visitRequestKeys } from '../protocol/index.js';
import type { RequestParser, ResponseMatcher, ResponseMatcherEvents } from '../protocol/index.js';
import type { ParsedRequest, ParsedResponse, RequestParserEvents } from '../protocol/types.js';
import type { CapturedOutcome, IngestOptions, WorkloadConnection, WorkloadRequest, WorkloadSink } from './model.js';
import { parseUdpFrame } from './udp-frame.js';
import { CAS_MATCHER_OPTS, CasSeen } from './cas-seen.js';

/** Problems met while turning byte streams into requests, beyond what the capture layer counts. */
export interface ExtractStats {
  /** Client bytes skipped to find the next command (after gaps, mid-way joins, garbage), by reason. */
  skippedRequestBytes: Record<string, number>;
  /** Server bytes that answered no pending request. */
  unexpectedResponseBytes: number;
  /** Server bytes on a connection joined mid-way, before its first captured request: answers to requests sent before the capture began. */
  orphanResponseBytes: number;
  /** Requests cut by a gap or by the end of the capture: at least this many were lost. */
  requestsCut: number;
  /** Bytes of incomplete requests at connection close or capture end. */
  incompleteRequestBytes: number;
  unanswered: { closed: number; desync: number; end: number };
  udpRequests: number;
  udpResponses: number;
  udpMalformed: number;
  /** Ascii authentication (memcached -Y): declared by the user, or what in the capture shows it. */
  asciiAuth: AsciiAuthStats;
}

/** What extraction knows of ascii auth (memcached -Y) in a capture. */
export interface AsciiAuthStats {
  /** The user said the captured servers ran with -Y (--ascii-auth): every connection's first `set` is credentials. */
  declared: boolean;
  /** Connections whose first `set` was held back as credentials (declared, or the server showed -Y). */
  credentialSets: number;
  /** Not declared: first `set`s of a connection whose value had the shape "user password", held back anyway. */
  shapedSets: number;
  /** Server answers that only a -Y server gives (CLIENT_ERROR unauthenticated / authentication failure). */
  authAnswers: number;
  /** Servers that gave such answers ("addr:port"); their later connections are read as -Y. */
  servers: string[];
}

/** Formats an endpoint as "addr:port", IPv6 in brackets. */
export function endpointKey(e: Endpoint): string {
  return e.addr.includes(':') ? `[${e.addr}]:${e.port}` : `${e.addr}:${e.port}`;
}

/**
 * One TCP flow's state, and the events of its request parser and response matcher: one object
 * per flow instead of a closure per event, and the parser and matcher are created on the flow's
 * first bytes in their direction (a capture of many short connections opens thousands of flows,
 * and a flow table of hundreds of thousands holds many that never carry a byte one way).
 */
class ConnState implements RequestParserEvents, ResponseMatcherEvents<WorkloadRequest> {
  seq = 0;
  lastTs: number;
  private parserOf: RequestParser | null = null;
  private matcherOf: ResponseMatcher<WorkloadRequest> | null = null;
  /**
   * Mid-way joins: a request cut at the join (its tail skipped, or only its answer seen) was
   * counted as lost. Once per connection: the tail and the answer are usually the same request.
   */
  headCounted = false;
  /** No `set` yet on this connection (ascii auth puts the credentials in the first). */
  noSetYet = true;
  /** The server's first bytes were not yet looked at for an ascii-auth answer. */
  answerUnchecked = true;
  /** The user of this connection's login (a copy), so a retried login is held back too. */
  loginUser: Buffer | null = null;

  constructor(
    readonly conn: WorkloadConnection,
    startNs: number,
    private readonly ctx: BuilderCtx,
    /** Read as ascii auth (-Y): decided when the flow opens, from what was known then. */
    private readonly asciiAuth: boolean,
  ) {
    this.lastTs = startNs;
  }

  get parser(): RequestParser {
    return (this.parserOf ??= createRequestParser(this, { asciiAuth: this.asciiAuth }));
  }

  get matcher(): ResponseMatcher<WorkloadRequest> {
    // the tokens the server hands out: a cas request is then known to carry the current one or not
    return (this.matcherOf ??= createResponseMatcher<WorkloadRequest>(this, this.ctx.casSeen !== null ? CAS_MATCHER_OPTS : {}));
  }

  /** Bytes of an incomplete request left at the end (0 when the client never sent a byte). */
  end(): number {
    return this.parserOf === null ? 0 : this.parserOf.end();
  }

  /** Pending requests are unanswered now. */
  close(): void {
    this.matcherOf?.close();
  }

  request(p: ParsedRequest, tsNs: number): void {
    const ctx = this.ctx;
    // one connection's clock never runs backwards, whatever the frame timestamps did
    const ts = tsNs < this.lastTs ? this.lastTs : tsNs;
    this.lastTs = ts;
    const r = toWorkloadRequest(p, this.conn.id, this.seq++, ts, ctx.rawMode, ctx.keyBytes, loginCredential(this, p, ctx.stats.asciiAuth));
    ctx.casSeen?.request(this.conn.serverKey, r);
    ctx.sink.request(r);
    this.matcher.expect(r, r);
  }

  skipped(bytes: number, reason: 'resync' | 'garbage' | 'oversize'): void {
    // the tail of a request that began before a mid-way join: one request we cannot replay
    if (!this.conn.synSeen && this.seq === 0 && !this.headCounted) {
      this.headCounted = true;
      this.ctx.stats.requestsCut++;
    }
    skippedBytes(this.ctx.stats, bytes, reason);
  }

  response(r: WorkloadRequest, resp: ParsedResponse, tsNs: number): void {
    this.ctx.casSeen?.answer(this.conn.serverKey, resp);
    this.ctx.sink.outcome(r, outcomeOf(r, resp, tsNs));
  }

  unanswered(r: WorkloadRequest, reason: 'closed' | 'desync'): void {
    const why = this.ctx.finishing && reason === 'closed' ? 'end' : reason;
    this.ctx.stats.unanswered[why]++;
    this.ctx.sink.outcome(r, unansweredOutcome(why));
  }

  unexpected(bytes: number): void {
    const stats = this.ctx.stats;
    if (!this.conn.synSeen && this.seq === 0) {
      // the answer to a request sent before the capture began: that request is lost to us
      if (!this.headCounted) stats.requestsCut++;
      this.headCounted = true;
      stats.orphanResponseBytes += bytes;
    } else stats.unexpectedResponseBytes += bytes;
  }
}

function newExtractStats(): ExtractStats {
  return {
    skippedRequestBytes: {},
    unexpectedResponseBytes: 0,
    orphanResponseBytes: 0,
    requestsCut: 0,
    incompleteRequestBytes: 0,
    unanswered: { closed: 0, desync: 0, end: 0 },
    udpRequests: 0,
    udpResponses: 0,
    udpMalformed: 0,
    asciiAuth: { declared: false, credentialSets: 0, shapedSets: 0, authAnswers: 0, servers: [] },
  };
}

const MAX_AUTH_VALUE = 1024;

/**
 * If a text `set` carries a value shaped like ascii auth credentials ("user password": two
 * non-empty runs of printable bytes around one space, where memcached -Y splits it), the user
 * part as a view into the request; else null.
 */
export function credentialUser(p: ParsedRequest): Buffer | null {
  if (p.proto !== 'text' || p.cmd !== 'set' || p.valueLen < 3 || p.valueLen > MAX_AUTH_VALUE) return null;
  const raw = p.raw;
  const end = raw.length - 2;
  const start = end - p.valueLen;
  if (start < 0) return null;
  let space = -1;
  for (let i = start; i < end; i++) {
    const c = raw[i]!;
    if (c === 0x20) {
      if (space >= 0 || i === start || i === end - 1) return null;
      space = i;
    } else if (c < 0x21 || c > 0x7e) return null;
  }
  return space < 0 ? null : raw.subarray(start, space);
}

// What a -Y server answers to a command before the login, and to bad credentials.
const UNAUTHENTICATED = Buffer.from('CLIENT_ERROR unauthenticated');
const AUTH_FAILURE = Buffer.from('CLIENT_ERROR authentication failure');

function startsWith(buf: Buffer, off: number, len: number, what: Buffer): boolean {
  return len >= what.length && buf.compare(what, 0, what.length, off, off + what.length) === 0;
}

/** Copies what a WorkloadRequest must own out of a parsed request whose buffers are views. */
const EMPTY = Buffer.alloc(0);
const NO_FLAGS: string[] = [];

/** What a WorkloadRequest's `raw` holds: an owned copy, a view valid during `request`, or nothing. */
export type RawMode = 'copy' | 'view' | 'none';

type KeyVisitor = ((b: Buffer, s: number, e: number) => void) | undefined;

function toWorkloadRequest(p: ParsedRequest, connId: number, seq: number, tsNs: number, rawMode: RawMode, keyBytes?: KeyVisitor, credentials = p.credentials): WorkloadRequest {
  let keys: string[];
  // meta and binary answers are matched by key (quiet gets, k flags): those keep their strings
  if (keyBytes === undefined || p.proto !== 'text') keys = requestKeyStrings(p);
  else {
    // the sink takes the keys as bytes (sink.keyBytes): no strings
    visitRequestKeys(p, keyBytes);
    keys = placeholderKeys(requestKeyCount(p));
  }
  return {
    connId,
    seq,
    tsNs,
    proto: p.proto,
    cmd: p.cmd,
    cls: credentials ? 'auth' : p.cls,
    expect: p.expect,
    quiet: p.quiet,
    keys,
    valueLen: p.valueLen,
    flags: p.flags,
    exptime: p.exptime,
    cas: p.cas,
    opaque: p.opaque,
    metaFlags: p.proto === 'meta' ? p.metaFlags : NO_FLAGS,
    credentials,
    // credentials are dropped here, at the earliest point, so nothing downstream can leak them
    raw: credentials || rawMode === 'none' ? EMPTY : rawMode === 'view' ? p.raw : copyRequestRaw(p),
  };
}

function outcomeOf(r: WorkloadRequest, resp: ParsedResponse, tsNs: number): CapturedOutcome {
  return {
    status: resp.status,
    error: resp.error,
    hits: resp.hits,
    misses: resp.misses,
    valueBytes: resp.valueBytes,
    bytes: resp.bytes,
    latencyNs: resp.status === 'none' ? null : Math.max(0, tsNs - r.tsNs),
    unanswered: null,
  };
}

function newConnection(id: number, transport: 'tcp' | 'udp', client: Endpoint, server: Endpoint, openNs: number, synSeen: boolean): WorkloadConnection {
  return { id, transport, client, server, serverKey: endpointKey(server), openNs, synSeen };
}

// Capture times outgrow small integers two seconds into a capture: settle the representation of
// the fields that hold them before anything is optimized (see SETTLE_DOUBLE in capture/packet.ts).
// The request goes through the real parser so toWorkloadRequest sees only its usual input.
{
  const nowhere: Endpoint = { addr: '', port: 0 };
  new ConnState(newConnection(0, 'tcp', nowhere, nowhere, SETTLE_DOUBLE, true), SETTLE_DOUBLE, null as unknown as BuilderCtx, false);
  createRequestParser({ request: (p) => void toWorkloadRequest(p, 0, 0, SETTLE_DOUBLE, 'none'), skipped() {} }).push(Buffer.from('version\r\n'), 0);
}

function unansweredOutcome(reason: 'closed' | 'desync' | 'end'): CapturedOutcome {
  return { status: 'unanswered', error: null, hits: 0, misses: 0, valueBytes: 0, bytes: 0, latencyNs: null, unanswered: reason };
}

/** What the parts of a workload builder share: where events go, the counts, the options, the connection ids. */
interface BuilderCtx {
  sink: WorkloadSink;
  stats: ExtractStats;
  rawMode: RawMode;
  keyBytes: KeyVisitor;
  asciiAuth: boolean;
  /** Servers whose answers showed -Y: their connections opened from then on are read as -Y. */
  authServers: Set<string>;
  nextConnId: number;
  /** The capture is ending: a flow closed now is cut by the end, not closed by its peers. */
  finishing: boolean;
  /**
   * Tokens the captured servers handed out: marks cas requests with a stale token (cas-seen.ts);
   * null where keys arrive as bytes (inspect's tallies: nothing is replayed).
   */
  casSeen: CasSeen | null;
}

/**
 * Whether a text `set` is ascii-auth credentials (memcached -Y puts them in a connection's first
 * set): declared with --ascii-auth, or looking like a login; a later set by the same user (a retry
 * after a refused password) is too.
 */
function loginCredential(st: ConnState, p: ParsedRequest, auth: ExtractStats['asciiAuth']): boolean {
  let cred = p.credentials;
  if (p.cmd !== 'set' || p.proto !== 'text' || !(st.noSetYet || st.loginUser !== null)) return cred;
  const user = credentialUser(p);
  if (st.noSetYet) {
    st.noSetYet = false;
    if (cred) auth.credentialSets++;
    else if (user !== null) {
      // not declared, but a login is what it looks like: never risk replaying it
      cred = true;
      auth.shapedSets++;
    }
    if (cred && user !== null) st.loginUser = Buffer.from(user);
  } else if (user !== null && user.equals(st.loginUser!)) {
    // the same user logging in again (after a refused password) on the same connection
    cred = true;
    auth.credentialSets++;
  }
  return cred;
}

/** A new TCP connection's state; its request parser and response matcher come with its first bytes. */
function openTcp(ctx: BuilderCtx, flow: TcpFlowInfo): ConnState {
  const conn = newConnection(ctx.nextConnId++, 'tcp', flow.client, flow.server, flow.startNs, flow.synSeen);
  const st = new ConnState(conn, flow.startNs, ctx, ctx.asciiAuth || ctx.authServers.has(conn.serverKey));
  ctx.sink.connection(conn);
  return st;
}

function skippedBytes(stats: ExtractStats, bytes: number, reason: string): void {
  stats.skippedRequestBytes[reason] = (stats.skippedRequestBytes[reason] ?? 0) + bytes;
}

type UdpPending = { req: WorkloadRequest; matcher: ResponseMatcher<WorkloadRequest> };
type UdpConn = { conn: WorkloadConnection; seq: number; lastTs: number; pending: Map<number, UdpPending> };

/** The UDP side of a workload builder: one connection per client/server pair, answers matched by request id. */
function udpBuilder(ctx: BuilderCtx): { datagram(d: UdpDatagram): void; finish(): void } {
  const { sink, stats } = ctx;
  const udpConns = new Map<string, UdpConn>();

  /** A request datagram: a whole request, read by a fresh parser so that datagrams stay independent. */
  function request(uc: UdpConn, d: UdpDatagram, requestId: number, body: Buffer): void {
    const parser = createRequestParser({
      request(p) {
        stats.udpRequests++;
        const ts = d.tsNs < uc.lastTs ? uc.lastTs : d.tsNs;
        uc.lastTs = ts;
        const r = toWorkloadRequest(p, uc.conn.id, uc.seq++, ts, ctx.rawMode, ctx.keyBytes);
        sink.request(r);
        const matcher = createResponseMatcher<WorkloadRequest>({
          response(req, resp, tsNs) {
            uc.pending.delete(requestId);
            sink.outcome(req, outcomeOf(req, resp, tsNs));
          },
          unanswered(req, reason) {
            stats.unanswered[reason]++;
            sink.outcome(req, unansweredOutcome(reason));
          },
          unexpected(bytes) {
            stats.unexpectedResponseBytes += bytes;
          },
        });
        matcher.expect(r, r);
        const old = uc.pending.get(requestId);
        if (old !== undefined) old.matcher.close();
        uc.pending.set(requestId, { req: r, matcher });
      },
      skipped: (bytes, reason) => skippedBytes(stats, bytes, reason),
    });
    parser.push(body, d.tsNs);
    if (parser.end() > 0) stats.udpMalformed++;
  }

  function datagram(d: UdpDatagram): void {
    const frame = parseUdpFrame(d.payload);
    if (frame === null) {
      stats.udpMalformed++;
      return;
    }
    const key = `${endpointKey(d.client)}>${endpointKey(d.server)}`;
    let u = udpConns.get(key);
    if (u === undefined) {
      const conn = newConnection(ctx.nextConnId++, 'udp', d.client, d.server, d.tsNs, true);
      u = { conn, seq: 0, lastTs: d.tsNs, pending: new Map() };
      udpConns.set(key, u);
      sink.connection(conn);
    }
    if (d.dir === 0) request(u, d, frame.requestId, frame.body);
    else {
      stats.udpResponses++;
      const p = u.pending.get(frame.requestId);
      if (p === undefined) stats.unexpectedResponseBytes += frame.body.length;
      else p.matcher.push(frame.body, d.tsNs);
    }
  }

  /** UDP requests still pending at the end of the capture are unanswered. */
  function finish(): void {
    for (const u of udpConns.values()) {
      for (const p of u.pending.values()) p.matcher.close();
      u.pending.clear();
    }
  }
  return { datagram, finish };
}

/**
 * Builds the StreamSink that turns capture streams into workload events. Exposed apart from
 * extractWorkload so benches and tests can drive it from in-memory capture bytes.
 */
export function createWorkloadBuilder(sink: WorkloadSink, rawMode: RawMode = 'copy', asciiAuth = false): { streams: StreamSink; stats: ExtractStats; finish(): void } {
  const stats = newExtractStats();
  stats.asciiAuth.declared = asciiAuth;
  const ctx: BuilderCtx = { sink, stats, rawMode, keyBytes: sink.keyBytes?.bind(sink), asciiAuth, authServers: new Set(), nextConnId: 0, finishing: false, casSeen: sink.keyBytes === undefined ? new CasSeen() : null };
  const conns = new Map<number, ConnState>();
  const udp = udpBuilder(ctx);

  function open(flow: TcpFlowInfo): void {
    conns.set(flow.id, openTcp(ctx, flow));
  }

  function data(flowId: number, dir: Dir, buf: Buffer, tsNs: number): void {
    const st = conns.get(flowId);
    if (st === undefined) return;
    if (dir === 0) st.parser.push(buf, tsNs);
    else {
      if (st.answerUnchecked) checkAnswer(st, buf, 0, buf.length);
      st.matcher.push(buf, tsNs);
    }
  }

  /** Looks at the start of a server's first answer for what only a -Y server says. */
  function checkAnswer(st: ConnState, buf: Buffer, off: number, len: number): void {
    st.answerUnchecked = false;
    if (!startsWith(buf, off, len, UNAUTHENTICATED) && !startsWith(buf, off, len, AUTH_FAILURE)) return;
    stats.asciiAuth.authAnswers++;
    const key = st.conn.serverKey;
    if (!ctx.authServers.has(key)) {
      ctx.authServers.add(key);
      stats.asciiAuth.servers.push(key);
    }
  }

  function dataAt(flowId: number, dir: Dir, buf: Buffer, offset: number, length: number, tsNs: number): void {
    const st = conns.get(flowId);
    if (st === undefined) return;
    if (dir === 0) st.parser.pushRange(buf, offset, offset + length, tsNs);
    else {
      if (st.answerUnchecked) checkAnswer(st, buf, offset, length);
      st.matcher.pushRange(buf, offset, offset + length, tsNs);
    }
  }

  function gap(flowId: number, dir: Dir, bytes: number, _tsNs: number): void {
    const st = conns.get(flowId);
    if (st === undefined) return;
    if (dir === 0) {
      // a gap after the first byte of a known stream almost surely cut a request in two
      if (bytes !== 0 && st.seq > 0) stats.requestsCut++;
      st.parser.desync();
    } else {
      st.matcher.desync();
    }
  }

  function close(flowId: number, tsNs: number, reason: CloseReason): void {
    const st = conns.get(flowId);
    if (st === undefined) return;
    conns.delete(flowId);
    // a flow still open when the capture ends: its pending answers were never captured
    ctx.finishing = reason === 'end';
    const left = st.end();
    if (left > 0) {
      stats.incompleteRequestBytes += left;
      stats.requestsCut++;
    }
    st.close();
    sink.close(st.conn.id, tsNs, reason);
  }

  function finish(): void {
    ctx.finishing = true; // UDP requests still pending at the end
    udp.finish();
  }

  return { streams: { open, data, dataAt, gap, close, datagram: udp.datagram }, stats, finish };
}

/** What extraction found besides the workload events themselves. */
export interface ExtractResult {
  capture: CaptureStats;
  extract: ExtractStats;
}

/** Streams a capture file ('-' = stdin, gzip detected by content) into the sink, in capture order. */
export async function extractWorkload(input: string, opts: IngestOptions, sink: WorkloadSink, signal?: AbortSignal): Promise<ExtractResult> {
  const builder = createWorkloadBuilder(sink, opts.keepRaw === false ? 'none' : opts.rawView === true ? 'view' : 'copy', opts.asciiAuth === true);
  const ready = sink.ready?.bind(sink);
  const capture = await readCapture(
    input,
    { serverPorts: opts.serverPorts, followSynDirection: opts.anyPort === true },
    builder.streams,
    { ready, signal },
  );
  builder.finish();
  return { capture, extract: builder.stats };
}
