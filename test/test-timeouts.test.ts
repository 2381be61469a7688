/**
 * No test or hook cuts its own time below the suite's timeout (vitest.config.ts, 120 s). That
 * timeout sits above test/support's START_DEADLINE_MS (90 s) so a slow start on a loaded machine
 * fails with its own message, or passes late; an explicit 60 s on a hook that starts a gateway
 * cut that short and failed CI runs. Longer explicit timeouts (a failover, a build) stay allowed.
 */
import { readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { describe, expect, it } from 'vitest'
import config from '../vitest.config.js'
import { testSources, walkAst, type AstNode } from './support/test-ast.js'

const ROOT = join(import.meta.dirname, '..')
const VITEST_FUNCTIONS = new Set(['it', 'test', 'beforeAll', 'afterAll', 'beforeEach', 'afterEach'])

/** `it`, `it.each(…)`, `test.skipIf(…)`, `beforeAll`…: the vitest function a call's callee starts from. */
function vitestFunction(callee: AstNode): string | undefined {
  let e: AstNode | undefined = callee
  while (e && (e.type === 'CallExpression' || e.type === 'MemberExpression')) e = e.type === 'CallExpression' ? e.callee : e.object
  return e?.type === 'Identifier' && e.name !== undefined && VITEST_FUNCTIONS.has(e.name) ? e.name : undefined
}

/** The value of a numeric literal or a product of them (`5 * 60_000`), else undefined. */
function numberOf(e: AstNode): number | undefined {
  if (e.type === 'Literal') return typeof e.value === 'number' ? e.value : undefined
  if (e.type === 'BinaryExpression' && e.operator === '*' && e.left && e.right) {
    const [a, b] = [numberOf(e.left), numberOf(e.right)]
    return a === undefined || b === undefined ? undefined : a * b
  }
  return undefined
}

/** Every vitest call in `source` whose last argument (after its function) is a timeout below `floor`. */
export function shortTimeouts(file: string, source: string, floor: number): string[] {
  const found: string[] = []
  const lineOf = (offset: number): number => source.slice(0, offset).split('\n').length
  walkAst(file, source, (node) => {
    const args = node.arguments ?? []
    if (node.type === 'CallExpression' && node.callee && vitestFunction(node.callee) !== undefined && args.length >= 2) {
      const last = args[args.length - 1] as AstNode
      const before = args[args.length - 2] as AstNode
      const ms = numberOf(last)
      if (ms !== undefined && ms < floor && (before.type === 'ArrowFunctionExpression' || before.type === 'FunctionExpression')) {
        found.push(`${file}:${lineOf(last.start)}: ${vitestFunction(node.callee)}(…, ${ms})`)
      }
    }
  })
  return found
}

describe('explicit test and hook timeouts', () => {
  const floor = Math.min(config.test?.testTimeout ?? 0, config.test?.hookTimeout ?? 0)

  it('the suite\'s own timeouts are set, and above the start deadline', () => {
    expect(floor).toBeGreaterThanOrEqual(120_000)
  })

  it('finds the shapes it looks for (so the scan below can fail)', () => {
    const sample = [
      "beforeAll(async () => { await start() }, 60_000)",
      "it('a', async () => {}, 5 * 10_000)",
      "it.each([1])('b %s', async () => {}, 90_000)",
      "test.skipIf(x)('c', () => {}, 1000)",
      "it('d', async () => {}, 120_000)",
      "await eventually('e', async () => true, 30_000)",
    ].join('\n')
    expect(shortTimeouts('sample.ts', sample, floor)).toEqual([
      'sample.ts:1: beforeAll(…, 60000)',
      'sample.ts:2: it(…, 50000)',
      'sample.ts:3: it(…, 90000)',
      'sample.ts:4: test(…, 1000)',
    ])
  })

  it('no test or hook under test/ sets one below the suite\'s', () => {
    const found = testSources(join(ROOT, 'test')).flatMap((path) => shortTimeouts(relative(ROOT, path), readFileSync(path, 'utf8'), floor))
    expect(found).toEqual([])
  })
})
