import { beforeAll, describe, expect, it } from 'vitest';
import { initMetrics } from '../../src/metrics/histogram.js';
import { compareResults, formatComparison, parseRegressionRule, parseNoiseBand, type Comparison } from '../../src/report/compare.js';
import { McError } from '../../src/errors.js';
import { makeResults, samples, truePercentile, type IntervalSpec, type FixtureOptions } from './fixtures.js';

beforeAll(async () => {
  await initMetrics();
});

/** A run: 5 intervals of get and set; `scale` multiplies latencies, `lose` drops completions. */
function run(o: { scale?: number; getScale?: number; errors?: number; hits?: number; lose?: number; seed?: number } & FixtureOptions = {}) {
  const specs: IntervalSpec[] = [];
  const get: number[] = [];
  const set: number[] = [];
  for (let i = 0; i < 5; i++) {
    const g = samples(400, 100_000, 900_000, (o.seed ?? 1) * 10 + i).map((v) => Math.round(v * (o.scale ?? 1) * (o.getScale ?? 1)));
    const s = samples(200, 150_000, 600_000, (o.seed ?? 1) * 10 + 50 + i).map((v) => Math.round(v * (o.scale ?? 1)));
    get.push(...g);
    set.push(...s);
    specs.push({
      perCommand: {
        get: { response: g, counters: { hits: o.hits ?? 300, misses: 400 - (o.hits ?? 300), completed: 400 - (o.lose ?? 0), errors: { timeout: o.errors ?? 0 } } },
        set: { response: s },
      },
    });
  }
  return { results: makeResults(specs, o), get, set };
}

function cellOf(c: Comparison, command: string, name: string) {
  return c.tables.find((t) => t.command === command)!.cells.find((x) => x.name === name)!;
}

