import { beforeAll, describe, expect, it } from 'vitest';
import { initMetrics } from '../../src/metrics/histogram.js';
import { canStillPass, evaluateChecks } from '../../src/report/check-eval.js';
import { parseChecks } from '../../src/report/check-grammar.js';
import type { Check } from '../../src/report/check-types.js';
import { verdictFor } from '../../src/report/gate.js';
import { makeResults, samples, truePercentile, type IntervalSpec } from './fixtures.js';
import type { CheckResult, ResultsFile } from '../../src/metrics/results-types.js';

beforeAll(async () => {
  await initMetrics();
});

// 1 warm-up interval with huge values (must be ignored), then 10 live intervals; interval 6 (live
// index 5) has a get latency spike.
const SPIKE = 6;
function buildSpecs(): IntervalSpec[] {
  const specs: IntervalSpec[] = [{ warmup: true, perCommand: { get: { response: [9e9, 9e9], counters: { errors: { timeout: 50 } } } }, lag: [5e9] }];
  for (let i = 1; i <= 10; i++) {
    const get = i === SPIKE ? samples(200, 5e6, 20e6, i) : samples(200, 50_000, 2_000_000, i);
    const set = samples(100, 100_000, 1_000_000, 100 + i);
    specs.push({
      perCommand: {
        get: {
          response: get,
          service: get.map((v) => Math.floor(v / 2)),
          counters: { hits: 150, misses: 50, intended: 200, completed: i === 3 ? 180 : 200, errors: i === 3 ? { timeout: 2, reset: 1 } : {}, heldBack: {} },
        },
        set: { response: set, counters: { errors: i === 8 ? { server_error: 4 } : {}, heldBack: i === 2 ? { destructive: 3 } : {}, unsent: i === 10 ? 7 : 0 } },
      },
      lag: samples(300, 1_000, 400_000, 200 + i),
    });
  }
  return specs;
}

const specs = buildSpecs();
const live = specs.filter((s) => !s.warmup);
const results: ResultsFile = makeResults(specs, { captured: { get: { count: 2000, hits: 1700, misses: 300, hitRatio: 0.85, latency: null, latencyHist: null } } });
const all = (cmd?: 'get' | 'set') => live.flatMap((s) => Object.entries(s.perCommand).filter(([c]) => !cmd || c === cmd).flatMap(([, v]) => v.response));

function evalOne(text: string, r: ResultsFile = results): CheckResult {
  return evaluateChecks(r, parseChecks([text]))[0]!;
}
const rel = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);

