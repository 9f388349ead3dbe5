// `top` as a person sees it: run in a tmux pane, its screen read back with capture-pane; and as a
// script sees it (--json lines, plain lines when piped). Real memcached servers, one of them down,
// and a client whose gets hit 3 keys of 4, so the interval hit ratio has a known value.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { promisify } from 'node:util';
import { freePort, startMemcached, type Memcached } from '../helpers/memcached.js';
import { fill } from './mc.js';
import { waitFor } from '../helpers/wait.js';
import { cli } from './cli.js';

const run = promisify(execFile);
const haveTmux = existsSync('/usr/bin/tmux');

/** Sends `get h1 h2 h3 nothere` over one connection, one after the other, until stopped. */
function load(port: number): { stop(): Promise<number> } {
  const s: Socket = connect({ host: '127.0.0.1', port });
  let stopped = false;
  let sent = 0;
  let tail = '';
  const ask = (): void => {
    if (stopped) return;
    sent++;
    s.write('get h1 h2 h3 nothere\r\n');
  };
  s.on('connect', ask);
  s.on('data', (d: Buffer) => {
    tail = (tail + d.toString('latin1')).slice(-5);
    if (tail === 'END\r\n') {
      tail = '';
      ask();
    }
  });
  return {
    stop: () =>
      new Promise((res) => {
        stopped = true;
        s.end(() => res(sent));
      }),
  };
}

// each test spawns several CLI processes; on a loaded 2-core machine a Node start alone takes seconds
describe('mcreplay top', { timeout: 240_000 }, () => {
  let a: Memcached;
  let b: Memcached;
  let dead: number;
  beforeAll(async () => {
    [a, b] = await Promise.all([startMemcached(), startMemcached({ memoryMb: 16 })]);
    dead = await freePort();
    const v = (n: number) => ({ key: `h${n}`, value: Buffer.alloc(1000, 'x'), flags: 0, ttl: 0 });
    await fill(a.port, [v(1), v(2), v(3)]);
    await fill(b.port, [v(1)]);
  }, 240_000);
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
  });

  test.skipIf(!haveTmux)('under tmux: rows refreshed in place, a down server, group totals', async () => {
    const session = `mcr-top-${process.pid}`;
    const gen = load(a.port);
    execFileSync('tmux', ['new-session', '-d', '-s', session, '-x', '160', '-y', '30', `node ${cli} top ${a.address} ${b.address} 127.0.0.1:${dead} --interval 300ms --group all=${a.address},${b.address}`]);
    try {
      let screen = '';
      let row: string[] = [];
      // a refresh with a rate: gets/s is a number and the hit ratio is shown
      await waitFor(() => `a row with a rate for ${a.address} on the screen:\n${screen}`, () => {
        screen = execFileSync('tmux', ['capture-pane', '-p', '-t', session]).toString();
        row = screen.split('\n').find((l) => l.trim().startsWith(a.address))?.trim().split(/\s{2,}/) ?? [];
        return row.length > 4 && row[2] !== '-' && row[4] !== '-' && row[2] !== '0';
      }, 20_000, 100);
      expect(row[1], screen).toBe('up');
      expect(parseFloat(row[4]!), screen).toBeCloseTo(75, -0.5); // 3 of every 4 keys hit
      expect(row[5]).toBe('3'); // items
      // one title on the screen: the view is redrawn in place, not scrolled
      expect(screen.match(/mcreplay top/g)?.length, screen).toBe(1);
      const line = (start: string): string[] => screen.split('\n').find((l) => l.trim().startsWith(start))?.trim().split(/\s{2,}/) ?? [];
      expect(line(b.address)[1]).toBe('up');
      expect(line(b.address)[5]).toBe('1');
      expect(line(`127.0.0.1:${dead}`)[1]).toBe('down');
      expect(screen).toMatch(new RegExp(`127\\.0\\.0\\.1:${dead}: .*ECONNREFUSED`));
      expect(line('[all]')[1]).toBe('up');
      expect(line('[all]')[5]).toBe('4');
    } finally {
      await gen.stop();
      execFileSync('tmux', ['kill-session', '-t', session]);
    }
  });

  test('--json lines: interval rates against the load sent; piped output has plain lines', async () => {
    const gen = load(a.port);
    const r = await run('node', [cli, 'top', a.address, `127.0.0.1:${dead}`, '--interval', '300ms', '--count', '4', '--json', '--group', `g=${a.address},127.0.0.1:${dead}`]);
    await gen.stop();
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.length).toBe(4);
    expect(lines[0].schema).toBe('mcreplay.top/1');
    expect(lines[0].servers[0].getsPerS).toBeNull(); // no rate from a single sample
    for (const l of lines.slice(1)) {
      const s = l.servers[0];
      expect(s.up).toBe(true);
      expect(s.items).toBe(3);
      expect(s.getsPerS).toBeGreaterThan(0);
      expect(s.hitRatio).toBeGreaterThan(0.74);
      expect(s.hitRatio).toBeLessThan(0.76);
      expect(s.fill).toBeCloseTo(s.bytes / s.limitBytes, 12);
      expect(l.servers[1]).toMatchObject({ up: false, getsPerS: null });
      expect(l.groups[0]).toMatchObject({ server: 'g', up: true, items: 3, error: '1 of 2 down' });
    }
    const plain = (await run('node', [cli, 'top', a.address, '--interval', '200ms', '--count', '2'])).stdout;
    expect(plain).not.toContain('\x1b');
    expect(plain.match(/mcreplay top/g)?.length).toBe(2);
  });

  test('bad usage: a group member that is not watched', async () => {
    await expect(run('node', [cli, 'top', a.address, '--group', `x=${b.address}`, '--count', '1'])).rejects.toMatchObject({ code: 2 });
  });
});
