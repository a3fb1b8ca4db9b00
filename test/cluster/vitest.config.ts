import { defineConfig } from 'vitest/config';

// The cluster smoke test: needs hack/cluster-up (and hack/services-up with
// MLCYCLE_SERVICES_LISTEN_ALL=1). Run: vitest run --config test/cluster/vitest.config.ts
export default defineConfig({
  test: {
    root: '.',
    include: ['test/cluster/**/*.test.ts'],
    testTimeout: 240_000,
    hookTimeout: 240_000,
    pool: 'forks',
    fileParallelism: false,
    reporters: ['default'],
  },
});
