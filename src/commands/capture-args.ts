// Arguments every verb that reads a capture shares: the capture path and the server ports.
import { stat } from 'node:fs/promises';
import { McError } from '../errors.js';

/** --port values as numbers (default [11211]): a port list option ("11211,11212" or repeated); bad usage (exit 2) on a bad port. */
export function parsePorts(values: string[] | string | undefined, option = '--port'): number[] {
  const list = (Array.isArray(values) ? values : values === undefined ? [] : [values]).flatMap((v) => v.split(','));
  if (list.length === 0) return [11211];
  return list.map((v) => {
    const n = Number(v.trim());
    if (!Number.isInteger(n) || n < 1 || n > 65535) throw new McError(`${option} ${v}: not a TCP port (1-65535)`, 'MCR_ERR_BAD_OPTION');
    return n;
  });
}

/** Fails with exit 2 and what to give when the capture file does not exist or is a folder ('-' is standard input). */
export async function checkCaptureFile(capture: string): Promise<void> {
  if (capture === '-') return;
  const st = await stat(capture).catch(() => {
    throw new McError(`${capture}: no such file`, 'MCR_ERR_CAPTURE_UNREADABLE', 'Give the path of a pcap/pcapng capture, or - to read standard input.');
  });
  if (st.isDirectory()) throw new McError(`${capture}: is a directory, not a capture file`, 'MCR_ERR_CAPTURE_UNREADABLE', 'Give the path of a pcap/pcapng capture file in it.');
}
