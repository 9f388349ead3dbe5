// The HTML report's content: verdict first, what ran, summary numbers that match the results file,
// thresholds, self-contained (no external resource), small, and no keys or credentials.
import { beforeAll, describe, expect, it } from 'vitest';
import { makeResults } from './make-results.js';
import { buildHtmlReport } from '../../src/report/index.js';
import { fmtNs } from '../../src/report/format.js';
import type { ResultsFile } from '../../src/metrics/results-types.js';

let results: ResultsFile;
let html: string;

beforeAll(async () => {
  results = await makeResults({
    intervals: 120,
    seed: 9,
    status: 'fail',
    argv: ['--key-prefix', 'user:8812:', '--password', 'hunter2', '--sasl-user=svc-cache', '--filter-keys=session:*', '--target', 'admin:s3cret@10.9.9.9:11211'],
    filters: { keyPattern: 'profile:9911:*', commands: ['get', 'set'] },
  });
  results.capture.name = 'prod<img src=x onerror=alert(1)>.pcap';
  html = buildHtmlReport(results);
});

/** Visible text of the page (tags and the embedded scripts removed). */
function text(h: string): string {
  return h
    .replace(/<script[\s\S]*?<\/script>/g, ' ')
    .replace(/<style[\s\S]*?<\/style>/g, ' ')
    .replace(/<[^>]+>/g, ' ')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ');
}

