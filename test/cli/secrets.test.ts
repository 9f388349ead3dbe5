// Captured secrets in every verb's output: captured credentials (binary SASL PLAIN in the real
// binary-quiet fixture; ascii auth on a real memcached -Y recorded by tcpdump here) and captured
// values must not appear in anything a verb prints or writes: stdout, stderr, every file it writes
// (results.json, latency.hlog, HTML, PNG, JUnit, markdown summary), Prometheus /metrics and the
// live page's /live.json while it runs; and no captured credential may reach a server. One case per
// verb: inspect, replay, mirror, report, merge, compare, warm, keys, diff, plan, top.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { allFilesText } from '../helpers/files.js';
import { freePort, startMemcached, type Memcached } from '../helpers/memcached.js';
import { produceLive } from '../helpers/live-pcap.js';
import { haveTcpdump, startTcpdump, talk, untilFileSettles } from '../helpers/tcpdump.js';
import { BIN, mcGet, mcRaw, started } from '../replay/helpers.js';
import { startMirror, until } from '../mirror/helpers.js';

// the binary fixture's sasl_auth carries PLAIN \0user\0s3cret-password (its truth notes)
const SASL_FIXTURE = resolve(import.meta.dirname, '../../captures/fixtures/binary-quiet.pcap');
const SASL_PASSWORD = 's3cret-password';
const USER = 'captured-user';
const ASCII_PASSWORD = 'Ascii-Pw-3e91c7';
const VALUE = 'Captured-Value-5d20af';
/** What the other servers hold under the same key (warm, keys, diff compare the two). */
const OTHER_VALUE = 'Other-Value-8b17e4';
/** Our own password for the verbs that log in (top, keys, warm): never printed either. */
const OWN_PASSWORD = 'Own-Pw-a6c2d9';
const SECRETS = [SASL_PASSWORD, ASCII_PASSWORD, VALUE, OTHER_VALUE, OWN_PASSWORD];

const login = (pw: string): Buffer => Buffer.from(`set auth 0 0 ${USER.length + 1 + pw.length}\r\n${USER} ${pw}\r\n`);

interface Out {
  status: number | null;
  text: string;
}

/** Runs a verb to its end; stdout + stderr as one text. */
function run(args: string[], env: NodeJS.ProcessEnv = {}): Out {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...env } });
  return { status: r.status, text: `${r.stdout}\n${r.stderr}` };
}

/** Asserts that none of the secrets is in `text` (`what` names the output). */
function clean(what: string, text: string): void {
  for (const s of SECRETS) expect(text.includes(s), `${s} in ${what}`).toBe(false);
}

/** Polls /metrics and /live.json of a running verb until both hold figures; returns their bodies. */
async function scrape(port: number): Promise<string> {
  let metrics = '';
  let live = '';
  await until(
    async () => {
      try {
        metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        live = await (await fetch(`http://127.0.0.1:${port}/live.json`)).text();
        return /mcreplay_requests_sent_total\{[^}]*\} [1-9]/.test(metrics) && live.length > 2;
      } catch {
        return false;
      }
    },
    20_000,
    `/metrics on ${port} to count requests`,
  );
  const page = await (await fetch(`http://127.0.0.1:${port}/`)).text();
  return `${metrics}\n${live}\n${page}`;
}

