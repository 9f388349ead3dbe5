// Target options of `replay`: one target for everything (`--target host:port`), a mapping per
// captured server (`--target captured=new`, repeatable), or a pool with a client hashing scheme
// (`--pool a:11211,b:11211 --hash ketama`). Parsing and validation only; no sockets.
import { isIP } from 'node:net';
import { McError } from '../errors.js';
import type { TargetDesc } from '../metrics/results-types.js';
import { HASH_KINDS, type HashKind, type PoolMember } from './hashing.js';

/** A server address: host as written (IPv6 without brackets, canonical RFC 5952 text) and port. */
export type HostPort = PoolMember;

/** Where replayed traffic goes. */
export type TargetPlan =
  | { kind: 'single'; target: HostPort }
  /** Per captured server ("addr:port" as in WorkloadConnection.serverKey); `fallback` takes the unmapped ones, or null. */
  | { kind: 'map'; map: Map<string, HostPort>; fallback: HostPort | null }
  | { kind: 'pool'; members: HostPort[]; hash: HashKind };

/** Raw option values as commander gives them. */
export interface TargetOptions {
  target?: string[] | string;
  pool?: string;
  hash?: string;
}

const DEFAULT_PORT = 11211;

function usage(msg: string, hint?: string): McError {
  return new McError(msg, 'MCR_ERR_BAD_OPTION', hint);
}

function canonicalHost(host: string): string {
  if (isIP(host) === 6) return new URL(`http://[${host}]/`).hostname.slice(1, -1);
  return host.toLowerCase();
}

/**
 * Parses "host:port", "[v6]:port", "host" (port 11211) or "[v6]". `option` names the option for the
 * error message.
 */
export function parseHostPort(text: string, option: string): HostPort {
  const s = text.trim();
  const bad = (why: string): McError => usage(`${option} ${JSON.stringify(text)}: ${why}`, 'expected host:port, e.g. 10.0.0.5:11211, cache1:11211 or [::1]:11211');
  if (s === '') throw bad('empty address');
  let host: string;
  let portText: string | null;
  if (s.startsWith('[')) {
    const close = s.indexOf(']');
    if (close < 0) throw bad('missing "]" after an IPv6 address');
    host = s.slice(1, close);
    const rest = s.slice(close + 1);
    if (rest === '') portText = null;
    else if (rest.startsWith(':')) portText = rest.slice(1);
    else throw bad(`unexpected ${JSON.stringify(rest)} after "]"`);
    if (isIP(host) !== 6) throw bad(`${JSON.stringify(host)} is not an IPv6 address`);
  } else {
    const colons = s.split(':').length - 1;
    if (colons > 1) throw bad('an IPv6 address needs brackets: [addr]:port');
    if (colons === 1) {
      host = s.slice(0, s.indexOf(':'));
      portText = s.slice(s.indexOf(':') + 1);
    } else {
      host = s;
      portText = null;
    }
    if (host === '') throw bad('missing host');
    if (!/^[A-Za-z0-9._-]+$/.test(host)) throw bad(`${JSON.stringify(host)} is not a host name or address`);
  }
  let port = DEFAULT_PORT;
  if (portText !== null) {
    if (!/^\d{1,5}$/.test(portText)) throw bad(`port ${JSON.stringify(portText)} is not a number`);
    port = Number(portText);
    if (port < 1 || port > 65535) throw bad(`port ${port} is out of range 1-65535`);
  }
  return { host: canonicalHost(host), port };
}

/** "host:port", IPv6 as "[addr]:port" (the form of WorkloadConnection.serverKey). */
export function formatHostPort(hp: HostPort): string {
  return hp.host.includes(':') ? `[${hp.host}]:${hp.port}` : `${hp.host}:${hp.port}`;
}

/** A server the user names (--server) in the form of WorkloadConnection.serverKey; bad usage (exit 2) names `option`. */
export function serverKeyOf(text: string, option: string): string {
  return formatHostPort(parseHostPort(text, option));
}

/** A server list with optional weights (null when no member has one). */
export interface MemberList {
  members: HostPort[];
  weights: number[] | null;
}

/**
 * Parses a comma-separated server list, each "host", "host:port" or "host:port:weight" (weight as
 * libmemcached's server strings write it; IPv6 as "[addr]:port:weight"). A member without a weight
 * weighs 1. Duplicates are refused.
 */
export function parseMemberList(text: string, option: string): MemberList {
  const parts = text.split(',').map((p) => p.trim());
  if (parts.some((p) => p === '')) throw usage(`${option} ${JSON.stringify(text)}: empty member`, `expected a comma-separated list: ${option} a:11211,b:11211`);
  const members: HostPort[] = [];
  const weights: number[] = [];
  let weighted = false;
  const seen = new Set<string>();
  for (const p of parts) {
    const close = p.lastIndexOf(']');
    const tail = p.slice(close + 1);
    let addr = p;
    let w = 1;
    if (tail.split(':').length === 3) {
      const cut = p.lastIndexOf(':');
      const wt = p.slice(cut + 1);
      if (!/^\d{1,6}$/.test(wt) || Number(wt) < 1) throw usage(`${option} ${JSON.stringify(p)}: weight ${JSON.stringify(wt)} is not a positive whole number`, 'write a weighted member as host:port:weight, e.g. cache1:11211:2');
      w = Number(wt);
      weighted = true;
      addr = p.slice(0, cut);
    }
    const m = parseHostPort(addr, option);
    const k = formatHostPort(m);
    if (seen.has(k)) throw usage(`${option} ${JSON.stringify(text)}: ${k} is listed twice`);
    seen.add(k);
    members.push(m);
    weights.push(w);
  }
  return { members, weights: weighted ? weights : null };
}

