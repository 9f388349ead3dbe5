// What `diff` counts: per key read, how the candidate's answer differs from the primary's, and
// whether the secondary disagreed with the primary too (noise). Distinct keys are counted with
// bounded memory (exact up to 100,000, then estimated).
import { DistinctCounter } from '../workload/distinct.js';
import type { KeyAnswer } from './diff-conn.js';

export const DIFF_KINDS = ['missing', 'extra', 'value', 'flags'] as const;
/** How the candidate's answer differs from the primary's: a hit it lacks, a hit it has extra, another value, other flags. */
export type DiffKind = (typeof DIFF_KINDS)[number];
type ByKind = Record<DiffKind, number>;

/** The counted part of a diff result. */
export interface DiffFigures {
  /** Read requests compared, and those with at least one key that differs (after noise). */
  requests: { compared: number; different: number; noise: number; errors: number; skipped: { destructive: number; credentials: number; writes: number; untextable: number; interrupted: number } };
  /** Key reads compared and different (a key read twice counts twice). */
  keyReads: { compared: number; different: number; noise: number };
  /** Distinct keys compared and different (exact up to 100,000, then estimated). */
  keys: { compared: number; different: number; exact: boolean };
  /** Distinct keys per kind of difference. */
  byKind: ByKind;
  /** Distinct keys per kind that primary and secondary disagreed on as well. */
  noise: ByKind;
  /** Key reads where the primary and secondary disagreed, whatever the candidate said: the noise floor. */
  noiseFloor: { keyReads: number; share: number } | null;
  perCommand: Record<string, { compared: number; different: number }>;
  /** Up to `examples` keys per kind (the CLI prints them only with --show-keys). */
  examples: Record<DiffKind, string[]>;
  /** Failed requests by what failed. */
  errors: Record<string, number>;
  /** Share of compared read requests that differ. */
  share: number;
}

function kindOf(p: KeyAnswer, c: KeyAnswer): DiffKind | null {
  if (p.hit !== c.hit) return p.hit ? 'missing' : 'extra';
  if (!p.hit) return null;
  if (p.digest !== c.digest) return 'value';
  return p.flags !== c.flags ? 'flags' : null;
}

const perKind = <T>(f: () => T): Record<DiffKind, T> => Object.fromEntries(DIFF_KINDS.map((k) => [k, f()])) as Record<DiffKind, T>;

/** Counters of one diff run; `compare` takes the answers of primary, candidate and (optional) secondary. */
export function createTally(maxExamples: number, withSecondary: boolean) {
  const requests: DiffFigures['requests'] = { compared: 0, different: 0, noise: 0, errors: 0, skipped: { destructive: 0, credentials: 0, writes: 0, untextable: 0, interrupted: 0 } };
  const keyReads = { compared: 0, different: 0, noise: 0 };
  const keysCompared = new DistinctCounter();
  const keysDifferent = new DistinctCounter();
  const byKind = perKind(() => new DistinctCounter());
  const noise = perKind(() => new DistinctCounter());
  const examples = perKind((): string[] => []);
  const perCommand: DiffFigures['perCommand'] = {};
  const errors: Record<string, number> = {};
  let floor = 0;
  const error = (why: string): void => {
    errors[why] = (errors[why] ?? 0) + 1;
  };

  return {
    requests,
    error,
    compare(cmd: string, keys: readonly string[], answers: (Map<string, KeyAnswer> | string)[]): void {
      const failed = answers.find((a): a is string => typeof a === 'string');
      if (failed !== undefined) {
        requests.errors++;
        error(failed);
        return;
      }
      const [p, c, s] = answers as Map<string, KeyAnswer>[];
      const pc = (perCommand[cmd] ??= { compared: 0, different: 0 });
      requests.compared++;
      pc.compared++;
      let differs = false;
      let noisy = false;
      for (const k of keys) {
        const pa = p!.get(k)!;
        keyReads.compared++;
        keysCompared.add(k);
        const kind = kindOf(pa, c!.get(k)!);
        const floorKind = s ? kindOf(pa, s.get(k)!) : null;
        if (floorKind) floor++;
        if (!kind) continue;
        if (floorKind) {
          noisy = true;
          keyReads.noise++;
          noise[kind].add(k);
          continue;
        }
        differs = true;
        keyReads.different++;
        keysDifferent.add(k);
        byKind[kind].add(k);
        if (examples[kind].length < maxExamples && !examples[kind].includes(k)) examples[kind].push(k);
      }
      if (differs) {
        requests.different++;
        pc.different++;
      } else if (noisy) requests.noise++;
    },
    figures(): DiffFigures {
      return {
        requests,
        keyReads,
        keys: { compared: keysCompared.count(), different: keysDifferent.count(), exact: keysCompared.isExact },
        byKind: Object.fromEntries(DIFF_KINDS.map((k) => [k, byKind[k].count()])) as ByKind,
        noise: Object.fromEntries(DIFF_KINDS.map((k) => [k, noise[k].count()])) as ByKind,
        noiseFloor: withSecondary ? { keyReads: floor, share: keyReads.compared === 0 ? 0 : floor / keyReads.compared } : null,
        perCommand,
        examples,
        errors,
        share: requests.compared === 0 ? 0 : requests.different / requests.compared,
      };
    },
  };
}
