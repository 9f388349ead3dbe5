/**
 * Threshold checks: the grammar, the parser/validator (run before any load is sent) and the
 * evaluation against a results file.
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
import { ExitCode, McError } from '../errors.js';
import { ERROR_CLASSES, type CheckResult, type Counters, type Interval, type ResultsFile, type Verdict, type VerdictStatus } from '../metrics/results-types.js';
import { addEncoded, createHistogram, decodeHistogram, freeHistogram, type Histogram } from '../metrics/histogram.js';

// ---------------------------------------------------------------------------------------------
// The parsed form

/** Metrics a check can name. */
export const METRICS = ['latency', 'response', 'service', 'lag', 'errors', 'throughput', 'hit_ratio', 'heldback', 'unsent', 'requests'] as const;
export type MetricName = (typeof METRICS)[number];

/** Comparison operators. */
export type Op = '<' | '<=' | '>' | '>=' | '==' | '!=';

/** The kind of quantity a check compares; values are held in canonical units (ns, percent 0–100, ops/s, count). */
export type Quantity = 'time' | 'percent' | 'rate' | 'count';

/** Tags that narrow a metric to a command, a target, an error class or a held-back reason. */
export interface CheckTags {
  cmd?: string;
  target?: string;
  class?: string;
  reason?: string;
}

/** The right side of a check. */
export type CheckRight =
  /** A plain value in canonical units. */
  | { kind: 'value'; value: number }
  /** `98% intended`: a share (0–1) of another aggregate of the same metric and tags. */
  | { kind: 'share'; share: number; of: string }
  /** `captured - 2%`: the capture's hit ratio plus an offset in percentage points. */
  | { kind: 'captured'; offset: number };

/** A parsed, validated check. */
export interface Check {
  /** As the user wrote it. */
  text: string;
  metric: MetricName;
  tags: CheckTags;
  /** Aggregate name ('p99.9', 'max', 'rate', 'count', ...); '' for hit_ratio. */
  aggregate: string;
  /** For percentile aggregates, the percentile (0–100]. */
  percentile: number | null;
  op: Op;
  right: CheckRight;
  quantity: Quantity;
  /** The unit to display values in: the one the user wrote ('ms', '%', 'ops/s', '' for counts). */
  displayUnit: string;
  /** Window length, ns, or null for the whole run. */
  windowNs: number | null;
}

// ---------------------------------------------------------------------------------------------
// Tables

const TIME_UNITS: Record<string, number> = { ns: 1, 'µs': 1e3, 'μs': 1e3, us: 1e3, ms: 1e6, s: 1e9 };
const RATE_UNITS = new Set(['ops/s', 'op/s', 'req/s', 'rps', '/s']);
const LATENCY_METRICS = new Set<MetricName>(['latency', 'response', 'service', 'lag']);

interface MetricSpec {
  aggregates: readonly string[];
  percentiles: boolean;
  tags: readonly (keyof CheckTags)[];
  /** Aggregates a `N% <aggregate>` right side may refer to, per left aggregate. */
  shares?: Record<string, readonly string[]>;
  doc: string;
}

