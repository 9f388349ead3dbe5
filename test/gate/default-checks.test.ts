// The default checks every run gets, and the generator's clean / degraded / saturated state, against
// results built from explicit samples (test/gate/fixtures.ts).
import { describe, expect, it } from 'vitest';
import { makeResults } from './fixtures.js';
import { decideGate } from '../../src/report/gate.js';
import { parseChecks } from '../../src/report/check-grammar.js';
import { DEFAULT_CHECKS, defaultChecksFor } from '../../src/report/default-checks.js';
import { generatorState } from '../../src/report/generator-state.js';
import type { ResultsFile } from '../../src/metrics/results-types.js';

const ok = (n: number): number[] => Array.from({ length: n }, (_, i) => 100_000 + i * 100);

function run(counters: Parameters<typeof makeResults>[0][number]['perCommand'][string]['counters'], stop = 'complete'): ResultsFile {
  const r = makeResults([{ perCommand: { get: { response: ok(1000), counters } } }]);
  r.config.options = { stopReason: stop };
  return r;
}

describe('default checks', () => {
  it('a run whose requests were refused fails with the failing defaults named (exit 99)', async () => {
    // 1000 sent, 700 refused (the target died): errors 70%, answered 30%
    const r = run({ sent: 1000, completed: 300, errors: { refused: 700 } });
    const d = await decideGate(r, { checks: [] });
    expect(d.verdict.status).toBe('fail');
    expect(d.verdict.exitCode).toBe(99);
    const failed = d.verdict.checks.filter((c) => !c.pass).map((c) => c.check);
    expect(failed).toEqual(['errors{class=timeout|reset|refused|desync}.rate < 1%', 'requests.answered >= 99% sent']);
    expect(d.verdict.checks.every((c) => c.origin === 'default')).toBe(true);
    expect(d.verdict.reasons.join('\n')).toMatch(/default check failed: errors\{class=timeout\|reset\|refused\|desync\}\.rate < 1%: .*70%/);
    expect(d.text).toMatch(/✗ errors\{class=timeout\|reset\|refused\|desync\}\.rate < 1% \(default\)/);
  });

  it("error answers the capture may hold itself (CLIENT_ERROR, SERVER_ERROR, ERROR) are answers, not the target's failures", async () => {
    // 2 of 30 requests answered CLIENT_ERROR (incr on a non-numeric value, as captured)
    const r = run({ sent: 30, completed: 28, errors: { client_error: 2 } });
    const d = await decideGate(r, { checks: [] });
    expect(d.verdict).toMatchObject({ status: 'pass', exitCode: 0 });
    expect(d.verdict.checks.find((c) => c.check.startsWith('requests.answered'))?.observed).toBe(30);
    // one timeout and one reset in 30: the target failed 6.7% of them
    const bad = await decideGate(run({ sent: 30, completed: 28, errors: { timeout: 1, reset: 1 } }), { checks: [] });
    expect(bad.verdict.status).toBe('fail');
  });

  it('a clean run passes all three defaults; --no-default-checks leaves none', async () => {
    const r = run({});
    const d = await decideGate(r, { checks: [] });
    expect(d.verdict).toMatchObject({ status: 'pass', exitCode: 0 });
    expect(d.verdict.checks.map((c) => c.check)).toEqual(DEFAULT_CHECKS.map((c) => c.text));
    const off = await decideGate(run({ sent: 1000, completed: 300, errors: { refused: 700 } }), { checks: [], defaultChecks: false });
    expect(off.verdict).toMatchObject({ status: 'pass', exitCode: 0, checks: [] });
  });

  it('unsent requests fail only a run that was not cut by --duration, a ramp end or a signal', async () => {
    const complete = await decideGate(run({ unsent: 5 }), { checks: [] });
    expect(complete.verdict.checks.find((c) => c.check === 'unsent.count == 0')?.pass).toBe(false);
    const cut = await decideGate(run({ unsent: 5 }, 'duration'), { checks: [] });
    expect(cut.verdict.checks.map((c) => c.check)).not.toContain('unsent.count == 0');
    expect(cut.verdict.status).toBe('pass');
  });

  it("the user's own check on the same quantity replaces the default", () => {
    const r = run({});
    const user = parseChecks(['errors{class=timeout}.count < 10', 'requests.completed >= 90% sent']);
    expect(defaultChecksFor(r, user).map((c) => c.text)).toEqual(['unsent.count == 0']);
    // checks on other quantities leave all three defaults in force
    expect(defaultChecksFor(r, parseChecks(['latency.p99 < 1s'])).length).toBe(3);
  });
});

describe('error class lists', () => {
  it('class=a|b sums the classes; an unknown one in the list is refused with a suggestion', () => {
    expect(() => parseChecks(['errors{class=timeout|rest}.rate < 1%'])).toThrow(/unknown error class 'rest' \(did you mean 'reset'\?\)/);
    expect(parseChecks(['errors{class=timeout|reset}.count < 3'])[0]!.tags.class).toBe('timeout|reset');
  });
});

describe('generator state', () => {
  const withLag = (lagNs: number, loopNs = 0): ResultsFile => {
    const r = makeResults([{ perCommand: { get: { response: Array(1000).fill(10_000_000) } }, lag: Array(1000).fill(lagNs) }]);
    r.summary.eventLoopMaxNs = loopNs;
    r.config.options = { maxLagNs: 10e6, maxStallNs: 250e6 };
    return r;
  };
  it('clean below the degraded band, with the share of the p99 the lag explains', () => {
    const g = generatorState(withLag(50_000));
    expect(g.state).toBe('clean');
    // lag p99 50 µs of a 10 ms response p99: 0.5 %
    expect(g.explainedShare).toBeCloseTo(0.005, 2);
  });
  it('degraded when the lag p99 reaches a quarter of --max-lag, with the evidence', () => {
    const g = generatorState(withLag(3e6));
    expect(g.state).toBe('degraded');
    expect(g.evidence.join()).toMatch(/schedule lag p99 3\.0 ms/);
    expect(g.explainedShare).toBeCloseTo(0.3, 1);
  });
  it('degraded on a long event-loop delay; saturated when the engine said so', () => {
    expect(generatorState(withLag(10_000, 40e6)).state).toBe('degraded');
    const sat = withLag(20e6);
    sat.verdict = { ...sat.verdict, status: 'saturated', saturated: true, exitCode: 4, reasons: ['saturated: lag'] };
    expect(generatorState(sat).state).toBe('saturated');
  });
});
