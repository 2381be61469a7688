/**
 * A vitest setup file (vitest.config.ts `setupFiles`): every fast-check property run by
 * `fc.assert` is measured run by run, and a property whose every run checked nothing fails
 * ("property ran N times and no run asserted anything"). `requireAssertions` cannot see that: a
 * test whose property returned unchecked from each case may still assert elsewhere.
 *
 * A run checked something when it made an `expect` assertion or failed (threw, returned false).
 * Runs skipped by `fc.pre` are not runs. A predicate whose check is a bare `if (…) throw` or a
 * `return a === b` is invisible here: such checks are written `expect(…)` (a better message, too).
 *
 * Assertions are counted on every `expect` instance (vitest's global one and each test context's):
 * vitest keeps each instance's `assertionCalls` in one map, whose writes this counts, so a
 * concurrent test asserting on its context's `expect` is seen. A count is per worker process, so
 * an async run of a concurrent test may be credited with a sibling's assertion: the guard can then
 * miss a vacuous property there, never fail a sound one.
 *
 * With PROPERTY_RUNS_LOG=<file>, each assessment appends a JSON line (file, test, the fc.assert's
 * line, runs, runs that checked, skipped runs): the audit behind the rule.
 */
import { appendFileSync } from 'node:fs'
import fc from 'fast-check'
import { expect } from 'vitest'

interface ExpectState { assertionCalls?: number }
interface Counter { assertions: number }

const INSTALLED = Symbol.for('mtlsgw.property-runs')
const MATCHERS_OBJECT = Symbol.for('matchers-object')

/** Counts `expect(…)` calls across instances: each raises its instance's `assertionCalls` by one. */
function countAssertions(): Counter {
  const states = (globalThis as unknown as Record<symbol, WeakMap<object, ExpectState> | undefined>)[MATCHERS_OBJECT]
  if (states === undefined) throw new Error('property-runs: vitest\'s expect state map is missing (vitest internals changed)')
  const counter: Counter = { assertions: 0 }
  const seen = new WeakMap<object, number>()
  const set = states.set
  states.set = function (key: object, state: ExpectState) {
    const calls = state.assertionCalls ?? 0
    const before = seen.get(key) ?? 0
    if (calls > before) counter.assertions += calls - before
    seen.set(key, calls)
    return set.call(this, key, state)
  }
  return counter
}

/** The test file's line that called fc.assert (the first stack frame outside this file and node_modules). */
function caller(): string {
  const frames = (new Error().stack ?? '').split('\n').slice(1)
  const frame = frames.find((f) => /\/test\//.test(f) && !f.includes('property-runs') && !f.includes('node_modules'))
  return frame === undefined ? '?' : frame.trim().replace(/^at\s+/, '').replace(/^.*\((.*)\)$/, '$1').replace(`${process.cwd()}/`, '')
}

function install(): void {
  const counter = countAssertions()
  const log = process.env['PROPERTY_RUNS_LOG']
  fc.installGlobalPlugin(() => {
    let runs = 0
    let checked = 0
    let skipped = 0
    const where = log === undefined ? '' : caller()
    const measure = (before: number, out: unknown): void => {
      if (out instanceof fc.PreconditionFailure) skipped += 1
      else {
        runs += 1
        if (out !== null || counter.assertions > before) checked += 1
      }
    }
    return {
      decorateRun: (run) => (value) => {
        const before = counter.assertions
        const out = run(value)
        if (out instanceof Promise) return out.then((o) => { measure(before, o); return o })
        measure(before, out)
        return out
      },
      onAllRunsComplete: (details) => {
        if (log !== undefined) {
          const state = expect.getState()
          appendFileSync(log, `${JSON.stringify({ file: state.testPath, test: state.currentTestName, where, runs, checked, skipped, failed: details.failed })}\n`)
        }
        if (!details.failed && runs > 0 && checked === 0) {
          throw new Error(`property ran ${runs} times and no run asserted anything: every case took a branch without an expect (assert what that branch means, or generate cases that reach the assertions)`)
        }
      },
    }
  })
}

const host = globalThis as unknown as Record<symbol, boolean | undefined>
// With isolate: false a worker may evaluate this file again for each test file: one plugin per worker.
if (host[INSTALLED] !== true) {
  install()
  host[INSTALLED] = true
}
