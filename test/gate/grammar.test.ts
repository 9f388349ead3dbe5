import { describe, expect, it } from 'vitest';
import { parseCheck, parseChecks } from '../../src/report/check-grammar.js';
import { McError } from '../../src/errors.js';

function bad(text: string): McError {
  try {
    parseCheck(text);
  } catch (err) {
    expect(err).toBeInstanceOf(McError);
    expect((err as McError).exitCode).toBe(2);
    expect((err as McError).message).toContain(text);
    return err as McError;
  }
  throw new Error(`expected '${text}' to be rejected`);
}

/** The column of the caret line under the echoed check. */
function caretCol(err: McError): number {
  const lines = err.message.split('\n');
  const caret = lines[lines.length - 1]!;
  const echo = lines[lines.length - 2]!;
  return Array.from(caret).indexOf('^') - (Array.from(echo).length - Array.from(echo.trimStart()).length);
}

describe('threshold grammar: the examples of the issue', () => {
  it('parses each issue example', () => {
    const p99 = parseCheck('latency.p99 < 2ms');
    expect(p99).toMatchObject({ metric: 'latency', aggregate: 'p99', percentile: 99, op: '<', right: { kind: 'value', value: 2_000_000 }, quantity: 'time', displayUnit: 'ms', windowNs: null });
    expect(parseCheck('latency{cmd=get}.p99.9 < 5ms')).toMatchObject({ tags: { cmd: 'get' }, aggregate: 'p99.9', percentile: 99.9, right: { value: 5e6 } });
    expect(parseCheck('errors.rate < 0.1%')).toMatchObject({ metric: 'errors', aggregate: 'rate', quantity: 'percent', right: { kind: 'value', value: 0.1 } });
    expect(parseCheck('throughput.achieved >= 98% intended')).toMatchObject({ metric: 'throughput', aggregate: 'achieved', op: '>=', right: { kind: 'share', share: 0.98, of: 'intended' } });
    expect(parseCheck('hit_ratio{cmd=get} >= captured - 2%')).toMatchObject({ metric: 'hit_ratio', aggregate: '', tags: { cmd: 'get' }, right: { kind: 'captured', offset: -2 } });
    expect(parseCheck('latency.p99 < 2ms over every 10s')).toMatchObject({ windowNs: 10e9 });
  });
});

describe('threshold grammar: every metric', () => {
  it.each([
    ['latency.p50 < 1ms', 'latency', 'time'],
    ['response.p99 < 1ms', 'response', 'time'],
    ['service.max < 1s', 'service', 'time'],
    ['lag.p99 < 1ms', 'lag', 'time'],
    ['errors.count < 10', 'errors', 'count'],
    ['errors{class=timeout}.count == 0', 'errors', 'count'],
    ['errors{class=server_error,cmd=set}.rate <= 1%', 'errors', 'percent'],
    ['throughput.achieved > 1000 ops/s', 'throughput', 'rate'],
    ['throughput.intended >= 10k ops/s', 'throughput', 'rate'],
    ['hit_ratio >= 90%', 'hit_ratio', 'percent'],
    ['heldback.count == 0', 'heldback', 'count'],
    ['heldback{reason=destructive}.count <= 3', 'heldback', 'count'],
    ['unsent.count == 0', 'unsent', 'count'],
    ['requests.count >= 1M', 'requests', 'count'],
    ['requests.completed >= 99.9% intended', 'requests', 'count'],
    ['requests{target=127.0.0.1:11211}.sent > 0', 'requests', 'count'],
  ])('%s', (text, metric, quantity) => {
    expect(parseCheck(text)).toMatchObject({ metric, quantity, text });
  });
});

