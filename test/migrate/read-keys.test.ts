// The keys `warm` copies: every read of the three protocols, a multi-key get once per key, checked
// against the truth files written beside the fixture captures by the clients that made them.
import { describe, expect, test } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readKeysOf } from '../../src/migrate/read-keys.js';

const dir = join(import.meta.dirname, '..', '..', 'captures', 'fixtures');
const READS = /^(get|gets|getq|getk|getkq|gat|gats|gatq|gatk|gatkq|mg)$/;

describe('read keys of the fixture captures', () => {
  for (const name of ['basic', 'meta', 'binary-quiet', 'memccapable-binary', 'pymemcache-mix', 'pool-two-servers']) {
    test(name, async () => {
      const truth = JSON.parse(readFileSync(join(dir, `${name}.truth.json`), 'utf8'));
      const perCommand = truth.perCommand as Record<string, { keys: number }>;
      const want = Object.entries(perCommand).filter(([c]) => READS.test(c)).reduce((n, [, t]) => n + t.keys, 0);
      expect(want).toBeGreaterThan(0);
      const rk = await readKeysOf(join(dir, `${name}.pcap`), [11211], name === 'pool-two-servers');
      expect(rk.reads).toBe(want);
      // the client's own account: every key read was a hit, a miss, or a request the server refused
      const errors = Object.entries(perCommand).filter(([c]) => READS.test(c)).reduce((n, [, t]) => n + ((t as { errors?: number }).errors ?? 0), 0);
      if (truth.readKeys) expect(rk.reads).toBe(truth.readKeys.hits + truth.readKeys.misses + errors);
      expect(rk.keys.reduce((n, k) => n + k.reads, 0)).toBe(rk.reads);
      // hottest first
      for (let i = 1; i < rk.keys.length; i++) expect(rk.keys[i - 1]!.reads).toBeGreaterThanOrEqual(rk.keys[i]!.reads);
      expect(rk.keys.every((k) => truth.servers.includes(k.server))).toBe(true);
    });
  }
});
