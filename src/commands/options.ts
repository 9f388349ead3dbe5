// Option value helpers the verbs share.
import { McError } from '../errors.js';

/** Commander accumulator for a repeatable option. */
export const collect = (v: string, prev: string[] | undefined): string[] => [...(prev ?? []), v];

/** A whole number from `min` to `max`, or bad usage (exit 2) naming the option. */
export function intOption(v: string, name: string, min: number, max: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new McError(`${name} ${v}: expected a whole number from ${min} to ${max}`, 'MCR_ERR_BAD_OPTION');
  return n;
}
