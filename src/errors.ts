// The errors mcreplay gives the user and the exit codes they end in. An error is told apart by its
// stable `code` (like undici's UND_ERR_*), never by its message text: messages are for people and
// change; codes are for scripts and do not. README.md "Error codes" lists the same table
// (test/cli/error-codes.test.ts checks that the two agree and triggers each code through the CLI).

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

/** One error code: the exit code it ends the run with, what it means, what the user can do. */
export type ErrorCodeInfo = { exit: ExitCodeValue; meaning: string; todo: string };

/** Every error code, its exit code and its README row. Add a code here and in the README together. */
export const ERROR_CODES = {
  MCR_ERR_BAD_OPTION: {
    exit: ExitCode.usage,
    meaning: 'an option or argument is malformed, out of range, or conflicts with another',
    todo: 'fix the option the message names; `mcreplay <verb> --help` shows the forms it takes, with examples',
  },
  MCR_ERR_NO_PASSWORD: {
    exit: ExitCode.usage,
    meaning: '--sasl-user is given but MCREPLAY_SASL_PASSWORD is not set',
    todo: 'put the password in the environment variable MCREPLAY_SASL_PASSWORD (never on the command line)',
  },
  MCR_ERR_BAD_CONFIG: {
    exit: ExitCode.usage,
    meaning: 'the --config file cannot be read, is not JSON, or holds a key or value the verb does not take',
    todo: "fix the key the message names; the keys are the verb's long options",
  },
  MCR_ERR_BAD_THRESHOLD: {
    exit: ExitCode.usage,
    meaning: 'a --threshold (or --until-warm, config threshold) does not parse or names an unknown metric or command',
    todo: 'the message points at the bad spot; see "The CI gate" for the grammar',
  },
  MCR_ERR_CAPTURE_UNREADABLE: {
    exit: ExitCode.usage,
    meaning: 'the capture file does not exist, is a folder, or cannot be read',
    todo: 'give the path of a pcap/pcapng capture (or - for standard input)',
  },
  MCR_ERR_NOT_A_CAPTURE: {
    exit: ExitCode.invalidRun,
    meaning: 'the input is empty or not a pcap/pcapng capture (plain or gzip)',
    todo: 'record one with tcpdump -i any -s 0 -w prod.pcap port 11211',
  },
  MCR_ERR_PREPARED_FILE: {
    exit: ExitCode.usage,
    meaning: 'a prepared workload (.mcw) is from another mcreplay version or format, conflicts with the options given, is damaged or cut short, or was given where a capture is needed',
    todo: 'run mcreplay prepare on the capture again with this version and these options (or give the capture itself)',
  },
  MCR_ERR_NO_REQUESTS: {
    exit: ExitCode.invalidRun,
    meaning: 'the capture holds no memcached requests the verb can use (on the --port given)',
    todo: 'check --port / --any-port; `mcreplay inspect <capture>` shows what the capture holds',
  },
  MCR_ERR_RESULTS_UNREADABLE: {
    exit: ExitCode.usage,
    meaning: 'a results.json (or baseline, shard) does not exist or cannot be read',
    todo: 'give the results.json that `mcreplay replay` wrote (reports/<run-id>/results.json)',
  },
  MCR_ERR_RESULTS_INVALID: {
    exit: ExitCode.usage,
    meaning: 'a results file is not JSON, not an mcreplay results file, of another schema version, or incomplete',
    todo: 're-run the replay, or read it with the mcreplay version that wrote it',
  },
  MCR_ERR_NOT_COMPARABLE: {
    exit: ExitCode.usage,
    meaning: 'the baseline (or the shards to merge) does not match this run: other capture, rate or shard split',
    todo: 'compare runs of the same capture at the same rate (merge every shard of one run once), or pass --force',
  },
  MCR_ERR_OUTPUT_UNWRITABLE: {
    exit: ExitCode.usage,
    meaning: 'the reports folder (--out) or a results file cannot be written; nothing was sent',
    todo: 'give --out a folder you can write to',
  },
  MCR_ERR_UNSAFE_TARGET: {
    exit: ExitCode.usage,
    meaning: 'the target is a server of the capture: replaying (or writing) its own traffic into it was refused',
    todo: 'pick another target, or pass --allow-source-target if it is really meant',
  },
  MCR_ERR_LISTEN_FAILED: {
    exit: ExitCode.usage,
    meaning: 'the --metrics address cannot be listened on (port in use, no such address)',
    todo: 'pick another port or address for --metrics',
  },
  MCR_ERR_TCPDUMP: {
    exit: ExitCode.usage,
    meaning: 'tcpdump (for mirror --interface) is missing, may not capture, or names no such interface',
    todo: 'install tcpdump, run with capture rights, check --interface (tcpdump -D), or pipe a capture in on stdin',
  },
  MCR_ERR_TARGET_UNREACHABLE: {
    exit: ExitCode.targetUnreachable,
    meaning: 'a target (or server to read) refused or dropped the connection; nothing was sent',
    todo: 'check the address (--target, --pool, --from, --to) and that memcached runs there',
  },
  MCR_ERR_TARGET_NO_ANSWER: {
    exit: ExitCode.targetUnreachable,
    meaning: 'a target accepted the connection but did not answer `version` in time; nothing was sent',
    todo: 'check that it is memcached (and not overloaded); a SASL-only memcached -S needs --sasl-user',
  },
  MCR_ERR_TARGET_NOT_MEMCACHED: {
    exit: ExitCode.targetUnreachable,
    meaning: 'a target answered `version` with something memcached does not say; nothing was sent',
    todo: 'check that --target names memcached (and not another service on that port)',
  },
  MCR_ERR_TARGET_AUTH: {
    exit: ExitCode.targetUnreachable,
    meaning: 'a target requires authentication, or refused the credentials given; nothing was sent',
    todo: 'give --sasl-user and MCREPLAY_SASL_PASSWORD (binary SASL PLAIN for memcached -S, ascii auth for -Y)',
  },
} as const satisfies Record<string, ErrorCodeInfo>;
export type ErrorCode = keyof typeof ERROR_CODES;

/** An error meant for the user: what went wrong, where, and what to do; its code sets the exit code. */
export class McError extends Error {
  readonly exitCode: ExitCodeValue;
  constructor(
    message: string,
    readonly code: ErrorCode,
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'McError';
    this.exitCode = ERROR_CODES[code].exit;
  }
}

/** Whether `e` is an McError with one of `codes`: how callers tell errors apart (never by message text). */
export function hasCode(e: unknown, ...codes: ErrorCode[]): e is McError {
  return e instanceof McError && codes.includes(e.code);
}
