import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // memcached processes and replays are real: keep parallelism to the 2 cores CI has
    maxWorkers: 2,
    reporters: ['default'],
  },
});
