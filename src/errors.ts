/** Exit codes shared by every verb (k6-compatible where k6 has one). */
export const ExitCode = {
  ok: 0,
  usage: 2, // bad usage or config
  targetUnreachable: 3,
  invalidRun: 4, // generator saturated, capture not replayable
  thresholdFailed: 99,
  sigint: 130,
  sigterm: 143,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** An error meant for the user: what went wrong, where, and what to do; carries its exit code. */
export class McError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCodeValue = ExitCode.usage,
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'McError';
  }
}
