/**
 * No object on the request path is built by spreading another one first (`{ ...a, b }`,
 * `{ ...a, ...b }`, `{ ...a }` later extended or frozen). On Node 20 (V8 11.3) adding a key
 * to, or freezing, an object made by such a spread goes through the runtime every time (1–4 µs
 * instead of 0.02), and every megamorphic property read of it misses V8's stub cache, again
 * in the runtime, wherever the object goes (`--log-ic`: a CONNECT request's target missed on
 * host, port, path and query in every request). Node 24 does not have the problem.
 * A literal with its keys written out, `Object.assign({}, a, b)`, or a literal that starts
 * with a plain key are all fine.
 *
 * Every module under src/ that can run while a request is served is checked; config
 * loading, the command line and the web console are not. A spread-first literal that runs
 * only at start-up or per scrape says so with a comment holding "(not per request)" on its
 * line or the line above.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseAst } from 'rolldown/parseAst'
import { describe, expect, it } from 'vitest'

const SRC = fileURLToPath(new URL('../src/', import.meta.url))
/** Folders whose code never serves a proxied or API request. */
const NOT_REQUEST_PATH = new Set(['config', 'cli', 'console'])
const MARKER = '(not per request)'

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return NOT_REQUEST_PATH.has(relative(SRC, path)) ? [] : sources(path)
    return name.endsWith('.ts') ? [path] : []
  })
}

interface AstNode {
  type?: string
  start?: number
  properties?: AstNode[]
  [key: string]: unknown
}

/** Lines (1-based) of object literals whose first member is a spread and that carry no marker. */
function spreadFirstLiterals(source: string): number[] {
  const lines = source.split('\n')
  const found: number[] = []
  const visit = (node: unknown): void => {
    if (node === null || typeof node !== 'object') return
    if (Array.isArray(node)) return node.forEach(visit)
    const n = node as AstNode
    if (n.type === 'ObjectExpression' && n.properties?.[0]?.type === 'SpreadElement') {
      const line = source.slice(0, n.start).split('\n').length
      const marked = [lines[line - 1], lines[line - 2]].some((l) => l?.includes('//') && l.includes(MARKER))
      if (!marked) found.push(line)
    }
    for (const key of Object.keys(n)) if (key !== 'parent') visit(n[key])
  }
  visit(parseAst(source, { lang: 'ts' }))
  return found
}

describe('object shapes on the request path', () => {
  it('finds spread-first literals and honours the marker (the check itself can fail)', () => {
    const sample = [
      'const a = { ...b, c }', // 1: found
      'const d = { c, ...b }', // 2: fine
      'const e = Object.freeze({ ...b })', // 3: found
      '// options (not per request)',
      'const f = { ...b, ...c }', // 5: marked
      'const g = { h: { ...b, i: 1 } }', // 6: found (nested)
      'type T = { a: number }; const [x, ...rest] = [1, 2]', // 7: no object spread
    ].join('\n')
    expect(spreadFirstLiterals(sample)).toEqual([1, 3, 6])
  })

  it('has none in src/ outside config, cli and console', () => {
    const files = sources(SRC)
    expect(files.length).toBeGreaterThan(100)
    const found = files.flatMap((file) => spreadFirstLiterals(readFileSync(file, 'utf8')).map((line) => `${relative(SRC, file)}:${line}`))
    expect(found).toEqual([])
  })
})
