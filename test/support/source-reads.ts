/**
 * Static checks over src/ that a value is read in one place only (single-header-readers,
 * caller-address-readers): every `file:line: text` where a pattern matches, files exempted by
 * their path under src/.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'

const SRC = join(import.meta.dirname, '..', '..', 'src')

/** A source file: its path under src/ and its text. */
export interface SourceFile {
  path: string
  text: string
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []))
}

/** Every .ts file under src/ but the `exempt` paths. */
export function srcFiles(exempt: ReadonlySet<string>): SourceFile[] {
  return sources(SRC)
    .map((p) => ({ path: relative(SRC, p), text: readFileSync(p, 'utf8') }))
    .filter((f) => !exempt.has(f.path))
}

/** Every `file:line: text` of `files` where one of `patterns` (global) matches. */
export function linesMatching(files: readonly SourceFile[], patterns: readonly RegExp[]): string[] {
  return files.flatMap(({ path, text }) => text.split('\n').flatMap((line, i) => (patterns.some((p) => [...line.matchAll(p)].length > 0) ? [`${path}:${i + 1}: ${line.trim()}`] : [])))
}
