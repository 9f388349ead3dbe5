import { describe, expect, it } from 'vitest';
import { DistinctCounter } from '../../src/workload/distinct.js';

describe('DistinctCounter', () => {
  it('is exact for small key sets, duplicates included', () => {
    const d = new DistinctCounter();
    for (let i = 0; i < 5000; i++) d.add(`key:${i % 1234}`);
    expect(d.isExact).toBe(true);
    expect(d.count()).toBe(1234);
  });

  it('estimates large key sets within 3% once past the exact limit', () => {
    const d = new DistinctCounter();
    const n = 400_000;
    for (let i = 0; i < n; i++) {
      d.add(`user:${i}:profile`);
      if (i % 3 === 0) d.add(`user:${i}:profile`); // repeats must not count
    }
    expect(d.isExact).toBe(false);
    expect(Math.abs(d.count() - n) / n).toBeLessThan(0.03);
  });
});