const SPECS: Record<MetricName, MetricSpec> = {
  latency: { aggregates: ['min', 'max', 'mean'], percentiles: true, tags: ['cmd', 'target'], doc: 'response time (completion − intended send)' },
  response: { aggregates: ['min', 'max', 'mean'], percentiles: true, tags: ['cmd', 'target'], doc: 'response time (same as latency)' },
  service: { aggregates: ['min', 'max', 'mean'], percentiles: true, tags: ['cmd', 'target'], doc: 'service time (completion − actual write)' },
  lag: { aggregates: ['min', 'max', 'mean'], percentiles: true, tags: ['target'], doc: 'schedule lag (actual − intended send)' },
  errors: { aggregates: ['rate', 'count'], percentiles: false, tags: ['cmd', 'target', 'class'], doc: 'requests that ended in an error' },
  throughput: {
    aggregates: ['achieved', 'intended'],
    percentiles: false,
    tags: ['cmd', 'target'],
    shares: { achieved: ['intended'], intended: ['achieved'] },
    doc: 'requests per second',
  },
  hit_ratio: { aggregates: [], percentiles: false, tags: ['cmd', 'target'], doc: 'hits ÷ (hits + misses)' },
  heldback: { aggregates: ['count'], percentiles: false, tags: ['cmd', 'target', 'reason'], doc: 'requests held back on purpose' },
  unsent: { aggregates: ['count'], percentiles: false, tags: ['cmd', 'target'], doc: 'requests left unsent when the run stopped' },
  requests: {
    aggregates: ['count', 'sent', 'completed', 'answered', 'intended'],
    percentiles: false,
    tags: ['cmd', 'target'],
    shares: { count: ['intended'], sent: ['intended'], completed: ['intended', 'sent'], answered: ['intended', 'sent'], intended: [] },
    doc: 'request counts (count = sent; answered = completed + error answers: ERROR, CLIENT_ERROR, SERVER_ERROR)',
  },
};

function quantityOf(metric: MetricName, aggregate: string): Quantity {
  if (LATENCY_METRICS.has(metric)) return 'time';
  if (metric === 'throughput') return 'rate';
  if (metric === 'hit_ratio' || (metric === 'errors' && aggregate === 'rate')) return 'percent';
  return 'count';
}

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
      throw new McError(caretMessage('bad threshold', text, err), ExitCode.usage, 'see the threshold grammar: mcreplay replay --help, or README.md ("The CI gate")');
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
    throw new McError(problems.join('\n'), ExitCode.usage, 'see the threshold grammar: mcreplay replay --help, or README.md ("The CI gate")');
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
    if (err instanceof CheckSyntaxError) throw new McError(caretMessage(label, text, err), ExitCode.usage);
    throw err;
  }
}

/** A caret-style usage error for a rule text at a position (used by compare.ts). */
export function ruleError(label: string, text: string, message: string, pos: number): McError {
  return new McError(caretMessage(label, text, new CheckSyntaxError(message, pos)), ExitCode.usage);
}

// ---------------------------------------------------------------------------------------------
// Evaluation

/** The slice of a results file that checks read; a run in progress can provide this much. */
export type ResultsView = Pick<ResultsFile, 'intervals' | 'intervalNs' | 'commands'> &
  Partial<Pick<ResultsFile, 'summary' | 'captured' | 'config'>>;

type Absent = { absent: string };
type Observed = { value: number } | Absent;

function isAbsent(o: Observed): o is Absent {
  return 'absent' in o;
}

/** Sums counters (b into a copy of a). */
export function addCounters(a: Counters, b: Counters): Counters {
  const errors = { ...a.errors };
  for (const [k, v] of Object.entries(b.errors)) errors[k as keyof typeof errors] = (errors[k as keyof typeof errors] ?? 0) + v;
  const heldBack = { ...a.heldBack };
  for (const [k, v] of Object.entries(b.heldBack)) heldBack[k] = (heldBack[k] ?? 0) + v;
  return {
    intended: a.intended + b.intended,
    sent: a.sent + b.sent,
    completed: a.completed + b.completed,
    hits: a.hits + b.hits,
    misses: a.misses + b.misses,
    errors,
    heldBack,
    unsent: a.unsent + b.unsent,
    bytesOut: a.bytesOut + b.bytesOut,
    bytesIn: a.bytesIn + b.bytesIn,
  };
}

/** Zeroed counters. */
export function zeroCounters(): Counters {
  return {
    intended: 0,
    sent: 0,
    completed: 0,
    hits: 0,
    misses: 0,
    errors: Object.fromEntries(ERROR_CLASSES.map((c) => [c, 0])) as Counters['errors'],
    heldBack: {},
    unsent: 0,
    bytesOut: 0,
    bytesIn: 0,
  };
}

