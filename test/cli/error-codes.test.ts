// Stable error codes: every code of src/errors.ts is triggered through the real CLI by what a user
// could do, and ends in the exit code the table gives it (and the README lists); and no source
// file tells errors apart by their message text (scripts/lint-structure.mjs checks it, and is
// shown to catch it).
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ERROR_CODES, type ErrorCode } from '../../src/errors.js';
import { makeResults } from '../gate/fixtures.js';
import { freePort, startMemcached, useMemcached } from '../helpers/memcached.js';
import { BIN, collect, tempDir, writeCapture } from '../replay/helpers.js';

const ROOT = join(import.meta.dirname, '..', '..');
const basic = join(ROOT, 'captures', 'fixtures', 'basic.pcap');
const tmp = tempDir();
const mc = useMemcached();
const servers: Server[] = [];
const sockets = new Set<Socket>();

/** A loopback TCP server that accepts and then does what `onData` says (nothing when null). */
async function tcpServer(onData: ((s: Socket, d: Buffer) => void) | null): Promise<number> {
  const srv = createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
    if (onData) s.on('data', (d) => onData(s, d));
  });
  servers.push(srv);
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  return (srv.address() as { port: number }).port;
}

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  tmp.cleanup();
});

/** Runs `mcreplay <args>` to its end (no password in the environment unless given). */
async function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stderr: string }> {
  const base = { ...process.env };
  delete base.MCREPLAY_SASL_PASSWORD;
  const p = spawn(process.execPath, [BIN, ...args], { env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const r = await collect(p);
  return { code: r.code, stderr: r.stderr };
}

/** A replay (or mirror) run's arguments: quiet, one worker, reports in the temporary folder unless --out is given. */
const live = (verb: 'replay' | 'mirror', ...args: string[]): string[] => [verb, ...args, '--no-progress', '--no-html', '--workers', '1', ...(args.includes('--out') ? [] : ['--out', join(tmp.dir, 'out')])];

/** One representative way a user meets each code. */
const TRIGGERS: Record<ErrorCode, () => Promise<string[] | { args: string[]; env?: NodeJS.ProcessEnv }>> = {
  MCR_ERR_BAD_OPTION: async () => live('replay', basic, '--target', mc.address, '--rate', 'fast'),
  MCR_ERR_NO_PASSWORD: async () => live('replay', basic, '--target', mc.address, '--sasl-user', 'app'),
  MCR_ERR_BAD_CONFIG: async () => {
    const cfg = join(tmp.dir, 'bad-config.json');
    writeFileSync(cfg, JSON.stringify({ target: mc.address, ratee: '2x' }));
    return live('replay', basic, '--config', cfg);
  },
  MCR_ERR_BAD_THRESHOLD: async () => live('replay', basic, '--target', mc.address, '--threshold', 'latency.p99 <<< 2ms'),
  MCR_ERR_CAPTURE_UNREADABLE: async () => ['inspect', join(tmp.dir, 'no-such.pcap')],
  MCR_ERR_NOT_A_CAPTURE: async () => {
    const f = join(tmp.dir, 'notes.txt');
    writeFileSync(f, 'these are notes, not packets\n');
    return ['inspect', f];
  },
  MCR_ERR_PREPARED_FILE: async () => {
    // a prepared workload cut short: refused before any load, with what was readable
    const mcw = join(tmp.dir, 'basic.mcw');
    const prep = await run(['prepare', basic, '--out', mcw]);
    if (prep.code !== 0) throw new Error(`prepare failed: ${prep.stderr}`);
    const cut = join(tmp.dir, 'cut.mcw');
    const bytes = readFileSync(mcw);
    writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length / 2)));
    return live('replay', cut, '--target', mc.address);
  },
  MCR_ERR_NO_REQUESTS: async () => ['plan', basic, '--from', 'a:11211,b:11211', '--to', 'a:11211,b:11211,c:11211', '--port', '1'],
  MCR_ERR_RESULTS_UNREADABLE: async () => ['report', join(tmp.dir, 'none', 'results.json')],
  MCR_ERR_RESULTS_INVALID: async () => {
    const f = join(tmp.dir, 'not-results.json');
    writeFileSync(f, JSON.stringify({ hello: 'world' }));
    return ['report', f];
  },
  MCR_ERR_NOT_COMPARABLE: async () => {
    const spec = [{ perCommand: { get: { response: [100_000, 200_000] } } }];
    const a = join(tmp.dir, 'base.json');
    const b = join(tmp.dir, 'cur.json');
    writeFileSync(a, JSON.stringify(makeResults(spec, { sha256: 'a'.repeat(64) })));
    writeFileSync(b, JSON.stringify(makeResults(spec, { sha256: 'b'.repeat(64) })));
    return ['compare', a, b];
  },
  MCR_ERR_OUTPUT_UNWRITABLE: async () => {
    const file = join(tmp.dir, 'a-file');
    writeFileSync(file, 'in the way');
    return live('replay', basic, '--target', mc.address, '--out', join(file, 'reports'));
  },
  MCR_ERR_UNSAFE_TARGET: async () => {
    const cap = writeCapture(tmp.dir, 'source.pcap', [{ cport: 44002, server: '127.0.0.1', sport: mc.port, steps: [{ t: 0, dir: 0, data: 'get x\r\n' }, { t: 0.1, dir: 1, data: 'END\r\n' }] }]);
    return live('replay', cap, '--target', mc.address, '--port', String(mc.port));
  },
  MCR_ERR_LISTEN_FAILED: async () => {
    const busy = await tcpServer(null);
    return live('replay', basic, '--target', mc.address, '--metrics', `127.0.0.1:${busy}`);
  },
  MCR_ERR_TCPDUMP: async () => live('mirror', '--interface', 'mcr-no-such0', '--target', mc.address, '--duration', '1s'),
  MCR_ERR_TARGET_UNREACHABLE: async () => live('replay', basic, '--target', `127.0.0.1:${await freePort()}`),
  MCR_ERR_TARGET_NO_ANSWER: async () => live('replay', basic, '--target', `127.0.0.1:${await tcpServer(null)}`),
  MCR_ERR_TARGET_NOT_MEMCACHED: async () => live('replay', basic, '--target', `127.0.0.1:${await tcpServer((s) => s.write('HTTP/1.1 400 Bad Request\r\n'))}`),
  MCR_ERR_TARGET_AUTH: async () => {
    const auth = await startMemcached({ asciiAuth: { user: 'app', password: 'secret' } });
    servers.push({ close: (cb?: (e?: Error) => void) => void auth.stop().then(() => cb?.()) } as unknown as Server);
    return live('replay', basic, '--target', auth.address);
  },
};

