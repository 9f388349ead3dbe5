/**
 * Threshold checks: the grammar and the parser/validator (run before any load is sent). The
 * evaluation is in check-eval.ts, the verdict in gate.ts.
 *
 * Grammar (full reference with examples in README.md ("The CI gate")):
 *
 * ```
 * check     := metric [ '{' tag '=' value { ',' tag '=' value } '}' ] [ '.' aggregate ]
 *              op right [ 'over' 'every' duration ]
 * metric    := latency | response | service | lag | errors | throughput | hit_ratio
 *            | heldback | unsent | requests
 * tag       := cmd | target | class (errors only) | reason (heldback only)
 * aggregate := pNN[.NN] | min | max | mean          (latency, response, service, lag)
 *            | rate | count                         (errors)
 *            | achieved | intended                  (throughput)
 *            | count                                (heldback, unsent)
 *            | count | sent | completed | intended  (requests; count = sent)
 * op        := < | <= | > | >= | == | !=          (≤ ≥ ≠ accepted too)
 * right     := number [k|M] [unit]
 *            | number '%' aggregate                 (98% intended: share of another aggregate)
 *            | captured [ (+|-) number '%' ]        (hit_ratio only: the capture's hit ratio)
 * unit      := ns | µs | us | ms | s | % | ops/s
 * duration  := number (ns | µs | us | ms | s | m)
 * ```
 *
 * `latency` is the response time (completion − intended send). Percentages of rates and ratios are
 * on a 0–100 scale; `captured - 2%` means two percentage points below the captured hit ratio. A
 * window (`over every 10s`) makes the check hold in every window of that length over the
 * non-warm-up intervals (sliding by one interval), not only over the whole run.
 */
import { McError } from '../errors.js';
import { ERROR_CLASSES } from '../metrics/results-types.js';
import { METRICS, quantityOf, RATE_UNITS, SPECS, TIME_UNITS, type Check, type CheckRight, type CheckTags, type MetricName, type Op, type Quantity } from './check-types.js';

// ---------------------------------------------------------------------------------------------
// Parsing

class CheckSyntaxError extends Error {
  constructor(
    message: string,
    readonly pos: number,
  ) {
    super(message);
  }
}

/** Levenshtein distance, for "did you mean" suggestions. */
function distance(a: string, b: string): number {
  const d: number[] = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0]!;
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = d[j]!;
      d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return d[b.length]!;
}

/** " (did you mean 'x'?)" when a candidate is close, else ''. */
export function suggest(word: string, candidates: readonly string[]): string {
  let best = '';
  let bestD = Infinity;
  for (const c of candidates) {
    const dd = distance(word.toLowerCase(), c.toLowerCase());
    if (dd < bestD) {
      bestD = dd;
      best = c;
    }
  }
  return best && bestD <= Math.max(1, Math.floor(best.length / 3)) ? ` (did you mean '${best}'?)` : '';
}

class Cursor {
  pos = 0;
  constructor(readonly s: string) {}
  ws(): void {
    while (this.pos < this.s.length && /\s/.test(this.s[this.pos]!)) this.pos++;
  }
  eof(): boolean {
    return this.pos >= this.s.length;
  }
  peek(): string {
    return this.s[this.pos] ?? '';
  }
  /** Matches a sticky regex at the cursor; advances and returns the match or null. */
  match(re: RegExp): RegExpExecArray | null {
    const y = new RegExp(re.source, re.flags.includes('y') ? re.flags : re.flags + 'y');
    y.lastIndex = this.pos;
    const m = y.exec(this.s);
    if (m) this.pos += m[0].length;
    return m;
  }
  /** Like match but does not advance. */
  look(re: RegExp): RegExpExecArray | null {
    const save = this.pos;
    const m = this.match(re);
    this.pos = save;
    return m;
  }
  fail(message: string, pos = this.pos): never {
    throw new CheckSyntaxError(message, pos);
  }
}