/** Errors of one class, of several (`timeout|reset`), or of all. */
export function errorCount(c: Counters, cls: string | undefined): number {
  let n = 0;
  if (cls) {
    for (const one of cls.split('|')) n += (c.errors as Record<string, number>)[one] ?? 0;
    return n;
  }
  for (const v of Object.values(c.errors)) n += v;
  return n;
}

function heldBackCount(c: Counters, reason: string | undefined): number {
  if (reason) return c.heldBack[reason] ?? 0;
  let n = 0;
  for (const v of Object.values(c.heldBack)) n += v;
  return n;
}

/** Observed value of a counter-based aggregate from counters over `durationNs`. */
function fromCounters(check: Check, c: Counters, durationNs: number, aggregate = check.aggregate): Observed {
  const t = check.tags;
  switch (check.metric) {
    case 'errors':
      if (aggregate === 'count') return { value: errorCount(c, t.class) };
      if (c.sent === 0) return { absent: 'no requests were sent' };
      return { value: (100 * errorCount(c, t.class)) / c.sent };
    case 'throughput': {
      if (!(durationNs > 0)) return { absent: 'no summarised time (the run has no non-warm-up interval)' };
      const n = aggregate === 'intended' ? c.intended : c.completed;
      return { value: n / (durationNs / 1e9) };
    }
    case 'hit_ratio':
      if (c.hits + c.misses === 0) return { absent: 'no hits or misses were seen (no retrieval commands answered)' };
      return { value: (100 * c.hits) / (c.hits + c.misses) };
    case 'heldback':
      return { value: heldBackCount(c, t.reason) };
    case 'unsent':
      return { value: c.unsent };
    case 'requests':
      switch (aggregate) {
        case 'intended':
          return { value: c.intended };
        case 'completed':
          return { value: c.completed };
        case 'answered':
          // an error line is an answer: what is missing is what timed out, was reset or refused, or garbled
          return { value: c.completed + c.errors.server_error + c.errors.client_error + c.errors.error };
        default:
          return { value: c.sent };
      }
    default:
      throw new Error(`fromCounters: ${check.metric} is not a counter metric`);
  }
}

function fromHistogram(check: Check, h: Histogram): Observed {
  if (h.totalCount === 0) return { absent: 'no samples were recorded' };
  switch (check.aggregate) {
    case 'min':
      return { value: h.getValueAtPercentile(0) };
    case 'max':
      return { value: h.maxValue };
    case 'mean':
      return { value: h.mean };
    default:
      return { value: h.getValueAtPercentile(check.percentile ?? 100) };
  }
}

/** Why the check's scope (command, target) does not exist in this run, or null when it does. */
function scopeProblem(check: Check, view: ResultsView): string | null {
  const cmd = check.tags.cmd;
  if (cmd !== undefined) {
    const known = new Set<string>([...view.commands, ...Object.keys(view.summary?.perCommand ?? {})]);
    if (!known.has(cmd)) {
      return `no '${cmd}' requests in this run (commands: ${[...known].sort().join(', ') || 'none'})`;
    }
  }
  const target = check.tags.target;
  if (target !== undefined) {
    const targets = view.config?.targets.map((t) => t.target) ?? [];
    if (!targets.includes(target)) return `target ${target} is not a target of this run (targets: ${targets.join(', ') || 'unknown'})`;
    if (targets.length > 1) return `results.json has no per-target breakdown; a target tag only works on single-target runs (targets: ${targets.join(', ')})`;
  }
  return null;
}

function compare(observed: number, op: Op, limit: number): boolean {
  switch (op) {
    case '<':
      return observed < limit;
    case '<=':
      return observed <= limit;
    case '>':
      return observed > limit;
    case '>=':
      return observed >= limit;
    case '==':
      return observed === limit;
    case '!=':
      return observed !== limit;
  }
}

/** Converts a canonical value to the check's display unit. */
function toDisplay(check: Check, v: number): number {
  if (check.quantity === 'time') return v / (TIME_UNITS[check.displayUnit] ?? 1);
  return v;
}

