/**
 * Which endpoint dials a profile's token URLs, in the real gateway: a fresh start, `--workers 2`
 * (every worker checked by its access line) and a hot reload (SIGHUP) that adds, then removes, the
 * endpoint whose origin the token URLs are on. The reload must dial exactly as a fresh start with
 * that file. Real TLS servers on 127.0.0.1–3 record the address, SNI and client certificate of each
 * call: without endpoint "e" the token host `localhost` is dialled by its own name (127.0.0.1, SNI
 * localhost) with the profile endpoint's certificate; with it, at e's `resolve` (127.0.0.3) with its
 * serverName and its certificate.
 *
 * A user's dance across such a reload: the access-token call would go over another endpoint (another
 * server and client certificate) than the one its request token was obtained for, so the callback
 * gets the settings-changed page and the access-token URL is not called (as a fresh start on that
 * store would judge it); the user starts again. A dance with no reload in between completes. Before
 * that, the reload silently rerouted the user's access-token call.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { randomUUID } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { isDeepStrictEqual } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { send } from '../support/gateway.js'
import { answeredBy, entriesWhen } from '../support/log-entries.js'
import { createTestPki, type TestPki } from '../support/pki.js'
import { spawnGateway, type GatewayProcess } from '../support/process.js'
import { childPids, replaceFile } from '../ops/helpers.js'
import { ADMIN, ADMIN_TOKEN, authorizeLink, cookieFor, endpointTlsYaml, newSealKey, startInBrowser, type DanceProvider } from './dance-support.js'
import { startTokenServers, type SeenCall as Seen, type TokenServers } from './token-servers.js'

let pki: TestPki
let servers: TokenServers
let seen: Seen[]
let port = 0
let issued = 0
let dir: string

beforeAll(async () => {
  pki = await createTestPki('p256', ['localhost', 'api.p.test', 'sni.e.test'])
  pki.writePair('e-client', await pki.issue({ subject: 'CN=e-client', issuer: pki.inter, usages: ['clientAuth'] }))
  // A new request token each time: a dance's pending record is keyed by it.
  servers = await startTokenServers(pki, (path) => (path === '/access_token' ? 'oauth_token=at&oauth_token_secret=as' : `oauth_token=rt-${++issued}&oauth_token_secret=rs&oauth_callback_confirmed=true`))
  ;({ port, seen } = servers)
  dir = mkdtempSync(join(tmpdir(), 'token-url-reload-'))
})

afterAll(async () => {
  await servers?.close()
  pki?.cleanup()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

/** The provider's authorize page is never visited: the test sends the browser back to the callback itself. */
const fake = (): DanceProvider => ({ apiPort: port, browserUrl: `https://127.0.0.1:${port}`, open: async (url: string) => ({ status: 200, text: `value="${new URL(url).searchParams.get('oauth_token')}"` }) }) as DanceProvider

/** Profile "partner" on endpoint p; its token URLs on localhost, which endpoint "e" owns when `withE`. */
function yaml(withE: boolean, store: string): string {
  return `listen: { host: 127.0.0.1, port: 0 }
admin: { enabled: false }
store: { kind: sqlite, file: ${store}, sealKeys: [{ id: k1, key: "${SEAL_KEY}" }] }
callers: { required: false, adminToken: ${ADMIN_TOKEN} }
endpoints:
  - name: p
    url: https://api.p.test:${port}
    resolve: 127.0.0.2
    allowPrivate: true
    profile: partner${endpointTlsYaml(pki, 'client')}
${withE ? `  - name: e
    url: https://localhost:${port}
    resolve: 127.0.0.3
    allowPrivate: true${endpointTlsYaml(pki, 'e-client', { serverName: 'sni.e.test' })}` : ''}
profiles:
  - name: partner
    consumerKey: ck
    consumerSecret: cs
    requestTokenUrl: https://localhost:${port}/request_token
    accessTokenUrl: https://localhost:${port}/access_token
    authorizeUrl: https://127.0.0.1:${port}/authorize
    token: { mode: per_user }
`
}

/** How a token call must reach its server: by its own name with p's certificate, or over endpoint e. */
const dial = (withE: boolean, path: string): Seen => (withE
  ? { address: '127.0.0.3', sni: 'sni.e.test', client: 'e-client', path }
  : { address: '127.0.0.1', sni: 'localhost', client: 'bot-runtime', path })

/** The processes that serve requests: the one process, or each worker. */
const servingPids = (gp: GatewayProcess, workers: number): number[] => (workers === 1 ? [gp.child.pid as number] : childPids(gp.child.pid as number))

