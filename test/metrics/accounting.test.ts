// The accounting identity (src/metrics/counters.ts): every request sent is answered, failed or
// abandoned; every request of the shaped workload is sent, held back or unsent. Each equation is
// broken on its own on counters built by hand, and the gate refuses a run whose counters do not add
// up (a constructed results file: the numbers are the test's own).
import { describe, expect, it } from 'vitest';
import { accountingGaps, emptyCounters, resultsAccountingGaps } from '../../src/metrics/counters.js';
import type { Counters, ResultsFile } from '../../src/metrics/results-types.js';
import { decideGate } from '../../src/report/gate.js';
import { makeResults } from '../gate/fixtures.js';

/** Counters of a run that adds up: 100 shaped = 90 sent + 6 held back + 4 unsent; 90 sent = 80 answered + 7 errors + 3 abandoned. */
function good(): Counters {
  const c = emptyCounters();
  c.intended = 94;
  c.sent = 90;
  c.completed = 80;
  c.errors.timeout = 4;
  c.errors.server_error = 3;
  c.heldBack = { flush_all: 2, 'cas (no token)': 4 };
  c.unsent = 4;
  return c;
}
const scope = { name: 'whole run', abandoned: 3, shapedRequests: 100 };

describe('accountingGaps', () => {
  it('is empty when every request is accounted for', () => {
    expect(accountingGaps(good(), scope)).toEqual([]);
  });

  it('names a request sent and then neither answered, failed nor abandoned (sent side only)', () => {
    const c = good();
    c.completed -= 1; // one answer lost: sent still 90, and the shaped side still adds up
    const gaps = accountingGaps(c, scope);
    expect(gaps).toHaveLength(1);
    expect(gaps[0]).toMatchObject({ equation: 'sent', scope: 'whole run', left: 90, right: 89 });
    expect(gaps[0]!.text).toBe('whole run: sent 90 ≠ completed 79 + errors 7 + abandoned 3 (= 89)');
  });

  it('counts an answer twice as a gap too (more answered than sent)', () => {
    const c = good();
    c.errors.desync += 1;
    expect(accountingGaps(c, scope).map((g) => [g.equation, g.left, g.right])).toEqual([['sent', 90, 91]]);
  });

  it('names a shaped request that is in no counter (shaped side only)', () => {
    const gaps = accountingGaps(good(), { ...scope, shapedRequests: 101 });
    expect(gaps).toHaveLength(1);
    expect(gaps[0]).toMatchObject({ equation: 'shaped', left: 101, right: 100 });
    expect(gaps[0]!.text).toBe('whole run: shaped requests 101 ≠ sent 90 + held back 6 + unsent 4 (= 100)');
  });

  it('an unsent request counted twice breaks the shaped side only', () => {
    const c = good();
    c.unsent += 1;
    expect(accountingGaps(c, scope).map((g) => g.equation)).toEqual(['shaped']);
  });

  it('leaves the shaped side out when the counters cover only what was read (shapedRequests null)', () => {
    const c = good();
    c.unsent = 0; // reading stopped early: the unread rest is in no counter
    expect(accountingGaps(c, { ...scope, shapedRequests: null })).toEqual([]);
    expect(accountingGaps(c, scope).map((g) => g.equation)).toEqual(['shaped']);
  });

  it('without the abandoned requests, a run that abandoned some does not add up', () => {
    expect(accountingGaps(good(), { ...scope, abandoned: 0 }).map((g) => [g.equation, g.left, g.right])).toEqual([['sent', 90, 87]]);
  });

  it('both equations broken at once are both named', () => {
    const c = good();
    c.sent += 1;
    expect(accountingGaps(c, scope).map((g) => g.equation)).toEqual(['sent', 'shaped']);
  });
});

/** A results file of one 1000-request interval (test/gate/fixtures.ts) with the run's totals set as a replay writes them. */
function run(opts: Record<string, unknown>): ResultsFile {
  const ok = Array.from({ length: 1000 }, (_, i) => 100_000 + i * 100);
  const r = makeResults([{ perCommand: { get: { response: ok, counters: { sent: 1000, completed: 1000 } } } }]);
  r.config.options = { stopReason: 'complete', abandoned: 0, unsentScope: 'capture', shapedRequests: 1000, ...opts };
  return r;
}

describe('resultsAccountingGaps and the gate', () => {
  it('a results file that adds up passes', async () => {
    const r = run({});
    expect(r.summary.total.counters.sent).toBe(1000);
    expect(resultsAccountingGaps(r)).toEqual([]);
    expect((await decideGate(r, { checks: [] })).verdict).toMatchObject({ status: 'pass', exitCode: 0 });
  });

  it('a run whose counters do not add up cannot pass: error, exit 4, the equation in the reasons', async () => {
    // 1000 sent and 1000 answered, but the workload had 1003 requests: 3 are in no counter
    const r = run({ shapedRequests: 1003 });
    expect(resultsAccountingGaps(r).map((g) => [g.scope, g.equation, g.left, g.right])).toEqual([['whole run', 'shaped', 1003, 1000]]);
    const d = await decideGate(r, { checks: [] });
    expect(d.verdict).toMatchObject({ status: 'error', exitCode: 4 });
    expect(d.verdict.reasons.join('\n')).toMatch(/counters do not add up \(whole run: shaped requests 1003 ≠ sent 1000 \+ held back 0 \+ unsent 0 \(= 1000\)\).*bug in mcreplay/);
    expect(d.text).toMatch(/verdict: ERROR \(exit 4\)/);
  });

  it('checks the summary too (a summary that says more answered than sent)', () => {
    const r = run({});
    r.summary.total.counters.completed += 1;
    expect(resultsAccountingGaps(r).map((g) => [g.scope, g.equation, g.left, g.right])).toEqual([['summary', 'sent', 1000, 1001]]);
  });

  it('sums every interval for the whole run: an interval with an unaccounted request shows', () => {
    const r = run({});
    r.intervals[0]!.total.counters.sent += 2;
    const gaps = resultsAccountingGaps(r);
    expect(gaps.map((g) => [g.scope, g.equation, g.left, g.right])).toEqual([
      ['whole run', 'sent', 1002, 1000],
      ['whole run', 'shaped', 1000, 1002],
    ]);
  });

  it('is not checked on a checkpoint (requests in flight) nor on a file without the run totals', () => {
    expect(resultsAccountingGaps(run({ shapedRequests: 5, checkpoint: { atNs: 1 } }))).toEqual([]);
    const old = run({ shapedRequests: 5 });
    delete old.config.options.abandoned;
    expect(resultsAccountingGaps(old)).toEqual([]);
    // reading stopped early: only the sent side applies
    expect(resultsAccountingGaps(run({ shapedRequests: 5, unsentScope: 'read' }))).toEqual([]);
  });
});
