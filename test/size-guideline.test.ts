/**
 * The size rule (≤200 lines a file, ≤40 a function; a file over 300 states why) as a ratchet:
 * what is over a limit today is listed below at its current length, and nothing may grow past
 * its entry or newly pass a limit. Every src/**\/*.ts file is parsed (rolldown's oxc parser);
 * a function (declaration, expression, arrow, method) runs from its first to its last line,
 * nested functions counted inside their parents too. An entry must equal today's length, so a
 * shrink lowers it and a function or file brought within the limit leaves the list: the list
 * only shrinks.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseAst } from 'rolldown/parseAst'
import { describe, expect, it } from 'vitest'

const SRC = fileURLToPath(new URL('../src/', import.meta.url))
const MAX_FUNCTION = 40
const MAX_FILE = 200
/** Above this a file's allowance must say why it is one file. */
const REASON_ABOVE = 300

/** A function over MAX_FUNCTION lines: file under src/, name path as measureFunctions gives it, lines today. */
interface FunctionAllowance {
  readonly file: string
  readonly fn: string
  readonly lines: number
}

/** A file over MAX_FILE lines: its lines today and, above REASON_ABOVE, why it stays one file. */
interface FileAllowance {
  readonly file: string
  readonly lines: number
  readonly reason?: string
}

// prettier-ignore
const FUNCTIONS: readonly FunctionAllowance[] = [
  { file: 'cli/oauth1-sign.ts', fn: 'addOAuth1Commands', lines: 41 },
  { file: 'cli/gateway-root.ts', fn: 'startGateway', lines: 69 },
  { file: 'console/console.ts', fn: 'createConsole', lines: 128 },
  { file: 'console/samples.ts', fn: 'createSampler', lines: 47 },
  { file: 'console/session.ts', fn: 'createSessions', lines: 58 },
  { file: 'dance/feature.ts', fn: 'createOAuth1Feature', lines: 50 },
  { file: 'dance/tokens.ts', fn: 'createTokenRepo', lines: 46 },
  { file: 'gateway/upstream.ts', fn: 'createConnector', lines: 83 },
  { file: 'gateway/upstream.ts', fn: 'createConnector/<returned>', lines: 80 },
  { file: 'ops/admin.ts', fn: 'startAdmin', lines: 43 },
  { file: 'ops/log.ts', fn: 'createLog', lines: 46 },
  { file: 'ops/ops.ts', fn: 'createOps', lines: 48 },
  { file: 'ops/redact.ts', fn: 'createRedactor', lines: 43 },
  { file: 'ops/request-metrics.ts', fn: 'createRequestMetrics', lines: 58 },
  { file: 'ops/upstream-facts.ts', fn: 'observeUpstream', lines: 56 },
  { file: 'ops/watch.ts', fn: 'watchFiles', lines: 76 },
  { file: 'ops/workers.ts', fn: 'runPrimary', lines: 90 },
  { file: 'proxy/listener.ts', fn: 'serveRequest', lines: 72 },
  { file: 'proxy/steps/json-numbers.ts', fn: 'parseKeepingNumbers', lines: 54 },
  { file: 'tls/interception-ca.ts', fn: 'loadInterceptionCa', lines: 41 },
  { file: 'tls/mint.ts', fn: 'createMinter', lines: 48 },
  { file: 'tracing/api-calls.ts', fn: 'traceApiCalls', lines: 42 },
  { file: 'tracing/spans.ts', fn: 'startRequestTrace', lines: 54 },
]

// prettier-ignore
const FILES: readonly FileAllowance[] = [
  { file: 'cli/gateway-root.ts', lines: 205 },
  {
    file: 'config/schema.ts', lines: 314,
    reason: 'the schema is data: one `as const` literal is the single source of the config types, Ajv validation, config/gateway.schema.json and docs/config-reference.md; it has no function to split',
  },
  { file: 'ops/redact.ts', lines: 209 },
  { file: 'proxy/connection-guard.ts', lines: 252 },
  { file: 'proxy/parameter-names.ts', lines: 221 },
]

interface AstNode {
  readonly type: string
  readonly start: number
  readonly end: number
  readonly [key: string]: unknown
}

/** One function of a source file and its line span. */
export interface MeasuredFunction {
  /** Enclosing functions' names, then its own, joined by `/`; a repeat within the file gets ` #2`, ` #3`… */
  name: string
  startLine: number
  lines: number
}

const FUNCTION_TYPES = new Set(['FunctionDeclaration', 'FunctionExpression', 'ArrowFunctionExpression'])
const CLASS_MEMBERS = new Set(['MethodDefinition', 'PropertyDefinition', 'AccessorProperty', 'TSAbstractMethodDefinition', 'TSAbstractPropertyDefinition'])

