// --until-warm on a live mirror: the source is filled before the mirror starts, so the target
// starts cold (its gets miss where the source's hit) and warms only as the clients rewrite keys.
// A mirror whose target converges ends by itself (exit 0); one whose target never can (a
// --read-only mirror: no writes reach it) fails at --duration (exit 99).
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMemcached, type Memcached } from '../helpers/memcached.js';
import { runLoad, setKey, startMirror, type MirrorProc } from './helpers.js';

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function prefilled(): Promise<{ src: Memcached; tgt: Memcached; out: string }> {
  const src = await startMemcached();
  const tgt = await startMemcached();
  const out = mkdtempSync(join(tmpdir(), 'mcr-warm-'));
  cleanup.push(() => src.stop(), () => tgt.stop(), () => rmSync(out, { recursive: true, force: true }));
  for (let i = 0; i < 200; i++) await setKey(src.port, `k${i}`, `old${i}`);
  return { src, tgt, out };
}

function mirror(args: string[]): MirrorProc {
  const m = startMirror(args);
  cleanup.push(async () => {
    if (m.proc.exitCode === null && m.proc.signalCode === null) {
      m.proc.kill('SIGKILL');
      await m.exit;
    }
  });
  return m;
}

const RULE = 'hit_ratio{cmd=get} >= captured - 5% over 3s';
interface Out {
  verdict: { status: string; exitCode: number };
  warm: { heldAtNs: number | null; last: string | null } | null;
}

describe('mirror --until-warm', () => {
  it('ends the mirror by itself once the target keeps up with the capture over the window', async () => {
    const { src, tgt, out } = await prefilled();
    const m = mirror(['--interface', 'lo', '--port', String(src.port), '--target', tgt.address, '--out', out, '--json', '--until-warm', RULE, '--duration', '90s', '--max-lag', '60s', '--max-stall', '60s', '--no-html']);
    await m.waitErr(/mirroring/, 30_000);
    const load = runLoad(src.address, 25, 400, 200, 2, 7, true);
    const ex = await m.exit;
    expect(ex.code, m.stderr()).toBe(0);
    const o = JSON.parse(m.stdout()) as Out;
    expect(o.verdict.status).toBe('pass');
    expect(o.warm?.heldAtNs).toBeGreaterThanOrEqual(3e9);
    // it ended by itself, long before --duration
    expect(o.warm!.heldAtNs!).toBeLessThan(60e9);
    expect(m.stderr()).toMatch(/--until-warm held over 3 s/);
    await load;
  }, 150_000);

  it('a target that never warms (no writes reach it): exit 99 when --duration runs out', async () => {
    const { src, tgt, out } = await prefilled();
    const m = mirror(['--interface', 'lo', '--port', String(src.port), '--target', tgt.address, '--read-only', '--out', out, '--json', '--until-warm', RULE, '--duration', '8s', '--max-lag', '60s', '--max-stall', '60s', '--no-html']);
    await m.waitErr(/mirroring/, 30_000);
    const load = runLoad(src.address, 9, 300, 200, 2, 8, true);
    const ex = await m.exit;
    expect(ex.code, m.stderr()).toBe(99);
    const o = JSON.parse(m.stdout()) as Out;
    expect(o.verdict.status).toBe('fail');
    expect(o.warm?.heldAtNs).toBeNull();
    expect(o.warm?.last).toMatch(/breaks/);
    await load;
  }, 120_000);

  it('rejects a rule without a window or not on hit_ratio before anything starts (exit 2)', async () => {
    const { spawnSync } = await import('node:child_process');
    const run = (rule: string) => spawnSync(process.execPath, ['bin/mcreplay.js', 'mirror', '-', '--target', '127.0.0.1:1', '--until-warm', rule], { encoding: 'utf8', input: '' });
    const noWindow = run('hit_ratio >= captured - 2%');
    expect(noWindow.status).toBe(2);
    expect(noWindow.stderr).toMatch(/give the window/);
    const notHit = run('latency.p99 < 2ms over 10s');
    expect(notHit.status).toBe(2);
    expect(notHit.stderr).toMatch(/the check is on hit_ratio/);
  }, 30_000);
});