describe('evaluation against results with real HdrHistograms', () => {
  it.each([
    ['p50', 50],
    ['p90', 90],
    ['p99', 99],
    ['p99.9', 99.9],
    ['p99.99', 99.99],
    ['p95.5', 95.5],
  ])('latency.%s matches the sorted samples (3 significant digits)', (agg, p) => {
    for (const cmd of [undefined, 'get', 'set'] as const) {
      const truth = truePercentile(all(cmd), p);
      const sel = cmd ? `latency{cmd=${cmd}}.${agg}` : `latency.${agg}`;
      const r = evalOne(`${sel} < 1s`);
      expect(r.unit).toBe('s');
      expect(rel(r.observed! * 1e9, truth)).toBeLessThan(1e-3);
      // just above the truth passes, just below fails
      expect(evalOne(`${sel} < ${(truth * 1.002) / 1000}us`).pass).toBe(true);
      expect(evalOne(`${sel} < ${(truth * 0.998) / 1000}us`).pass).toBe(false);
      expect(evalOne(`${sel} >= ${(truth * 0.998) / 1000}us`).pass).toBe(true);
    }
  });

  it('min, max and mean; warm-up intervals are left out', () => {
    const v = all();
    const max = Math.max(...v);
    const min = Math.min(...v);
    const mean = v.reduce((a, b) => a + b, 0) / v.length;
    expect(rel(evalOne('latency.max < 1s').observed! * 1e9, max)).toBeLessThan(1e-3);
    expect(rel(evalOne('latency.min < 1s').observed! * 1e9, min)).toBeLessThan(1e-3);
    expect(rel(evalOne('latency.mean < 1s').observed! * 1e9, mean)).toBeLessThan(1e-3);
    expect(max).toBeLessThan(9e9);
    expect(evalOne('latency.max < 1s').pass).toBe(true); // the 9 s warm-up samples do not count
  });

  it('response is latency; service and lag read their own histograms', () => {
    expect(evalOne('response.p99 < 1s').observed).toBe(evalOne('latency.p99 < 1s').observed);
    const serv = live.flatMap((s) => s.perCommand.get!.service!);
    expect(rel(evalOne('service{cmd=get}.p99 < 1s').observed! * 1e9, truePercentile(serv, 99))).toBeLessThan(1e-3);
    const lag = live.flatMap((s) => s.lag!);
    const r = evalOne('lag.p99 < 1ms');
    expect(r.unit).toBe('ms');
    expect(rel(r.observed! * 1e6, truePercentile(lag, 99))).toBeLessThan(1e-3);
    expect(evalOne('lag.max < 1s').pass).toBe(true); // the 5 s warm-up lag is not counted
  });

  it('errors: count, rate, by class and command', () => {
    const sent = 10 * 300;
    expect(evalOne('errors.count < 100')).toMatchObject({ observed: 7, pass: true, unit: '' });
    expect(evalOne('errors.count < 7').pass).toBe(false);
    expect(evalOne('errors.count <= 7').pass).toBe(true);
    expect(evalOne('errors{class=timeout}.count == 2').pass).toBe(true);
    expect(evalOne('errors{cmd=set}.count == 4').pass).toBe(true);
    expect(evalOne('errors{cmd=set,class=timeout}.count == 0').pass).toBe(true);
    const r = evalOne('errors.rate < 0.1%');
    expect(r.observed).toBeCloseTo((100 * 7) / sent, 10);
    expect(r.pass).toBe(false);
    expect(evalOne('errors.rate < 0.3%').pass).toBe(true);
    expect(evalOne('errors{cmd=get}.rate != 0%').observed).toBeCloseTo((100 * 3) / 2000, 10);
  });

  it('throughput: achieved, intended and a share of intended', () => {
    const achieved = evalOne('throughput.achieved > 1 ops/s');
    expect(achieved.observed).toBeCloseTo((10 * 300 - 20) / 10, 6);
    expect(evalOne('throughput.intended > 1 ops/s').observed).toBeCloseTo(300, 6);
    expect(evalOne('throughput{cmd=get}.achieved >= 99% intended')).toMatchObject({ pass: true });
    // get: 1980 of 2000 completed = 99%
    expect(evalOne('throughput{cmd=get}.achieved >= 99.5% intended').pass).toBe(false);
    const share = evalOne('throughput.achieved >= 98% intended');
    expect(share.limit).toBeCloseTo(0.98 * 300, 6);
    expect(share.message).toContain('98% of intended');
    expect(evalOne('throughput.achieved >= 290 ops/s').pass).toBe(true);
    expect(evalOne('throughput.achieved >= 0.3k ops/s').pass).toBe(false);
  });

  it('hit ratio, against a value and against the capture', () => {
    expect(evalOne('hit_ratio{cmd=get} >= 75%')).toMatchObject({ observed: 75, pass: true, unit: '%' });
    expect(evalOne('hit_ratio >= 75.1%').pass).toBe(false);
    const cap = evalOne('hit_ratio{cmd=get} >= captured - 2%');
    expect(cap.limit).toBeCloseTo(83, 10);
    expect(cap.pass).toBe(false);
    expect(evalOne('hit_ratio{cmd=get} >= captured - 10%').pass).toBe(true);
    expect(evalOne('hit_ratio >= captured - 10%').limit).toBeCloseTo(75, 10); // total capture: 1700/2000
  });

  it('held back, unsent and request counts', () => {
    expect(evalOne('heldback.count == 3').pass).toBe(true);
    expect(evalOne('heldback{reason=destructive}.count == 3').pass).toBe(true);
    expect(evalOne('heldback{reason=credentials}.count == 0').pass).toBe(true);
    expect(evalOne('unsent.count == 0')).toMatchObject({ observed: 7, pass: false });
    expect(evalOne('requests.count == 3000').pass).toBe(true);
    expect(evalOne('requests{cmd=get}.completed == 1980').pass).toBe(true);
    expect(evalOne('requests.completed >= 100% intended').pass).toBe(false);
    expect(evalOne('requests.completed >= 99% intended').pass).toBe(true);
    expect(evalOne('requests.sent >= 100% intended').pass).toBe(true);
  });

  it('every operator', () => {
    expect(evalOne('errors.count < 8').pass).toBe(true);
    expect(evalOne('errors.count <= 6').pass).toBe(false);
    expect(evalOne('errors.count > 6').pass).toBe(true);
    expect(evalOne('errors.count >= 8').pass).toBe(false);
    expect(evalOne('errors.count == 7').pass).toBe(true);
    expect(evalOne('errors.count != 7').pass).toBe(false);
  });

  it('absent data fails with a message, never passes', () => {
    const del = evalOne('latency{cmd=delete}.p99 < 1s');
    expect(del).toMatchObject({ pass: false, observed: null });
    expect(del.message).toMatch(/no 'delete' requests in this run \(commands: get, set\)/);
    expect(evalOne('errors{cmd=delete}.count == 0').pass).toBe(false);
    const tgt = evalOne('latency{target=10.0.0.1:11211}.p99 < 1s');
    expect(tgt.pass).toBe(false);
    expect(tgt.message).toMatch(/not a target of this run/);
    expect(evalOne('latency{target=127.0.0.1:11211}.p99 < 1s').pass).toBe(true);
    const noHits = evalOne('hit_ratio{cmd=set} >= 0%');
    expect(noHits.pass).toBe(false);
    expect(noHits.message).toMatch(/no hits or misses/);
    const noCap = evalOne('hit_ratio{cmd=set} >= captured');
    expect(noCap.pass).toBe(false);
    const empty = makeResults([{ perCommand: { get: { response: [], counters: { sent: 0, intended: 0, completed: 0 } } } }]);
    expect(evalOne('latency.p99 < 1s', empty)).toMatchObject({ pass: false });
    expect(evalOne('latency.p99 < 1s', empty).message).toMatch(/no samples/);
    expect(evalOne('errors.rate < 1%', empty).message).toMatch(/no requests were sent/);
    const multi = makeResults(specs, { targets: ['127.0.0.1:1', '127.0.0.1:2'] });
    expect(evalOne('latency{target=127.0.0.1:1}.p99 < 1s', multi).message).toMatch(/no per-target breakdown/);
  });
});

