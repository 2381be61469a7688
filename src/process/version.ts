/** The gateway's package root and version, as `--version` prints it and the build-info metric labels it. */
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

let root: { dir: string; version: string } | null | undefined

/**
 * The nearest folder above this module holding the gateway's package.json: the repository, or the
 * image's /app. Found by walking up, not by a fixed `../..`: this code runs from dist/src/process
 * (tsc's output) and from dist/src/chunks or dist/src itself (the bundle).
 */
function packageOf(): { dir: string; version: string } | null {
  if (root !== undefined) return root
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string }
      if (pkg.name === 'mtls-gateway') return (root = { dir, version: typeof pkg.version === 'string' ? pkg.version : 'unknown' })
    } catch {
      // None here (or not readable): look further up.
    }
    if (dirname(dir) === dir) return (root = null)
  }
}

/** The gateway's version from its package.json, else "unknown". */
export function gatewayVersion(): string {
  return packageOf()?.version ?? 'unknown'
}

/** The gateway's package root (where its package.json is), else undefined. */
export function packageRoot(): string | undefined {
  return packageOf()?.dir
}
