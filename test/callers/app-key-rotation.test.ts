/**
 * Rotating a caller app's key (after a leak) ends the bearers issued under the old one, as
 * removing the app does: each bearer record remembers a fingerprint of the key it was issued
 * under (never the key), and a bearer whose app now has another key is refused (407 on the
 * forward proxy, 401 in route mode, as every caller-credential refusal). The
 * same in one process after a reload, with `--workers 2` after a reload, and on two replicas
 * sharing Redis (one started with the new key refuses what the other issued, as a fresh start
 * with the new file would). Review rev-f, F9.
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
import { REDIS_URL, uniqueRedisPrefix, wipeRedisPrefix } from '../support/store-backends.js'
import { startMtlsServer, type RunningServer } from '../support/tls-server.js'

const AUD = 'https://gateway.test'
const OLD = 'old-secret-of-at-least-thirty-two-bytes!'
const NEW = 'new-secret-of-at-least-thirty-two-bytes!'

let pki: TestPki
let upstream: RunningServer

beforeAll(async () => {
  pki = await createTestPki('p256')
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt'), handler: (_req, res) => res.end('ok') })
})

afterAll(async () => {
  await upstream?.close()
  pki?.cleanup()
})

/** A gateway config whose app secret is read from `secret.txt` beside it. */
function yaml(store: string): string {
  const tls = `    tls: ${clientTlsYaml(pki)}\n`
  return `listen: { host: 127.0.0.1, port: 0 }
admin: { enabled: false }
${store}
callers:
  apps:
    - { clientId: bot, hs256Secret: "\${file:secret.txt}", audience: "${AUD}", endpoints: ["*"] }
endpoints:
  - name: partner
    url: https://api.partner.test:${upstream.port}
    resolve: 127.0.0.1
    allowPrivate: true
${tls}`
}

async function bearer(url: string, secret: string): Promise<string> {
  const now = Math.floor(Date.now() / 1000)
  const assertion = await new SignJWT({ iss: 'bot', aud: AUD, sub: 'u1', iat: now, exp: now + 300, jti: `j-${Math.random()}` }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(secret))
  const r = await send(url, '/gateway/token', { method: 'POST', body: JSON.stringify({ assertion }), headers: { 'content-type': 'application/json' } })
  expect(r.status, r.text).toBe(200)
  return r.json<{ access_token: string }>().access_token
}

const call = (url: string, token: string): ReturnType<typeof send> => send(url, '/proxy/partner/x', { headers: { 'proxy-authorization': `Bearer ${token}` } })

// Route mode: a caller-credential refusal is a 401 there (407 on the forward proxy).
function expectKeyChanged(r: Awaited<ReturnType<typeof send>>): void {
  expect(r.status, r.text).toBe(401)
  expect(r.json()).toEqual({ errors: [{ msg: 'bearer token was issued under a key app "bot" no longer has (its hs256Secret or rs256PublicKey changed): exchange a new assertion', code: 401 }] })
}

describe.each([['one process', ['--workers', '1']], ['--workers 2', ['--workers', '2']]] as const)('a rotated app secret, reloaded (%s)', (_name, args) => {
  let dir: string
  let gw: GatewayProcess | undefined
  afterAll(async () => {
    await gw?.stop('SIGTERM')
    rmSync(dir, { recursive: true, force: true })
  })

  it('ends the bearers issued under the old secret; a new assertion signed with the new one works', async () => {
    dir = mkdtempSync(join(tmpdir(), 'mtlsgw-key-rotation-'))
    writeFileSync(join(dir, 'secret.txt'), OLD)
    writeFileSync(join(dir, 'gateway.yaml'), yaml(`store: { kind: sqlite, file: ${join(dir, 'state.db')} }`))
    gw = await spawnGateway(join(dir, 'gateway.yaml'), [...args])
    const old = await bearer(gw.url, OLD)
    expect((await call(gw.url, old)).status).toBe(200)
    writeFileSync(join(dir, 'secret.txt'), NEW)
    gw.child.kill('SIGHUP')
    // Every worker refuses it once the reload is in (the workers take turns at the one port).
    const running = gw
    await eventually(async () => (await bearer(running.url, NEW).catch(() => undefined)) !== undefined, 60_000, 'the new secret is in force')
    for (let i = 0; i < 4; i++) expectKeyChanged(await eventually(async () => { const r = await call(running.url, old); return r.status === 401 ? r : undefined }, 60_000, 'the old bearer refused'))
    expect((await call(gw.url, await bearer(gw.url, NEW))).status).toBe(200)
  })
})

describe('a rotated app secret on two replicas sharing Redis', () => {
  const prefix = uniqueRedisPrefix()
  let dirs: string[] = []
  const procs: GatewayProcess[] = []
  afterAll(async () => {
    await Promise.all(procs.map((p) => p.stop('SIGTERM')))
    await wipeRedisPrefix(prefix)
    for (const d of dirs) rmSync(d, { recursive: true, force: true })
  })

  it('a replica started with the new secret refuses what the other issued under the old one, and the old replica does after its reload', async () => {
    const store = `store: { kind: redis, url: "${REDIS_URL}", keyPrefix: "${prefix}" }`
    dirs = [mkdtempSync(join(tmpdir(), 'mtlsgw-key-rotation-a-')), mkdtempSync(join(tmpdir(), 'mtlsgw-key-rotation-b-'))]
    const [a, b] = dirs as [string, string]
    writeFileSync(join(a, 'secret.txt'), OLD)
    writeFileSync(join(b, 'secret.txt'), NEW)
    for (const d of dirs) writeFileSync(join(d, 'gateway.yaml'), yaml(store))
    const [ra, rb] = await Promise.all([spawnGateway(join(a, 'gateway.yaml'), ['--workers', '1']), spawnGateway(join(b, 'gateway.yaml'), ['--workers', '1'])])
    procs.push(ra, rb)
    const old = await bearer(ra.url, OLD)
    expect((await call(ra.url, old)).status).toBe(200)
    expectKeyChanged(await call(rb.url, old))
    writeFileSync(join(a, 'secret.txt'), NEW)
    ra.child.kill('SIGHUP')
    expectKeyChanged(await eventually(async () => { const r = await call(ra.url, old); return r.status === 401 ? r : undefined }, 60_000, 'the old bearer refused on the reloaded replica'))
    // A bearer issued under the new secret works on both.
    const fresh = await bearer(rb.url, NEW)
    expect((await call(ra.url, fresh)).status).toBe(200)
    expect((await call(rb.url, fresh)).status).toBe(200)
  })
})
