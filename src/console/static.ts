/**
 * The console's files: hand-written ES modules and CSS (src/console/assets, which the image ships as
 * dist/src/console/assets), and uPlot from its npm package. A fixed table of names, so no request path reaches the
 * file system; read once, then served from memory.
 */
import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { packageRoot } from '../process/index.js'

// Where the image puts them (dist/src/console/assets), else the source tree's: found from the
// package root, since this code runs from dist/src/console, the bundle's dist/src/chunks, or src/.
const ROOT = packageRoot() ?? dirname(fileURLToPath(import.meta.url))
const ASSETS = [join(ROOT, 'dist/src/console/assets'), join(ROOT, 'src/console/assets')].find((d) => existsSync(d)) ?? join(ROOT, 'src/console/assets')
const UPLOT = dirname(createRequire(import.meta.url).resolve('uplot'))

const JS = 'text/javascript; charset=utf-8'
const FILES: Readonly<Record<string, { file: string; type: string }>> = {
  '': { file: join(ASSETS, 'index.html'), type: 'text/html; charset=utf-8' },
  'app.css': { file: join(ASSETS, 'app.css'), type: 'text/css; charset=utf-8' },
  'app.js': { file: join(ASSETS, 'app.js'), type: JS },
  'api.js': { file: join(ASSETS, 'api.js'), type: JS },
  'dom.js': { file: join(ASSETS, 'dom.js'), type: JS },
  'overview.js': { file: join(ASSETS, 'overview.js'), type: JS },
  'endpoints.js': { file: join(ASSETS, 'endpoints.js'), type: JS },
  'profiles.js': { file: join(ASSETS, 'profiles.js'), type: JS },
  'users.js': { file: join(ASSETS, 'users.js'), type: JS },
  'draft.js': { file: join(ASSETS, 'draft.js'), type: JS },
  'vendor/uPlot.esm.js': { file: join(UPLOT, 'uPlot.esm.js'), type: JS },
  'vendor/uPlot.min.css': { file: join(UPLOT, 'uPlot.min.css'), type: 'text/css; charset=utf-8' },
}

const cache = new Map<string, Buffer>()

/** Every static name (the secret-scan test crawls them). */
export const STATIC_NAMES: readonly string[] = Object.keys(FILES)

/** The file for a path below /console/, or undefined. */
export function staticFile(name: string): { body: Buffer; type: string } | undefined {
  const entry = Object.hasOwn(FILES, name) ? FILES[name] : undefined
  if (!entry) return undefined
  let body = cache.get(name)
  if (!body) cache.set(name, (body = readFileSync(entry.file)))
  return { body, type: entry.type }
}
