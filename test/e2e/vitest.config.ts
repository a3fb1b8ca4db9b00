import { defineConfig } from 'vitest/config';

// The end-to-end test of the operator on the local cluster (hack/cluster-up, hack/build-image,
// hack/services-up with MLCYCLE_SERVICES_LISTEN_ALL=1). Run: npm run test:e2e
// (vitest run --config test/e2e/vitest.config.ts).
export default defineConfig({
  test: {
    root: '.',
    include: ['test/e2e/**/*.test.ts'],
    testTimeout: 900_000,
    hookTimeout: 600_000,
    pool: 'forks',
    fileParallelism: false,
    reporters: ['default'],
  },
});
