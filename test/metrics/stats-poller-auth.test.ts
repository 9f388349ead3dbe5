// `--poll-stats` against targets that want credentials: memcached -S (binary SASL PLAIN, binary
// protocol only: polled with the binary STAT command) and memcached -Y (ascii auth, then a text
// `stats`). The poller authenticates on every (re)connect with the replay's credentials; refused
// credentials leave one warning and no password anywhere.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { saslPlainPlugin, saslpasswd2Binary, startMemcached, type Memcached, useMemcached } from '../helpers/memcached.js';
import { QUIET, bin, binRes, flagsExp, mcRaw, replay, tempDir, writeCapture, type Step } from '../replay/helpers.js';
import { StatsPoller, fetchStats, PollAuthRefused, type PollAuth } from '../../src/metrics/stats-poller.js';
import { readBinaryResponse } from '../../src/protocol/auth.js';
import { waitFor } from '../helpers/wait.js';
import type { ResultsFile } from '../../src/metrics/results-types.js';

const USER = 'poller';
const PASSWORD = 'pw-51c7e0-poll';
const WRONG = 'wrong-pw-3a9d66';
const OP = { get: 0x00, set: 0x01, auth: 0x21 } as const;
const KEYS = 8;
const GETS = 16;

const plain = (password: string): Buffer => Buffer.from(`\0${USER}\0${password}`, 'utf8');
const asciiAuth = (password: string): string => `set mcreplay_auth 0 0 ${USER.length + 1 + password.length}\r\n${USER} ${password}\r\n`;

/** Sends binary requests on one connection and resolves with the answers once `count` frames came (3 s bound). */
function binaryExchange(address: string, reqs: Buffer[], count: number): Promise<{ opcode: number; status: number }[]> {
  const i = address.lastIndexOf(':');
  return new Promise((res, rej) => {
    const s = connect({ host: address.slice(0, i), port: Number(address.slice(i + 1)) });
    let acc: Buffer = Buffer.alloc(0);
    const timer = setTimeout(() => {
      s.destroy();
      rej(new Error(`binary exchange with ${address}: ${acc.length} bytes in 3 s`));
    }, 3000);
    s.on('connect', () => s.write(Buffer.concat(reqs)));
    s.on('error', rej);
    s.on('data', (d: Buffer) => {
      acc = Buffer.concat([acc, d]);
      const out: { opcode: number; status: number }[] = [];
      for (let f = readBinaryResponse(acc); f !== null; f = readBinaryResponse(acc, f.end)) out.push({ opcode: f.opcode, status: f.status });
      if (out.length >= count) {
        clearTimeout(timer);
        s.destroy();
        res(out);
      }
    });
  });
}

/**
 * A poller of `address` twice: first with `refused` credentials, then with `good` ones. The healthy
 * target's samples count the intervals that pass, so a test can let "several intervals" go by
 * without sleeping a fixed time.
 */
function refusedBesideHealthy(address: string, refused: PollAuth, good: PollAuth): StatsPoller & { intervalsPass(n: number): Promise<void> } {
  const t0 = process.hrtime.bigint();
  let healthy = 0;
  const poller = new StatsPoller({
    targets: [address, address],
    intervalMs: 30,
    clock: () => Number(process.hrtime.bigint() - t0),
    auth: [refused, good],
    onSample: () => healthy++,
  });
  return Object.assign(poller, {
    async intervalsPass(n: number): Promise<void> {
      const from = healthy;
      await waitFor(`${n} more polls of the healthy target`, () => healthy >= from + n, 5000);
    },
  });
}

/** A loopback proxy in front of memcached that records each connection's first bytes and can drop every connection. */
interface Proxy {
  address: string;
  /** The first chunk each connection sent, in accept order. */
  first: Buffer[];
  dropAll(): void;
  stop(): Promise<void>;
}

/**
 * Starts a proxy to `upstream`. With `spoil`, a connection's first bytes are held 30 ms (a probe
 * sends its whole opening at once, a client waiting for the authentication answer sends nothing
 * more) and then passed through `spoil`, which may change them to make the target refuse.
 */
