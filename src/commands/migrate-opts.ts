// Options shared by the migration verbs (warm, keys, top): server lists and credentials.
import { McError } from '../errors.js';
import type { AuthCred } from '../protocol/auth.js';
import { formatHostPort, parseHostPort, type HostPort } from '../topology/targets.js';

/** Parses servers given comma-separated and/or repeated ("a:11211,b:11211"); duplicates are refused. */
export function serverList(values: string[] | string | undefined, option: string): HostPort[] {
  const list = (Array.isArray(values) ? values : values === undefined ? [] : [values]).flatMap((v) => v.split(',')).map((v) => v.trim());
  const out: HostPort[] = [];
  const seen = new Set<string>();
  for (const v of list) {
    if (v === '') throw new McError(`${option}: empty server in ${JSON.stringify(values)}`, 'MCR_ERR_BAD_OPTION', 'expected host:port, comma-separated');
    const hp = parseHostPort(v, option);
    const k = formatHostPort(hp);
    if (seen.has(k)) throw new McError(`${option}: ${k} is listed twice`, 'MCR_ERR_BAD_OPTION');
    seen.add(k);
    out.push(hp);
  }
  return out;
}

/** Credentials for --sasl-user, the password from MCREPLAY_SASL_PASSWORD; null without --sasl-user. */
export function saslAuth(user: string | undefined): AuthCred | null {
  if (user === undefined) return null;
  const password = process.env.MCREPLAY_SASL_PASSWORD;
  if (password === undefined) {
    throw new McError('--sasl-user needs the password in the environment variable MCREPLAY_SASL_PASSWORD', 'MCR_ERR_NO_PASSWORD', 'the password is never taken from the command line, where other users could see it');
  }
  return { user, password };
}

/** Parses a positive integer option within [min, max]. */
export function intOpt(text: string, option: string, min: number, max: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) throw new McError(`${option} ${text}: expected a whole number from ${min} to ${max}`, 'MCR_ERR_BAD_OPTION');
  return n;
}

/** A one-line progress bar: "[#####.....]  52.0 %". */
export function progressBar(done: number, total: number | null, width = 24): string {
  if (total === null || total <= 0) return `[${'?'.repeat(width)}]`;
  const r = Math.min(1, done / total);
  const n = Math.round(r * width);
  return `[${'#'.repeat(n)}${'.'.repeat(width - n)}] ${(r * 100).toFixed(1).padStart(5)} %`;
}
