import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Real peers (nginx, HAProxy, Redis, python verifiers) bind ports and spawn processes:
    // keep parallelism modest on 2-core machines.
    maxWorkers: 2,
    pool: 'forks',
  },
})
