// Arguments every verb that reads a capture shares: the capture path and the server ports.
import { access } from 'node:fs/promises';
import { ExitCode, McError } from '../errors.js';
import { parsePorts } from './text.js';

/** --port values as numbers (default [11211]); bad usage (exit 2) when one is not a port. */
export function serverPortsOption(values: string[] | undefined): number[] {
  try {
    return parsePorts(values);
  } catch (e) {
    throw new McError((e as Error).message, ExitCode.usage);
  }
}

/** Fails with exit 2 and what to give when the capture file does not exist ('-' is standard input). */
export async function checkCaptureFile(capture: string): Promise<void> {
  if (capture === '-') return;
  await access(capture).catch(() => {
    throw new McError(`${capture}: no such file`, ExitCode.usage, 'Give the path of a pcap/pcapng capture, or - to read standard input.');
  });
}