describe('threshold grammar: aggregates, units, multipliers, operators, windows', () => {
  it.each([
    ['p50', 50],
    ['p90', 90],
    ['p99', 99],
    ['p99.9', 99.9],
    ['p99.99', 99.99],
    ['p99.999', 99.999],
    ['p75.5', 75.5],
    ['p100', 100],
  ])('percentile %s', (agg, p) => {
    expect(parseCheck(`latency.${agg} < 1ms`)).toMatchObject({ aggregate: agg, percentile: p });
  });
  it.each(['min', 'max', 'mean'])('aggregate %s', (agg) => {
    expect(parseCheck(`service.${agg} < 1ms`)).toMatchObject({ aggregate: agg, percentile: null });
  });
  it.each([
    ['250ns', 250, 'ns'],
    ['250µs', 250_000, 'µs'],
    ['250μs', 250_000, 'µs'], // Greek mu
    ['250us', 250_000, 'us'],
    ['2.5ms', 2_500_000, 'ms'],
    ['1 s', 1e9, 's'],
    ['0.5s', 5e8, 's'],
    ['.5ms', 5e5, 'ms'],
  ])('time unit %s', (v, ns, unit) => {
    expect(parseCheck(`latency.p99 < ${v}`)).toMatchObject({ right: { kind: 'value', value: ns }, displayUnit: unit });
  });
  it.each([
    ['5000 ops/s', 5000],
    ['5k ops/s', 5000],
    ['5kops/s', 5000],
    ['1.5M ops/s', 1.5e6],
    ['200 req/s', 200],
    ['200/s', 200],
  ])('rate %s', (v, value) => {
    expect(parseCheck(`throughput.achieved >= ${v}`)).toMatchObject({ right: { kind: 'value', value }, displayUnit: 'ops/s' });
  });
  it('counts take k and M multipliers', () => {
    expect(parseCheck('requests.count >= 2k')).toMatchObject({ right: { value: 2000 } });
    expect(parseCheck('errors.count < 1.5M')).toMatchObject({ right: { value: 1_500_000 } });
  });
  it.each([
    ['<', '<'],
    ['<=', '<='],
    ['>', '>'],
    ['>=', '>='],
    ['==', '=='],
    ['!=', '!='],
    ['≤', '<='],
    ['≥', '>='],
    ['≠', '!='],
  ])('operator %s', (op, canon) => {
    expect(parseCheck(`errors.count ${op} 5`)).toMatchObject({ op: canon });
    expect(parseCheck(`errors.count${op}5`)).toMatchObject({ op: canon });
  });
  it.each([
    ['over every 10s', 10e9],
    ['over every 500ms', 5e8],
    ['over every 1m', 60e9],
    ['over every 2 min', 120e9],
    ['over  every   1s', 1e9],
  ])('window %s', (w, ns) => {
    expect(parseCheck(`latency.p99 < 2ms ${w}`)).toMatchObject({ windowNs: ns });
    expect(parseCheck(`errors.count < 2 ${w}`)).toMatchObject({ windowNs: ns });
    expect(parseCheck(`throughput.achieved >= 90% intended ${w}`)).toMatchObject({ windowNs: ns });
  });
  it('captured forms', () => {
    expect(parseCheck('hit_ratio >= captured')).toMatchObject({ right: { kind: 'captured', offset: 0 } });
    expect(parseCheck('hit_ratio{cmd=get} >= captured + 1.5%')).toMatchObject({ right: { kind: 'captured', offset: 1.5 } });
  });
  it('tags: spaces, case of command names, several tags', () => {
    expect(parseCheck('latency{ cmd = GET , target=127.0.0.1:11211 }.p99 < 1ms')).toMatchObject({ tags: { cmd: 'get', target: '127.0.0.1:11211' } });
    expect(parseCheck('latency{target=[::1]:11211}.p99 < 1ms')).toMatchObject({ tags: { target: '[::1]:11211' } });
  });
  it('parseChecks keeps order', () => {
    expect(parseChecks(['errors.count < 1', 'latency.p99 < 1ms']).map((c) => c.metric)).toEqual(['errors', 'latency']);
  });
});