/** Human form of a value in the check's display unit. */
export function formatValue(v: number | null, unit: string): string {
  if (v === null || !Number.isFinite(v)) return v === null ? 'n/a' : String(v);
  const r = Math.abs(v) >= 1000 ? Math.round(v * 10) / 10 : Number(v.toPrecision(4));
  if (unit === '') return String(r);
  if (unit === '%') return `${r}%`;
  if (unit === 'ops/s') return `${r} ops/s`;
  return `${r}${unit}`;
}

function capturedHitRatio(check: Check, view: ResultsView): Observed {
  const captured = view.captured ?? {};
  let hits = 0;
  let misses = 0;
  if (check.tags.cmd !== undefined) {
    const c = captured[check.tags.cmd];
    if (!c) return { absent: `the capture has no '${check.tags.cmd}' requests to take a hit ratio from` };
    if (c.hitRatio !== null) return { value: 100 * c.hitRatio };
    hits = c.hits;
    misses = c.misses;
  } else {
    for (const c of Object.values(captured)) {
      hits += c.hits;
      misses += c.misses;
    }
  }
  if (hits + misses === 0) return { absent: 'the capture has no answered retrieval commands to take a hit ratio from' };
  return { value: (100 * hits) / (hits + misses) };
}

/** The limit a check compares against, given the observed data of the same scope. */
function limitOf(check: Check, view: ResultsView, counters: Counters | null, durationNs: number): Observed {
  const r = check.right;
  if (r.kind === 'value') return r;
  if (r.kind === 'captured') {
    const cap = capturedHitRatio(check, view);
    return isAbsent(cap) ? cap : { value: Math.min(100, Math.max(0, cap.value + r.offset)) };
  }
  if (!counters) return { absent: 'no counters' };
  const base = fromCounters(check, counters, durationNs, r.of);
  if (isAbsent(base)) return base;
  return { value: base.value * r.share };
}

interface Scope {
  counters: Counters | null;
  durationNs: number;
  /** Observed value of a histogram metric; the callback owns the histogram only for the call. */
  observeHist: () => Observed;
}

function observeScope(check: Check, view: ResultsView, scope: Scope): { observed: Observed; limit: Observed } {
  let observed: Observed;
  if (LATENCY_METRICS.has(check.metric)) observed = scope.observeHist();
  else if (!scope.counters) observed = { absent: 'no counters' };
  else observed = fromCounters(check, scope.counters, scope.durationNs);
  const limit = limitOf(check, view, scope.counters, scope.durationNs);
  return { observed, limit };
}

/** The right side as text with its resolved value, e.g. `1.96k ops/s (98% of intended)`. */
function rightText(check: Check, limitDisp: number | null): string {
  const v = formatValue(limitDisp, check.displayUnit);
  const r = check.right;
  if (r.kind === 'share') return `${v} (${Number((r.share * 100).toPrecision(6))}% of ${r.of})`;
  if (r.kind === 'captured') return `${v} (captured${r.offset ? ` ${r.offset < 0 ? '-' : '+'} ${Math.abs(r.offset)}%` : ''})`;
  return v;
}

function resultOf(check: Check, observed: Observed, limit: Observed, extra: Partial<CheckResult> = {}): CheckResult {
  const metric = selectorText(check.metric, check.tags, check.aggregate);
  const unit = check.displayUnit;
  const limitDisp = isAbsent(limit) ? null : toDisplay(check, limit.value);
  const base = { check: check.text, metric, unit, failedInterval: extra.failedInterval ?? null };
  if (isAbsent(limit)) {
    return { ...base, observed: isAbsent(observed) ? null : toDisplay(check, observed.value), limit: NaN, pass: false, message: `cannot evaluate: ${limit.absent}` };
  }
  if (isAbsent(observed)) {
    return { ...base, observed: null, limit: limitDisp!, pass: false, message: `no data: ${observed.absent}` };
  }
  const obsDisp = toDisplay(check, observed.value);
  const pass = compare(observed.value, check.op, limit.value);
  const message = `${metric} = ${formatValue(obsDisp, unit)}, ${pass ? 'holds' : 'breaks'} ${check.op} ${rightText(check, limitDisp)}`;
  return { ...base, observed: obsDisp, limit: limitDisp!, pass, message: extra.message ?? message };
}