describe('windowed checks (over every N)', () => {
  /** Brute force: p-th percentile of each window of k live intervals. */
  function windowTruths(cmd: 'get' | 'set', p: number, k: number): number[] {
    const out: number[] = [];
    for (let i = 0; i + k <= live.length; i++) out.push(truePercentile(live.slice(i, i + k).flatMap((s) => s.perCommand[cmd]!.response), p));
    return out;
  }

  it('a 1s window finds the spike interval; the whole-run check passes', () => {
    const whole = evalOne('latency{cmd=get}.p99 < 19ms');
    expect(whole.pass).toBe(true);
    const r = evalOne('latency{cmd=get}.p99 < 19ms over every 1s');
    expect(r.pass).toBe(false);
    expect(r.failedInterval).toBe(SPIKE);
    const truths = windowTruths('get', 99, 1);
    expect(rel(r.observed! * 1e6, Math.max(...truths))).toBeLessThan(1e-3);
    expect(r.message).toMatch(/window \[6s–7s\]/);
  });

  it('sliding 3s windows: worst window and first failing window match brute force', () => {
    const truths = windowTruths('get', 90, 3);
    const limitMs = 6;
    const r = evalOne(`latency{cmd=get}.p90 < ${limitMs}ms over every 3s`);
    const firstBad = truths.findIndex((t) => t >= limitMs * 1e6);
    expect(firstBad).toBeGreaterThanOrEqual(0);
    expect(r.pass).toBe(false);
    expect(r.failedInterval).toBe(live.length - live.length + firstBad + 1); // +1: the warm-up interval is index 0
    expect(rel(r.observed! * 1e6, Math.max(...truths))).toBeLessThan(1e-3);
    const ok = evalOne(`latency{cmd=get}.p90 < ${(Math.max(...truths) * 1.01) / 1e6}ms over every 3s`);
    expect(ok.pass).toBe(true);
    expect(ok.message).toMatch(/holds in all 8 3s window/);
  });

  it('counter checks per window', () => {
    expect(evalOne('errors.count <= 4 over every 1s').pass).toBe(true);
    expect(evalOne('errors.count < 4 over every 1s')).toMatchObject({ pass: false, failedInterval: 8, observed: 4 });
    expect(evalOne('errors.count <= 4 over every 10s').pass).toBe(false); // 7 in the one 10 s window
    const tp = evalOne('throughput{cmd=get}.achieved >= 95% intended over every 1s');
    expect(tp).toMatchObject({ pass: false, failedInterval: 3 });
    expect(tp.observed).toBeCloseTo(180, 6);
    expect(evalOne('throughput{cmd=get}.achieved >= 90% intended over every 1s').pass).toBe(true);
    expect(evalOne('hit_ratio{cmd=get} >= 75% over every 2s').pass).toBe(true);
  });

  it('a short trailing interval joins the window before it instead of being judged alone', () => {
    const specs3: IntervalSpec[] = [{ perCommand: { get: { response: samples(100, 1000, 2000, 1) } } }, { perCommand: { get: { response: samples(100, 1000, 2000, 2) } } }, { perCommand: { get: { response: [50_000, 60_000] } } }];
    const short = makeResults(specs3, { lastIntervalNs: 20e6 });
    // alone, the 20 ms tail has p50 = 50 µs; joined with the interval before, p50 is under 2 µs
    const r = evalOne('latency.p50 < 10us over every 1s', short);
    expect(r.pass).toBe(true);
    expect(r.message).toMatch(/holds in all 3 1s window/); // [0], [1], [1 + the tail]
    const full = makeResults(specs3);
    expect(evalOne('latency.p50 < 10us over every 1s', full)).toMatchObject({ pass: false, failedInterval: 2 });
    // and the tail's counts are not lost: 2 slow samples are in the last window
    expect(evalOne('latency.max < 10us over every 1s', short)).toMatchObject({ pass: false, failedInterval: 1 });
  });

  it('a window longer than the run is evaluated over the run, and says so', () => {
    const r = evalOne('latency{cmd=set}.p99 < 1s over every 1m');
    expect(r.pass).toBe(true);
    expect(r.message).toMatch(/shorter than one 60s window/);
  });

  it('windows with no data for the command do not break the check, but no data at all fails', () => {
    const sparse = makeResults([{ perCommand: { get: { response: [1000] } } }, { perCommand: { set: { response: [2000] } } }, { perCommand: { get: { response: [3000] } } }]);
    expect(evalOne('latency{cmd=set}.max < 3us over every 1s', sparse).pass).toBe(true);
    expect(evalOne('latency{cmd=get}.max < 2us over every 1s', sparse)).toMatchObject({ pass: false, failedInterval: 2 });
    const none = makeResults([{ warmup: true, perCommand: { get: { response: [1000] } } }]);
    expect(evalOne('latency.max < 1s over every 1s', none).message).toMatch(/no non-warm-up interval/);
  });
});

