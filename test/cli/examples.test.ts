// Every command example a user can copy runs: the mcreplay command lines in README.md's code
// blocks, its GitHub Actions job, its config file, and the "Examples:" of every verb's --help. Each
// runs in bash, through a `mcreplay` on PATH (as `npm link` makes it), in a sandbox against real
// memcached servers, with names mapped as examples.ts says (hosts to the local servers, "your own
// capture" to the sample, replays cut to a few seconds). An example with an option that does not
// exist, a rule the gate rejects, or a target the replay refuses fails here (exit 2 or 3).
import { spawn } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMemcached, type Memcached } from '../helpers/memcached.js';
import { captureLinks, helpExamples, mapExample, readmeCiScript, readmeCommands, readmeConfig, RESULTS_NAMES, VERBS, type Example } from './examples.js';

const root = join(import.meta.dirname, '..', '..');
const cli = join(root, 'bin', 'mcreplay.js');
const readme = readFileSync(join(root, 'README.md'), 'utf8');

// collected at load time (the test names come from them); duplicates run once
const found = [...readmeCommands(readme), ...['', ...VERBS].flatMap((v) => helpExamples(cli, v))];
const examples = new Map<string, Example>();
for (const e of found) if (!examples.has(e.text)) examples.set(e.text, e);

let sandbox = '';
let env: NodeJS.ProcessEnv = {};
const servers: Memcached[] = [];

interface Run {
  code: number | null;
  /** stdout and stderr as they came */
  out: string;
  stdout: string;
}

/** Runs a shell text in the sandbox with `mcreplay` on PATH; bounded in time. */
function sh(text: string, timeoutMs = 280_000): Promise<Run> {
  return new Promise((resolve) => {
    const p = spawn('bash', ['-c', `set -o pipefail\n${text}`], { cwd: sandbox, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let stdout = '';
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      stdout += d.toString();
    });
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out, stdout });
    });
  });
}

/**
 * What an example may end with. A replay or compare may pass (0), fail a threshold (99: the
 * numbers are this busy machine's) or be saturated (4, only when it says so); nothing else: 2 is a
 * bad option or rule, 3 a refused or unreachable target, 1 a crash.
 */
function expectRan(e: Example, mapped: string, r: Run): void {
  const verbs = [...mapped.matchAll(/\bmcreplay (\w+)/g)].map((m) => m[1]);
  // replay, mirror, compare, diff and merge judge what they measured: 99 is a verdict on this sandbox, not a broken example
  const judged = verbs.some((v) => v === 'replay' || v === 'mirror' || v === 'compare' || v === 'diff' || v === 'merge');
  const ok = r.code === 0 || (judged && (r.code === 99 || (r.code === 4 && /SATURATED|saturated/.test(r.out))));
  expect(ok, `${e.where}: ${e.text}\nran as: ${mapped}\nexit ${r.code}\n${r.out.slice(-3000)}`).toBe(true);
  expect(r.out).not.toMatch(/internal error|unknown option|bad threshold|bad rule/i);
}