function summaryScope(check: Check, view: ResultsView): Scope | Absent {
  const s = view.summary;
  if (!s) return { absent: 'the results have no summary' };
  const cs = check.tags.cmd !== undefined ? s.perCommand[check.tags.cmd] : s.total;
  if (!cs && check.metric !== 'lag') return { absent: `no summary for '${check.tags.cmd}'` };
  return {
    counters: cs?.counters ?? null,
    durationNs: s.durationNs,
    observeHist: () => {
      const enc = check.metric === 'lag' ? s.lagHist : check.metric === 'service' ? cs!.serviceHist : cs!.responseHist;
      const h = decodeHistogram(enc);
      try {
        return fromHistogram(check, h);
      } finally {
        freeHistogram(h);
      }
    },
  };
}

/** Throughput over the whole run: the summary's own rates (what the report shows). */
function summaryThroughput(check: Check, view: ResultsView, aggregate: string): number | null {
  const s = view.summary;
  if (!s) return null;
  const cs = check.tags.cmd !== undefined ? s.perCommand[check.tags.cmd] : s.total;
  if (!cs) return null;
  return aggregate === 'intended' ? cs.intendedRate : cs.achievedRate;
}

function evaluateWhole(check: Check, view: ResultsView): CheckResult {
  const problem = scopeProblem(check, view);
  if (problem) return resultOf(check, { absent: problem }, { absent: problem }, { message: `no data: ${problem}` });
  const scope = summaryScope(check, view);
  if ('absent' in scope) return resultOf(check, scope, { absent: scope.absent }, { message: `no data: ${scope.absent}` });
  if (check.metric === 'throughput') {
    const obs = summaryThroughput(check, view, check.aggregate);
    const observed: Observed = obs === null ? { absent: 'no throughput in the summary' } : { value: obs };
    let limit: Observed;
    if (check.right.kind === 'share') {
      const base = summaryThroughput(check, view, check.right.of);
      limit = base === null ? { absent: 'no throughput in the summary' } : { value: base * check.right.share };
    } else limit = limitOf(check, view, scope.counters, scope.durationNs);
    return resultOf(check, observed, limit);
  }
  const { observed, limit } = observeScope(check, view, scope);
  return resultOf(check, observed, limit);
}

function intervalCounters(iv: Interval, cmd: string | undefined): Counters | null {
  if (cmd === undefined) return iv.total.counters;
  return iv.perCommand[cmd]?.counters ?? null;
}

function intervalHist(check: Check, iv: Interval): string {
  if (check.metric === 'lag') return iv.lag;
  const ci = check.tags.cmd === undefined ? iv.total : iv.perCommand[check.tags.cmd];
  if (!ci) return '';
  return check.metric === 'service' ? ci.service : ci.response;
}

function fmtSeconds(ns: number): string {
  const s = ns / 1e9;
  return `${Number(s.toPrecision(6))}s`;
}

/** Is `a` worse than `b` for this check (for reporting the worst window)? */
function worse(check: Check, a: number, b: number): boolean {
  return check.op === '<' || check.op === '<=' ? a > b : check.op === '>' || check.op === '>=' ? a < b : false;
}

interface WindowOutcome {
  result: CheckResult;
  /** Number of complete windows evaluated. */
  windows: number;
}

/**
 * Evaluates a windowed check over sliding windows of whole intervals. With `completeOnly`, a run
 * shorter than one window evaluates nothing (for --abort-on-fail); otherwise it evaluates its whole
 * length as one window and says so.
 */
