/**
 * Tests that run the compiled gateway (dist/) must not test yesterday's build: when a source
 * file is newer than its emitted .js (or the .js is missing), they fail at once and say so.
 */
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name)
    if (e.isDirectory()) return tsFiles(p)
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [p] : []
  })
}

/** Source files (under `dirs`, relative to the repository) whose dist/ output is missing or older. */
export function staleDistFiles(dirs: readonly string[] = ['src']): string[] {
  return dirs.flatMap((d) => tsFiles(join(ROOT, d))).filter((src) => {
    const out = join(ROOT, 'dist', relative(ROOT, src)).replace(/\.ts$/, '.js')
    return !existsSync(out) || statSync(out).mtimeMs < statSync(src).mtimeMs
  }).map((src) => relative(ROOT, src))
}

/** Throws a clear message when dist/ is older than the sources it was built from. */
export function assertDistFresh(dirs: readonly string[] = ['src']): void {
  const stale = staleDistFiles(dirs)
  if (stale.length === 0) return
  const shown = stale.slice(0, 5).join(', ') + (stale.length > 5 ? ` and ${stale.length - 5} more` : '')
  throw new Error(`dist/ is older than the sources (${shown}): run "npm run build" first (npm test does)`)
}