beforeAll(async () => {
  // new1, new2, old1, old2, new3 (examples.ts maps the names)
  servers.push(...(await Promise.all([0, 1, 2, 3, 4].map(() => startMemcached({ memoryMb: 64 })))));
  sandbox = mkdtempSync(join(tmpdir(), 'mcreplay-examples-'));
  // the repository's captures, and the names examples use for "your own capture"
  mkdirSync(join(sandbox, 'captures'));
  symlinkSync(join(root, 'captures', 'sample.pcap'), join(sandbox, 'captures', 'sample.pcap'));
  symlinkSync(join(root, 'captures', 'fixtures'), join(sandbox, 'captures', 'fixtures'));
  for (const [name, target] of captureLinks(root)) symlinkSync(target, join(sandbox, name));
  // `mcreplay` on PATH, as `npm link` puts it there
  const bin = join(sandbox, '.bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'mcreplay'), `#!/bin/sh\nexec node ${JSON.stringify(cli)} "$@"\n`);
  chmodSync(join(bin, 'mcreplay'), 0o755);
  env = { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` };
  delete env.GITHUB_STEP_SUMMARY;
  // the results files examples name: two real runs of the sample at 2x (baseline, then current)
  const ports = servers.map((x) => x.port);
  for (const [i, names] of [RESULTS_NAMES.slice(0, 4), RESULTS_NAMES.slice(4)].entries()) {
    const r = await sh(`mcreplay replay captures/sample.pcap --target 127.0.0.1:${ports[0]} --rate 2x --duration 2s --no-png --no-html --no-progress --out runs-${i}`);
    expect([0, 4], r.out).toContain(r.code);
    const made = /results: (\S+)/.exec(r.out)![1]!;
    for (const n of names) {
      mkdirSync(join(sandbox, dirname(n)), { recursive: true });
      cpSync(join(sandbox, made), join(sandbox, n));
    }
  }
}, 300_000);

afterAll(async () => {
  for (const s of servers) await s.stop();
  if (sandbox) rmSync(sandbox, { recursive: true, force: true });
});

describe('every command example runs', () => {
  it('finds the examples (README blocks and every verb --help)', () => {
    const wheres = found.map((e) => e.where);
    for (const v of VERBS) expect(wheres, `mcreplay ${v} --help examples`).toContain(`mcreplay ${v} --help`);
    expect(wheres).toContain('mcreplay --help');
    expect(wheres.filter((w) => w.startsWith('README.md')).length).toBeGreaterThan(10);
  });

  it('the sample capture can be replayed into a memcached on 127.0.0.1:11211 (Debian\'s default)', async () => {
    // the examples map 127.0.0.1:11211 to a free port, so say it here: the replay refuses a target
    // that is one of the capture's servers, and the sample's is not the one a newcomer has
    const r = await sh('mcreplay inspect captures/sample.pcap --json');
    expect(r.code).toBe(0);
    const servers = (JSON.parse(r.stdout) as { servers: { endpoint: string }[] }).servers.map((s) => s.endpoint);
    expect(servers).toEqual(['127.0.0.2:11211']);
  });

  for (const e of examples.values()) {
    it(`${e.where}: ${e.text}`, async () => {
      const mapped = mapExample(e.text, servers.map((x) => x.port));
      expectRan(e, mapped, await sh(mapped));
    }, 300_000);
  }

  it('the GitHub Actions job runs as written (with a baseline from main)', async () => {
    const e = readmeCiScript(readme);
    mkdirSync(join(sandbox, 'baseline'), { recursive: true });
    cpSync(join(sandbox, RESULTS_NAMES[0]!), join(sandbox, 'baseline', 'results.json'));
    const mapped = mapExample(e.text, servers.map((x) => x.port));
    expect(mapped).toContain('--baseline baseline/results.json');
    const r = await sh(mapped);
    expectRan(e, mapped, r);
    expect(readFileSync(join(sandbox, 'reports', 'junit.xml'), 'utf8')).toContain('<testsuites');
    expect(JSON.parse(readFileSync(join(sandbox, 'reports', 'bench.json'), 'utf8')).length).toBeGreaterThan(0);
  }, 300_000);

  it('the config file example runs as written', async () => {
    const { where, config } = readmeConfig(readme);
    const text = mapExample(JSON.stringify(config, null, 2), servers.map((x) => x.port));
    writeFileSync(join(sandbox, 'mcreplay.json'), text);
    const mapped = mapExample('mcreplay replay captures/sample.pcap --config mcreplay.json', servers.map((x) => x.port));
    expectRan({ where, text: 'mcreplay replay captures/sample.pcap --config mcreplay.json' }, mapped, await sh(mapped));
    for (const f of ['mcreplay-junit.xml', 'mcreplay-summary.md']) expect(readFileSync(join(sandbox, f), 'utf8').length).toBeGreaterThan(0);
  }, 300_000);
});
