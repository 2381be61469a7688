/**
 * Which modules a `mtls-gateway` process loads: node is started with RECORDER (`--import`), which
 * records every module loaded (module.registerHooks, Node 22.15 and later) and prints them on
 * stderr when the process exits, as `LOADED <primary|worker> <json>` (a cluster's workers too),
 * with Node's own bundled dependencies it loaded (process.moduleLoadList: `internal/deps/…`, which
 * no hook sees) as `node-internal:` entries.
 */
import * as nodeModule from 'node:module'

export const RECORDER = `data:text/javascript,${encodeURIComponent(`
import { registerHooks } from 'node:module'
import cluster from 'node:cluster'
const urls = []
registerHooks({ load(url, context, next) { urls.push(url); return next(url, context) } })
const role = cluster.isPrimary ? 'primary' : 'worker'
const internals = () => process.moduleLoadList.filter((m) => m.startsWith('NativeModule internal/deps/')).map((m) => 'node-internal:' + m.slice('NativeModule '.length))
process.on('exit', () => process.stderr.write('\\nLOADED ' + role + ' ' + JSON.stringify([...urls, ...internals()]) + '\\n'))
`)}`

/** Whether this Node can record (the suite runs Node 24). */
export const CAN_RECORD = 'registerHooks' in nodeModule

/**
 * The modules each process that printed to `stderr` loaded, as package names and src/ paths, sorted;
 * `files`, each file of a package (`undici/lib/dispatcher/agent.js`); `internals`, Node's bundled
 * dependencies (`internal/deps/undici/undici`).
 */
export function loadedModules(stderr: string): { role: 'primary' | 'worker'; modules: string[]; files: string[]; internals: string[] }[] {
  return stderr.split('\n').flatMap((line) => {
    const m = /^LOADED (primary|worker) (.*)$/.exec(line)
    if (!m) return []
    const urls = JSON.parse(m[2] as string) as string[]
    const modules = [...new Set(urls.filter((u) => u.startsWith('file:')).map((u) => /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(u)?.[1] ?? u.replace(/^.*\/dist\/src\//, 'src/')))].sort()
    const files = urls.flatMap((u) => /^file:.*\/node_modules\/(.*)$/.exec(u)?.[1] ?? []).sort()
    const internals = urls.flatMap((u) => /^node-internal:(.*)$/.exec(u)?.[1] ?? []).sort()
    return [{ role: m[1] as 'primary' | 'worker', modules, files, internals }]
  })
}
