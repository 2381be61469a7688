import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Above test/support's START_DEADLINE_MS (90 s), so a slow start fails with its own message;
    // a test or hook that passes takes no longer for it.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Real peers (nginx, HAProxy, Redis, python verifiers) bind ports and spawn processes:
    // keep parallelism modest on 2-core machines. Three, not two: since a gateway process starts on
    // a third less CPU (the bundle), two workers left the 2 cores 35-50 % idle (files waiting on
    // failovers, quiet windows, timeouts); three took a fresh-clone run from 713 s to 595 s, with
    // no test's time near its timeout.
    maxWorkers: 3,
    pool: 'forks',
    // Each worker process runs its files one after another without a fresh module graph per file:
    // importing src/ and the test support anew for each of 260 files was a fifth of the suite's
    // worker time. Tests keep no state in modules (servers, PKIs and stores are per file, closed in
    // afterAll; nothing stubs globals or process.env for good).
    isolate: false,
    // A test that makes no assertion fails ("expected any number of assertion, but got none"): a
    // test that cannot fail is a defect. Concurrent tests count on their context's `expect`.
    expect: { requireAssertions: true },
    // A property whose every run took a branch without an assertion fails likewise
    // ("property ran N times and no run asserted anything"): a fast-check plugin counting each run's assertions.
    // Absolute: scratch projects run with this config from another root (test/test-assertions.test.ts).
    setupFiles: [fileURLToPath(new URL('test/support/property-runs.ts', import.meta.url))],
  },
})
