import { it } from 'vitest';
import { startMemcached } from '../helpers/memcached.js';
import { startFaultProxy, type Fault } from '../helpers/fault-proxy.js';
import { QUIET, collect, spawnReplay } from './helpers.js';
it('sample', async () => {
  const fault = (process.env.FAULT ?? 'blackhole') as Fault;
  const mc = await startMemcached();
  const px = await startFaultProxy(mc.address, fault, { afterBytes: Number(process.env.AFTER ?? 800000) });
  const t0 = Date.now();
  const p = spawnReplay(['captures/sample.pcap', '--target', px.address, '--rate', process.env.RATE ?? '2x', ...QUIET, '--json', '--out', '/tmp/scratch']);
  const killer = setTimeout(() => p.kill('SIGINT'), 100000);
  const run = await collect(p);
  clearTimeout(killer);
  await px.stop(); await mc.stop();
  const t = run.results?.summary.total.counters;
  console.log('RESULT', fault, run.code, (Date.now() - t0) / 1000, JSON.stringify(t?.errors), t?.sent, t?.completed, run.results?.config.options.reconnects, run.results?.config.options.abandoned, run.stderr.slice(-500));
}, 200000);