function evaluateWindows(check: Check, view: ResultsView, completeOnly: boolean): WindowOutcome {
  const problem = scopeProblem(check, view);
  if (problem) return { result: resultOf(check, { absent: problem }, { absent: problem }, { message: `no data: ${problem}` }), windows: 0 };
  const ivs = view.intervals.filter((iv) => !iv.warmup);
  const windowNs = check.windowNs!;
  const k = Math.max(1, Math.round(windowNs / view.intervalNs));
  if (ivs.length === 0) {
    const absent = 'the run has no non-warm-up interval';
    return { result: resultOf(check, { absent }, { absent }, { message: `no data: ${absent}` }), windows: 0 };
  }
  let short = false;
  let size = k;
  if (ivs.length < k) {
    if (completeOnly) return { result: resultOf(check, { absent: 'no complete window yet' }, { value: 0 }), windows: 0 };
    short = true;
    size = ivs.length;
  }
  const isHist = LATENCY_METRICS.has(check.metric);
  const running: Histogram | null = isHist ? createHistogram(true) : null;
  let counters = zeroCounters();
  let haveCounters = 0;
  let worst: { obs: number; limit: number; start: number; end: number; first: number } | null = null;
  let firstFail: { obs: number; limit: number; start: number; end: number; first: number; message: string } | null = null;
  let evaluated = 0;
  let lastAbsent = '';
  try {
    for (let i = 0; i < ivs.length; i++) {
      const iv = ivs[i]!;
      if (running) addEncoded(running, intervalHist(check, iv));
      const ic = intervalCounters(iv, check.tags.cmd);
      if (ic) {
        counters = addCounters(counters, ic);
        haveCounters++;
      }
      // a short trailing interval (the run ended inside it) is not a window of its own: it joins the
      // window before it rather than being judged on a few milliseconds of data
      const trailingShort = i === ivs.length - 1 && i >= size && iv.endNs - iv.startNs < view.intervalNs / 2;
      if (i >= size && !trailingShort) {
        const old = ivs[i - size]!;
        if (running) {
          const enc = intervalHist(check, old);
          if (enc !== '') {
            const h = decodeHistogram(enc);
            try {
              (running as unknown as { subtract(o: Histogram): void }).subtract(h);
            } finally {
              freeHistogram(h);
            }
          }
        }
        const oc = intervalCounters(old, check.tags.cmd);
        if (oc) {
          counters = subtractCounters(counters, oc);
          haveCounters--;
        }
      }
      if (i < size - 1) continue;
      const from = trailingShort ? i - size : i - size + 1;
      const first = ivs[from]!;
      const durationNs = ivs.slice(from, i + 1).reduce((a, v) => a + (v.endNs - v.startNs), 0);
      const observed: Observed = running
        ? fromHistogram(check, running)
        : haveCounters > 0 || check.metric === 'throughput' || check.quantity === 'count'
          ? fromCounters(check, counters, durationNs)
          : { absent: 'no activity' };
      const limit = limitOf(check, view, counters, durationNs);
      if (isAbsent(observed) || isAbsent(limit)) {
        lastAbsent = isAbsent(observed) ? observed.absent : (limit as Absent).absent;
        continue; // a window without data for this scope cannot break the check
      }
      evaluated++;
      const w = { obs: observed.value, limit: limit.value, start: first.startNs, end: iv.endNs, first: first.index };
      if (!worst || worse(check, w.obs, worst.obs)) worst = w;
      if (!firstFail && !compare(observed.value, check.op, limit.value)) firstFail = { ...w, message: '' };
    }
  } finally {
    freeHistogram(running);
  }
  const span = (w: { start: number; end: number }) => `[${fmtSeconds(w.start)}–${fmtSeconds(w.end)}]`;
  const note = short ? ` (the run is shorter than one ${fmtSeconds(windowNs)} window: evaluated over its ${ivs.length} interval(s))` : '';
  if (evaluated === 0) {
    const absent = `no ${fmtSeconds(windowNs)} window had data${lastAbsent ? ` (${lastAbsent})` : ''}`;
    return { result: resultOf(check, { absent }, { absent }, { message: `no data: ${absent}` }), windows: 0 };
  }
  const metric = selectorText(check.metric, check.tags, check.aggregate);
  if (firstFail) {
    const failing = worst && !compare(worst.obs, check.op, worst.limit) ? worst : firstFail;
    const r = resultOf(check, { value: failing.obs }, { value: failing.limit }, { failedInterval: firstFail.first });
    r.pass = false;
    r.message = `${metric} breaks ${check.op} ${rightText(check, toDisplay(check, failing.limit))} in the window ${span(failing)}: ${formatValue(toDisplay(check, failing.obs), check.displayUnit)} (first failing window starts at interval ${firstFail.first})${note}`;
    return { result: r, windows: evaluated };
  }
  const r = resultOf(check, { value: worst!.obs }, { value: worst!.limit });
  r.message = `${metric} holds in all ${evaluated} ${fmtSeconds(k * view.intervalNs)} window(s); worst ${formatValue(toDisplay(check, worst!.obs), check.displayUnit)} in ${span(worst!)}${note}`;
  return { result: r, windows: evaluated };
}

