// The migration verbs against servers that want credentials (--sasl-user, password from
// MCREPLAY_SASL_PASSWORD): ascii auth (memcached -Y) for warm and keys, and top against -Y and -S.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { saslpasswd2Binary, saslPlainPlugin, startMemcached, type Memcached } from '../helpers/memcached.js';
import { mcreplay as cli } from './cli.js';
import { batch } from './mc.js';

const cred = { user: 'mig', password: 's3cret-pw' };
const env = { ...process.env, MCREPLAY_SASL_PASSWORD: cred.password };
/** The CLI with the password in its environment unless told otherwise. */
const mcreplay = (args: string[], e: NodeJS.ProcessEnv = env) => cli(args, e);


/** Authenticates (ascii auth) and stores keys k:0..n-1 on a -Y server. */
async function fillAuthed(port: number, n: number): Promise<void> {
  const body = `${cred.user} ${cred.password}`;
  const sets = Array.from({ length: n }, (_, i) => `ms k:${i} 3 F${i} T0 q\r\nv${String(i % 100).padStart(2, '0')}\r\n`).join('');
  const ans = (await batch(port, Buffer.from(`set auth 0 0 ${body.length}\r\n${body}\r\n${sets}`))).toString();
  expect(ans).toBe('STORED\r\nMN\r\n');
}

// each test spawns several CLI processes; on a loaded 2-core machine a Node start alone takes seconds
describe('migration verbs with credentials', { timeout: 240_000 }, () => {
  let old: Memcached;
  let nu: Memcached;
  beforeAll(async () => {
    [old, nu] = await Promise.all([startMemcached({ asciiAuth: cred }), startMemcached({ asciiAuth: cred })]);
    await fillAuthed(old.port, 40);
  }, 240_000);
  afterAll(async () => {
    await Promise.all([old?.stop(), nu?.stop()]);
  });

  test('warm --all and keys authenticate with ascii auth; without the password: usage error, never a prompt', async () => {
    const w = await mcreplay(['warm', '--all', '--from', old.address, '--to', nu.address, '--sasl-user', cred.user, '--json']);
    expect(w.stderr).toBe('');
    expect(w.code).toBe(0);
    expect(JSON.parse(w.stdout).keys.copied).toBe(40);
    const k = await mcreplay(['keys', old.address, nu.address, '--values', '100%', '--sasl-user', cred.user, '--json']);
    expect(k.code).toBe(0);
    expect(JSON.parse(k.stdout)).toMatchObject({ both: 40, onlyOld: 0, onlyNew: 0, values: { compared: 40, different: 0, flagsDifferent: 0 } });
    const noPw = { ...process.env };
    delete noPw.MCREPLAY_SASL_PASSWORD;
    expect((await mcreplay(['keys', old.address, '--sasl-user', cred.user], noPw)).code).toBe(2);
    // wrong password: refused, said so, and the password is not printed
    const bad = await mcreplay(['warm', '--all', '--from', old.address, '--to', nu.address, '--sasl-user', cred.user], { ...process.env, MCREPLAY_SASL_PASSWORD: 'wrong-pw' });
    expect(bad.code).toBe(3);
    expect(bad.stderr).toMatch(/refused the credentials/);
    expect(bad.stderr).not.toContain('wrong-pw');
  });

  test.skipIf(saslpasswd2Binary() === null || !saslPlainPlugin())('top shows a binary-SASL server and an ascii-auth one', async () => {
    const sasl = await startMemcached({ sasl: cred });
    try {
      const r = await mcreplay(['top', old.address, sasl.address, '--sasl-user', cred.user, '--json', '--count', '1']);
      expect(r.code).toBe(0);
      const line = JSON.parse(r.stdout);
      expect(line.servers.map((s: { up: boolean }) => s.up)).toEqual([true, true]);
      expect(line.servers[0].items).toBe(40);
    } finally {
      await sasl.stop();
    }
  });
});
