// A real memcached -Y (ascii auth) recorded by tcpdump: the clients' logins (`set <key> 0 0 n` with
// "user password") are held back as credentials, whether the user declares -Y (--ascii-auth) or
// the capture shows it; no captured credential reaches a target and none is printed anywhere.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { allFilesText } from '../helpers/files.js';
import { startMemcached, type Memcached } from '../helpers/memcached.js';
import { haveTcpdump, startTcpdump as tcpdump, talk, untilFileSettles } from '../helpers/tcpdump.js';
import { BIN, QUIET, mcGet, mcRaw, replay } from '../replay/helpers.js';

const USER = 'captured-user';
const PASSWORD = 'Captured-Pw-7f3a9';
const WRONG = 'Wrong-Pw-b41e2';
const login = (key: string, pw: string): Buffer => Buffer.from(`set ${key} 0 0 ${USER.length + 1 + pw.length}\r\n${USER} ${pw}\r\n`);

describe.skipIf(!haveTcpdump)('ascii auth (memcached -Y) captured by tcpdump', () => {
  let dir: string;
  let capture: string;
  let answers: string[] = [];
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mcr-asciiauth-'));
    capture = join(dir, 'auth.pcap');
    const src = await startMemcached({ asciiAuth: { user: USER, password: PASSWORD } });
    try {
      const dump = await tcpdump(['-i', 'lo', '-s', '0', '-U', '-w', capture, 'port', String(src.port)]);
      const talks = [];
      // logs in first, then works
      talks.push(await talk(src.port, [login('auth', PASSWORD), Buffer.from('set k1 0 0 5\r\nhello\r\n'), Buffer.from('get k1\r\n')], /END\r\n$/));
      // asks before logging in (CLIENT_ERROR unauthenticated), then logs in under another key
      talks.push(await talk(src.port, [Buffer.from('get k1\r\n'), login('whatever', PASSWORD), Buffer.from('set k2 0 0 3\r\nabc\r\n')], /STORED\r\n[^]*STORED\r\n$/));
      // a wrong password (CLIENT_ERROR authentication failure), then the right one, then work
      talks.push(await talk(src.port, [login('auth', WRONG), login('auth', PASSWORD), Buffer.from('set k3 0 0 2\r\nok\r\n')], /STORED\r\n[^]*STORED\r\n$/));
      answers = talks.map((t) => t.received.toString('latin1'));
      await untilFileSettles(capture);
      await dump.stop();
    } finally {
      await src.stop();
    }
  }, 60_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('the recording holds what a -Y server says', () => {
    expect(answers[0]).toBe('STORED\r\nSTORED\r\nVALUE k1 0 5\r\nhello\r\nEND\r\n');
    expect(answers[1]).toMatch(/^CLIENT_ERROR unauthenticated\r\n/);
    expect(answers[2]).toBe('CLIENT_ERROR authentication failure\r\nSTORED\r\nSTORED\r\n');
    expect(readFileSync(capture).includes(PASSWORD)).toBe(true);
  });

  const inspect = (args: string[]): { status: number | null; stdout: string; stderr: string } =>
    spawnSync(process.execPath, [BIN, 'inspect', capture, '--port', portOf(capture), ...args], { encoding: 'utf8' });
  let port = '';
  const portOf = (file: string): string => {
    if (port) return port;
    // the server port: the destination of the first SYN in the capture (tcpdump on lo: Ethernet-framed)
    const b = readFileSync(file);
    port = String(b.readUInt16BE(24 + 16 + 14 + 20 + 2));
    return port;
  };

  test('inspect without --ascii-auth: the logins are held back as credentials, a warning says why, no password printed', () => {
    const r = inspect(['--json']);
    expect(r.status).toBe(0);
    const rep = JSON.parse(r.stdout) as { requests: { total: number }; replayable: { requests: number; excluded: { credentials: number }; asciiAuth: { declared: boolean; shapedSets: number; credentialSets: number; authAnswers: number; servers: string[] } } };
    // 3 + 3 + 3 requests, four of them logins
    expect(rep.requests.total).toBe(9);
    expect(rep.replayable.excluded.credentials).toBe(4);
    expect(rep.replayable.requests).toBe(5);
    // the first two by their shape; the third connection opened after the server had answered as
    // only a -Y server does, so it is read as -Y
    expect(rep.replayable.asciiAuth).toMatchObject({ declared: false, shapedSets: 2, credentialSets: 2, authAnswers: 2, servers: [`127.0.0.1:${port}`] });
    expect(r.stderr).toMatch(/looks like ascii auth.*--ascii-auth/);
    const text = inspect([]);
    for (const out of [r.stdout, r.stderr, text.stdout, text.stderr]) {
      expect(out).not.toContain(PASSWORD);
      expect(out).not.toContain(WRONG);
    }
  });

  test('inspect --ascii-auth: every connection\'s first set is credentials, no warning', () => {
    const r = inspect(['--json', '--ascii-auth']);
    expect(r.status).toBe(0);
    const rep = JSON.parse(r.stdout) as { replayable: { requests: number; excluded: { credentials: number }; asciiAuth: { declared: boolean; credentialSets: number; shapedSets: number } } };
    expect(rep.replayable.asciiAuth).toMatchObject({ declared: true, credentialSets: 4, shapedSets: 0 });
    expect(rep.replayable.excluded.credentials).toBe(4);
    expect(r.stderr).not.toContain('ascii auth');
    expect(r.stdout + r.stderr).not.toContain(PASSWORD);
  });

  for (const declared of [false, true]) {
    test(`replay${declared ? ' --ascii-auth' : ''} into a plain memcached: the work arrives, no credential does, none is printed`, async () => {
      const target: Memcached = await startMemcached();
      const out = mkdtempSync(join(dir, 'run-'));
      try {
        const run = await replay([capture, '--port', portOf(capture), '--target', target.address, ...(declared ? ['--ascii-auth'] : []), ...QUIET], out);
        expect(run.code).toBe(0);
        const c = run.results!.summary.total.counters;
        expect(c.heldBack.credentials).toBe(4);
        expect(await mcGet(target.address, 'k1')).toBe('hello');
        expect(await mcGet(target.address, 'k3')).toBe('ok');
        expect(await mcGet(target.address, 'k2')).toBe('abc');
        // the login keys were never written, and no stored item holds the password
        expect(await mcGet(target.address, 'auth')).toBeNull();
        expect(await mcGet(target.address, 'whatever')).toBeNull();
        const dump = await mcRaw(target.address, 'lru_crawler metadump all\r\n', /END\r\n$/);
        expect(dump).not.toMatch(/key=(auth|whatever) /);
        for (const text of [run.stdout, run.stderr, allFilesText(out)]) {
          expect(text).not.toContain(PASSWORD);
          expect(text).not.toContain(WRONG);
        }
      } finally {
        await target.stop();
      }
    }, 60_000);
  }
});