describe('canStillPass (for --abort-on-fail)', () => {
  const checks: Check[] = parseChecks(['latency.p99 < 1us', 'errors.count < 3', 'latency{cmd=get}.p99 < 19ms over every 1s']);
  const partial = (n: number) => ({ ...results, intervals: results.intervals.slice(0, n), summary: undefined });

  it('says yes while nothing is lost for good', () => {
    // p99 over the whole run can still come down; errors 0 so far; no spike yet
    expect(canStillPass(partial(3), checks)).toMatchObject({ canPass: true, failed: [] });
  });
  it('a count that can only grow and is over its limit', () => {
    const out = canStillPass(partial(4), checks); // interval 3 has 3 errors
    expect(out.canPass).toBe(false);
    expect(out.failed.map((f) => f.check)).toEqual(['errors.count < 3']);
    expect(out.failed[0]!.message).toMatch(/can only grow/);
  });
  it('a complete failing window', () => {
    const out = canStillPass(partial(SPIKE + 1), checks);
    expect(out.failed.map((f) => f.check)).toContain('latency{cmd=get}.p99 < 19ms over every 1s');
  });
  it('max latency can only grow', () => {
    expect(canStillPass(partial(3), parseChecks(['latency.max < 1ms'])).canPass).toBe(false);
    expect(canStillPass(partial(3), parseChecks(['latency.max < 1s', 'errors.count > 100'])).canPass).toBe(true);
  });
});

describe('verdictFor: exit codes', () => {
  const pass: CheckResult = { check: 'a', metric: 'a', observed: 1, limit: 2, unit: '', pass: true, message: 'ok' };
  const fail: CheckResult = { ...pass, check: 'b', pass: false, message: 'broken' };
  it('0 when every check passes, 99 when one fails', () => {
    expect(verdictFor(results, [pass])).toMatchObject({ status: 'pass', exitCode: 0 });
    expect(verdictFor(results, [])).toMatchObject({ status: 'pass', exitCode: 0 });
    const v = verdictFor(results, [pass, fail]);
    expect(v).toMatchObject({ status: 'fail', exitCode: 99 });
    expect(v.reasons.join('\n')).toContain('broken');
    expect(v.checks).toHaveLength(2);
  });
  it('4 for a saturated run whatever the checks say', () => {
    const sat = makeResults(specs, { saturated: true });
    expect(verdictFor(sat, [pass])).toMatchObject({ status: 'saturated', exitCode: 4, saturated: true });
    expect(verdictFor(sat, [fail])).toMatchObject({ status: 'saturated', exitCode: 4 });
  });
  it('3 for an unreachable target, 130 for an interrupted run, 2 for a bad baseline', () => {
    expect(verdictFor(makeResults(specs, { status: 'error', exitCode: 3 }), [pass])).toMatchObject({ status: 'error', exitCode: 3 });
    expect(verdictFor(makeResults(specs, { status: 'interrupted', exitCode: 130 }), [fail])).toMatchObject({ status: 'interrupted', exitCode: 130 });
    expect(verdictFor(results, [pass], null, 'baseline differs')).toMatchObject({ status: 'error', exitCode: 2 });
  });
  it('99 for a regression', () => {
    expect(verdictFor(results, [pass], { regressed: true, regressions: [{ pass: false, message: 'p99 +50%' }] })).toMatchObject({ status: 'fail', exitCode: 99 });
  });
});
