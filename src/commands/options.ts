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

const PRIORITY_MODES = ['auto', 'realtime', 'nice', 'normal'] as const;

/** --priority: the sending threads' scheduling (see replay/priority.ts). */
export function priorityOption(v: string | undefined): (typeof PRIORITY_MODES)[number] {
  if (v === undefined) return 'auto';
  const m = PRIORITY_MODES.find((p) => p === v);
  if (m === undefined) throw new McError(`--priority must be one of ${PRIORITY_MODES.join(', ')} (got '${v}')`, 'MCR_ERR_BAD_OPTION');
  return m;
}

/** The --priority option's help text (replay and mirror). */
export const PRIORITY_HELP =
  'how the sending threads ask for the CPU: auto (SCHED_FIFO where permitted and a core stays free, on timed replays; else a nice boost), realtime, nice, normal';