describe('threshold grammar: errors are exit-2 McErrors with the check and a caret', () => {
  it('unknown metric, with a suggestion and the caret at the metric', () => {
    const e = bad('latncy.p99 < 2ms');
    expect(e.message).toMatch(/unknown metric 'latncy'.*did you mean 'latency'/);
    expect(caretCol(e)).toBe(0);
  });
  it('unknown aggregate', () => {
    const e = bad('latency.p98x < 2ms');
    expect(e.message).toMatch(/unknown aggregate 'p98x'/);
    expect(caretCol(e)).toBe(8);
    expect(bad('errors.p99 < 1%').message).toMatch(/errors has no percentiles/);
    expect(bad('throughput.max > 1 ops/s').message).toMatch(/unknown aggregate 'max' for throughput/);
    expect(bad('hit_ratio.mean >= 90%').message).toMatch(/hit_ratio takes no aggregate/);
  });
  it('missing aggregate', () => {
    expect(bad('latency < 2ms').message).toMatch(/latency needs an aggregate/);
    expect(bad('errors < 5').message).toMatch(/errors needs an aggregate/);
  });
  it('percentile out of range', () => {
    expect(bad('latency.p0 < 1ms').message).toMatch(/out of range/);
    expect(bad('latency.p101 < 1ms').message).toMatch(/out of range/);
  });
  it('a unit that does not fit the metric', () => {
    const e = bad('latency.p99 < 5%');
    expect(e.message).toMatch(/latency.p99 is a time: '%' does not fit/);
    expect(caretCol(e)).toBe(14);
    expect(bad('errors.rate < 5ms').message).toMatch(/is a percentage: 'ms' does not fit/);
    expect(bad('errors.count < 5%').message).toMatch(/is a count: '%' does not fit/);
    expect(bad('throughput.achieved > 5ms').message).toMatch(/is a rate: 'ms' does not fit/);
    expect(bad('hit_ratio >= 90 ops/s').message).toMatch(/is a percentage/);
    expect(bad('requests.count > 5 ops/s').message).toMatch(/is a count/);
  });
  it('a missing unit', () => {
    expect(bad('latency.p99 < 5').message).toMatch(/needs a time unit .* e\.g\. 5ms/);
    expect(bad('errors.rate < 0.1').message).toMatch(/needs a percentage/);
    expect(bad('throughput.achieved > 1000').message).toMatch(/needs ops\/s/);
    expect(bad('hit_ratio >= 0.9').message).toMatch(/needs a percentage/);
  });
  it('an unknown unit', () => {
    expect(bad('latency.p99 < 5 sec').message).toMatch(/unknown unit 'sec'/);
    expect(bad('latency.p99 < 5msec').message).toMatch(/unknown unit 'msec'/);
    expect(bad('latency.p99 < 5k ms').message).toMatch(/multiplier/);
  });
  it('operators', () => {
    const e = bad('latency.p99 = 2ms');
    expect(e.message).toMatch(/use '=='/);
    expect(caretCol(e)).toBe(12);
    expect(bad('latency.p99 2ms').message).toMatch(/expected a comparison/);
    expect(bad('latency.p99 =< 2ms').message).toMatch(/use '=='/);
  });
  it('values', () => {
    expect(bad('latency.p99 <').message).toMatch(/expected a value/);
    expect(bad('latency.p99 < fast').message).toMatch(/expected a number/);
    expect(bad('hit_ratio >= 120%').message).toMatch(/within 0–100%/);
  });
  it('tags', () => {
    expect(bad('latency{cmnd=get}.p99 < 1ms').message).toMatch(/unknown tag 'cmnd'.*did you mean 'cmd'/);
    expect(bad('lag{cmd=get}.p99 < 1ms').message).toMatch(/lag has no 'cmd' tag/);
    expect(bad('latency{class=timeout}.p99 < 1ms').message).toMatch(/latency has no 'class' tag/);
    expect(bad('errors{class=timout}.count < 1').message).toMatch(/unknown error class 'timout'.*did you mean 'timeout'/);
    expect(bad('latency{cmd=get,cmd=set}.p99 < 1ms').message).toMatch(/given twice/);
    expect(bad('latency{cmd=get.p99 < 1ms').message).toMatch(/expected ',' or '}'/);
    expect(bad('latency{cmd}.p99 < 1ms').message).toMatch(/expected '=' after tag 'cmd'/);
    expect(bad('latency{target=localhost}.p99 < 1ms').message).toMatch(/not host:port/);
  });
  it('share and captured right sides only where they mean something', () => {
    expect(bad('latency.p99 < 98% intended').message).toMatch(/share of another aggregate/);
    expect(bad('throughput.achieved >= 98% achieved').message).toMatch(/can only be compared with a share of intended/);
    expect(bad('errors.rate < captured').message).toMatch(/only a right side for hit_ratio/);
    expect(bad('hit_ratio >= captured - 2').message).toMatch(/percentage points/);
  });
  it('windows', () => {
    expect(bad('latency.p99 < 2ms over 10s').message).toMatch(/expected 'every'/);
    expect(bad('latency.p99 < 2ms over every').message).toMatch(/window length/);
    expect(bad('latency.p99 < 2ms over every 10').message).toMatch(/window needs a time unit/);
    expect(bad('latency.p99 < 2ms over every 0s').message).toMatch(/longer than 0/);
    expect(bad('latency.p99 < 2ms over every 10s please').message).toMatch(/unexpected 'please'/);
    expect(bad('latency.p99 < 2ms and more').message).toMatch(/unexpected 'and more'/);
  });
  it('empty', () => {
    expect(() => parseCheck('  ')).toThrow(McError);
  });
  it('parseChecks reports every bad check at once', () => {
    try {
      parseChecks(['latency.p99 < 2ms', 'latncy.p99 < 1ms', 'errors.rate < 5ms']);
      throw new Error('not rejected');
    } catch (err) {
      expect(err).toBeInstanceOf(McError);
      expect((err as McError).exitCode).toBe(2);
      expect((err as McError).message).toContain("'latncy.p99 < 1ms'");
      expect((err as McError).message).toContain("'errors.rate < 5ms'");
    }
  });
});

describe('the README only shows valid checks and rules', () => {
  it('every --threshold, thresholds entry and --max-regression rule in the doc parses', async () => {
    const { readFileSync } = await import('node:fs');
    const { parseRegressionRule } = await import('../../src/report/compare.js');
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    // the gate's section: other sections have tables of `a=b` options that are not rules
    const doc = readme.slice(readme.indexOf('## The CI gate'));
    const checks = [...doc.matchAll(/--threshold '([^']+)'/g)].map((m) => m[1]!);
    const json = JSON.parse(/```json\n([\s\S]*?)```/.exec(doc)![1]!) as { thresholds: string[]; 'max-regression': string[] };
    checks.push(...json.thresholds);
    expect(checks.length).toBeGreaterThan(15);
    for (const c of checks) expect(() => parseCheck(c), c).not.toThrow();
    const rules = [...doc.matchAll(/--max-regression '([^']+)'/g)].map((m) => m[1]!);
    rules.push(...json['max-regression']);
    for (const m of doc.matchAll(/^\| `([^`]+=[^`]+)`(?:, `([^`]+)`)? \|/gm)) rules.push(...[m[1], m[2]].filter((x): x is string => !!x));
    expect(rules.length).toBeGreaterThan(10);
    for (const r of rules) expect(() => parseRegressionRule(r), r).not.toThrow();
  });
});
