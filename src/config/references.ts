/**
 * `${env:NAME}` and `${file:path}` references, resolved at load so secrets never need to
 * be written inline. The resolved values are remembered so the logger can redact them.
 */
import { readFileSync } from 'node:fs'
import { isAbsolute, resolve } from 'node:path'
import type { KeyPath } from './yaml-source.js'

const REF = /\$\{(env|file):([^}]*)\}/g

export interface ResolvedRefs {
  value: unknown
  secrets: string[]
  files: string[]
  problems: { path: KeyPath; msg: string }[]
}

/** Replaces every reference in every string of `tree`; missing ones become problems naming them. */
export function resolveReferences(tree: unknown, baseDir: string, env: NodeJS.ProcessEnv): ResolvedRefs {
  const out: ResolvedRefs = { value: undefined, secrets: [], files: [], problems: [] }
  const walk = (v: unknown, path: (string | number)[]): unknown => {
    if (typeof v === 'string') return resolveString(v, path)
    if (Array.isArray(v)) return v.map((item, i) => walk(item, [...path, i]))
    if (v !== null && typeof v === 'object') {
      const obj: Record<string, unknown> = {}
      for (const [k, item] of Object.entries(v)) obj[k] = walk(item, [...path, k])
      return obj
    }
    return v
  }
  const resolveString = (s: string, path: KeyPath): string => {
    if (!s.includes('${')) return s
    return s.replace(REF, (_m, kind: string, name: string) => {
      if (kind === 'env') {
        const value = env[name]
        if (value === undefined) {
          out.problems.push({ path, msg: `environment variable ${name} is not set (referenced as \${env:${name}})` })
          return ''
        }
        if (value.length >= 4) out.secrets.push(value)
        return value
      }
      const file = isAbsolute(name) ? name : resolve(baseDir, name)
      try {
        const value = readFileSync(file, 'utf8').replace(/\r?\n$/, '')
        out.files.push(file)
        if (value.length >= 4) out.secrets.push(value)
        return value
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code ?? 'error'
        out.problems.push({ path, msg: `cannot read ${file} (referenced as \${file:${name}}): ${code}` })
        return ''
      }
    })
  }
  out.value = walk(tree, [])
  return out
}
