/**
 * Static checks over the suite's own sources (test-timeouts, signals-by-pid): every .ts file under
 * a directory, and a walk over a file's ESTree nodes (rolldown's parser, oxc, gives ESTree for
 * TypeScript too).
 */
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { parseAst } from 'rolldown/parseAst'

export function testSources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return testSources(path)
    return name.endsWith('.ts') ? [path] : []
  })
}

/** The ESTree nodes these scans read. */
export interface AstNode {
  type: string
  start: number
  name?: string
  value?: unknown
  operator?: string
  computed?: boolean
  callee?: AstNode
  object?: AstNode
  property?: AstNode
  expression?: AstNode
  left?: AstNode
  right?: AstNode
  arguments?: AstNode[]
}

const isNode = (v: unknown): v is AstNode => typeof v === 'object' && v !== null && typeof (v as { type?: unknown }).type === 'string'

/** Calls `visit` on every node of `source` (TypeScript), parents first. */
export function walkAst(file: string, source: string, visit: (node: AstNode) => void): void {
  const walk = (node: AstNode): void => {
    visit(node)
    for (const [key, v] of Object.entries(node)) {
      if (key === 'parent') continue
      if (Array.isArray(v)) v.filter(isNode).forEach(walk)
      else if (isNode(v)) walk(v)
    }
  }
  walk(parseAst(source, { lang: 'ts' }, file) as unknown as AstNode)
}
