/**
 * Paths of the files a config names. A problem with such a file names its path, and a path
 * can hold a value from `${env:}`/`${file:}` (a private key pasted where a path belongs):
 * concealment finds that value only as written. So a path never has a referenced value
 * rewritten: normalising (`a//b` → `a/b`, `a/./b` → `a/b`, `a/x/../b` → `a/b`) is skipped
 * for a path it would change that way, and a file inside a directory is the directory's text
 * plus the name. The file system reads either form the same.
 */
import { isAbsolute, resolve, sep } from 'node:path'
import type { ConfigReference } from './types.js'

/** Makes config paths absolute (relative to `baseDir`), keeping every referenced value in them as written. */
export function configPaths(baseDir: string, references: readonly ConfigReference[] = []): (p: string) => string {
  return (p) => {
    if (isAbsolute(p)) return p
    const resolved = resolve(baseDir, p)
    const rewritten = references.some((r) => p.includes(r.value) && !resolved.includes(r.value))
    return rewritten ? `${baseDir}${baseDir.endsWith(sep) ? '' : sep}${p}` : resolved
  }
}

/** The file `name` in directory `dir`, the directory's text kept as it is (unlike path.join). */
export function fileInDir(dir: string, name: string): string {
  return `${dir}${dir.endsWith(sep) ? '' : sep}${name}`
}
