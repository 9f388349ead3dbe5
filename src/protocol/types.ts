// Contracts of the memcached protocol layer: incremental request and response framing for the
// text, meta and binary protocols. No sockets, no capture knowledge: Buffers in, records out.

export type Proto = 'text' | 'meta' | 'binary';

/** Broad class of a command; drives read-only filtering, safety holds and reporting. */
export type CommandClass =
  | 'read' // get, gets, mg, binary get*, gat/gats/touch count as 'touch'
  | 'write' // set/add/replace/append/prepend/cas, ms, binary set* ...
  | 'delete'
  | 'arith' // incr/decr, ma
  | 'touch' // touch, gat, gats, binary touch/gat
  | 'info' // stats, version, noop, mn, me, verbosity-less harmless ones
  | 'destructive' // flush_all, shutdown, verbosity, slabs, lru_crawler, cache_memlimit, watch, lru ...
  | 'auth' // SASL list/auth/step, ascii "auth" set, never replayed
  | 'session' // quit
  | 'unknown';

/** What a request expects back, as the response matcher needs it. */
export type Expect =
  | 'none' // noreply / quiet with nothing to say
  | 'line' // one status line (STORED, DELETED, a number, VERSION x, OK, ...)
  | 'values' // VALUE blocks then END (text get family)
  | 'stats' // STAT lines then END, or binary stat packets ending with an empty key
  | 'meta' // one meta response (HD/VA/EN/NF/NS/EX/MN/ME ...), or none if quiet and the result is the quiet one
  | 'binary'; // binary packets matched by opcode/opaque; quiet ones answer only on miss/error/hit as the opcode says

/**
 * A parsed request. Buffers are views into the chunk being parsed unless said otherwise: valid only
 * during the callback. `raw` is the complete request (command line or header, and data block).
 */
export interface ParsedRequest {
  proto: Proto;
  /** Canonical name: text/meta names as typed ("get", "mg"); binary by opcode name ("getkq", "setq", "noop", "sasl_auth"). */
  cmd: string;
  cls: CommandClass;
  expect: Expect;
  /** Keys in request order (text multi-get has several). Meta base64 keys ('b' flag) are decoded. */
  keys: Buffer[];
  /** True for text noreply, binary quiet opcodes, meta 'q' flag. */
  quiet: boolean;
  /** Data block / value length (0 when none). */
  valueLen: number;
  flags: number;
  /** Expiry as sent (seconds; > 30 days means absolute unix time); -1 when the command has none. */
  exptime: number;
  /** CAS unique as sent (text cas, binary cas field, meta C flag); 0n when none. */
  cas: bigint;
  /** Binary opaque or meta O token as a number (meta opaque hashed if not numeric); -1 when none. */
  opaque: number;
  /** Meta flags as ASCII tokens without the key ("v", "t", "q", "O123", "T30" ...); empty otherwise. */
  metaFlags: string[];
  /** True when the request carries credentials (SASL auth/step, ascii auth set). Never print its raw bytes. */
  credentials: boolean;
  raw: Buffer;
}

/** Errors a response can show, in the classes the reports count. */
export type ResponseErrorClass = 'ERROR' | 'CLIENT_ERROR' | 'SERVER_ERROR' | null;

/** The outcome of one request, once its response (or the proof there is none) is complete. */
export interface ParsedResponse {
  /** Status word: STORED, NOT_STORED, EXISTS, NOT_FOUND, DELETED, TOUCHED, END, VALUE, HD, VA, EN, NF, NS, EX, MN, OK, a number for incr/decr, binary status name ("no_error", "key_not_found" ...), "none" for a quiet request answered by silence. */
  status: string;
  error: ResponseErrorClass;
  /** For reads: keys found and keys missed (multi-get counts per key). 0/0 for non-reads. */
  hits: number;
  misses: number;
  /** Sum of value bytes returned. */
  valueBytes: number;
  /** Total response bytes on the wire. */
  bytes: number;
  /** CAS uniques handed out by the server (gets/gats VALUE lines, mg 'c', binary cas), key → cas. Filled only when `wantCas` was asked. */
  casByKey?: Map<string, bigint>;
}

export interface RequestParserEvents {
  /** A complete request. `tsNs` is the time of the chunk holding its first byte. */
  request(req: ParsedRequest, tsNs: number): void;
  /** Bytes skipped while (re)synchronising or that never formed a request, with the reason. */
  skipped(bytes: number, reason: 'resync' | 'garbage' | 'oversize'): void;
}

/** Options for both parsers. */
export interface ParserOptions {
  /** Largest value accepted in a data block before treating the stream as garbage (default 1 GiB). */
  maxValueLen?: number;
  /** Collect cas tokens per key into responses (replay needs it; ingest does not). */
  wantCas?: boolean;
}
