// The life cycle around one run of the engine that `replay` and `mirror` share: SIGINT/SIGTERM stop
// the run (its results are still written; a second signal exits at once), the `stats` poller runs
// from the first request to the end, and anything watching the run (the gate's --abort-on-fail,
// --until-warm) can stop it early.
import { StatsPoller } from '../metrics/stats-poller.js';
import { runReplay, type ReplayOutcome, type ReplaySetup } from './coordinator.js';
import { STOP_DRAIN } from './run-control.js';

export type StopSignal = 'SIGINT' | 'SIGTERM';

export interface SessionOptions {
  /** The targets by name, for the stats poller. */
  targetNames: string[];
  /** Poll `stats` on every target this often (ns), or null for no polling. */
  pollNs: number | null;
  /** Told of the first signal, before the run stops. */
  onSignal(s: StopSignal): void;
  /** The exit code of a second signal (which exits at once, without results). */
  secondSignalExit(s: StopSignal): number;
}

/** One run of the engine with its signals and poller. */
export interface Session {
  /** Stops the run early; what was measured is still returned. `drain`: the answers in flight get the whole timeout (a stop whose results should count them, --until-warm). */
  stop(o?: { drain?: boolean }): void;
  /** The signal that stopped the run, or null. */
  signal(): StopSignal | null;
  /** The stats poller's latest sample per target (empty without --poll-stats or before the first poll). */
  latestStats(): { target: string; values: Record<string, number> }[];
  /** Runs the engine to its end; the poller's samples come back as targetStats (its failures are in out.warnings). */
  run(): Promise<{ out: ReplayOutcome; targetStats: Awaited<ReturnType<StatsPoller['stop']>> }>;
}

/** Wraps `setup` (its signal and onStart) into a session; nothing runs before run(). */
export function createSession(setup: ReplaySetup, o: SessionOptions): Session {
  const ac = new AbortController();
  let signal: StopSignal | null = null;
  const onSig = (s: StopSignal): void => {
    if (signal !== null) {
      process.stderr.write(`mcreplay: second ${s}, exiting without results\n`);
      process.exit(o.secondSignalExit(s));
    }
    signal = s;
    o.onSignal(s);
    ac.abort();
  };
  const sigint = (): void => onSig('SIGINT');
  const sigterm = (): void => onSig('SIGTERM');
  setup.signal = ac.signal;

  let poller: StatsPoller | null = null;
  const onStart = setup.onStart;
  setup.onStart = (clock, targetAuth, early) => {
    onStart?.(clock, targetAuth, early);
    if (o.pollNs !== null) {
      // the poller logs in the way the run's probe found each target takes the credentials
      poller = new StatsPoller({ targets: o.targetNames, intervalMs: Math.max(10, Math.round(o.pollNs / 1e6)), clock, auth: targetAuth });
      poller.start();
    }
  };

  return {
    stop: (so) => ac.abort(so?.drain === true ? STOP_DRAIN : undefined),
    signal: () => signal,
    latestStats: () => (poller as StatsPoller | null)?.latest() ?? [],
    async run() {
      process.on('SIGINT', sigint);
      process.on('SIGTERM', sigterm);
      let out: ReplayOutcome;
      try {
        out = await runReplay(setup);
      } finally {
        process.off('SIGINT', sigint);
        process.off('SIGTERM', sigterm);
      }
      const p = poller as StatsPoller | null;
      const targetStats = p !== null ? await p.stop() : [];
      // failed polls leave one line per target in the results (the samples are just missing)
      if (p !== null) out.warnings.push(...p.warnings());
      return { out, targetStats };
    },
  };
}
