import { configDefaults, defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    // The e2e tests start anvil and real HTTP servers; their first call also warms up viem and x402.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Child processes (anvil) belong to a fork that exits, never to a shared worker thread.
    pool: 'forks',
    setupFiles: ['test/support/fuzzSeed.ts'],
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['test/**/*.test.ts'], exclude: [...configDefaults.exclude, 'test/e2e/**'] },
      },
      { extends: true, test: { name: 'e2e', include: ['test/e2e/**/*.test.ts'] } },
      // The CLI's tests spawn the built CLI (npm test builds it first) against the local stack.
      { extends: true, test: { name: 'cli', include: ['cli/test/**/*.test.ts'] } },
    ],
  },
})