async function startProxy(upstream: Memcached, spoil?: (opening: Buffer) => Buffer): Promise<Proxy> {
  const first: Buffer[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const up = connect({ host: upstream.host, port: upstream.port });
    for (const s of [client, up]) {
      sockets.add(s);
      s.setNoDelay(true);
      s.on('error', () => undefined);
      s.on('close', () => sockets.delete(s));
    }
    let opening: Buffer | null = null;
    let held = true;
    const idx = first.push(Buffer.alloc(0)) - 1;
    client.on('data', (d: Buffer) => {
      if (!held) return void up.write(d);
      opening = opening === null ? d : Buffer.concat([opening, d]);
      first[idx] = opening;
      if (spoil === undefined) {
        held = false;
        return void up.write(d);
      }
      if (opening.length === d.length) {
        setTimeout(() => {
          held = false;
          up.write(spoil(opening!));
        }, 30);
      }
    });
    up.on('data', (d: Buffer) => client.write(d));
    client.on('close', () => up.destroy());
    up.on('close', () => client.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  return {
    address: `127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`,
    first,
    dropAll: () => {
      for (const s of sockets) s.destroy();
    },
    stop: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** The bytes with the first occurrence of `password` changed, so the target refuses them. */
function spoilPassword(b: Buffer, password: string): Buffer {
  const at = b.indexOf(password);
  if (at < 0) return b;
  const c = Buffer.from(b);
  c.write('X', at, 'latin1');
  return c;
}

/** Every file under `dir`, as text, for "the password is not in there" checks. */
function allFilesText(dir: string): string {
  let out = '';
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    out += statSync(p).isDirectory() ? allFilesText(p) : readFileSync(p).toString('latin1');
  }
  return out;
}

/** A capture of one binary connection: KEYS sets, then GETS gets spread over about a second. */
function binaryCapture(dir: string): string {
  const steps: Step[] = [];
  for (let i = 0; i < KEYS; i++) {
    steps.push({ t: i * 10, dir: 0, data: bin(OP.set, `pk${i}`, { extras: flagsExp(), value: `v${i}`, opaque: i }) });
    steps.push({ t: i * 10 + 1, dir: 1, data: binRes(OP.set, { opaque: i, cas: BigInt(i + 1) }) });
  }
  for (let j = 0; j < GETS; j++) {
    const t = 100 + j * 60;
    steps.push({ t, dir: 0, data: bin(OP.get, `pk${j % KEYS}`, { opaque: 100 + j }) });
    steps.push({ t: t + 1, dir: 1, data: binRes(OP.get, { extras: Buffer.alloc(4), value: `v${j % KEYS}`, opaque: 100 + j }) });
  }
  return writeCapture(dir, 'binary-poll.pcap', [{ cport: 40001, steps }]);
}

/** The same workload in the text protocol. */
function textCapture(dir: string): string {
  const steps: Step[] = [];
  for (let i = 0; i < KEYS; i++) {
    steps.push({ t: i * 10, dir: 0, data: `set pk${i} 0 0 2\r\nv${i}\r\n` });
    steps.push({ t: i * 10 + 1, dir: 1, data: 'STORED\r\n' });
  }
  for (let j = 0; j < GETS; j++) {
    const t = 100 + j * 60;
    steps.push({ t, dir: 0, data: `get pk${j % KEYS}\r\n` });
    steps.push({ t: t + 1, dir: 1, data: `VALUE pk${j % KEYS} 0 2\r\nv${j % KEYS}\r\nEND\r\n` });
  }
  return writeCapture(dir, 'text-poll.pcap', [{ cport: 40002, steps }]);
}

/** Checks a run's stats samples: rising gets, the capture's items stored, no poll warning. */
function expectSaneSamples(r: ResultsFile, target: string): void {
  expect(r.targetStats.map((t) => t.target)).toEqual([target]);
  const samples = r.targetStats[0]!.samples;
  expect(samples.length).toBeGreaterThanOrEqual(3);
  const last = samples.at(-1)!.values;
  expect(last.curr_items).toBe(KEYS);
  expect(last.total_items).toBeGreaterThanOrEqual(KEYS);
  expect(last.get_hits).toBe(GETS);
  for (let i = 1; i < samples.length; i++) {
    expect(samples[i]!.tNs).toBeGreaterThan(samples[i - 1]!.tNs);
    expect(samples[i]!.values.cmd_get).toBeGreaterThanOrEqual(samples[i - 1]!.values.cmd_get!);
  }
  expect(last.cmd_get).toBe(GETS);
  expect(samples[0]!.values.cmd_get).toBeLessThan(GETS);
  for (const k of ['bytes', 'evictions', 'get_misses', 'curr_connections', 'limit_maxbytes']) expect(typeof last[k], k).toBe('number');
  const warnings = r.config.options.warnings as string[];
  expect(warnings.filter((w) => w.startsWith('--poll-stats')), JSON.stringify(warnings)).toEqual([]);
}

const hasSasl = saslpasswd2Binary() !== null && saslPlainPlugin();
if (!hasSasl) console.warn('test/metrics/stats-poller-auth: saslpasswd2 (sasl2-bin) or the PLAIN plugin (libsasl2-modules) is not installed: the SASL tests are skipped (bash scripts/ensure-tools.sh)');

describe.skipIf(!hasSasl)('stats poller against binary SASL (memcached -S)', () => {
  const tmp = tempDir();
  const mc = useMemcached({ sasl: { user: USER, password: PASSWORD }, memoryMb: 32 });
  const auth: PollAuth = { user: USER, password: PASSWORD, mech: 'sasl' };
  afterAll(() => tmp.cleanup());

  it('reads the numbers with binary STAT after SASL PLAIN', async () => {
    const sets = Array.from({ length: 5 }, (_, i) => bin(OP.set, `s${i}`, { extras: flagsExp(), value: 'abc' }));
    const answers = await binaryExchange(mc.address, [bin(OP.auth, 'PLAIN', { value: plain(PASSWORD).toString('latin1') }), ...sets, bin(OP.get, 's1'), bin(OP.get, 'nope')], 8);
    expect(answers.map((a) => a.status)).toEqual([0, 0, 0, 0, 0, 0, 0, 1]);
    const v = await fetchStats(mc.address, 2000, auth);
    expect(v.curr_items).toBe(5);
    expect(v.cmd_set).toBe(5);
    expect(v.get_hits).toBe(1);
    expect(v.get_misses).toBe(1);
    expect(v.limit_maxbytes).toBe(32 * 1024 * 1024);
    expect(v.auth_cmds).toBeGreaterThanOrEqual(2);
    expect(v.version).toBeUndefined(); // text statistics are left out, as with text `stats`
    // without credentials the target does not answer STAT (it wants SASL first)
    await expect(fetchStats(mc.address, 500)).rejects.toThrow();
  });

  it('authenticates once per connection, again after a reconnect', async () => {
    const proxy = await startProxy(mc);
    try {
      const before = await fetchStats(mc.address, 2000, auth);
      const t0 = process.hrtime.bigint();
      const errors: string[] = [];
      let polls = 0; // the clock is read once per poll
      const clock = (): number => (polls++, Number(process.hrtime.bigint() - t0));
      const poller = new StatsPoller({ targets: [proxy.address], intervalMs: 50, clock, auth: [auth], onError: (_t, e) => errors.push(e.message) });
      poller.start();
      await waitFor('three polls', () => polls >= 3, 5000);
      proxy.dropAll();
      const atDrop = polls;
      await waitFor('three polls after the drop', () => polls >= atDrop + 3, 5000);
      const [res] = await poller.stop();
      expect(res!.samples.length).toBeGreaterThanOrEqual(polls - 1);
      expect(errors.length).toBeLessThanOrEqual(1); // a poll in flight at the drop fails; the next one reconnects
      expect(poller.warnings().length).toBe(errors.length);
      // two connections, each opening with SASL PLAIN; the target counted exactly those two
      expect(proxy.first).toHaveLength(2);
      for (const b of proxy.first) expect(b[1]).toBe(OP.auth);
      const after = await fetchStats(mc.address, 2000, auth);
      expect(after.auth_cmds! - before.auth_cmds!).toBe(2 + 1); // + this fetch
      expect(after.auth_errors! - before.auth_errors!).toBe(0);
    } finally {
      await proxy.stop();
    }
  });

  it('refused credentials: one error, no retry, one warning without the password', async () => {
    const before = await fetchStats(mc.address, 2000, auth);
    const err = await fetchStats(mc.address, 2000, { ...auth, password: WRONG }).catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(PollAuthRefused);
    expect((err as Error).message).toMatch(/refused the credentials \(binary SASL PLAIN/);
    expect((err as Error).message).not.toContain(WRONG);
    const poller = refusedBesideHealthy(mc.address, { ...auth, password: WRONG }, auth);
    poller.start();
    await waitFor('the refusal', () => poller.errors[0]! > 0, 5000);
    await poller.intervalsPass(4); // several intervals, counted on the healthy target: none of them may try again
    const [res] = await poller.stop();
    expect(res!.samples).toEqual([]);
    expect(poller.errors).toEqual([1, 0]);
    const w = poller.warnings();
    expect(w).toHaveLength(1);
    expect(w[0]).toMatch(/^--poll-stats: .*refused the credentials.*not polled after that$/);
    expect(w[0]).not.toContain(WRONG);
    const after = await fetchStats(mc.address, 2000, auth);
    expect(after.auth_errors! - before.auth_errors!).toBe(2); // fetchStats' and the poller's single try
  });

  it('replay --poll-stats with a binary capture: samples with the workload in them, no poll errors, no password', async () => {
    // a target of its own: the numbers are the run's only
    const fresh = await startMemcached({ sasl: { user: USER, password: PASSWORD } });
    try {
      const out = join(tmp.dir, 'run');
      const run = await replay([binaryCapture(tmp.dir), '--target', fresh.address, '--sasl-user', USER, '--poll-stats', '100ms', ...QUIET], out, { MCREPLAY_SASL_PASSWORD: PASSWORD });
      expect(run.code, run.stderr).toBe(0);
      const r = run.results!;
      expect(r.summary.total.counters.sent).toBe(KEYS + GETS);
      expect(r.summary.total.counters.hits).toBe(GETS);
      expectSaneSamples(r, fresh.address);
      // polled in binary: the poller's connection counted as a SASL one
      expect(r.targetStats[0]!.samples.at(-1)!.values.auth_cmds).toBeGreaterThanOrEqual(3); // probes, worker, poller
      expect(r.targetStats[0]!.samples.at(-1)!.values.auth_errors).toBe(0);
      expect(run.stdout + run.stderr).not.toContain(PASSWORD);
      expect(allFilesText(out)).not.toContain(PASSWORD);
    } finally {
      await fresh.stop();
    }
  });

  it('replay --poll-stats when the poller is refused: the run completes, one warning, no password', async () => {
    // the proxy lets the probes through (they open with list mechanisms) and spoils the password of
    // every connection that opens with PLAIN: the workers' and the poller's
    const proxy = await startProxy(mc, (b) => (b[1] === OP.auth ? spoilPassword(b, PASSWORD) : b));
    try {
      const out = join(tmp.dir, 'refused');
      const run = await replay([binaryCapture(tmp.dir), '--target', proxy.address, '--sasl-user', USER, '--poll-stats', '100ms', '--timeout', '1s', ...QUIET], out, { MCREPLAY_SASL_PASSWORD: PASSWORD });
      expect(run.code, run.stderr).toBe(0);
      const r = run.results!;
      expect(r.targetStats[0]!.samples).toEqual([]);
      const warnings = r.config.options.warnings as string[];
      const polls = warnings.filter((w) => w.startsWith('--poll-stats'));
      expect(polls, JSON.stringify(warnings)).toHaveLength(1);
      expect(polls[0]).toMatch(/refused the credentials \(binary SASL PLAIN/);
      expect(run.stdout + run.stderr).not.toContain(PASSWORD);
      expect(allFilesText(out)).not.toContain(PASSWORD);
    } finally {
      await proxy.stop();
    }
  });
});

describe('stats poller against ascii auth (memcached -Y)', () => {
  const tmp = tempDir();
  const mc = useMemcached({ asciiAuth: { user: USER, password: PASSWORD }, memoryMb: 32 });
  const auth: PollAuth = { user: USER, password: PASSWORD, mech: 'ascii' };
  afterAll(() => tmp.cleanup());

  it('reads the numbers with text `stats` after the auth set', async () => {
    let sets = '';
    for (let i = 0; i < 5; i++) sets += `set s${i} 0 0 3\r\nabc\r\n`;
    await mcRaw(mc.address, `${asciiAuth(PASSWORD)}${sets}get s1 nope\r\n`, /END\r\n$/);
    const v = await fetchStats(mc.address, 2000, auth);
    expect(v.curr_items).toBe(5); // the auth set stores nothing
    expect(v.get_hits).toBe(1);
    expect(v.get_misses).toBe(1);
    expect(v.limit_maxbytes).toBe(32 * 1024 * 1024);
    await expect(fetchStats(mc.address, 500)).rejects.toThrow(/unauthenticated/);
  });

  it('refused credentials: one error, no retry, one warning without the password', async () => {
    const before = await fetchStats(mc.address, 2000, auth);
    const poller = refusedBesideHealthy(mc.address, { ...auth, password: WRONG }, auth);
    poller.start();
    await waitFor('the refusal', () => poller.errors[0]! > 0, 5000);
    await poller.intervalsPass(4);
    const [res] = await poller.stop();
    expect(res!.samples).toEqual([]);
    expect(poller.errors).toEqual([1, 0]);
    const w = poller.warnings();
    expect(w).toHaveLength(1);
    expect(w[0]).toMatch(/refused the credentials \(ascii auth, answered "CLIENT_ERROR/);
    expect(w[0]).not.toContain(WRONG);
    const after = await fetchStats(mc.address, 2000, auth);
    expect(after.auth_errors! - before.auth_errors!).toBe(1);
  });

  it('replay --poll-stats with a text capture: samples with the workload in them, no poll errors, no password', async () => {
    const fresh = await startMemcached({ asciiAuth: { user: USER, password: PASSWORD } });
    try {
      const out = join(tmp.dir, 'run');
      const run = await replay([textCapture(tmp.dir), '--target', fresh.address, '--sasl-user', USER, '--poll-stats', '100ms', ...QUIET], out, { MCREPLAY_SASL_PASSWORD: PASSWORD });
      expect(run.code, run.stderr).toBe(0);
      const r = run.results!;
      expect(r.summary.total.counters.sent).toBe(KEYS + GETS);
      expect(r.summary.total.counters.hits).toBe(GETS);
      expectSaneSamples(r, fresh.address);
      expect(r.targetStats[0]!.samples.at(-1)!.values.auth_errors).toBe(0);
      expect(run.stdout + run.stderr).not.toContain(PASSWORD);
      expect(allFilesText(out)).not.toContain(PASSWORD);
    } finally {
      await fresh.stop();
    }
  });

  it('replay --poll-stats when the poller is refused: the run completes, one warning, no password', async () => {
    // the proxy lets the probes through (the binary one carries no password, the text one sends
    // `version` right behind its auth set) and spoils the password of every other connection: the
    // workers' and the poller's, which wait for the auth answer before sending more
    const proxy = await startProxy(mc, (b) => (b.toString('latin1').startsWith('set mcreplay_auth') && !b.includes('version\r\n') ? spoilPassword(b, PASSWORD) : b));
    try {
      const out = join(tmp.dir, 'refused');
      const run = await replay([textCapture(tmp.dir), '--target', proxy.address, '--sasl-user', USER, '--poll-stats', '100ms', '--timeout', '1s', ...QUIET], out, { MCREPLAY_SASL_PASSWORD: PASSWORD });
      expect(run.code, run.stderr).toBe(0);
      const r = run.results!;
      expect(r.targetStats[0]!.samples).toEqual([]);
      const warnings = r.config.options.warnings as string[];
      const polls = warnings.filter((w) => w.startsWith('--poll-stats'));
      expect(polls, JSON.stringify(warnings)).toHaveLength(1);
      expect(polls[0]).toMatch(/refused the credentials \(ascii auth/);
      expect(run.stdout + run.stderr).not.toContain(PASSWORD);
      expect(allFilesText(out)).not.toContain(PASSWORD);
    } finally {
      await proxy.stop();
    }
  });
});
