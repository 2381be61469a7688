/**
 * Many hot reloads must not pile up the replaced snapshots: each one's upstream pools are closed
 * (no connection of theirs stays open) and nothing keeps the snapshot itself reachable, so its
 * pools, minted-leaf cache, TLS session cache, destinations and compiled callers are garbage.
 * Measured in a child process run with --expose-gc (WeakRefs to each replaced snapshot, GC
 * forced, then open sockets counted), on the compiled gateway.
 */
import { execFile } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterEach, expect, it } from 'vitest'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { startMtlsServer, type RunningServer } from '../support/tls-server.js'
import { endpointYaml } from '../support/gateway.js'
import { assertDistFresh } from '../support/dist-fresh.js'
import { writeInterceptionCa } from '../../src/tls/index.js'
import { callersAtStore } from './helpers.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const RELOADS = 12
const run = promisify(execFile)
const cleanup: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn()
})

async function setup(): Promise<{ pki: TestPki; upstream: RunningServer }> {
  assertDistFresh()
  const pki = await createTestPki()
  const upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt') })
  cleanup.push(() => pki.cleanup(), () => upstream.close())
  return { pki, upstream }
}

/** Runs the harness on `yaml` (each reload fills `__N__` anew). */
async function reloadMany(pki: TestPki, upstream: RunningServer, yaml: string, env: Record<string, string>): Promise<{ alive: string; sockets: number; statuses: number[] }> {
  const configFile = join(pki.dir, 'gateway.yaml')
  writeFileSync(configFile, yaml)
  const harness = join(ROOT, 'test/support/reload-snapshots-harness.mjs')
  const { stdout } = await run(process.execPath, ['--expose-gc', harness, join(ROOT, 'dist'), configFile, String(RELOADS)], { env: { ...process.env, ...env, UPSTREAM_PORT: String(upstream.port) }, timeout: 150_000 })
  return JSON.parse(stdout) as { alive: string; sockets: number; statuses: number[] }
}

const partner = (pki: TestPki, upstream: RunningServer): string => endpointYaml('partner', upstream.port, clientTls(pki), '    timeouts: { response: "__N__ms" }\n')

it(`after ${RELOADS} reloads, each with a request on its snapshot, no replaced snapshot is reachable and one upstream connection is open`, async () => {
  const { pki, upstream } = await setup()
  const out = await reloadMany(pki, upstream, `listen: { host: 127.0.0.1, port: 0 }\nadmin: { enabled: false }\nendpoints:\n${partner(pki, upstream)}`, { PROBE_PATH: `https://api.partner.test:${upstream.port}/x` })
  expect(out.statuses).toEqual([200])
  // Every replaced snapshot collected, the start's too (a closure of the start kept it for the process's life).
  expect(out.alive).toBe('0'.repeat(RELOADS))
  // The snapshot in force's one keep-alive connection; the replaced ones' pools were closed.
  expect(out.sockets).toBeLessThanOrEqual(1)
}, 180_000)

it('the same with interception (a CONNECT request per snapshot), caller apps, the store, the admin listener and tracing', async () => {
  const { pki, upstream } = await setup()
  const ca = await writeInterceptionCa(join(pki.dir, 'ica'))
  const yaml = `listen: { host: 127.0.0.1, port: 0 }\nadmin: { host: 127.0.0.1, port: 0, token: "reload-snapshots-admin-token-0123" }\ntracing: { enabled: true }\n${callersAtStore(join(pki.dir, 'store.db'))}interception: { caCert: ${ca.caCert}, caKey: ${ca.caKey} }\nendpoints:\n${partner(pki, upstream)}`
  const out = await reloadMany(pki, upstream, yaml, { PROBE_PATH: `https://api.partner.test:${upstream.port}/x`, PROBE_CONNECT: `api.partner.test:${upstream.port}`, ADMIN: '1' })
  expect(out.statuses).toEqual([200])
  expect(out.alive).toBe('0'.repeat(RELOADS))
  expect(out.sockets).toBeLessThanOrEqual(1)
}, 180_000)
