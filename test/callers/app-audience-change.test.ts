/**
 * A bearer is bound to what its assertion was checked against: the app (its `iss`), its key and its
 * `audience`. Changing the audience ends the bearers issued for the old one, as rotating the key
 * does: after a reload (here with `--workers 2`) and on a fresh start with the changed file alike
 * (bearers live in the store, so a start must judge them as a reload does). Removing the app and
 * adding it back unchanged is the same app: its bearers work again, as on a fresh start with that
 * file. The bearer's `aud` is kept in its record (in records of earlier versions too), so no
 * migration is needed: an upgraded gateway judges every bearer by it.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SignJWT } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { eventually } from '../support/eventually.js'
import { send } from '../support/gateway.js'
import { clientTlsYaml, createTestPki, type TestPki } from '../support/pki.js'
import { spawnGateway, type GatewayProcess } from '../support/process.js'
import { startMtlsServer, type RunningServer } from '../support/tls-server.js'

const OLD_AUD = 'https://gateway.test'
const NEW_AUD = 'https://gateway-b.test'
const SECRET = 'app-secret-of-at-least-thirty-two-bytes!'

let pki: TestPki
let upstream: RunningServer
let dir: string
let gw: GatewayProcess | undefined

beforeAll(async () => {
  pki = await createTestPki('p256')
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt'), handler: (_req, res) => res.end('ok') })
  dir = mkdtempSync(join(tmpdir(), 'mtlsgw-audience-change-'))
})

afterAll(async () => {
  await gw?.stop('SIGTERM')
  await upstream?.close()
  pki?.cleanup()
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
})

/** The config with app "bot" for `audience` (or without it), and an app "other" kept throughout. */
function writeConfig(audience: string | undefined): string {
  const bot = audience === undefined ? '' : `    - { clientId: bot, hs256Secret: "${SECRET}", audience: "${audience}", endpoints: ["*"] }\n`
  const file = join(dir, 'gateway.yaml')
  writeFileSync(file, `listen: { host: 127.0.0.1, port: 0 }
admin: { enabled: false }
store: { kind: sqlite, file: ${join(dir, 'state.db')} }
callers:
  apps:
${bot}    - { clientId: other, hs256Secret: "other-secret-of-at-least-thirty-two-bytes", audience: "${OLD_AUD}", endpoints: ["*"] }
endpoints:
  - name: partner
    url: https://api.partner.test:${upstream.port}
    resolve: 127.0.0.1
    allowPrivate: true
    tls: ${clientTlsYaml(pki)}
`)
  return file
}

async function bearer(url: string, aud: string): Promise<string | undefined> {
  const now = Math.floor(Date.now() / 1000)
  const assertion = await new SignJWT({ iss: 'bot', aud, sub: 'u1', iat: now, exp: now + 300, jti: `j-${Math.random()}` }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(SECRET))
  const r = await send(url, '/gateway/token', { method: 'POST', body: JSON.stringify({ assertion }), headers: { 'content-type': 'application/json' } })
  return r.status === 200 ? r.json<{ access_token: string }>().access_token : undefined
}

const call = (url: string, token: string): ReturnType<typeof send> => send(url, '/proxy/partner/x', { headers: { 'proxy-authorization': `Bearer ${token}` } })

// Route mode: a caller-credential refusal is a 401 there (407 on the forward proxy).
function expectAudienceChanged(r: Awaited<ReturnType<typeof send>>): void {
  expect(r.status, r.text).toBe(401)
  expect(r.json()).toEqual({ errors: [{ msg: 'bearer token was issued for an audience app "bot" no longer has (its audience changed): exchange a new assertion', code: 401 }] })
}

/** Reloads the running gateway and waits until every worker issues for `aud` (the workers take turns at the one port). */
async function reloadTo(aud: string): Promise<void> {
  writeConfig(aud)
  const running = gw as GatewayProcess
  running.child.kill('SIGHUP')
  await eventually(async () => (await bearer(running.url, aud)) !== undefined, 60_000, `audience ${aud} in force`)
}

/** The answer to `token` once it has `status` (a worker may still be reloading). */
const once = (url: string, token: string, status: number): ReturnType<typeof send> =>
  eventually(async () => { const r = await call(url, token); return r.status === status ? r : undefined }, 60_000, `status ${status}`)

describe('a bearer is bound to its app\'s audience (--workers 2)', () => {
  it('a reload changing the audience ends it; so does a fresh start with the changed file; a removed app added back unchanged is the same app', async () => {
    gw = await spawnGateway(writeConfig(OLD_AUD), ['--workers', '2'])
    const old = (await bearer(gw.url, OLD_AUD)) as string
    expect(old).toBeDefined()
    expect((await call(gw.url, old)).status).toBe(200)

    // Removed and added back unchanged: the same app, its bearer works again (as a fresh start would take it).
    writeConfig(undefined)
    gw.child.kill('SIGHUP')
    const running = gw
    for (let i = 0; i < 4; i++) expect((await once(running.url, old, 401)).json()).toEqual({ errors: [{ msg: 'bearer token\'s app "bot" is no longer configured', code: 401 }] })
    await reloadTo(OLD_AUD)
    for (let i = 0; i < 4; i++) await once(gw.url, old, 200)

    await reloadTo(NEW_AUD)
    for (let i = 0; i < 4; i++) expectAudienceChanged(await once(gw.url, old, 401))
    const fresh = (await bearer(gw.url, NEW_AUD)) as string
    expect((await call(gw.url, fresh)).status).toBe(200)

    // A fresh start with the old audience in the file: the bearer issued for the new one ends, one for the old one is taken.
    await gw.stop('SIGTERM')
    gw = await spawnGateway(writeConfig(OLD_AUD), ['--workers', '2'])
    for (let i = 0; i < 4; i++) expectAudienceChanged(await call(gw.url, fresh))
    for (let i = 0; i < 4; i++) expect((await call(gw.url, old)).status).toBe(200)
  })
})