describe.skipIf(!haveTcpdump)('captured secrets, every verb', () => {
  let dir: string;
  let ascii: string;
  let port = '';
  let old: Memcached;
  let other: Memcached;
  let plain: Memcached;
  let results = '';
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mcr-secrets-'));
    ascii = join(dir, 'ascii-auth.pcap');
    const src = await startMemcached({ asciiAuth: { user: USER, password: ASCII_PASSWORD } });
    port = String(src.port);
    try {
      const dump = await startTcpdump(['-i', 'lo', '-s', '0', '-U', '-w', ascii, 'port', port]);
      await talk(src.port, [login(ASCII_PASSWORD), Buffer.from(`set k1 0 0 ${VALUE.length}\r\n${VALUE}\r\n`), Buffer.from('get k1\r\n')], /END\r\n$/);
      await talk(src.port, [login(ASCII_PASSWORD), Buffer.from('get k1 nope\r\n')], /END\r\n$/);
      await untilFileSettles(ascii);
      await dump.stop();
    } finally {
      await src.stop();
    }
    expect(readFileSync(ascii).includes(ASCII_PASSWORD)).toBe(true);
    expect(readFileSync(ascii).includes(VALUE)).toBe(true);
    expect(readFileSync(SASL_FIXTURE).includes(SASL_PASSWORD)).toBe(true);
    // the old servers hold the captured value, the new ones another: warm copies it, keys and diff compare it
    old = await startMemcached();
    other = await startMemcached();
    plain = await startMemcached();
    await mcRaw(old.address, `set k1 0 0 ${VALUE.length}\r\n${VALUE}\r\n`);
    await mcRaw(other.address, `set k1 0 0 ${OTHER_VALUE.length}\r\n${OTHER_VALUE}\r\n`);
  }, 60_000);
  afterAll(async () => {
    await Promise.all([old?.stop(), other?.stop(), plain?.stop()]);
    rmSync(dir, { recursive: true, force: true });
  });

  test('inspect (text and --json) of both captures', () => {
    for (const args of [[SASL_FIXTURE], [SASL_FIXTURE, '--json'], [ascii, '--port', port], [ascii, '--port', port, '--json'], [ascii, '--port', port, '--ascii-auth', '--json']]) {
      const r = run(['inspect', ...args]);
      expect(r.status, r.text).toBe(0);
      clean(`inspect ${args.join(' ')}`, r.text);
    }
  });

  test('replay: stdout, stderr, results.json, hlog, HTML, PNG, JUnit, summary, /metrics and /live.json while it runs; no credential reaches the target', async () => {
    for (const [cap, extra] of [
      [SASL_FIXTURE, []],
      [ascii, ['--port', port]],
    ] as const) {
      const out = mkdtempSync(join(dir, 'replay-'));
      const mport = await freePort();
      // slowed down and looped until Ctrl-C, so its /metrics and live page are read while it runs
      // however long a loaded machine takes to start it (a fixed 8 s run once ended, or had not
      // started, before the figures were read)
      const args = ['replay', cap, ...extra, '--target', plain.address, '--rate', '0.02x', '--loop', '--metrics', String(mport), '--max-lag', '10s', '--max-stall', '10s', '--out', out, '--junit', join(out, 'junit.xml'), '--summary', join(out, 'summary.md')];
      const p = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let text = '';
      p.stdout.on('data', (d: Buffer) => (text += d.toString('latin1')));
      p.stderr.on('data', (d: Buffer) => (text += d.toString('latin1')));
      const exit = new Promise<number | null>((r) => p.once('close', r));
      try {
        // the schedule's t0 is fixed (its start line): the first 1 s interval then reaches /metrics
        await started(p);
        clean(`replay ${cap} /metrics, /live.json, /`, await scrape(mport));
      } finally {
        // Ctrl-C: the partial result and every output are written
        p.kill('SIGINT');
      }
      const code = await exit;
      expect(code, text).toBe(130);
      clean(`replay ${cap} stdout/stderr`, text);
      const files = allFilesText(out);
      expect(files).toContain('mcreplay.results/1');
      expect(files).toContain('<testsuite');
      expect(files).toMatch(/<html/i);
      expect(files).toContain('PNG');
      clean(`replay ${cap} files`, files);
      if (!results) results = files.match(/"results": "([^"]+)"/)?.[1] ?? '';
    }
    // the logins were held back: the target never got the key they write
    expect(await mcGet(plain.address, 'auth')).toBeNull();
    const dump = await mcRaw(plain.address, 'lru_crawler metadump all\r\n', /END\r\n$/);
    expect(dump).not.toMatch(/key=auth /);
  }, 120_000);

  test('mirror - (the capture as a live stream): outputs, /metrics and /live.json while it runs', async () => {
    const out = mkdtempSync(join(dir, 'mirror-'));
    const mport = await freePort();
    const m = startMirror(['-', '--port', port, '--target', plain.address, '--metrics', String(mport), '--max-lag', '60s', '--max-stall', '60s', '--json', '--out', out], 'pipe');
    m.proc.stdin!.on('error', () => {});
    try {
      await m.waitErr(/mcreplay: mirroring/, 30_000);
      // the stream stays open until the figures were read
      const prod = produceLive(m.proc.stdin!, readFileSync(ascii), { keepOpen: true });
      await prod.done;
      clean('mirror /metrics, /live.json, /', await scrape(mport));
      m.proc.stdin!.end();
      const ex = await m.exit;
      expect([0, 99], m.stderr()).toContain(ex.code);
    } finally {
      if (m.proc.exitCode === null) m.proc.kill('SIGKILL');
    }
    clean('mirror stdout/stderr', `${m.stdout()}\n${m.stderr()}`);
    const files = allFilesText(out);
    expect(files).toContain('mcreplay.results/1');
    clean('mirror files', files);
    expect(await mcGet(plain.address, 'auth')).toBeNull();
  }, 90_000);

  test('report, merge (of two shards) and compare of replays of the capture', () => {
    const paths: string[] = [];
    for (const shard of ['1/2', '2/2']) {
      const r = run(['replay', ascii, '--port', port, '--target', plain.address, '--shard', shard, '--max-lag', '10s', '--max-stall', '10s', '--out', mkdtempSync(join(dir, 'shard-')), '--json']);
      const json = r.text.slice(0, r.text.lastIndexOf('}') + 1);
      paths.push((JSON.parse(json) as { results: string }).results);
      clean(`replay --shard ${shard}`, r.text);
    }
    const reportOut = join(dir, 'report');
    const rep = run(['report', paths[0]!, '--out', reportOut]);
    expect(rep.status, rep.text).toBe(0);
    clean('report', `${rep.text}\n${allFilesText(reportOut)}`);
    const mergeOut = join(dir, 'merged');
    const mer = run(['merge', ...paths, '--out', mergeOut, '--junit', join(dir, 'merge-junit.xml'), '--summary', join(dir, 'merge-summary.md')]);
    expect([0, 99], mer.text).toContain(mer.status);
    expect(allFilesText(mergeOut)).toContain('mcreplay.results/1');
    clean('merge', `${mer.text}\n${allFilesText(mergeOut)}\n${readFileSync(join(dir, 'merge-junit.xml'), 'latin1')}\n${readFileSync(join(dir, 'merge-summary.md'), 'latin1')}`);
    for (const json of [[], ['--json']]) {
      const cmp = run(['compare', paths[0]!, paths[1]!, '--force', ...json, '--junit', join(dir, 'cmp-junit.xml'), '--summary', join(dir, 'cmp-summary.md')]);
      expect([0, 99], cmp.text).toContain(cmp.status);
      clean('compare', `${cmp.text}\n${readFileSync(join(dir, 'cmp-junit.xml'), 'latin1')}\n${readFileSync(join(dir, 'cmp-summary.md'), 'latin1')}`);
    }
  }, 120_000);

  test('warm, keys, diff, plan: the values they copy and compare are never printed, the logins never written', () => {
    for (const json of [[], ['--json']]) {
      const w = run(['warm', ascii, '--port', port, '--from', old.address, '--to', plain.address, ...json]);
      expect(w.status, w.text).toBe(0);
      clean('warm', w.text);
      const k = run(['keys', old.address, other.address, '--values', '100%', '--show-keys', ...json]);
      if (json.length === 0) expect(k.text).toMatch(/k1/);
      clean('keys', k.text);
      const d = run(['diff', ascii, '--port', port, '--primary', old.address, '--candidate', other.address, '--show-keys', '--examples', '5', ...json]);
      if (json.length === 0) expect(d.text).toMatch(/k1/);
      clean('diff', d.text);
      const dw = run(['diff', ascii, '--port', port, '--primary', old.address, '--candidate', other.address, '--with-writes', ...json]);
      clean('diff --with-writes', dw.text);
      const pl = run(['plan', ascii, '--port', port, '--from', `${old.address},${other.address}`, '--to', `${old.address},${other.address},${plain.address}`, '--hash', 'modulo', ...json]);
      expect(pl.status, pl.text).toBe(0);
      clean('plan', pl.text);
    }
    const dump = run(['keys', old.address, '--dump']);
    expect(dump.text).toMatch(/k1/);
    clean('keys --dump', dump.text);
  }, 120_000);

  test('diff --with-writes and warm never write a captured login', async () => {
    expect(await mcGet(old.address, 'auth')).toBeNull();
    expect(await mcGet(other.address, 'auth')).toBeNull();
    expect(await mcGet(plain.address, 'auth')).toBeNull();
  });

  test('top (text and --json) logged in with our own password to a -Y server', async () => {
    const y = await startMemcached({ asciiAuth: { user: USER, password: OWN_PASSWORD } });
    try {
      for (const json of [[], ['--json']]) {
        const t = run(['top', y.address, '--count', '2', '--interval', '200ms', '--sasl-user', USER, ...json], { MCREPLAY_SASL_PASSWORD: OWN_PASSWORD });
        expect(t.status, t.text).toBe(0);
        expect(t.text).toContain(y.address);
        clean('top', t.text);
      }
      const bad = run(['top', y.address, '--count', '1', '--sasl-user', USER], { MCREPLAY_SASL_PASSWORD: `${OWN_PASSWORD}x` });
      clean('top (refused)', bad.text);
    } finally {
      await y.stop();
    }
  }, 60_000);
});
