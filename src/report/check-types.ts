// The parsed form of a threshold check and the tables of what each metric accepts (shared by the
// grammar in check-grammar.ts and the evaluation in check-eval.ts).
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

export const TIME_UNITS: Record<string, number> = { ns: 1, 'µs': 1e3, 'μs': 1e3, us: 1e3, ms: 1e6, s: 1e9 };
export const RATE_UNITS = new Set(['ops/s', 'op/s', 'req/s', 'rps', '/s']);
export const LATENCY_METRICS = new Set<MetricName>(['latency', 'response', 'service', 'lag']);

export interface MetricSpec {
  aggregates: readonly string[];
  percentiles: boolean;
  tags: readonly (keyof CheckTags)[];
  /** Aggregates a `N% <aggregate>` right side may refer to, per left aggregate. */
  shares?: Record<string, readonly string[]>;
  doc: string;
}

export const SPECS: Record<MetricName, MetricSpec> = {
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

/** The kind of quantity an aggregate of a metric is. */
export function quantityOf(metric: MetricName, aggregate: string): Quantity {
  if (LATENCY_METRICS.has(metric)) return 'time';
  if (metric === 'throughput') return 'rate';
  if (metric === 'hit_ratio' || (metric === 'errors' && aggregate === 'rate')) return 'percent';
  return 'count';
}
