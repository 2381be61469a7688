/**
 * A vitest reporter for the suite's time per file, hooks and import included (vitest's JSON
 * reporter spans only a file's first test to its last: a file's beforeAll (PKIs, peers, gateway
 * starts) and afterAll fall outside it, a fifth of the workers' time in a whole-suite run).
 *
 *   npx vitest run --reporter=default --reporter=./test/support/file-cost-reporter.ts
 *
 * writes MTLS_GATEWAY_TEST_COSTS (default `test-costs.json` in the working directory): one row per
 * file with vitest's own durations (collect: importing the file and running its describe blocks;
 * run: its tests and hooks) and the wall-clock span the main process saw, slowest first, so the
 * next cut starts from the files that cost most.
 */
import { writeFileSync } from 'node:fs'
import { relative } from 'node:path'
import type { Reporter, TestModule } from 'vitest/node'

export interface FileCost {
  file: string
  /** Importing the file and running its describe blocks (ms). */
  collectMs: number
  /** Its tests and hooks (ms). */
  runMs: number
  /** Wall clock from the main process's start of the file to its end (ms after the run began). */
  fromMs: number
  toMs: number
  state: string
}

export default class FileCostReporter implements Reporter {
  readonly #began = Date.now()
  readonly #startedAt = new Map<string, number>()
  readonly #rows: FileCost[] = []

  onTestModuleStart(module: TestModule): void {
    this.#startedAt.set(module.moduleId, Date.now() - this.#began)
  }

  onTestModuleEnd(module: TestModule): void {
    const d = module.diagnostic()
    this.#rows.push({
      file: relative(process.cwd(), module.moduleId),
      collectMs: Math.round(d.collectDuration),
      runMs: Math.round(d.duration),
      fromMs: this.#startedAt.get(module.moduleId) ?? 0,
      toMs: Date.now() - this.#began,
      state: module.state(),
    })
  }

  onTestRunEnd(): void {
    const rows = [...this.#rows].sort((a, b) => b.collectMs + b.runMs - (a.collectMs + a.runMs))
    writeFileSync(process.env.MTLS_GATEWAY_TEST_COSTS ?? 'test-costs.json', `${JSON.stringify({ wallMs: Date.now() - this.#began, files: rows }, null, 1)}\n`)
  }
}
