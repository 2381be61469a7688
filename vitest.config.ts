import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Above test/support's START_DEADLINE_MS (90 s), so a slow start fails with its own message;
    // a test or hook that passes takes no longer for it.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Real peers (nginx, HAProxy, Redis, python verifiers) bind ports and spawn processes:
    // keep parallelism modest on 2-core machines.
    maxWorkers: 2,
    pool: 'forks',
  },
})