/** A profile test with X-Request-Id `tag`: its verdict, its text and the token calls it made. */
async function profileTest(gp: GatewayProcess, tag: string): Promise<{ ok: boolean; text: string; seen: Seen[] }> {
  seen.length = 0
  const test = await send(gp.url, '/gateway/oauth1/partner/test', { method: 'POST', headers: { ...ADMIN, 'x-request-id': tag } })
  return { ok: test.json<{ ok: boolean }>().ok, text: test.text, seen: [...seen] }
}

/** Runs the profile test until every serving process answered one (by its access line); each call dials as `withE` says. */
async function expectDials(gp: GatewayProcess, workers: number, withE: boolean): Promise<void> {
  const left = new Set(servingPids(gp, workers))
  for (let i = 0; left.size > 0; i++) {
    if (i >= 40) throw new Error(`no profile test reached ${[...left].join(', ')} in 40 calls`)
    const tag = `tu-${randomUUID()}`
    const test = await profileTest(gp, tag)
    expect(test.ok, test.text).toBe(true)
    expect(test.seen).toEqual([dial(withE, '/request_token')])
    const [line] = await entriesWhen(gp, (e) => e.msg === 'request' && e.reqId === tag, 1, { what: `the access line of ${tag}` })
    left.delete(line?.pid as number)
  }
}

/**
 * Writes the config (`withE` says whether it has endpoint e) and sends SIGHUP; resolves once every
 * serving process dials as it says. Not on `config reloaded` lines: one may be the previous write's
 * second reload (its directory watcher's).
 */
async function reload(gp: GatewayProcess, workers: number, config: string, store: string, withE: boolean): Promise<void> {
  replaceFile(config, yaml(withE, store))
  gp.child.kill('SIGHUP')
  await answeredBy(gp, servingPids(gp, workers), (tag) => profileTest(gp, tag), (t) => t.ok && isDeepStrictEqual(t.seen, [dial(withE, '/request_token')]), withE ? 'dials over e' : 'dials without e')
}

/** A user's dance started now (the request token obtained); `finish` follows the provider's redirect back with the cookie. */
async function startDance(gp: GatewayProcess, user: string): Promise<{ finish(): Promise<{ status: number; text: string; calls: Seen[] }> }> {
  const started = await startInBrowser(await authorizeLink(gp.url, `user=${user}`), { provider: fake(), gateway: gp.url })
  return {
    async finish() {
      seen.length = 0
      const path = `/gateway/oauth1/callback?oauth_token=${started.requestToken}&oauth_verifier=v1`
      const done = await send(gp.url, path, { headers: cookieFor(started.cookie, `${gp.url}${path}`) })
      return { status: done.status, text: done.text, calls: [...seen] }
    },
  }
}

const SEAL_KEY = newSealKey()
const REFUSED = 'that changed while you were at the provider'

/** The settings-changed page, the provider's access-token URL not called. */
function expectRefused(done: { status: number; text: string; calls: Seen[] }): void {
  expect(done.status, done.text).toBe(400)
  expect(done.text).toContain(REFUSED)
  expect(done.calls).toEqual([])
}

describe.each([1, 2])('serve --workers %i', (workers) => {
  let gp: GatewayProcess | undefined
  let fresh: GatewayProcess | undefined
  afterAll(async () => {
    await gp?.stop('SIGKILL')
    await fresh?.stop('SIGKILL')
  })

  it('dials the token host as a fresh start does, before and after reloads that add and remove its endpoint; a dance across either reload is refused, one without completes', async () => {
    const config = join(dir, `gateway-${workers}.yaml`)
    const store = join(dir, `state-${workers}.db`)
    writeFileSync(config, yaml(false, store))
    gp = await spawnGateway(config, ['--workers', String(workers)])
    await expectDials(gp, workers, false)
    const alice = await startDance(gp, 'alice')
    await reload(gp, workers, config, store, true)
    await expectDials(gp, workers, true)
    expectRefused(await alice.finish())
    const bob = await startDance(gp, 'bob')
    const completed = await bob.finish()
    expect(completed.status, completed.text).toBe(200)
    expect(completed.calls).toEqual([dial(true, '/access_token')])
    const carol = await startDance(gp, 'carol')
    await reload(gp, workers, config, store, false)
    await expectDials(gp, workers, false)
    expectRefused(await carol.finish())
    // A fresh start on the file the first reload adopted dials as that reload did.
    const freshConfig = join(dir, `fresh-${workers}.yaml`)
    writeFileSync(freshConfig, yaml(true, join(dir, `fresh-${workers}.db`)))
    fresh = await spawnGateway(freshConfig, ['--workers', String(workers)])
    await expectDials(fresh, workers, true)
  }, 300_000)
})
