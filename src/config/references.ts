/**
 * `${env:NAME}` and `${file:path}` references, resolved at load so secrets never need to
 * be written inline. The resolved values are remembered so the logger can redact them, and
 * so a problem found in a resolved value names the reference instead of showing the value.
 */
import { readConfigFile } from './file-snapshot.js'
import { isAbsolute, resolve } from 'node:path'
import type { KeyPath } from './yaml-source.js'
import type { ConfigReference } from './types.js'
import { writtenForms } from './written-forms.js'

const REF = /\$\{(env|file):([^}]*)\}/g

export interface ResolvedRefs {
  value: unknown
  secrets: string[]
  /** Each resolved value (of at least 4 characters) with the reference text that produced it. */
  references: ConfigReference[]
  files: string[]
  problems: { path: KeyPath; msg: string }[]
  /**
   * Strings left empty by their references alone, with what to say where the schema refuses an
   * empty value (undefined when a problem above already names the missing reference).
   */
  emptied: { path: KeyPath; msg: string | undefined }[]
}

/** Replaces every reference in every string of `tree`; missing ones become problems naming them. */
export function resolveReferences(tree: unknown, baseDir: string, env: NodeJS.ProcessEnv): ResolvedRefs {
  const out: ResolvedRefs = { value: undefined, secrets: [], references: [], files: [], problems: [], emptied: [] }
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
    const problemsBefore = out.problems.length
    const empty: string[] = []
    const resolved = s.replace(REF, (reference: string, kind: string, name: string) => {
      const value = resolveOne(out, { reference, kind, name, path }, baseDir, env)
      if (value === '') empty.push(kind === 'env' ? `environment variable ${name} is empty (referenced as ${reference})` : `file ${fileOf(name, baseDir)} is empty (referenced as ${reference})`)
      return value
    })
    if (resolved === '' && s !== '') out.emptied.push({ path, msg: out.problems.length > problemsBefore ? undefined : empty.join('; ') })
    return resolved
  }
  out.value = walk(tree, [])
  return out
}

const fileOf = (name: string, baseDir: string): string => (isAbsolute(name) ? name : resolve(baseDir, name))

/** One reference's value, remembered for redaction; '' with a problem when it is missing. */
function resolveOne(out: ResolvedRefs, ref: { reference: string; kind: string; name: string; path: KeyPath }, baseDir: string, env: NodeJS.ProcessEnv): string {
  const { reference, name, path } = ref
  const remember = (value: string): string => {
    if (value.length < 4) return value
    out.secrets.push(value)
    out.references.push({ value, reference })
    return value
  }
  if (ref.kind === 'env') {
    const value = env[name]
    if (value !== undefined) return remember(value)
    out.problems.push({ path, msg: `environment variable ${name} is not set (referenced as \${env:${name}})` })
    return ''
  }
  const file = fileOf(name, baseDir)
  // Listed even when unreadable: a refused reload watches it, so its arrival reloads.
  out.files.push(file)
  try {
    return remember(readConfigFile(file, 'utf8').replace(/\r?\n$/, ''))
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error'
    out.problems.push({ path, msg: `cannot read ${file} (referenced as \${file:${name}}): ${code}` })
    return ''
  }
}

/**
 * `text` with every resolved value replaced by the reference that produced it (longest value
 * first, so a value inside another is not left half shown): what a config problem may say. In any
 * letter case: a check that quotes a URL quotes it parsed, and a parsed URL's host is lower-cased
 * (`${file:host.txt}` holding `SeCrEt` was shown as `https://secret.example.com`).
 */
export function concealReferences(text: string, references: readonly ConfigReference[]): string {
  let out = text
  // Each value's spellings once parsed or encoded too (written-forms.ts): a private key quoted as a path, `%20` for its spaces.
  const spellings = references.flatMap((r) => writtenForms(r.value).filter((form) => form.length >= 4).map((form) => ({ form, reference: r.reference })))
  for (const r of spellings.sort((a, b) => b.form.length - a.form.length)) {
    out = out.replace(new RegExp(r.form.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'gi'), () => r.reference)
  }
  return out
}

/**
 * Problems found in a loaded config (its bundles, listeners, profiles) with every value that
 * came from a reference shown as that reference: a referenced value used as a path or a name
 * is quoted by those checks too (a private key pasted where a path belongs).
 */
export function concealSecretValues<P extends { file: string; msg: string }>(problems: readonly P[], references: readonly ConfigReference[] | undefined): P[] {
  if (references === undefined || references.length === 0) return [...problems]
  return problems.map((p) => Object.assign({}, p, { file: concealReferences(p.file, references), msg: concealReferences(p.msg, references) }))
}
