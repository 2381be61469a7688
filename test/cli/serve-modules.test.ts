/**
 * What each `serve` process loads. A `--workers N` primary validates the config, runs the worker
 * pool, reloads and the admin listener, and serves no request: it must not load the request path
 * (cli/gateway-root.ts, the listener, CONNECT, the pipeline and its steps, the /gateway/ API). jose, the
 * console and the OAuth 1.0a dance load in a process only when its config uses them, and then
 * before it listens, so the first request that needs them does not wait for the import. No process
 * loads undici's index (fetch, WebSocket, the caches and mocks: the gateway dials with its Agent)
 * or Node's own bundled undici (an ESM import of node:http, or undici's index reading
 * `globalThis.Headers`, loads it): about 0.13 s of CPU per process between them. Every config here
 * has a client bundle, whose key usage and basicConstraints each process reads at start with the
 * asn1 schemas bundled into its chunks: none loads @peculiar/x509 or reflect-metadata (0.1 s of CPU
 * more per start), nor those schemas from node_modules. Every process runs
 * the bundle (scripts/bundle.ts); a bundle's file counts as the modules it holds (its metafile), so
 * these hold for the chunks esbuild cut at each dynamic import.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { endpointYaml, send } from '../support/gateway.js'
import { assertDistFresh } from '../support/dist-fresh.js'
import { CAN_RECORD, loadedModules, RECORDER } from '../support/loaded-modules.js'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { adminUrlOf, spawnGateway, type GatewayProcess } from '../support/process.js'

assertDistFresh(['src'])

/** The modules of the request path, which only a process that serves requests needs (api/'s helpers serve the console too), and undici, which dials upstreams. */
const REQUEST_PATH = /^(undici$|src\/(cli\/(serve|serve-process)\.js|proxy\/(listener|connect|default-pipeline|pipeline|proxy-request)\.js|proxy\/steps\/|api\/(router|token)\.js))/
/** Loaded only when the config uses them. */
const ON_USE = /^(jose|src\/(console|dance)\/)/
/** Loaded by no serve process: undici's index, and Node's bundled undici (its internal dependency). */
const NEVER = { file: 'undici/index.js', internal: 'internal/deps/undici/undici' }
/** What issues certificates (tls/pki.ts): no start needs it, a client bundle's extensions are read without it. */
const CERTIFICATE_MINTING = ['@peculiar/x509', 'reflect-metadata']
/** undici's file a process loads at its first upstream call (what the recording of package files is checked against). */
const UNDICI_AGENT = 'undici/lib/dispatcher/agent.js'

const TOKEN = 'console-token-0123456789'
let pki: TestPki

beforeAll(async () => {
  pki = await createTestPki()
})

afterAll(() => pki?.cleanup())

/**
 * Starts `serve` on `yaml` (with an `admin` line) with every process recording its modules; stops it
 * once it listens (admin too) and `then` (if given) is done, and returns what each loaded, having
 * checked that none loaded undici's index or Node's bundled undici.
 */
async function modulesOf(name: string, yaml: string, workers: number, then?: (gp: GatewayProcess) => Promise<void>): Promise<ReturnType<typeof loadedModules>> {
  const config = join(pki.dir, `${name}.yaml`)
  writeFileSync(config, `listen: { host: 127.0.0.1, port: 0 }\n${yaml}endpoints:\n${endpointYaml('partner', 1, clientTls(pki))}`)
  const gp = await spawnGateway(config, ['--workers', String(workers)], { NODE_OPTIONS: `--import=${RECORDER}` })
  await adminUrlOf(gp)
  await then?.(gp)
  await gp.stop('SIGTERM')
  // stop() waits for the output's end only so long: each process's record is read once all of it was.
  await gp.ended
  const processes = loadedModules(gp.output.join('\n'))
  expect(processes.map((p) => p.role).sort()).toEqual(['primary', ...Array<string>(workers > 1 ? workers : 0).fill('worker')])
  for (const p of processes) {
    // The bundle, not tsc's tree of modules (what a start after `tsc` alone would run), is what ships.
    expect(p.bundled, 'a process ran dist/src modules outside the bundle: run "npm run build"').toBe(true)
    expect(p.files).not.toContain(NEVER.file)
    expect(p.internals).not.toContain(NEVER.internal)
    expect(p.modules).toContain('@peculiar/asn1-x509')
    expect(p.modules.filter((m) => CERTIFICATE_MINTING.includes(m))).toEqual([])
    expect(p.files.filter((f) => /^(@peculiar\/|asn1js\/)/.test(f))).toEqual([])
  }
  return processes
}

const ADMIN = 'admin: { host: 127.0.0.1, port: 0 }\n'
const CONSOLE_ON = `admin: { host: 127.0.0.1, port: 0, token: ${TOKEN} }\n`
const APPS_AND_PROFILES = `callers:\n  required: false\n  apps: [{ clientId: bot, hs256Secret: "${'s'.repeat(32)}", audience: "https://gateway.test", endpoints: [partner] }]\nprofiles:\n  - { name: p, consumerKey: ck, consumerSecret: cs, token: { mode: static, token: t, tokenSecret: s } }\n`

describe.skipIf(!CAN_RECORD)('what each serve process loads', () => {
  it('a --workers 2 primary loads none of the request path, jose, the console or the dance; its workers load the request path only', async () => {
    const [primary, ...workers] = (await modulesOf('plain', ADMIN, 2)).sort((a, b) => a.role.localeCompare(b.role))
    expect(primary?.modules).toContain('src/ops/workers.js')
    expect(primary?.modules.filter((m) => REQUEST_PATH.test(m) || ON_USE.test(m))).toEqual([])
    expect(primary?.files.filter((f) => f.startsWith('undici/'))).toEqual([])
    for (const w of workers) {
      expect(w.modules).toContain('src/proxy/listener.js')
      expect(w.modules.filter((m) => ON_USE.test(m))).toEqual([])
    }
  }, 180_000)

  it('a --workers 2 primary whose config turns the console on loads the console before it listens, and still no request path', async () => {
    const processes = await modulesOf('console', CONSOLE_ON, 2)
    const primary = processes.find((p) => p.role === 'primary')
    expect(primary?.modules).toContain('src/console/console.js')
    expect(primary?.modules.filter((m) => REQUEST_PATH.test(m))).toEqual([])
    for (const w of processes.filter((p) => p.role === 'worker')) expect(w.modules.filter((m) => /^src\/console\//.test(m))).toEqual([])
  }, 180_000)

  it('one process loads jose, the console and the dance before it listens when its config uses them, and none of them when it does not', async () => {
    // One request, to an upstream that refuses it: a call's way through undici loads no more of it than the start did.
    const [plain] = await modulesOf('one-plain', ADMIN, 1, async (gp) => expect((await send(gp.url, '/proxy/partner/refused')).status).toBe(502))
    expect(plain?.modules).toContain('src/proxy/listener.js')
    expect(plain?.files).toContain(UNDICI_AGENT)
    expect(plain?.modules.filter((m) => ON_USE.test(m))).toEqual([])
    const [using] = await modulesOf('one-using', CONSOLE_ON + `store: { file: ${join(pki.dir, 'one-using.db')} }\n` + APPS_AND_PROFILES, 1)
    expect(using?.modules).toEqual(expect.arrayContaining(['jose', 'src/console/console.js', 'src/dance/feature.js']))
  }, 180_000)
})