describe('compareResults', () => {
  it('the same run twice: zero deltas, nothing marked, rules hold', () => {
    const a = run();
    const c = compareResults(a.results, run().results, { maxRegression: ['latency.p99=10%', 'latency{cmd=*}.p99.9=10%', 'errors.rate=0.1%', 'throughput.achieved=5%', 'hit_ratio=1%'] });
    expect(c.regressed).toBe(false);
    expect(c.tables.map((t) => t.command)).toEqual(['total', 'get', 'set']);
    for (const t of c.tables) for (const cell of t.cells) expect(cell.beyondNoise).toBe(false);
    expect(c.regressions.map((r) => `${r.rule}@${r.command}`)).toEqual(['latency.p99=10%@total', 'latency{cmd=*}.p99.9=10%@get', 'latency{cmd=*}.p99.9=10%@set', 'errors.rate=0.1%@total', 'throughput.achieved=5%@total', 'hit_ratio=1%@total']);
    expect(c.regressions.every((r) => r.pass)).toBe(true);
    expect(cellOf(c, 'get', 'count')).toMatchObject({ baseline: 2000, current: 2000, delta: 0 });
  });

  it('a slower run: deltas match the sorted samples, beyond noise, and the rule flags a regression', () => {
    const base = run();
    const slow = run({ scale: 1.5 });
    const c = compareResults(base.results, slow.results, { maxRegression: ['latency.p99=10%'] });
    const p99 = cellOf(c, 'get', 'p99');
    const truth = truePercentile(slow.get, 99) / truePercentile(base.get, 99) - 1;
    expect(Math.abs(p99.delta! - truth)).toBeLessThan(0.003);
    expect(p99).toMatchObject({ beyondNoise: true, worse: true, better: false });
    expect(c.regressed).toBe(true);
    expect(c.regressions[0]).toMatchObject({ pass: false, command: 'total' });
    expect(c.regressions[0]!.message).toMatch(/REGRESSION/);
    expect(formatComparison(c)).toMatch(/REGRESSION: 1 rule\(s\) failed/);
    // the reverse direction is an improvement
    const back = compareResults(slow.results, base.results, { maxRegression: ['latency.p99=10%'] });
    expect(back.regressed).toBe(false);
    expect(cellOf(back, 'get', 'p99')).toMatchObject({ better: true, worse: false });
  });

  it('a change inside the noise band is not marked and passes a looser rule', () => {
    const c = compareResults(run().results, run({ scale: 1.03 }).results, { maxRegression: ['latency.p99=10%'], noiseBand: 0.05 });
    expect(cellOf(c, 'total', 'p99').beyondNoise).toBe(false);
    expect(c.regressed).toBe(false);
    const tight = compareResults(run().results, run({ scale: 1.03 }).results, { maxRegression: ['latency.p99=1%'], noiseBand: 0.01 });
    expect(cellOf(tight, 'total', 'p99').worse).toBe(true);
    expect(tight.regressed).toBe(true);
  });

  it('per-command and absolute rules', () => {
    const base = run();
    const cur = run({ getScale: 1.3 }); // only get slows down
    const c = compareResults(base.results, cur.results, { maxRegression: ['latency{cmd=*}.p50=10%', 'latency{cmd=set}.p99=0.05ms', 'latency{cmd=get}.p99=1s'] });
    const byCmd = Object.fromEntries(c.regressions.map((r) => [`${r.rule}@${r.command}`, r.pass]));
    expect(byCmd).toEqual({ 'latency{cmd=*}.p50=10%@get': false, 'latency{cmd=*}.p50=10%@set': true, 'latency{cmd=set}.p99=0.05ms@set': true, 'latency{cmd=get}.p99=1s@get': true });
    const abs = compareResults(base.results, cur.results, { maxRegression: ['latency{cmd=get}.p99=10us'] });
    expect(abs.regressed).toBe(true);
    expect(abs.regressions[0]!.change).toBeCloseTo(cellOf(abs, 'get', 'p99').current! - cellOf(abs, 'get', 'p99').baseline!, 6);
  });

  it('errors in points, throughput and hit ratio drops', () => {
    const c = compareResults(run().results, run({ errors: 4, hits: 250, lose: 40 }).results, {
      maxRegression: ['errors.rate=0.5%', 'errors.rate=0.1%', 'throughput.achieved=1%', 'throughput.achieved=10%', 'hit_ratio{cmd=get}=5%', 'hit_ratio{cmd=get}=20%'],
    });
    // 20 timeouts of 3000 sent = 0.667 points; throughput loses 200 of 3000 = 6.7%; hit ratio 75% → 62.5%
    expect(c.regressions.map((r) => r.pass)).toEqual([false, false, false, true, false, true]);
    expect(c.regressions[0]!.change).toBeCloseTo((100 * 20) / 3000, 6);
    expect(c.regressions[2]!.change).toBeCloseTo(200 / 3000, 6);
    expect(c.regressions[4]!.change).toBeCloseTo(12.5, 6);
    expect(cellOf(c, 'get', 'hit ratio')).toMatchObject({ deltaKind: 'points', worse: true });
    expect(cellOf(c, 'get', 'hit ratio').delta).toBeCloseTo(-12.5, 6);
  });

  it('refuses apples to oranges, says what differed, and compares with force', () => {
    const base = run().results;
    const other = run({ sha256: 'b'.repeat(64), captureName: 'other.pcap', rate: { mode: 'factor', factor: 2 } }).results;
    let err: unknown;
    try {
      compareResults(base, other);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(McError);
    expect((err as McError).exitCode).toBe(2);
    expect((err as McError).message).toMatch(/capture differs: baseline sample\.pcap .* vs current other\.pcap/);
    expect((err as McError).message).toMatch(/rate differs: baseline 1x vs current 2x/);
    expect((err as McError).hint).toMatch(/--force/);
    const forced = compareResults(base, other, { force: true });
    expect(forced.differences).toHaveLength(2);
    expect(formatComparison(forced)).toMatch(/NOT COMPARABLE/);
    expect(() => compareResults(base, run({ clone: 2 }).results)).toThrow(/clone/);
  });

  it('a command missing from one run fails its rule instead of passing', () => {
    const base = run().results;
    const cur = run().results;
    delete cur.summary.perCommand.set;
    const c = compareResults(base, cur, { maxRegression: ['latency{cmd=set}.p99=10%'] });
    expect(c.regressions[0]).toMatchObject({ pass: false });
    expect(c.regressions[0]!.message).toMatch(/no data in the current run/);
    expect(c.notes.join('\n')).toMatch(/only in the baseline: set/);
  });

  it('bad rules and noise bands are usage errors', () => {
    for (const bad of ['latency.p99', 'latency.p99=10', 'latncy.p99=10%', 'errors.count=5ms', 'latency.p99=10%%', 'hit_ratio=5']) {
      expect(() => parseRegressionRule(bad)).toThrow(McError);
    }
    expect(parseRegressionRule('latency.p99=10%')).toMatchObject({ allowed: 0.1, allowedKind: 'relative' });
    expect(parseRegressionRule('errors.rate=0.1%')).toMatchObject({ allowed: 0.1, allowedKind: 'points' });
    expect(parseRegressionRule('latency.p99=2ms')).toMatchObject({ allowed: 2e6, allowedKind: 'absolute' });
    expect(parseRegressionRule('errors.count=5')).toMatchObject({ allowed: 5, allowedKind: 'absolute' });
    expect(parseNoiseBand('5%')).toBe(0.05);
    expect(parseNoiseBand('0.1')).toBe(0.1);
    expect(() => parseNoiseBand('five')).toThrow(McError);
  });
});
