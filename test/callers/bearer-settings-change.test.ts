/**
 * A stored bearer behaves as one issued now from the same assertion would, or ends: after a reload
 * (here with `--workers 2`) and on a fresh start with the changed file alike (`--workers 2` where
 * the refusals are then counted, one process where a set-back bearer must work again), and on two
 * replicas sharing Redis (the one never reloaded is one process). Turning `allowRsa15Jwe` off ends the bearers of RSA1_5 JWE assertions (not the
 * RSA-OAEP or JWT ones); a changed `claimAliasPrefix` ends the bearers whose `iss`/`sub`/`jti` would
 * read otherwise; a shortened `bearerTtl` ends the bearers older than it. Each is bound to the
 * settings in force, not their history: set back, the bearer works again. Each refusal is counted
 * under its reason in mtls_gateway_caller_auth_failures_total.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SignJWT } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { pythonJwe, rsaPair, type RsaPair } from '../support/callers-fixtures.js'
import { eventually } from '../support/eventually.js'
import { endpointYaml, send } from '../support/gateway.js'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { adminUrlOf, spawnGateway, type GatewayProcess } from '../support/process.js'
import { scrape, valueOf } from '../ops/helpers.js'
import { REDIS_URL, uniqueRedisPrefix, wipeRedisPrefix } from '../support/store-backends.js'
import { startMtlsServer, type RunningServer } from '../support/tls-server.js'

const AUD = 'https://gateway.test'
const SECRET = 'settings-bot-secret-of-at-least-32-bytes'
const RSA15_OFF = 'bearer token was issued for an RSA1_5 JWE assertion, and app "bot" no longer allows RSA1_5 (allowRsa15Jwe): exchange a new assertion'
const ALIAS_CHANGED = 'bearer token\'s "iss" claim would be read otherwise under today\'s callers.claimAliasPrefix (it changed since the bearer was issued): exchange a new assertion'
const TTL_SHORTENED = 'bearer token outlived callers.bearerTtl (or anonymousTtl), shortened since it was issued: exchange a new assertion'

interface Settings { rsa15?: boolean; prefix?: string; ttl?: string }

let pki: TestPki
let upstream: RunningServer
let jweKey: RsaPair
const dirs: string[] = []
const procs: GatewayProcess[] = []

beforeAll(async () => {
  pki = await createTestPki('p256')
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt'), handler: (_req, res) => res.end('ok') })
  jweKey = rsaPair()
})

afterAll(async () => {
  await Promise.all(procs.map((p) => p.stop('SIGTERM')))
  await upstream?.close()
  pki?.cleanup()
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

function newDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'mtlsgw-bearer-settings-'))
  writeFileSync(join(dir, 'jwe.pem'), jweKey.privatePem)
  dirs.push(dir)
  return dir
}

/** Writes `dir`/gateway.yaml with `settings` and returns its path. */
function writeConfig(dir: string, store: string, s: Settings): string {
  const file = join(dir, 'gateway.yaml')
  writeFileSync(file, `listen: { host: 127.0.0.1, port: 0 }
admin: { host: 127.0.0.1, port: 0 }
${store}
callers:
  claimAliasPrefix: "${s.prefix ?? 'kore_'}"
  bearerTtl: ${s.ttl ?? '1h'}
  apps:
    - { clientId: bot, hs256Secret: "${SECRET}", audience: "${AUD}", endpoints: ["*"], allowRsa15Jwe: ${s.rsa15 ?? true} }
  gatewayKeys:
    - { kid: gw-jwe, privateKey: "\${file:jwe.pem}" }
endpoints:
${endpointYaml('partner', upstream.port, clientTls(pki))}`)
  return file
}

async function jwt(claims: Record<string, unknown> = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000)
  return new SignJWT({ iss: 'bot', aud: AUD, sub: 'u1', iat: now, exp: now + 300, jti: `j-${Math.random()}`, ...claims }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(SECRET))
}
const jwe = async (alg: 'RSA1_5' | 'RSA-OAEP'): Promise<string> => pythonJwe({ key: jweKey.publicPem, alg, enc: 'A128GCM', kid: 'gw-jwe', payload: await jwt() })

async function bearer(url: string, assertion: string): Promise<string> {
  const r = await send(url, '/gateway/token', { method: 'POST', body: JSON.stringify({ assertion }), headers: { 'content-type': 'application/json' } })
  expect(r.status, r.text).toBe(200)
  return r.json<{ access_token: string }>().access_token
}

const call = (url: string, token: string): ReturnType<typeof send> => send(url, '/proxy/partner/x', { headers: { 'proxy-authorization': `Bearer ${token}` } })

/** Every worker's answer (they take turns at the one port) once the reload is in: `msg` for a refusal, 200 otherwise. */
async function expectEach(url: string, token: string, msg: string | undefined): Promise<void> {
  for (let i = 0; i < 4; i++) {
    const r = await eventually(async () => { const x = await call(url, token); return (msg === undefined ? x.status === 200 : x.status === 401) ? x : undefined }, 60_000, msg ?? 'status 200')
    if (msg !== undefined) expect(r.json()).toEqual({ errors: [{ msg, code: 401 }] })
  }
}

/** Rewrites the config and signals a reload (expectEach waits for each worker to take it). */
function reload(gw: GatewayProcess, dir: string, store: string, s: Settings): void {
  writeConfig(dir, store, s)
  gw.child.kill('SIGHUP')
}