function subtractCounters(a: Counters, b: Counters): Counters {
  const errors = { ...a.errors };
  for (const [k, v] of Object.entries(b.errors)) errors[k as keyof typeof errors] = (errors[k as keyof typeof errors] ?? 0) - v;
  const heldBack = { ...a.heldBack };
  for (const [k, v] of Object.entries(b.heldBack)) heldBack[k] = (heldBack[k] ?? 0) - v;
  return {
    intended: a.intended - b.intended,
    sent: a.sent - b.sent,
    completed: a.completed - b.completed,
    hits: a.hits - b.hits,
    misses: a.misses - b.misses,
    errors,
    heldBack,
    unsent: a.unsent - b.unsent,
    bytesOut: a.bytesOut - b.bytesOut,
    bytesIn: a.bytesIn - b.bytesIn,
  };
}

/**
 * Evaluates checks against a results file. Histograms are WASM: `await initMetrics()` (from
 * src/metrics/histogram.ts) once before calling. A check whose data is absent fails with a message.
 */
export function evaluateChecks(results: ResultsView, checks: readonly Check[]): CheckResult[] {
  return checks.map((check) => (check.windowNs === null ? evaluateWhole(check, results) : evaluateWindows(check, results, false).result));
}

/** What `canStillPass` found. */
export interface StillPassOutcome {
  /** False when some check has failed for good: the run can stop (--abort-on-fail). */
  canPass: boolean;
  /** The checks that can no longer pass, with why. */
  failed: CheckResult[];
}

/** Can this check's whole-run value only grow as the run goes on? (counts, max) */
function monotoneUp(check: Check): boolean {
  if (check.right.kind !== 'value') return false;
  if (check.quantity === 'count') return true; // sums of non-negative interval counters
  return LATENCY_METRICS.has(check.metric) && (check.aggregate === 'max' || check.percentile === 100);
}

/**
 * For --abort-on-fail: given the intervals finished so far (warm-up ones are skipped), says whether
 * every check can still pass. A check is lost for good when an upper bound on a growing count (or
 * on the max latency) is already broken, or when a complete window already failed.
 */
