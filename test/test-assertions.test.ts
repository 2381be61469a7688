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
 */
import { execFile } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, expect, it } from 'vitest'

const dir = mkdtempSync(join(tmpdir(), 'mtlsgw-assertions-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

interface JsonResult { testResults: { name: string; assertionResults: { title: string; status: string; failureMessages: string[] }[] }[] }

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
  const out = join(dir, 'results.json')
  const run = await promisify(execFile)(process.execPath, [resolve('node_modules/vitest/vitest.mjs'), 'run', '--config', resolve('vitest.config.ts'), '--root', dir, '--reporter=json', `--outputFile=${out}`], {
    cwd: dir,
    timeout: 100_000,
  }).then(() => 'passed', (e: unknown) => e)
  expect(run, 'the silent tests fail the run').not.toBe('passed')
  const results = JSON.parse(readFileSync(out, 'utf8')) as JsonResult
  const outcomes = results.testResults
    .flatMap((f) => f.assertionResults.map((t) => [`${f.name.slice(dir.length + 1)}: ${t.title}`, t.status, t.failureMessages.join('')]))
    .sort(([a], [b]) => String(a).localeCompare(String(b)))
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