const isNode = (v: unknown): v is AstNode => typeof v === 'object' && v !== null && typeof (v as { type?: unknown }).type === 'string'

function childrenOf(node: AstNode): AstNode[] {
  const out: AstNode[] = []
  for (const [key, value] of Object.entries(node)) {
    if (key === 'parent') continue
    if (isNode(value)) out.push(value)
    else if (Array.isArray(value)) for (const v of value) if (isNode(v)) out.push(v)
  }
  return out
}

/** An identifier, private name, literal or member expression's property as written: `a`, `#b`, `c`, `e` of `d.e`. */
function nameOf(n: unknown): string | undefined {
  if (!isNode(n)) return undefined
  if (n.type === 'Identifier') return String(n.name)
  if (n.type === 'PrivateIdentifier') return `#${String(n.name)}`
  if (n.type === 'Literal') return String(n.value)
  if (n.type === 'MemberExpression') return nameOf(n.property)
  return undefined
}

/** The name the parent gives its child function: a variable, property, class member, assignment target, callee or return. */
function givenName(parent: AstNode, child: AstNode, className: string | undefined): string | undefined {
  switch (parent.type) {
    case 'VariableDeclarator':
      return parent.init === child ? nameOf(parent.id) : undefined
    case 'Property':
      return parent.value === child ? nameOf(parent.key) : undefined
    case 'AssignmentExpression':
    case 'AssignmentPattern':
      return parent.right === child ? nameOf(parent.left) : undefined
    case 'CallExpression':
    case 'NewExpression': {
      const callee = nameOf(parent.callee)
      return callee === undefined ? undefined : `${callee} callback`
    }
    case 'ReturnStatement':
      return '<returned>'
    case 'ArrowFunctionExpression':
      return parent.body === child ? '<returned>' : undefined
    case 'ExportDefaultDeclaration':
      return 'default'
  }
  if (CLASS_MEMBERS.has(parent.type) && parent.value === child) return `${className ?? '<class>'}.${nameOf(parent.key) ?? '<computed>'}`
  return undefined
}

/** Offset → 1-based line (rolldown's parser gives UTF-16 offsets, as String indexes are). */
function lineIndex(text: string): (offset: number) => number {
  const starts = [0]
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) starts.push(i + 1)
  return (offset) => {
    let lo = 0
    let hi = starts.length - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1
      if ((starts[mid] as number) <= offset) lo = mid
      else hi = mid - 1
    }
    return lo + 1
  }
}

/** Every function with a body in a TypeScript source, in source order, with its line span. */
export function measureFunctions(text: string, file = 'file.ts'): MeasuredFunction[] {
  const line = lineIndex(text)
  const found: MeasuredFunction[] = []
  const seen = new Map<string, number>()
  const visit = (node: AstNode, path: readonly string[], className: string | undefined): void => {
    const memberClass = node.type === 'ClassDeclaration' || node.type === 'ClassExpression' ? (nameOf(node.id) ?? '<class>') : className
    for (const child of childrenOf(node)) {
      if (!FUNCTION_TYPES.has(child.type) || child.body === null) {
        visit(child, path, memberClass)
        continue
      }
      const base = [...path, nameOf(child.id) ?? givenName(node, child, memberClass) ?? '<anonymous>'].join('/')
      const n = (seen.get(base) ?? 0) + 1
      seen.set(base, n)
      const name = n === 1 ? base : `${base} #${n}`
      const startLine = line(child.start)
      found.push({ name, startLine, lines: line(child.end - 1) - startLine + 1 })
      visit(child, name.split('/'), undefined)
    }
  }
  visit(parseAst(text, { lang: 'ts' }, file) as unknown as AstNode, [], undefined)
  return found
}

/** Lines as `wc -l` counts them in a file that ends with a newline. */
export const lineCount = (text: string): number => text.split('\n').length - (text.endsWith('\n') ? 1 : 0)

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? sources(path) : name.endsWith('.ts') ? [path] : []
  })
}

interface Measured {
  file: string
  lines: number
  functions: MeasuredFunction[]
}

function measureSources(): Measured[] {
  return sources(SRC).map((path) => {
    const text = readFileSync(path, 'utf8')
    const file = relative(SRC, path)
    return { file, lines: lineCount(text), functions: measureFunctions(text, file) }
  })
}

