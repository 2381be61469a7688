/**
 * better-sqlite3 is loaded when the first SQLite store opens (store/sqlite-driver.ts), and its
 * native addon when the first database is made. When either cannot load (built for another
 * Node ABI: the image's build and run stages on different Nodes; the package missing), a
 * gateway whose config needs the store must fail at start, exit 1, with one line that says why.
 * Node's ABI message spans five lines: the command line's one line kept only the first, the
 * addon's path, and left out the versions and what to do. A gateway that needs no store starts.
 *
 * A child Node with a loader hook stands in for the broken install: `bindings` (which loads the
 * addon) throws Node's dlopen error for an ABI mismatch, word for word; or `better-sqlite3`
 * resolves to a package that is not there.
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import * as nodeModule from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'
import { assertDistFresh } from '../support/dist-fresh.js'
import { MAIN, spawnGateway } from '../support/process.js'

const run = promisify(execFile)
assertDistFresh(['src'])
const dir = mkdtempSync(join(tmpdir(), 'mtlsgw-sqlite-driver-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

// Node's text (src/node_binding.cc) for an addon built for Node 20 loaded by Node 24.
const ABI_MISMATCH = [
  "The module '/app/node_modules/better-sqlite3/build/Release/better_sqlite3.node'",
  'was compiled against a different Node.js version using',
  'NODE_MODULE_VERSION 115. This version of Node.js requires',
  'NODE_MODULE_VERSION 137. Please try re-compiling or re-installing',
  'the module (for instance, using `npm rebuild` or `npm install`).',
].join('\n')

/** A `--import` module: `bindings` throws the ABI error (`abi`), or better-sqlite3 is not installed (`missing`). */
const hook = (fault: 'abi' | 'missing'): string => `data:text/javascript,${encodeURIComponent(`
import { registerHooks } from 'node:module'
registerHooks({
  resolve(specifier, context, next) {
    return next(${JSON.stringify(fault)} === 'missing' && specifier === 'better-sqlite3' ? 'better-sqlite3-not-installed' : specifier, context)
  },
  load(url, context, next) {
    if (${JSON.stringify(fault)} !== 'abi' || !url.endsWith('/node_modules/bindings/bindings.js')) return next(url, context)
    const error = ${JSON.stringify(`Object.assign(new Error(${JSON.stringify(ABI_MISMATCH)}), { code: 'ERR_DLOPEN_FAILED' })`)}
    return { format: 'commonjs', shortCircuit: true, source: 'module.exports = () => { throw ' + error + ' }' }
  },
})
`)}`

const storeFile = join(dir, 'state', 'store.db')
// Caller apps keep bearers and seen jti values in the store: the gateway opens it at start.
const NEEDS_STORE = join(dir, 'needs-store.yaml')
writeFileSync(NEEDS_STORE, `listen: { host: 127.0.0.1, port: 0 }\nadmin: { enabled: false }\nstore: { file: ${JSON.stringify(storeFile)} }\ncallers:\n  apps:\n    - { clientId: bot, audience: gw, hs256Secret: "${'s'.repeat(32)}", endpoints: ["*"] }\nendpoints: []\n`)
const NO_STORE = join(dir, 'no-store.yaml')
// No callers section and no per-user tokens: nothing to keep (loopback callers only).
writeFileSync(NO_STORE, 'listen: { host: 127.0.0.1, port: 0 }\nadmin: { enabled: false }\nendpoints: []\n')

/** `serve` with the hook: its exit code and stderr. */
async function serve(fault: 'abi' | 'missing', workers: number): Promise<{ code: number; stdout: string; stderr: string }> {
  const args = ['--import', hook(fault), MAIN, 'serve', '--config', NEEDS_STORE, '--workers', String(workers)]
  return run(process.execPath, args, { timeout: 60_000 }).then(
    (r) => ({ code: 0, ...r }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  )
}

// module.registerHooks: Node 22.15 and later (the suite runs Node 24).
describe.skipIf(!('registerHooks' in nodeModule))('a SQLite driver that cannot load', () => {
  it.each([1, 2])('built for another Node: the start fails (--workers %i), exit 1, one line with the versions and what to do', async (workers) => {
    const r = await serve('abi', workers)
    expect(r.code).toBe(1)
    expect(r.stdout).not.toContain('listening')
    expect(r.stderr.trim().split('\n'), r.stderr).toEqual([
      `mtls-gateway: sqlite store "${storeFile}": cannot open: ${ABI_MISMATCH.replaceAll('\n', ' ')}`,
    ])
  })

  it('not installed: the start fails, exit 1, one line naming the package', async () => {
    const r = await serve('missing', 1)
    expect(r.code).toBe(1)
    expect(r.stdout).not.toContain('listening')
    expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1)
    expect(r.stderr).toMatch(new RegExp(`^mtls-gateway: sqlite store "${storeFile}": cannot open: Cannot find module 'better-sqlite3-not-installed'`))
  })

  it('a gateway whose config needs no store starts all the same', async () => {
    const gw = await spawnGateway(NO_STORE, ['--workers', '1'], { NODE_OPTIONS: `--import=${hook('abi')}` })
    try {
      expect(gw.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    } finally {
      await gw.stop()
    }
  })
})
