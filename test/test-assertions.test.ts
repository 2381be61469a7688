/**
 * The suite's own config fails a test that makes no assertion (vitest.config.ts,
 * `expect.requireAssertions`): a test that cannot fail is a defect. A scratch project run by
 * vitest with this repository's config: a silent test fails, an asserting one passes, and a
 * concurrent test is judged on its own context's `expect`, not on a sibling's assertions.
 *
 * The global `expect` counts the assertions of whichever test ran last: concurrent tests sharing
 * it can pass a silent sibling, or fail one whose assertions came before a later test's start
 * reset the count. So a file with concurrent tests imports no global `expect`: its tests assert
 * on their context's (`async ({ expect }) => …`), passing it to the helpers that assert.
 *
 * The same config fails a fast-check property whose every run asserted nothing
 * (test/support/property-runs.ts), which requireAssertions misses when the test asserts elsewhere.
 */
import { execFile } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, expect, it } from 'vitest'

const dir = mkdtempSync(join(tmpdir(), 'mtlsgw-assertions-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

interface JsonResult { testResults: { name: string; assertionResults: { title: string; status: string; failureMessages: string[] }[] }[] }

/** Runs the scratch project at `root` with this repository's config: whether it passed, and each test's [name, status, failure]. */
async function runScratch(root: string): Promise<[unknown, string[][]]> {
  const out = join(root, 'results.json')
  const run = await promisify(execFile)(process.execPath, [resolve('node_modules/vitest/vitest.mjs'), 'run', '--config', resolve('vitest.config.ts'), '--root', root, '--reporter=json', `--outputFile=${out}`], {
    cwd: root,
    timeout: 100_000,
  }).then(() => 'passed', (e: unknown) => e)
  const results = JSON.parse(readFileSync(out, 'utf8')) as JsonResult
  const outcomes = results.testResults
    .flatMap((f) => f.assertionResults.map((t) => [`${f.name.slice(root.length + 1)}: ${t.title}`, t.status, t.failureMessages.join('')]))
    .sort(([a], [b]) => String(a).localeCompare(String(b)))
  return [run, outcomes]
}

it('fails a test without assertions, on its own count even beside a concurrent test that asserts', async () => {
  mkdirSync(join(dir, 'test'))
  writeFileSync(join(dir, 'test', 'silent.test.ts'), "import { it } from 'vitest'\nit('asserts nothing', () => {})\n")
  writeFileSync(join(dir, 'test', 'asserts.test.ts'), "import { expect, it } from 'vitest'\nit('asserts', () => { expect(1).toBe(1) })\n")
  writeFileSync(join(dir, 'test', 'concurrent.test.ts'), [
    "import { describe, it } from 'vitest'",
    "describe.concurrent('side by side', () => {",
    "  it('asserts on its context', async ({ expect }) => { expect(1).toBe(1); await new Promise((r) => setTimeout(r, 50)) })",
    "  it('asserts nothing', async () => { await new Promise((r) => setTimeout(r, 100)) })",
    '})',
    '',
  ].join('\n'))
  const [run, outcomes] = await runScratch(dir)
  expect(run, 'the silent tests fail the run').not.toBe('passed')
  expect(outcomes.map(([name, status]) => [name, status])).toEqual([
    ['test/asserts.test.ts: asserts', 'passed'],
    ['test/concurrent.test.ts: asserts nothing', 'failed'],
    ['test/concurrent.test.ts: asserts on its context', 'passed'],
    ['test/silent.test.ts: asserts nothing', 'failed'],
  ])
  for (const [, status, message] of outcomes) if (status === 'failed') expect(message).toContain('expected any number of assertion, but got none')
})

it('a test file with concurrent tests asserts on its tests\' own expect, never the global one', () => {
  // This file only writes concurrent tests into its scratch project.
  const files = readdirSync('test', { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.test.ts')).map((f) => join('test', f)).filter((f) => f !== join('test', 'test-assertions.test.ts'))
  const concurrent = files.filter((f) => /\.concurrent\b/.test(readFileSync(f, 'utf8')))
  const importsExpect = (text: string): boolean => [...text.matchAll(/^import \{([^}]*)\} from 'vitest'/gm)].some((m) => (m[1] as string).split(',').some((name) => name.trim() === 'expect'))
  expect(concurrent.length, 'files with concurrent tests (the check must see some)').toBeGreaterThan(2)
  expect(concurrent.filter((f) => importsExpect(readFileSync(f, 'utf8')))).toEqual([])
  // The rule's reader sees an import of the global expect where there is one.
  expect(importsExpect("import { afterAll, expect, it } from 'vitest'\n")).toBe(true)
  expect(importsExpect("import { it, type ExpectStatic } from 'vitest'\n")).toBe(false)
})

it('fails a property whose every run asserted nothing, though its test asserts; a run that asserts on any expect counts', async () => {
  const root = join(dir, 'properties')
  mkdirSync(join(root, 'test'), { recursive: true })
  symlinkSync(resolve('node_modules'), join(root, 'node_modules'))
  writeFileSync(join(root, 'test', 'properties.test.ts'), [
    "import fc from 'fast-check'",
    "import { describe, expect, it } from 'vitest'",
    // Every case returns before its assertion; the test's own assertion satisfies requireAssertions.
    "it('vacuous', () => { fc.assert(fc.property(fc.nat(), (n) => { if (n >= 0) return; expect(n).toBe(-1) }), { numRuns: 40 }); expect(1).toBe(1) })",
    "it('async vacuous', async () => { await fc.assert(fc.asyncProperty(fc.nat(), async () => {}), { numRuns: 30 }); expect(1).toBe(1) })",
    // One run in ten asserts: the rule is about properties that check nothing at all.
    "it('asserts in some runs', () => { fc.assert(fc.property(fc.nat(9), (n) => { if (n === 0) expect(n).toBe(0) }), { seed: 1, numRuns: 100 }) })",
    "it('asserts', async () => { await fc.assert(fc.asyncProperty(fc.nat(), async (n) => { expect(n).toBeGreaterThanOrEqual(0) })) })",
    "describe.concurrent('side by side', () => {",
    "  it('asserts on its context', async ({ expect }) => { await fc.assert(fc.asyncProperty(fc.nat(), async (n) => { await new Promise((r) => setTimeout(r, 1)); expect(n).toBeGreaterThanOrEqual(0) }), { numRuns: 20 }) })",
    "  it('returns unchecked', async ({ expect }) => { await fc.assert(fc.asyncProperty(fc.nat(), async () => {}), { numRuns: 20 }); expect(1).toBe(1) })",
    '})',
    '',
  ].join('\n'))
  const [run, outcomes] = await runScratch(root)
  expect(run, 'the vacuous properties fail the run').not.toBe('passed')
  expect(outcomes.map(([name, status]) => [name, status])).toEqual([
    ['test/properties.test.ts: asserts', 'passed'],
    ['test/properties.test.ts: asserts in some runs', 'passed'],
    ['test/properties.test.ts: asserts on its context', 'passed'],
    ['test/properties.test.ts: async vacuous', 'failed'],
    ['test/properties.test.ts: returns unchecked', 'failed'],
    ['test/properties.test.ts: vacuous', 'failed'],
  ])
  expect(outcomes.filter(([, status]) => status === 'failed').map(([, , message]) => /property ran (\d+) times and no run asserted anything/.exec(message as string)?.[1])).toEqual(['30', '20', '40'])
})