const IDENT = /[A-Za-z_][A-Za-z0-9_]*/;
const NUMBER = /(?:\d+(?:\.\d*)?|\.\d+)/;
const TAG_VALUE = /[^,}\s]+/;

/** Parses the part left of the operator: metric, tags, aggregate. Shared with --max-regression rules. */
function parseSelector(c: Cursor): { metric: MetricName; tags: CheckTags; aggregate: string; percentile: number | null; aggregatePos: number } {
  c.ws();
  const start = c.pos;
  const m = c.match(IDENT);
  if (!m) c.fail(`expected a metric name (${METRICS.join(', ')})`);
  const name = m[0];
  if (!(METRICS as readonly string[]).includes(name)) {
    c.fail(`unknown metric '${name}'${suggest(name, METRICS)}; metrics: ${METRICS.join(', ')}`, start);
  }
  const metric = name as MetricName;
  const spec = SPECS[metric];
  const tags: CheckTags = {};
  if (c.peek() === '{') {
    c.pos++;
    for (;;) {
      c.ws();
      const tagPos = c.pos;
      const t = c.match(IDENT);
      if (!t) c.fail("expected a tag name, like cmd=get");
      const tag = t[0] as keyof CheckTags;
      if (!(spec.tags as readonly string[]).includes(tag)) {
        const all = ['cmd', 'target', 'class', 'reason'];
        c.fail(
          all.includes(tag)
            ? `${metric} has no '${tag}' tag; its tags: ${spec.tags.join(', ')}`
            : `unknown tag '${tag}'${suggest(tag, spec.tags)}; ${metric} tags: ${spec.tags.join(', ')}`,
          tagPos,
        );
      }
      if (tags[tag] !== undefined) c.fail(`tag '${tag}' given twice`, tagPos);
      c.ws();
      if (c.peek() !== '=') c.fail(`expected '=' after tag '${tag}'`);
      c.pos++;
      c.ws();
      const valPos = c.pos;
      const v = c.match(TAG_VALUE);
      if (!v) c.fail(`expected a value for tag '${tag}'`);
      let value = v[0];
      if (tag === 'cmd') value = value.toLowerCase();
      // class=a|b sums several classes (the default check counts the target's transport failures)
      for (const one of tag === 'class' ? value.split('|') : []) {
        if (!(ERROR_CLASSES as readonly string[]).includes(one)) c.fail(`unknown error class '${one}'${suggest(one, ERROR_CLASSES)}; classes: ${ERROR_CLASSES.join(', ')} (several: timeout|reset)`, valPos);
      }
      if (tag === 'target' && !/^(\[[0-9A-Fa-f:.]+\]|[^:\s]+):\d{1,5}$/.test(value)) {
        c.fail(`target '${value}' is not host:port`, valPos);
      }
      tags[tag] = value;
      c.ws();
      if (c.peek() === ',') {
        c.pos++;
        continue;
      }
      if (c.peek() === '}') {
        c.pos++;
        break;
      }
      c.fail("expected ',' or '}' in the tag list");
    }
  }
  let aggregate = '';
  let percentile: number | null = null;
  const aggregatePos = c.pos;
  if (c.peek() === '.') {
    c.pos++;
    const aPos = c.pos;
    const pm = c.match(/p(\d+(?:\.\d+)?)(?![A-Za-z0-9_])/);
    if (pm) {
      aggregate = pm[0];
      if (!spec.percentiles) c.fail(`${metric} has no percentiles; aggregates: ${spec.aggregates.join(', ') || '(none)'}`, aPos);
      percentile = Number(pm[1]);
      if (!(percentile > 0 && percentile <= 100)) c.fail(`percentile ${pm[1]} is out of range (0, 100]`, aPos);
    } else {
      const a = c.match(IDENT);
      if (!a) c.fail('expected an aggregate after the dot');
      aggregate = a[0];
      if (!spec.aggregates.includes(aggregate)) {
        const options = [...spec.aggregates, ...(spec.percentiles ? ['p50', 'p90', 'p99', 'p99.9', 'p99.99'] : [])];
        c.fail(
          options.length === 0
            ? `${metric} takes no aggregate (write '${metric}${formatTags(tags)} >= 90%')`
            : `unknown aggregate '${aggregate}' for ${metric}${suggest(aggregate, options)}; use one of: ${options.join(', ')}${spec.percentiles ? ' or any pNN.NN' : ''}`,
          aPos,
        );
      }
    }
  } else if (spec.aggregates.length > 0 || spec.percentiles) {
    const options = [...spec.aggregates, ...(spec.percentiles ? ['p99', 'p99.9', 'max'] : [])];
    c.fail(`${metric} needs an aggregate, like ${metric}.${options[0]} (choices: ${options.join(', ')}${spec.percentiles ? ', pNN.NN' : ''})`);
  }
  return { metric, tags, aggregate, percentile, aggregatePos };
}