export function canStillPass(partial: ResultsView, checks: readonly Check[]): StillPassOutcome {
  const failed: CheckResult[] = [];
  const ivs = partial.intervals.filter((iv) => !iv.warmup);
  for (const check of checks) {
    if (scopeProblem(check, partial) !== null && check.tags.target !== undefined) continue; // decided at the end
    if (check.windowNs !== null) {
      if (check.tags.cmd !== undefined && !partial.commands.includes(check.tags.cmd)) continue; // may still appear
      const out = evaluateWindows(check, partial, true);
      if (out.windows > 0 && !out.result.pass) failed.push(out.result);
      continue;
    }
    if (!monotoneUp(check) || (check.op !== '<' && check.op !== '<=' && check.op !== '==')) continue;
    let observed: Observed;
    if (LATENCY_METRICS.has(check.metric)) {
      const h = createHistogram(true);
      try {
        for (const iv of ivs) addEncoded(h, intervalHist(check, iv));
        observed = h.totalCount === 0 ? { absent: 'none yet' } : { value: h.maxValue };
      } finally {
        freeHistogram(h);
      }
    } else {
      let c = zeroCounters();
      for (const iv of ivs) {
        const ic = intervalCounters(iv, check.tags.cmd);
        if (ic) c = addCounters(c, ic);
      }
      observed = fromCounters(check, c, 0);
    }
    if (isAbsent(observed)) continue;
    const limit = (check.right as { value: number }).value;
    const lost = check.op === '==' ? observed.value > limit : !compare(observed.value, check.op, limit);
    if (lost) {
      const r = resultOf(check, observed, { value: limit });
      r.pass = false;
      r.message = `${r.metric} is already ${formatValue(toDisplay(check, observed.value), check.displayUnit)} and can only grow: ${check.op} ${formatValue(toDisplay(check, limit), check.displayUnit)} cannot hold`;
      failed.push(r);
    }
  }
  return { canPass: failed.length === 0, failed };
}

// ---------------------------------------------------------------------------------------------
// The verdict

/** Baseline outcome that feeds the verdict (from compare.ts), or a reason it could not be compared. */
export interface GateComparison {
  regressed: boolean;
  regressions: { pass: boolean; message: string }[];
}

/**
 * The run's verdict and exit code: the engine's own verdict in results.verdict decides first
 * (error → its code, 3 by default; saturated → 4; interrupted → 130/143), then a baseline that could
 * not be compared (2), then failed checks or regressions (99), else pass (0).
 */
export function verdictFor(results: Pick<ResultsFile, 'verdict'>, checkResults: readonly CheckResult[], comparison?: GateComparison | null, baselineError?: string | null): Verdict {
  const prior = results.verdict ?? { status: 'pass', reasons: [], saturated: false, checks: [], exitCode: 0 };
  const checks = [...checkResults];
  const failedChecks = checks.filter((c) => !c.pass);
  const failedRules = comparison?.regressions.filter((r) => !r.pass) ?? [];
  const reasons = [...(prior.reasons ?? [])];
  for (const c of failedChecks) reasons.push(`${c.origin === 'default' ? 'default check failed' : 'threshold failed'}: ${c.check}: ${c.message}`);
  for (const r of failedRules) reasons.push(`regression: ${r.message}`);
  if (baselineError) reasons.push(baselineError);
  const saturated = prior.saturated || prior.status === 'saturated';
  let status: VerdictStatus;
  let exitCode: number;
  if (prior.status === 'error') {
    status = 'error';
    exitCode = prior.exitCode && prior.exitCode !== ExitCode.ok ? prior.exitCode : ExitCode.targetUnreachable;
  } else if (baselineError) {
    status = 'error';
    exitCode = ExitCode.usage;
  } else if (saturated) {
    status = 'saturated';
    exitCode = ExitCode.invalidRun;
    if (!reasons.some((r) => /saturat/i.test(r))) reasons.unshift('the run is invalid: the generator was saturated (it could not keep the schedule)');
  } else if (prior.status === 'interrupted' && (prior.exitCode === ExitCode.sigint || prior.exitCode === ExitCode.sigterm)) {
    status = 'interrupted';
    exitCode = prior.exitCode;
  } else if (failedChecks.length || failedRules.length) {
    status = 'fail';
    exitCode = ExitCode.thresholdFailed;
  } else {
    status = prior.status === 'interrupted' ? 'interrupted' : 'pass';
    exitCode = prior.status === 'interrupted' ? prior.exitCode || ExitCode.ok : ExitCode.ok;
  }
  return { status, reasons, saturated, checks, exitCode };
}