describe('HTML report content', () => {
  it('puts the verdict with its reasons before anything else', () => {
    const body = text(html.slice(html.indexOf('<main>')));
    expect(body.indexOf('FAIL')).toBeGreaterThan(-1);
    expect(body.indexOf('FAIL')).toBeLessThan(body.indexOf('What ran'));
    for (const r of results.verdict.reasons) expect(body).toContain(r);
  });

  it('says what ran: capture, hash, targets, rate, warm-up, version, host', () => {
    const t = text(html);
    expect(t).toContain(results.capture.sha256.slice(0, 12));
    expect(t).not.toContain(results.capture.sha256); // short hash only
    for (const tg of results.config.targets) expect(t).toContain(tg.target);
    expect(t).toContain('2x the captured rate');
    expect(t).toContain('10 s (excluded from the summary)');
    expect(t).toContain(results.tool.version);
    expect(t).toContain(results.run.host);
    expect(t).toContain(results.run.startedAt);
  });

  it('summary rows carry the results file numbers, latencies in their own unit', () => {
    const t = text(html);
    const get = results.summary.perCommand.get!;
    expect(t).toContain(get.counters.completed.toLocaleString('en-US'));
    for (const v of [get.response.p50, get.response.p99, get.service.p50, results.captured.get!.latency!.p50]) expect(t).toContain(fmtNs(v));
    // µs latencies are shown in µs
    expect(get.response.p50).toBeLessThan(1e6);
    expect(fmtNs(get.response.p50)).toMatch(/µs$/);
    expect(t).not.toMatch(/\b0 ms\b/);
    // every command that ran has a row in both tables
    for (const c of results.commands) expect(html).toContain(`<td class="name">${c}</td>`);
    expect(t).toContain('destructive 1'); // held-back flush_all
  });

  it('lists the threshold checks with observed value, limit and result', () => {
    const section = html.slice(html.indexOf('id="thresholds"'), html.indexOf('id="charts"'));
    for (const c of results.verdict.checks) expect(text(section)).toContain(c.check);
    expect(text(section)).toContain(fmtNs(results.summary.total.response.p99));
    expect(text(section)).toContain('2 ms');
    expect(section.match(/✔ pass|✘ fail/g)?.length).toBe(results.verdict.checks.length);
  });

  it('is one self-contained file: no external scripts, styles, fonts or images', () => {
    const outsideScripts = html.replace(/<script[\s\S]*?<\/script>/g, '');
    const tags = outsideScripts.match(/<[a-z][^>]*>/gi) ?? [];
    expect(tags.filter((t) => /^<link\b|\b(src|href|srcset|poster|data)\s*=/i.test(t))).toEqual([]);
    const css = html.match(/<style>([\s\S]*?)<\/style>/)![1]!;
    expect(css).not.toMatch(/url\(|@import|@font-face/i);
    expect(html).not.toMatch(/<script[^>]+src=/i);
    expect(html).toContain("default-src 'none'");
    // Chart.js is inlined
    expect(html).toMatch(/Chart\.js v4/);
    expect(html.length).toBeLessThan(1_000_000);
  });

  it('escapes text from the results file', () => {
    expect(html).not.toContain('<img src=x');
    expect(html).toContain('prod&lt;img src=x onerror=alert(1)&gt;.pcap');
  });

  it('never shows credentials, and keys only with showKeys', () => {
    for (const h of [html, buildHtmlReport(results, { showKeys: true })]) {
      expect(h).not.toContain('hunter2');
      expect(h).not.toContain('s3cret');
      expect(h).not.toContain('svc-cache');
    }
    for (const k of ['user:8812:', 'session:*', 'profile:9911:*']) expect(html).not.toContain(k);
    const shown = buildHtmlReport(results, { showKeys: true });
    for (const k of ['user:8812:', 'session:*', 'profile:9911:*']) expect(shown).toContain(k);
  });

  it('a run without thresholds, target stats or ramp leaves those parts out', async () => {
    const r = await makeResults({ intervals: 30, targets: [], seed: 5, status: 'pass' });
    r.verdict.checks = [];
    const h = buildHtmlReport(r);
    expect(h).not.toContain('id="thresholds"');
    expect(h).not.toContain('c-target-');
    expect(h).not.toContain('c-knee');
    expect(text(h)).toContain('it had no checks (default checks were switched off)');
  });
});

describe('what a person needs beside the numbers', () => {
  it('the state the targets started in, the capture quality, the generator state, a pasteable command', async () => {
    const r = await makeResults({ intervals: 20, seed: 11, status: 'pass', argv: ['--threshold', "latency.p99 < 2ms", '--target', '127.0.0.1:11311'] });
    r.config.workers = 1;
    r.targetState = [{ target: '127.0.0.1:11311', before: { curr_items: 1234, bytes: 99_000 }, after: { curr_items: 2000, bytes: 150_000 } }];
    r.captureQuality = { cutShort: true, gaps: 0, gapBytes: 0, truncatedPackets: 0, requestsLost: 0, unreplayableShare: 0, findings: ['the capture is cut short: 37 trailing bytes are not a whole record; what was readable was replayed'] };
    r.generator = { state: 'degraded', evidence: ['schedule lag p99 3.0 ms (saturated at 10 ms, --max-lag)'], lagP99Ns: 3e6, eventLoopMaxNs: 1e6, responseMinusServiceP99Ns: 2e6, explainedShare: 0.42 };
    const t = text(buildHtmlReport(r)).replace(/&#39;/g, "'");
    expect(t).toMatch(/1,234 items, .* it already held data/);
    expect(t).toContain('the capture is cut short');
    expect(t).toMatch(/DEGRADED: part of the measured latency is mcreplay’s own\s*· can explain 42% of the response p99/);
    expect(t).toContain('schedule lag p99 3.0 ms');
    expect(t).toMatch(/\b1 worker ·/);
    expect(t).toContain(`--threshold 'latency.p99 < 2ms' --target 127.0.0.1:11311`);
  });

  it('says why the latency count can be below the completed count (noreply sets are not timed)', async () => {
    const r = await makeResults({ intervals: 10, seed: 12, status: 'pass' });
    const set = r.summary.perCommand.set!;
    set.counters.completed = set.response.count + 317;
    const t = text(buildHtmlReport(r));
    expect(t).toMatch(/set 317 answered request\(s\) had no response to time/);
  });
});
