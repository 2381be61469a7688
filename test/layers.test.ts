/**
 * Folders import downward only, and enter a folder that has an index.ts only through it.
 * Every relative import and re-export of src/**\/*.ts (type-only ones and dynamic import()
 * too) is checked against the layer order below; a new folder must be placed in it.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const SRC = fileURLToPath(new URL('../src/', import.meta.url))

/** Lower layers first; a module may import its own folder or any folder of a lower layer. */
const LAYERS: readonly (readonly string[])[] = [
  ['errors.ts', 'process'],
  ['config'],
  ['tls', 'oauth1', 'store'],
  // Above tls/: the OTLP exporter's TLS files are checked by tls/'s tlsFileProblems, like every other TLS file.
  ['tracing'],
  ['callers'],
  ['gateway'],
  ['runtime'],
  ['proxy'],
  ['api', 'ops'],
  ['dance'],
  ['console'],
  ['cli'],
  ['main.ts'],
]
const RANK = new Map(LAYERS.flatMap((names, rank) => names.map((n) => [n, rank] as const)))

/** The unit a file belongs to: its top folder under src/, or the file itself at the top. */
const unitOf = (file: string): string => relative(SRC, file).split('/')[0] as string

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? sources(path) : name.endsWith('.ts') ? [path] : []
  })
}

interface Edge {
  from: string
  to: string
}

// `import … from '…'`, `export … from '…'` (statements start a line), `import '…'`, `import('…')`.
const SPECIFIERS = /^(?:import|export)\b[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]|^import\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/gm

/** The relative module specifiers of a source text. */
export function specifiers(text: string): string[] {
  return [...text.matchAll(SPECIFIERS)].map((m) => (m[1] ?? m[2] ?? m[3]) as string)
}

function edges(): Edge[] {
  return sources(SRC).flatMap((from) =>
    specifiers(readFileSync(from, 'utf8'))
      .filter((spec) => spec.startsWith('.'))
      .map((spec) => ({ from, to: resolve(dirname(from), spec).replace(/\.js$/, '.ts') })),
  )
}

const show = (e: Edge): string => `${relative(SRC, e.from)} → ${relative(SRC, e.to)}`

describe('layering of src/', () => {
  const all = edges()

  it('finds every form of import', () => {
    const text = "import type { A } from '../a.js'\nexport { b } from './b.js'\nimport {\n  c,\n  d,\n} from '../c/index.js'\nimport './side.js'\nconst e = await import('../e.js')\n// from './comment.js'"
    expect(specifiers(text)).toEqual(['../a.js', './b.js', '../c/index.js', './side.js', '../e.js'])
  })

  it('reads the imports (the checks below have something to check)', () => {
    expect(all.length).toBeGreaterThan(300)
    expect(all.some((e) => unitOf(e.from) === 'cli' && unitOf(e.to) === 'runtime')).toBe(true)
  })

  it('every folder is placed in a layer', () => {
    const units = new Set(sources(SRC).map(unitOf))
    expect([...units].filter((u) => !RANK.has(u))).toEqual([])
  })

  it('no folder imports a folder of its own or a higher layer', () => {
    const upward = all.filter((e) => {
      const [a, b] = [unitOf(e.from), unitOf(e.to)]
      return a !== b && (RANK.get(b) ?? Infinity) >= (RANK.get(a) ?? -1)
    })
    expect(upward.map(show)).toEqual([])
  })

  it('a folder with an index.ts is entered only through it', () => {
    const withIndex = new Set([...RANK.keys()].filter((u) => !u.endsWith('.ts') && statSync(join(SRC, u)).isDirectory() && readdirSync(join(SRC, u)).includes('index.ts')))
    const bypass = all.filter((e) => {
      const [a, b] = [unitOf(e.from), unitOf(e.to)]
      return a !== b && withIndex.has(b) && relative(join(SRC, b), e.to) !== 'index.ts'
    })
    expect(bypass.map(show)).toEqual([])
  })
})
