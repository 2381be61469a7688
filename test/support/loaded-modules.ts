/**
 * Which modules a `mtls-gateway` process loads: node is started with RECORDER (`--import`), which
 * records every module loaded (module.registerHooks, Node 22.15 and later) and prints them on
 * stderr when the process exits, as `LOADED <primary|worker> <json>` (a cluster's workers too),
 * with Node's own bundled dependencies it loaded (process.moduleLoadList: `internal/deps/…`, which
 * no hook sees) as `node-internal:` entries.
 */
import { readFileSync } from 'node:fs'
import * as nodeModule from 'node:module'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

export const RECORDER = `data:text/javascript,${encodeURIComponent(`
import { registerHooks } from 'node:module'
import cluster from 'node:cluster'
const urls = []
registerHooks({ load(url, context, next) { urls.push(url); return next(url, context) } })
const role = cluster.isPrimary ? 'primary' : 'worker'
const internals = () => process.moduleLoadList.filter((m) => m.startsWith('NativeModule internal/deps/')).map((m) => 'node-internal:' + m.slice('NativeModule '.length))
process.on('exit', () => process.stderr.write('\\nLOADED ' + role + ' ' + JSON.stringify([...urls, ...internals()]) + '\\n'))
`)}`

/** A file of the bundle `npm run build` makes (scripts/bundle.ts): dist/src/main.js and its chunks. */
const BUNDLE_OUTPUT = /\/dist\/src\/(main\.js|chunks\/[^/]+\.js)$/
const ROOT = fileURLToPath(new URL('../../', import.meta.url))
let metafile: { outputs: Record<string, { inputs: Record<string, unknown> }> } | undefined

/** Our modules the bundle's output at `url` holds, named as unbundled (`src/cli/options.js`), from the build's metafile. */
function bundleInputs(url: string): string[] {
  metafile ??= JSON.parse(readFileSync(join(ROOT, 'dist/bundle-meta.json'), 'utf8')) as typeof metafile
  const output = relative(ROOT, fileURLToPath(url))
  const inputs = metafile?.outputs[output]?.inputs
  if (inputs === undefined) throw new Error(`${output} is not in dist/bundle-meta.json: run "npm run build"`)
  // Our modules as unbundled (`src/cli/options.js`), a bundled package's files as its name (`commander`).
  return Object.keys(inputs).map((i) => /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(i)?.[1] ?? i.replace(/^dist\/src\//, 'src/'))
}

/** Whether this Node can record (the suite runs Node 24). */
export const CAN_RECORD = 'registerHooks' in nodeModule

/**
 * The modules each process that printed to `stderr` loaded, as package names and src/ paths, sorted
 * (a bundle's files stand for the modules they hold); `files`, each file of a package
 * (`undici/lib/dispatcher/agent.js`); `internals`, Node's bundled dependencies
 * (`internal/deps/undici/undici`); `bundled`, whether it ran the bundle (no file of dist/src but
 * its main.js and chunks).
 */
export function loadedModules(stderr: string): { role: 'primary' | 'worker'; modules: string[]; files: string[]; internals: string[]; bundled: boolean }[] {
  return stderr.split('\n').flatMap((line) => {
    const m = /^LOADED (primary|worker) (.*)$/.exec(line)
    if (!m) return []
    const urls = JSON.parse(m[2] as string) as string[]
    const bundled = urls.filter((u) => BUNDLE_OUTPUT.test(u))
    const modules = [...new Set(urls.filter((u) => u.startsWith('file:')).flatMap((u) => {
      const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(u)?.[1]
      if (pkg !== undefined) return [pkg]
      return BUNDLE_OUTPUT.test(u) ? bundleInputs(u) : [u.replace(/^.*\/dist\/src\//, 'src/')]
    }))].sort()
    const files = urls.flatMap((u) => /^file:.*\/node_modules\/(.*)$/.exec(u)?.[1] ?? []).sort()
    const internals = urls.flatMap((u) => /^node-internal:(.*)$/.exec(u)?.[1] ?? []).sort()
    return [{ role: m[1] as 'primary' | 'worker', modules, files, internals, bundled: bundled.length > 0 && urls.every((u) => !/\/dist\/src\//.test(u) || BUNDLE_OUTPUT.test(u)) }]
  })
}