/** Parses an operator at the cursor. */
function parseOp(c: Cursor): Op {
  c.ws();
  const m = c.match(/<=|>=|==|!=|≤|≥|≠|<|>|=/);
  if (!m) c.fail('expected a comparison: <, <=, >, >=, ==, !=');
  const op = m[0];
  if (op === '=') c.fail("use '==' for equality (a single '=' is not a comparison)", c.pos - 1);
  return ({ '≤': '<=', '≥': '>=', '≠': '!=' } as Record<string, Op>)[op] ?? (op as Op);
}

interface Quantity_ {
  value: number;
  /** The unit as written ('' if none); multipliers are folded into value. */
  unit: string;
  pos: number;
}

/** number [k|M] [unit]; the unit is one of the known ones or absent. */
function parseQuantity(c: Cursor): Quantity_ {
  c.ws();
  const pos = c.pos;
  const n = c.match(NUMBER);
  if (!n) c.fail(c.eof() ? 'expected a value after the comparison' : `expected a number, found '${c.s.slice(c.pos).split(/\s/)[0]}'`);
  let value = Number(n[0]);
  // k/M multipliers: "10k", "1.5M ops/s", "10kops/s"
  const mult = c.match(/[kKM](?=$|\s|ops\/|op\/|req\/|rps|\/s|[^A-Za-zµμ])/);
  if (mult) value *= mult[0] === 'M' ? 1e6 : 1e3;
  const save = c.pos;
  c.ws();
  if (c.peek() === '%') {
    c.pos++;
    return { value, unit: '%', pos };
  }
  const u = c.look(/(?:ops\/s|op\/s|req\/s|\/s|[A-Za-zµμ]+)/);
  if (!u) {
    c.pos = save;
    return { value, unit: '', pos };
  }
  const word = u[0];
  if (word in TIME_UNITS || RATE_UNITS.has(word)) {
    if (mult && word in TIME_UNITS) c.fail(`a multiplier (${mult[0]}) cannot go with a time unit; write e.g. 1500us or 1.5ms`, pos);
    c.pos += word.length;
    if (c.look(/[A-Za-z0-9_]/)) c.fail(`unknown unit '${word}${c.look(/[A-Za-z0-9_]+/)![0]}'`, c.pos - word.length);
    return { value, unit: word, pos };
  }
  if (word === 'over' || word === 'intended' || word === 'achieved' || word === 'sent' || word === 'completed' || word === 'count') {
    c.pos = save;
    return { value, unit: '', pos };
  }
  c.fail(`unknown unit '${word}'${suggest(word, [...Object.keys(TIME_UNITS), ...RATE_UNITS, '%'])}; units: ns, µs (us), ms, s, %, ops/s`, c.pos);
}