/** What breaks the ratchet: over the limit without an entry, above the entry, or an entry that no longer matches. */
export function ratchetProblems(measured: readonly { key: string; lines: number }[], allowed: ReadonlyMap<string, number>, limit: number): string[] {
  const problems: string[] = []
  const lengths = new Map(measured.map((m) => [m.key, m.lines]))
  for (const { key, lines } of measured) {
    const allowance = allowed.get(key)
    if (allowance === undefined && lines > limit) problems.push(`${key}: ${lines} lines, over ${limit} and not in the allowance list: split it`)
    else if (allowance !== undefined && lines > allowance) problems.push(`${key}: ${lines} lines, allowance ${allowance}: nothing on the list may grow, split it`)
  }
  for (const [key, allowance] of allowed) {
    const lines = lengths.get(key)
    if (lines === undefined) problems.push(`${key}: allowance ${allowance} for something that no longer exists: remove the entry`)
    else if (lines <= limit) problems.push(`${key}: ${lines} lines, within ${limit}: remove its allowance (${allowance})`)
    else if (lines < allowance) problems.push(`${key}: ${lines} lines, allowance ${allowance}: lower the allowance to ${lines}`)
  }
  return problems
}

const SAMPLE = `// a sample: → (non-ASCII before the functions)
export function outer(a: number): number {
  const inner = (b: number) => {
    return b + 1
  }
  return inner(a)
}
class Box {
  get size() { return 1 }
  method(): () => number {
    return () => 2
  }
}
const o = { p() {}, q: function () {}, r: async () => {} }
setTimeout(() => {
}, 1)
export default function () {}
function overload(a: string): void
function overload(a: unknown): void {}
const twice = [() => 1, () => 2]
`

describe('size guideline (src/: ≤40 lines a function, ≤200 a file, ratcheted)', () => {
  const all = measureSources()

  it('measures each kind of function, nested ones inside their parents', () => {
    expect(measureFunctions(SAMPLE).map((f) => `${f.name}:${f.startLine}+${f.lines}`)).toEqual([
      'outer:2+6',
      'outer/inner:3+3',
      'Box.size:9+1',
      'Box.method:10+3',
      'Box.method/<returned>:11+1',
      'p:14+1',
      'q:14+1',
      'r:14+1',
      'setTimeout callback:15+2',
      'default:17+1',
      'overload:19+1',
      '<anonymous>:20+1',
      '<anonymous> #2:20+1',
    ])
    expect(lineCount('a\nb\n')).toBe(2)
    expect(lineCount('a\nb')).toBe(2)
  })

  it('reads the sources (the checks below have something to check)', () => {
    expect(all.length).toBeGreaterThan(150)
    expect(all.find((m) => m.file === 'oauth1/index.ts')?.lines).toBeGreaterThan(5)
    expect(all.flatMap((m) => m.functions).length).toBeGreaterThan(1000)
  })

  it('each entry is well-formed: once, over its limit when written, a reason above 300 lines', () => {
    const keys = FUNCTIONS.map((f) => `${f.file} ${f.fn}`)
    expect(keys.filter((k, i) => keys.indexOf(k) !== i)).toEqual([])
    expect(FILES.map((f) => f.file).filter((k, i, a) => a.indexOf(k) !== i)).toEqual([])
    expect(FILES.filter((f) => f.lines > REASON_ABOVE && (f.reason ?? '').trim().length < 20).map((f) => f.file)).toEqual([])
  })

  it('no function grows past its allowance, and none newly passes 40 lines', () => {
    const measured = all.flatMap((m) => m.functions.map((f) => ({ key: `${m.file} ${f.name}`, lines: f.lines })))
    expect(ratchetProblems(measured, new Map(FUNCTIONS.map((f) => [`${f.file} ${f.fn}`, f.lines])), MAX_FUNCTION)).toEqual([])
  })

  it('no file grows past its allowance, and none newly passes 200 lines', () => {
    const measured = all.map((m) => ({ key: m.file, lines: m.lines }))
    expect(ratchetProblems(measured, new Map(FILES.map((f) => [f.file, f.lines])), MAX_FILE)).toEqual([])
  })

  it('the ratchet refuses growth, a new long function and a stale entry', () => {
    const allowed = new Map([['a.ts f', 50], ['a.ts gone', 45], ['a.ts shrunk', 60], ['a.ts fixed', 41]])
    const measured = [
      { key: 'a.ts f', lines: 51 },
      { key: 'a.ts new', lines: 41 },
      { key: 'a.ts shrunk', lines: 55 },
      { key: 'a.ts fixed', lines: 40 },
      { key: 'a.ts short', lines: 40 },
    ]
    expect(ratchetProblems(measured, allowed, 40)).toEqual([
      'a.ts f: 51 lines, allowance 50: nothing on the list may grow, split it',
      'a.ts new: 41 lines, over 40 and not in the allowance list: split it',
      'a.ts gone: allowance 45 for something that no longer exists: remove the entry',
      'a.ts shrunk: 55 lines, allowance 60: lower the allowance to 55',
      'a.ts fixed: 40 lines, within 40: remove its allowance (41)',
    ])
  })
})