/** Parses a hash scheme name (`--hash`). */
export function parseHashKind(text: string): HashKind {
  const k = text.trim().toLowerCase();
  if ((HASH_KINDS as readonly string[]).includes(k)) return k as HashKind;
  throw usage(
    `--hash ${JSON.stringify(text)}: unknown hashing scheme`,
    'use modulo (libmemcached default), crc32 (python-memcached), ketama (libmemcached ketama_weighted / libketama), consistent (libmemcached KETAMA without weights, pylibmc ketama) or rendezvous (pymemcache HashClient)',
  );
}

/** Validates and combines --target / --pool / --hash into a plan. */
export function parseTargets(opts: TargetOptions): TargetPlan {
  const targets = opts.target === undefined ? [] : Array.isArray(opts.target) ? opts.target : [opts.target];
  if (opts.pool !== undefined) {
    if (targets.length > 0) throw usage('--pool and --target cannot be combined', 'give either one --pool list, or --target options');
    const parts = opts.pool.split(',').map((p) => p.trim());
    if (parts.some((p) => p === '')) throw usage(`--pool ${JSON.stringify(opts.pool)}: empty member`, 'expected a comma-separated list: --pool a:11211,b:11211');
    const members = parts.map((p) => parseHostPort(p, '--pool'));
    const seen = new Set<string>();
    for (const m of members) {
      const k = formatHostPort(m);
      if (seen.has(k)) throw usage(`--pool ${JSON.stringify(opts.pool)}: ${k} is listed twice`);
      seen.add(k);
    }
    return { kind: 'pool', members, hash: opts.hash === undefined ? 'modulo' : parseHashKind(opts.hash) };
  }
  if (opts.hash !== undefined) throw usage(`--hash ${JSON.stringify(opts.hash)} needs --pool`, 'hashing picks a member of a pool: --pool a:11211,b:11211 --hash ketama');
  if (targets.length === 0) throw usage('no target: give --target host:port (or --pool)', 'e.g. --target 127.0.0.1:11211');
  const map = new Map<string, HostPort>();
  let fallback: HostPort | null = null;
  for (const t of targets) {
    const eq = t.indexOf('=');
    if (eq < 0) {
      if (fallback) throw usage(`--target ${JSON.stringify(t)}: a second target for everything (already ${formatHostPort(fallback)})`, 'map captured servers with --target captured:port=new:port');
      fallback = parseHostPort(t, '--target');
      continue;
    }
    const from = parseHostPort(t.slice(0, eq), '--target');
    const to = parseHostPort(t.slice(eq + 1), '--target');
    const key = formatHostPort(from);
    if (map.has(key)) throw usage(`--target ${JSON.stringify(t)}: captured server ${key} is mapped twice`);
    map.set(key, to);
  }
  if (map.size === 0) return { kind: 'single', target: fallback! };
  return { kind: 'map', map, fallback };
}

/**
 * The target for connections to captured server `serverKey` ("addr:port"); null when a mapping
 * plan has no entry and no fallback for it. For pools, use pool.ts instead.
 */
export function targetFor(plan: TargetPlan, serverKey: string): HostPort | null {
  if (plan.kind === 'single') return plan.target;
  if (plan.kind === 'map') {
    let key = serverKey;
    try {
      key = formatHostPort(parseHostPort(serverKey, 'captured server'));
    } catch {
      /* keep as is */
    }
    return plan.map.get(key) ?? plan.fallback;
  }
  return null;
}

/** Every distinct target address of a plan. */
export function targetAddresses(plan: TargetPlan): HostPort[] {
  const all = plan.kind === 'single' ? [plan.target] : plan.kind === 'pool' ? plan.members : [...plan.map.values(), ...(plan.fallback ? [plan.fallback] : [])];
  const seen = new Map<string, HostPort>();
  for (const hp of all) seen.set(formatHostPort(hp), hp);
  return [...seen.values()];
}

/** results.json's target list: each target and the captured servers sent to it ("*" for all). */
export function describeTargets(plan: TargetPlan): TargetDesc[] {
  if (plan.kind === 'single') return [{ target: formatHostPort(plan.target), from: ['*'] }];
  if (plan.kind === 'pool') return plan.members.map((m) => ({ target: formatHostPort(m), from: ['*'] }));
  const by = new Map<string, string[]>();
  for (const [from, to] of plan.map) {
    const k = formatHostPort(to);
    by.set(k, [...(by.get(k) ?? []), from]);
  }
  if (plan.fallback) {
    const k = formatHostPort(plan.fallback);
    by.set(k, [...(by.get(k) ?? []), '*']);
  }
  return [...by].map(([target, from]) => ({ target, from }));
}

/** True for loopback hosts: 127.0.0.0/8, ::1, ::ffff:127.x, "localhost" and *.localhost. */
export function isLoopback(host: string): boolean {
  let h = host.trim().toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) {
    const c = canonicalHost(h);
    if (c === '::1') return true;
    const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(c);
    if (m) return m[1]!.startsWith('127.');
    // URL canonicalisation writes a mapped IPv4 in hex: ::ffff:7f00:1
    const hx = /^::ffff:([0-9a-f]{1,4}):[0-9a-f]{1,4}$/.exec(c);
    if (hx) return parseInt(hx[1]!, 16) >> 8 === 127;
  }
  return false;
}