describe('error codes', () => {
  // one test per code, each with its own deadline: a target that never answers costs the probe's two 2 s timeouts
  for (const code of Object.keys(ERROR_CODES) as ErrorCode[]) {
    it(`${code}: exit ${ERROR_CODES[code].exit}, and the code is said`, { timeout: 60_000 }, async () => {
      const t = await TRIGGERS[code]();
      const { args, env } = Array.isArray(t) ? { args: t, env: {} } : t;
      const r = await run(args, env);
      expect(r.stderr).toContain(`error code ${code} (exit ${ERROR_CODES[code].exit})`);
      expect(r.code, r.stderr).toBe(ERROR_CODES[code].exit);
    });
  }

  it('the README lists every code with its exit code, and no other', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const rows = [...readme.matchAll(/^\| `(MCR_ERR_[A-Z_]+)` \| [^|]+ \| (\d+) \|/gm)].map((m) => [m[1], Number(m[2])]);
    expect(rows).toEqual(Object.entries(ERROR_CODES).map(([c, i]) => [c, i.exit]));
  });
});

describe('a folder given as the capture', () => {
  // each verb that reads a capture names the folder (an EISDIR used to escape as an internal error)
  const verbs = (dir: string): string[][] => [
    ['inspect', dir],
    ['prepare', dir, '--out', join(tmp.dir, 'folder.mcw')],
    ['replay', dir, '--target', mc.address, '--no-progress'],
    ['plan', dir, '--from', 'a:11211', '--to', 'a:11211,b:11211'],
  ];
  it('is MCR_ERR_CAPTURE_UNREADABLE (exit 2) for every verb, never an internal error', { timeout: 60_000 }, async () => {
    const dir = join(tmp.dir, 'a-folder');
    mkdirSync(dir, { recursive: true });
    for (const args of verbs(dir)) {
      const r = await run(args);
      expect(r.stderr, args[0]).toContain('is a directory, not a capture file');
      expect(r.stderr, args[0]).toContain('error code MCR_ERR_CAPTURE_UNREADABLE (exit 2)');
      expect(r.code, `${args[0]}: ${r.stderr}`).toBe(2);
    }
  });
});

describe('no classification by message text', () => {
  const lint = (args: string[] = []) => spawnSync(process.execPath, [join(ROOT, 'scripts', 'lint-structure.mjs'), ...args], { encoding: 'utf8' });

  it('no file of src/ tests an error message', { timeout: 60_000 }, () => {
    const r = lint();
    expect(r.stdout).not.toMatch(/classifies by message text/);
    expect(r.status, r.stdout).toBe(0);
  });

  it('the lint finds a regex test, an includes and a comparison on .message', { timeout: 60_000 }, () => {
    const root = join(tmp.dir, 'lint-root');
    mkdirSync(join(root, 'src', 'capture'), { recursive: true });
    writeFileSync(
      join(root, 'src', 'capture', 'bad.ts'),
      [
        'export function kind(e: Error): string {',
        "  if (/refused/.test(e.message)) return 'down';",
        "  if (e.message.includes('SASL')) return 'auth';",
        "  if (e.message === 'closed') return 'closed';",
        "  return String(e.message.length) + 'other';",
        '}',
        '',
      ].join('\n'),
    );
    const r = lint(['--root', root]);
    expect(r.status).toBe(1);
    expect(r.stdout.match(/classifies by message text/g)).toHaveLength(3);
    expect(r.stdout).toMatch(/bad\.ts:2:/);
    expect(r.stdout).toMatch(/bad\.ts:3:/);
    expect(r.stdout).toMatch(/bad\.ts:4:/);
  });
});