function formatTags(tags: CheckTags): string {
  const parts = (Object.keys(tags) as (keyof CheckTags)[]).filter((k) => tags[k] !== undefined).map((k) => `${k}=${tags[k]}`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

/** The canonical left side of a check, e.g. `latency{cmd=get}.p99.9`. */
export function selectorText(metric: MetricName, tags: CheckTags, aggregate: string): string {
  return `${metric}${formatTags(tags)}${aggregate ? `.${aggregate}` : ''}`;
}

function unitFits(q: Quantity, unit: string): boolean {
  switch (q) {
    case 'time':
      return unit in TIME_UNITS;
    case 'percent':
      return unit === '%';
    case 'rate':
      return RATE_UNITS.has(unit);
    case 'count':
      return unit === '';
  }
}

function expectedUnit(q: Quantity): string {
  switch (q) {
    case 'time':
      return 'a time unit (ns, µs, us, ms, s)';
    case 'percent':
      return 'a percentage (%)';
    case 'rate':
      return 'ops/s';
    case 'count':
      return 'a plain count (no unit; k and M multipliers allowed)';
  }
}

function parseOne(text: string): Check {
  const c: Cursor = new Cursor(text);
  const sel = parseSelector(c);
  const { metric, tags, aggregate, percentile } = sel;
  const quantity = quantityOf(metric, aggregate);
  const op = parseOp(c);
  c.ws();
  let right: CheckRight;
  let displayUnit = '';
  const rightPos = c.pos;
  if (c.match(/captured(?![A-Za-z0-9_])/)) {
    if (metric !== 'hit_ratio') c.fail(`'captured' is only a right side for hit_ratio`, rightPos);
    c.ws();
    let offset = 0;
    const sign = c.match(/[+-]/);
    if (sign) {
      const q = parseQuantity(c);
      if (q.unit !== '%') c.fail(`the offset from 'captured' is in percentage points: write e.g. 'captured - 2%'`, q.pos);
      offset = sign[0] === '-' ? -q.value : q.value;
    }
    right = { kind: 'captured', offset };
    displayUnit = '%';
  } else {
    const q = parseQuantity(c);
    c.ws();
    const ref = q.unit === '%' ? c.look(IDENT) : null;
    if (ref && ref[0] !== 'over') {
      const of = ref[0];
      const allowed = SPECS[metric].shares?.[aggregate] ?? [];
      if (!allowed.includes(of)) {
        c.fail(
          allowed.length
            ? `'${q.value}% ${of}': ${selectorText(metric, tags, aggregate)} can only be compared with a share of ${allowed.join(' or ')}`
            : `'${q.value}% ${of}' (a share of another aggregate) is only for throughput.achieved and requests counts`,
          c.pos,
        );
      }
      c.pos += of.length;
      right = { kind: 'share', share: q.value / 100, of };
      displayUnit = quantity === 'rate' ? 'ops/s' : '';
    } else {
      if (!unitFits(quantity, q.unit)) {
        const what = selectorText(metric, tags, aggregate);
        c.fail(
          q.unit === ''
            ? `${what} needs ${expectedUnit(quantity)} after the value${quantity === 'time' ? `, e.g. ${q.value}ms` : quantity === 'percent' ? `, e.g. ${q.value}%` : ''}`
            : `${what} is ${quantity === 'count' ? 'a count' : quantity === 'time' ? 'a time' : quantity === 'rate' ? 'a rate' : 'a percentage'}: '${q.unit}' does not fit, use ${expectedUnit(quantity)}`,
          q.pos,
        );
      }
      let value = q.value;
      if (quantity === 'time') value *= TIME_UNITS[q.unit]!;
      right = { kind: 'value', value };
      displayUnit = q.unit === 'μs' ? 'µs' : q.unit === 'op/s' || q.unit === 'req/s' || q.unit === 'rps' || q.unit === '/s' ? 'ops/s' : q.unit;
      if (quantity === 'percent' && (value < 0 || value > 100)) c.fail(`a percentage must be within 0–100%`, q.pos);
    }
  }
  c.ws();
  let windowNs: number | null = null;
  if (!c.eof()) {
    const overPos = c.pos;
    if (c.match(/over(?![A-Za-z0-9_])/)) {
      c.ws();
      if (!c.match(/every(?![A-Za-z0-9_])/)) c.fail("expected 'every' after 'over' (e.g. 'over every 10s')");
      c.ws();
      const dPos = c.pos;
      const n = c.match(NUMBER);
      if (!n) c.fail("expected a window length after 'over every', e.g. 10s");
      c.ws();
      const u = c.match(/(?:ns|µs|μs|us|ms|s|m|min)(?![A-Za-z0-9_])/);
      if (!u) c.fail(`the window needs a time unit (ms, s, m), e.g. 'over every 10s'`, dPos);
      const mul = u[0] === 'm' || u[0] === 'min' ? 60e9 : TIME_UNITS[u[0]]!;
      windowNs = Number(n[0]) * mul;
      if (!(windowNs > 0)) c.fail('the window must be longer than 0', dPos);
    } else {
      c.fail(`unexpected '${c.s.slice(c.pos)}'`, overPos);
    }
    c.ws();
    if (!c.eof()) c.fail(`unexpected '${c.s.slice(c.pos)}' after the window`);
  }
  return { text, metric, tags, aggregate, percentile, op, right, quantity, displayUnit, windowNs };
}

/** Formats a syntax error with the check text and a caret under the offending position. */
function caretMessage(label: string, text: string, err: CheckSyntaxError): string {
  const pos = Math.min(Math.max(err.pos, 0), text.length);
  // count code points so the caret lines up under non-ASCII characters
  const pad = Array.from(text.slice(0, pos)).length;
  return `${label} '${text}': ${err.message}\n    ${text}\n    ${' '.repeat(pad)}^`;
}

/** Parses and validates one check; a bad check throws McError (exit 2) with a caret under the problem. */
export function parseCheck(text: string): Check {
  try {
    if (text.trim() === '') throw new CheckSyntaxError('empty threshold', 0);
    return parseOne(text);
  } catch (err) {
    if (err instanceof CheckSyntaxError) {
      throw new McError(caretMessage('bad threshold', text, err), 'MCR_ERR_BAD_THRESHOLD', 'see the threshold grammar: mcreplay replay --help, or README.md ("The CI gate")');
    }
    throw err;
  }
}

/** Parses and validates every check before any load is sent; reports all bad ones at once (exit 2). */
export function parseChecks(texts: readonly string[]): Check[] {
  const out: Check[] = [];
  const problems: string[] = [];
  for (const t of texts) {
    try {
      out.push(parseCheck(t));
    } catch (err) {
      if (err instanceof McError) problems.push(err.message);
      else throw err;
    }
  }
  if (problems.length) {
    throw new McError(problems.join('\n'), 'MCR_ERR_BAD_THRESHOLD', 'see the threshold grammar: mcreplay replay --help, or README.md ("The CI gate")');
  }
  return out;
}

/** Selector parser for `--max-regression` rules (`latency{cmd=get}.p99=10%`); exported for compare.ts. */
export function parseSelectorText(text: string, label: string): { metric: MetricName; tags: CheckTags; aggregate: string; percentile: number | null; rest: string; restPos: number } {
  const c: Cursor = new Cursor(text);
  try {
    const sel = parseSelector(c);
    return { ...sel, rest: c.s.slice(c.pos), restPos: c.pos };
  } catch (err) {
    if (err instanceof CheckSyntaxError) throw new McError(caretMessage(label, text, err), 'MCR_ERR_BAD_THRESHOLD');
    throw err;
  }
}

/** A caret-style usage error for a rule text at a position (used by compare.ts). */
export function ruleError(label: string, text: string, message: string, pos: number): McError {
  return new McError(caretMessage(label, text, new CheckSyntaxError(message, pos)), 'MCR_ERR_BAD_THRESHOLD');
}