/** `workers` 2 where a reload or the primary's sum is checked; 1 for a fresh start that only answers calls. */
async function start(dir: string, store: string, s: Settings, workers: 1 | 2 = 2): Promise<GatewayProcess> {
  const gw = await spawnGateway(writeConfig(dir, store, s), ['--workers', String(workers)])
  procs.push(gw)
  return gw
}

/** The refusals counted under `reason` in caller_auth_failures_total (the primary sums its workers'). */
async function failures(gw: GatewayProcess, reason: string): Promise<number> {
  return valueOf(await scrape(await adminUrlOf(gw)), 'mtls_gateway_caller_auth_failures_total', { reason }) ?? 0
}

async function restart(gw: GatewayProcess, dir: string, store: string, s: Settings, workers: 1 | 2 = 2): Promise<GatewayProcess> {
  await gw.stop('SIGTERM')
  procs.splice(procs.indexOf(gw), 1)
  return start(dir, store, s, workers)
}

describe('stored bearers against changed caller settings (--workers 2, SQLite)', () => {
  it('allowRsa15Jwe turned off ends the RSA1_5 bearers only, on reload and fresh start; turned on again, they work', async () => {
    const dir = newDir()
    const store = `store: { kind: sqlite, file: ${join(dir, 'state.db')} }`
    let gw = await start(dir, store, { rsa15: true })
    const [rsa15, oaep, plain] = [await bearer(gw.url, await jwe('RSA1_5')), await bearer(gw.url, await jwe('RSA-OAEP')), await bearer(gw.url, await jwt())]
    for (const t of [rsa15, oaep, plain]) await expectEach(gw.url, t, undefined)
    reload(gw, dir, store, { rsa15: false })
    await expectEach(gw.url, rsa15, RSA15_OFF)
    for (const t of [oaep, plain]) await expectEach(gw.url, t, undefined)
    gw = await restart(gw, dir, store, { rsa15: true }, 1)
    await expectEach(gw.url, rsa15, undefined)
    gw = await restart(gw, dir, store, { rsa15: false })
    await expectEach(gw.url, rsa15, RSA15_OFF)
    for (const t of [oaep, plain]) await expectEach(gw.url, t, undefined)
    expect(await failures(gw, 'app_rsa15_disallowed')).toBeGreaterThanOrEqual(4)
  })

  it('a changed claimAliasPrefix ends the bearers whose identity it reads otherwise, on reload and fresh start', async () => {
    const dir = newDir()
    const store = `store: { kind: sqlite, file: ${join(dir, 'state.db')} }`
    let gw = await start(dir, store, {})
    const aliased = await bearer(gw.url, await jwt({ iss: 'sdk-app', kore_iss: 'bot', sub: 'sdk-user', kore_sub: 'alice' }))
    const plain = await bearer(gw.url, await jwt())
    reload(gw, dir, store, { prefix: 'app_' })
    await expectEach(gw.url, aliased, ALIAS_CHANGED)
    await expectEach(gw.url, plain, undefined)
    gw = await restart(gw, dir, store, { prefix: 'kore_' }, 1)
    await expectEach(gw.url, aliased, undefined)
    gw = await restart(gw, dir, store, { prefix: '' })
    await expectEach(gw.url, aliased, ALIAS_CHANGED)
    await expectEach(gw.url, plain, undefined)
    expect(await failures(gw, 'claim_alias_prefix_changed')).toBeGreaterThanOrEqual(4)
  })

  it('a shortened bearerTtl ends the bearers older than it, on reload and fresh start', async () => {
    const dir = newDir()
    const store = `store: { kind: sqlite, file: ${join(dir, 'state.db')} }`
    let gw = await start(dir, store, { ttl: '1h' })
    const old = await bearer(gw.url, await jwt())
    reload(gw, dir, store, { ttl: '1s' })
    await expectEach(gw.url, old, TTL_SHORTENED)
    gw = await restart(gw, dir, store, { ttl: '1h' }, 1)
    await expectEach(gw.url, old, undefined)
    gw = await restart(gw, dir, store, { ttl: '1s' })
    await expectEach(gw.url, old, TTL_SHORTENED)
    expect(await failures(gw, 'bearer_ttl_shortened')).toBeGreaterThanOrEqual(4)
  })
})

describe('allowRsa15Jwe on two replicas sharing Redis', () => {
  const prefix = uniqueRedisPrefix()
  afterAll(async () => wipeRedisPrefix(prefix))

  it('a replica with RSA1_5 off refuses the RSA1_5 bearer the other issued, and the other does after its reload', async () => {
    const store = `store: { kind: redis, url: "${REDIS_URL}", keyPrefix: "${prefix}" }`
    const [a, b] = [newDir(), newDir()]
    const [ra, rb] = await Promise.all([start(a, store, { rsa15: true }), start(b, store, { rsa15: false }, 1)])
    const rsa15 = await bearer(ra.url, await jwe('RSA1_5'))
    const oaep = await bearer(ra.url, await jwe('RSA-OAEP'))
    await expectEach(ra.url, rsa15, undefined)
    await expectEach(rb.url, rsa15, RSA15_OFF)
    await expectEach(rb.url, oaep, undefined)
    reload(ra, a, store, { rsa15: false })
    await expectEach(ra.url, rsa15, RSA15_OFF)
    await expectEach(ra.url, oaep, undefined)
  })
})
