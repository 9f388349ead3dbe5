// The packed coordinator → worker batches: every field of every item survives packing, and the
// worker's run queue hands items out by due time, ties in arrival order (a stable sort of all the
// items is the truth), however the items were spread over batches.
import { describe, expect, it } from 'vitest';
import { BatchWriter, RunQueue, decodeBatch, type ReqRecord } from '../../src/replay/batch.js';
import type { WorkItem } from '../../src/replay/messages.js';
import { rng } from '../helpers/rng.js';

/** Everything left in the queue, decoded, in due order. */
function drain(q: RunQueue): WorkItem[] {
  const out: WorkItem[] = [];
  for (let it = q.pop(); it !== undefined; it = q.pop()) out.push(it);
  return out;
}

describe('packed batches', () => {
  it('carry every field of requests, opens, closes, holds and unsent counts', () => {
    const w = new BatchWriter(16);
    const meta: ReqRecord = {
      at: 1500,
      conn: 7,
      proto: 'meta',
      cmd: 'mg',
      expect: 'meta',
      quiet: true,
      opaque: 0,
      keys: ['c1:user:1'],
      metaFlags: ['v', 'Oab', 'k'],
      raw: [Buffer.from('mg c1:'), Buffer.from('user:1 v Oab k q\r\n')],
      absExpSec: null,
      cas: false,
      pipelined: true,
    };
    const bin: ReqRecord = { ...meta, at: 2000, proto: 'binary', cmd: 'setq', expect: 'binary', opaque: 0xfffffff0, keys: ['k\u0000\u00ff'], metaFlags: [], raw: [Buffer.from([0x80, 0x11, 0, 3])], absExpSec: 86400 * 40, cas: true, pipelined: false };
    const text: ReqRecord = { ...meta, at: 2500, proto: 'text', cmd: 'get', expect: 'values', quiet: false, keys: ['a', 'b', 'c'], metaFlags: [], raw: [Buffer.from('get a b c\r\n')], pipelined: false };
    const textCas: ReqRecord = { ...text, at: 2600, cmd: 'cas', expect: 'line', keys: ['a'], raw: [Buffer.from('cas a 0 0 1 99\r\nx\r\n')], cas: true };
    w.open(1000, 7, 2, true);
    w.req(meta);
    w.req(bin);
    w.req(text);
    w.req(textCas);
    w.held(3000, 'flush_all', 'destructive', 2);
    w.unsent('get', 5);
    w.close(4000, 7);
    const { batch, transfer } = w.take();
    expect(transfer.length).toBe(2);
    expect(w.size).toBe(0);
    const items = decodeBatch(batch);
    expect(items.map((i) => i.k)).toEqual(['open', 'req', 'req', 'req', 'req', 'held', 'unsent', 'close']);
    expect(items[0]).toEqual({ k: 'open', at: 1000, conn: 7, target: 2, early: true });
    const [m, b, t, tc] = items.slice(1, 5) as Extract<WorkItem, { k: 'req' }>[];
    expect(m!.raw.toString()).toBe('mg c1:user:1 v Oab k q\r\n');
    expect({ ...m!, raw: null }).toEqual({ k: 'req', at: 1500, conn: 7, proto: 'meta', cmd: 'mg', expect: 'meta', quiet: true, opaque: 0, keys: ['c1:user:1'], metaFlags: ['v', 'Oab', 'k'], raw: null, absExpSec: null, casKey: null, pipelined: true });
    expect(b!.opaque).toBe(0xfffffff0);
    expect(b!.keys).toEqual(['k\u0000\u00ff']);
    expect(b!.casKey).toBe('k\u0000\u00ff');
    expect(b!.absExpSec).toBe(86400 * 40);
    expect([...b!.raw]).toEqual([0x80, 0x11, 0, 3]);
    // a text get keeps only its key count on the worker side; a text cas keeps its key
    expect(t!.keys.length).toBe(3);
    expect(t!.casKey).toBe(null);
    expect(tc!.keys).toEqual(['a']);
    expect(tc!.casKey).toBe('a');
    expect(items[5]).toEqual({ k: 'held', at: 3000, cmd: 'flush_all', reason: 'destructive', n: 2 });
    expect(items[6]).toEqual({ k: 'unsent', at: 0, cmd: 'get', n: 5 });
    expect(items[7]).toEqual({ k: 'close', at: 4000, conn: 7 });
  });

  it('the run queue pops by due time, ties in arrival order, across batches', () => {
    const r = rng(42);
    const q = new RunQueue();
    const all: { at: number; seq: number }[] = [];
    let seq = 0;
    for (let b = 0; b < 20; b++) {
      const w = new BatchWriter(64);
      const n = 1 + Math.floor(r() * 64);
      for (let i = 0; i < n; i++) {
        // mostly increasing times with ties and some items due earlier (closes, holds)
        const at = r() < 0.2 ? Math.floor(r() * 1000) : 1000 + b * 50 + Math.floor(r() * 60);
        w.close(at, seq);
        all.push({ at, seq });
        seq++;
      }
      q.add(w.take().batch);
    }
    const want = [...all].sort((x, y) => x.at - y.at || x.seq - y.seq).map((x) => x.seq);
    expect(q.size).toBe(all.length);
    const got: number[] = [];
    for (let it = q.pop(); it !== undefined; it = q.pop()) got.push((it as Extract<WorkItem, { k: 'close' }>).conn);
    expect(got).toEqual(want);
    expect(q.size).toBe(0);
  });

  it('mid-way connections can be claimed on arrival instead of queued', () => {
    const w = new BatchWriter(8);
    w.open(0, 1, 0, true);
    w.open(5, 2, 0, false);
    w.close(9, 1);
    const q = new RunQueue();
    const claimed: number[] = [];
    q.add(w.take().batch, (it) => {
      claimed.push(it.conn);
      return true;
    });
    expect(claimed).toEqual([1]);
    expect(q.size).toBe(2);
    expect(drain(q).map((i) => i.k)).toEqual(['open', 'close']);
  });

  it('startInfo names the commands and the mid-way opens without taking anything from the queue', () => {
    const w = new BatchWriter(8);
    w.open(0, 1, 0, true);
    w.open(0, 2, 1, false);
    const base = { proto: 'text' as const, expect: 'values' as const, quiet: false, opaque: 0, keys: ['k'], metaFlags: [], absExpSec: null, cas: false, pipelined: false };
    w.req({ ...base, at: 1, conn: 1, cmd: 'get', raw: Buffer.from('get k\r\n') });
    w.req({ ...base, at: 2, conn: 2, cmd: 'gets', raw: Buffer.from('gets k\r\n') });
    w.req({ ...base, at: 3, conn: 2, cmd: 'get', raw: Buffer.from('get k\r\n') });
    const q = new RunQueue();
    q.add(w.take().batch);
    const info = q.startInfo();
    expect([...info.cmds].sort()).toEqual(['get', 'gets']);
    expect(info.early).toEqual([{ k: 'open', at: 0, conn: 1, target: 0, early: true }]);
    expect(q.size).toBe(5);
    const left = drain(q);
    expect(left.map((i) => i.k)).toEqual(['open', 'open', 'req', 'req', 'req']);
    expect(left.filter((i) => i.k === 'req').map((i) => (i.k === 'req' ? i.raw.toString() : ''))).toEqual(['get k\r\n', 'gets k\r\n', 'get k\r\n']);
  });
  it('startInfo keeps one request of each kind for the rehearsal: command, quiet, one or many keys, meta flag letters', () => {
    const w = new BatchWriter(16);
    const base = { proto: 'text' as const, expect: 'values' as const, quiet: false, opaque: 0, keys: ['k'], metaFlags: [] as string[], absExpSec: null, cas: false, pipelined: false };
    const meta = { ...base, proto: 'meta' as const, expect: 'meta' as const, cmd: 'mg' };
    w.req({ ...base, at: 1, conn: 1, cmd: 'get', raw: Buffer.from('get a\r\n') });
    w.req({ ...base, at: 2, conn: 1, cmd: 'get', raw: Buffer.from('get b\r\n'), pipelined: true }); // same kind
    w.req({ ...base, at: 3, conn: 1, cmd: 'get', keys: ['a', 'b'], raw: Buffer.from('get a b\r\n') });
    w.req({ ...base, at: 4, conn: 1, cmd: 'set', expect: 'line', raw: Buffer.from('set a 0 0 1\r\nx\r\n') });
    w.req({ ...base, at: 5, conn: 1, cmd: 'set', expect: 'none', quiet: true, raw: Buffer.from('set a 0 0 1 noreply\r\nx\r\n') });
    w.req({ ...meta, at: 6, conn: 1, metaFlags: ['v', 'O1'], raw: Buffer.from('mg a v O1\r\n') });
    w.req({ ...meta, at: 7, conn: 1, metaFlags: ['v', 'O2'], raw: Buffer.from('mg a v O2\r\n') }); // only the opaque differs
    w.req({ ...meta, at: 8, conn: 1, metaFlags: ['v', 'k', 'O3'], raw: Buffer.from('mg a v k O3\r\n') });
    const q = new RunQueue();
    q.add(w.take().batch);
    const raws = q.startInfo().samples.map((it) => it.raw.toString());
    expect(raws).toEqual(['get a\r\n', 'get a b\r\n', 'set a 0 0 1\r\nx\r\n', 'set a 0 0 1 noreply\r\nx\r\n', 'mg a v O1\r\n', 'mg a v k O3\r\n']);
    expect(q.size).toBe(8);
  });
  it('drainCounted hands requests over by command only, in due order across batches, and decodes the rest', () => {
    const base = { proto: 'text' as const, expect: 'values' as const, quiet: false, opaque: 0, keys: ['k'], metaFlags: [], absExpSec: null, cas: false, pipelined: false };
    const a = new BatchWriter(8);
    a.open(0, 1, 0, false);
    a.req({ ...base, at: 2, conn: 1, cmd: 'get', raw: Buffer.from('get k\r\n') });
    a.close(6, 1);
    const b = new BatchWriter(8);
    b.req({ ...base, at: 1, conn: 1, cmd: 'set', expect: 'line', raw: Buffer.from('set k 0 0 1\r\nx\r\n') });
    b.held(4, 'flush_all', 'destructive', 1);
    b.req({ ...base, at: 5, conn: 1, cmd: 'gets', raw: Buffer.from('gets k\r\n') });
    const q = new RunQueue();
    q.add(a.take().batch);
    q.add(b.take().batch);
    const order: string[] = [];
    q.drainCounted(
      (cmd) => order.push(`req ${cmd}`),
      (it) => order.push(it.k),
    );
    expect(order).toEqual(['open', 'req set', 'req get', 'held', 'req gets', 'close']);
    expect(q.size).toBe(0);
  });
});
