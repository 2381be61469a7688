/**
 * The caller-security suite with claim aliases, through the real gateway: `kore_jti`
 * replayed is refused with the exact text (also across two replicas on Redis), `kore_iss`
 * picks the app, `kore_sub` picks the user whose OAuth token signs (python3-oauthlib
 * verifies), the alias wins over `sub`, JWE-wrapped by python3-jwcrypto, and a hot reload
 * of `callers.claimAliasPrefix` behaves like a fresh start.
 */
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SignJWT } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestPki, type TestPki } from '../support/pki.js'
import { pythonJwe, rsaPair, type RsaPair } from '../support/callers-fixtures.js'
import { spawnGateway, type GatewayProcess } from '../support/process.js'
import { REDIS_URL, uniqueRedisPrefix, wipeRedisPrefix } from '../support/store-backends.js'
import { createLog, createOps } from '../../src/ops/index.js'
import type { RunningGateway } from '../../src/cli/gateway-root.js'
import { send, startTestGateway, type Reply } from '../support/gateway.js'
import { replaceFile } from '../ops/helpers.js'
import { ADMIN_TOKEN, authorizeUser, gatewayYaml, newSealKey, startDanceProvider, type DanceProvider, type StoreYaml } from '../oauth1-dance/dance-support.js'

const AUD = 'https://gateway.test'
const SECRETS = { bot: 'alias-bot-hs256-secret-of-32-bytes-or-more', narrow: 'alias-narrow-hs256-secret-of-32-bytes-plus' }
const REPLAY = { errors: [{ msg: 'error verifying the jwt: possibly a replay', code: 401 }] }
let pki: TestPki
let provider: DanceProvider
let jweKey: RsaPair
let dir: string
let gw: RunningGateway
let aliasUserToken: string

// One seal key for every file this suite writes: a reload with another key would (rightly) make
// the stored tokens unreadable, which is not what these reloads are about.
const SEAL_KEYS = [{ id: 'k1', key: newSealKey() }]
const yamlFor = (store: StoreYaml, prefixLine = ''): string =>
  gatewayYaml({
    pki, provider, store, sealKeys: SEAL_KEYS,
    callers: `callers:\n  adminToken: ${ADMIN_TOKEN}\n${prefixLine}  apps:\n` +
      `    - { clientId: bot, hs256Secret: "${SECRETS.bot}", audience: "${AUD}", endpoints: ["*"] }\n` +
      `    - { clientId: narrow, hs256Secret: "${SECRETS.narrow}", audience: "${AUD}", endpoints: [] }\n` +
      '  gatewayKeys:\n    - { kid: gw-jwe, privateKey: "${file:jwe.pem}" }',
  })

function jwt(claims: Record<string, unknown>, secret: string = SECRETS.bot): Promise<string> {
  const now = Math.floor(Date.now() / 1000)
  return new SignJWT({ iss: 'sdk-default-app', aud: AUD, sub: 'sdk-default-user', iat: now, exp: now + 300, ...claims })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .sign(new TextEncoder().encode(secret))
}
const jwe = (inner: string): string => pythonJwe({ key: jweKey.publicPem, alg: 'RSA-OAEP', enc: 'A256GCM', kid: 'gw-jwe', payload: inner })
const exchange = (url: string, assertion: string): Promise<Reply> =>
  send(url, '/gateway/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ assertion }) })
const call = (url: string, bearer: string): Promise<Reply> => send(url, '/proxy/partner/resource/me', { headers: { 'proxy-authorization': `Bearer ${bearer}` } })
const signedToken = (r: Reply): string => {
  expect(r.status, r.text).toBe(200)
  const v = r.json<{ ok: boolean; token: string }>()
  expect(v.ok).toBe(true)
  return v.token
}

beforeAll(async () => {
  pki = await createTestPki()
  provider = await startDanceProvider(pki)
  jweKey = rsaPair()
  dir = mkdtempSync(join(tmpdir(), 'callers-aliases-'))
  writeFileSync(join(dir, 'jwe.pem'), jweKey.privatePem)
  // Ops for the reload test; reloads are triggered by the test, not by a file watcher.
  const ops = createOps({ log: createLog({ level: 'warn', destination: { write: () => undefined } }), watch: false })
  gw = await startTestGateway(dir, yamlFor({ kind: 'sqlite', file: join(dir, 'state.db') }), { ops })
  // App bot's user "alias-user" (the calls below are bot's, by kore_iss) authorizes the partner once; every call below that names it must sign with this token.
  const before = new Set((await provider.state()).access_tokens.map((t) => t.token))
  const { done } = await authorizeUser(gw.url, provider, 'user=alias-user&app=bot')
  expect(done.status, done.text).toBe(200)
  aliasUserToken = (await provider.state()).access_tokens.map((t) => t.token).find((t) => !before.has(t)) as string
  expect(aliasUserToken).toMatch(/^[A-Za-z0-9]{20,30}$/)
})

afterAll(async () => {
  await gw?.close()
  await provider?.close()
  pki?.cleanup()
  rmSync(dir, { recursive: true, force: true })
})

describe('claim aliases through the gateway (default prefix kore_)', () => {
  it('kore_jti: a replay is refused with the exact text; the SDK\'s own jti is not the key', async () => {
    const once = await jwt({ kore_iss: 'bot', jti: 'sdk-fixed-jti', kore_jti: randomUUID() })
    expect((await exchange(gw.url, once)).status).toBe(200)
    const again = await exchange(gw.url, once)
    expect([again.status, again.json()]).toEqual([401, REPLAY])
    expect((await exchange(gw.url, await jwt({ kore_iss: 'bot', jti: 'sdk-fixed-jti', kore_jti: randomUUID() }))).status).toBe(200)
  })

  it('kore_iss selects the app: its key verifies, its endpoint list applies', async () => {
    const asNarrow = await call(gw.url, await jwt({ iss: 'bot', kore_iss: 'narrow', kore_sub: 'alias-user' }, SECRETS.narrow))
    expect([asNarrow.status, asNarrow.json()]).toEqual([403, { errors: [{ msg: 'caller app "narrow" may not use endpoint "partner"', code: 403 }] }])
    // The bot's secret does not pass for narrow: the alias chose the key.
    const wrongKey = await call(gw.url, await jwt({ iss: 'bot', kore_iss: 'narrow' }))
    expect([wrongKey.status, wrongKey.json()]).toEqual([401, { errors: [{ msg: 'error verifying the jwt: signature verification failed', code: 401 }] }])
  })

  it('kore_sub selects the user whose OAuth token signs, over sub (oauthlib verifies)', async () => {
    const bearer = (await exchange(gw.url, await jwt({ kore_iss: 'bot', kore_sub: 'alias-user', kore_jti: randomUUID() }))).json<{ access_token: string }>().access_token
    expect(signedToken(await call(gw.url, bearer))).toBe(aliasUserToken)
    // Used directly as the bearer (no jti), sub naming someone else: the alias still wins.
    expect(signedToken(await call(gw.url, await jwt({ kore_iss: 'bot', sub: 'someone-else', kore_sub: 'alias-user' })))).toBe(aliasUserToken)
    const reversed = await call(gw.url, await jwt({ kore_iss: 'bot', sub: 'alias-user', kore_sub: 'someone-else' }))
    expect(reversed.status).toBe(401)
    expect(reversed.json<{ errors: { authorizeUrl: string }[] }>().errors[0]?.authorizeUrl).toContain('/gateway/oauth1/partner/authorize?link=')
  })

  it('inside a JWE made by python3-jwcrypto: kore_iss, kore_sub and kore_jti apply to the decrypted JWT', async () => {
    const jti = randomUUID()
    const inner = await jwt({ kore_iss: 'bot', kore_sub: 'alias-user', jti: 'sdk-fixed-jti', kore_jti: jti })
    const r = await exchange(gw.url, jwe(inner))
    expect(r.status, r.text).toBe(200)
    expect(signedToken(await call(gw.url, r.json<{ access_token: string }>().access_token))).toBe(aliasUserToken)
    const replay = await exchange(gw.url, jwe(await jwt({ kore_iss: 'bot', kore_sub: 'alias-user', jti: 'another-sdk-jti', kore_jti: jti })))
    expect([replay.status, replay.json()]).toEqual([401, REPLAY])
  })

  it('a hot reload of claimAliasPrefix behaves like a fresh start: empty turns aliases off, another prefix replaces kore_', async () => {
    const file = join(dir, 'gateway.yaml')
    const store: StoreYaml = { kind: 'sqlite', file: join(dir, 'state.db') }
    try {
      replaceFile(file, yamlFor(store, '  claimAliasPrefix: ""\n'))
      expect((await gw.ops!.reload('test')).ok).toBe(true)
      const off = await call(gw.url, await jwt({ kore_iss: 'bot', kore_sub: 'alias-user' }))
      expect([off.status, off.json()]).toEqual([401, { errors: [{ msg: 'error verifying the jwt: "iss" names no registered caller app', code: 401 }] }])
      replaceFile(file, yamlFor(store, '  claimAliasPrefix: app_\n'))
      expect((await gw.ops!.reload('test')).ok).toBe(true)
      expect(signedToken(await call(gw.url, await jwt({ app_iss: 'bot', kore_sub: 'nobody', app_sub: 'alias-user' })))).toBe(aliasUserToken)
    } finally {
      replaceFile(file, yamlFor(store))
      await gw.ops!.reload('test')
    }
  })
})

describe('kore_jti across two replicas sharing Redis', () => {
  const procs: GatewayProcess[] = []
  const prefix = uniqueRedisPrefix()
  afterAll(async () => {
    for (const p of procs) await p.stop()
    await wipeRedisPrefix(prefix)
  })

  it('an alias jti used on one replica is refused on the other with the exact text', async () => {
    const file = join(dir, 'replicas.yaml')
    writeFileSync(file, yamlFor({ kind: 'redis', url: REDIS_URL, keyPrefix: prefix }))
    procs.push(await spawnGateway(file), await spawnGateway(file))
    const [a, b] = procs as [GatewayProcess, GatewayProcess]
    const assertion = await jwt({ kore_iss: 'bot', kore_jti: randomUUID() })
    expect((await exchange(a.url, assertion)).status).toBe(200)
    const again = await exchange(b.url, assertion)
    expect([again.status, again.json()]).toEqual([401, REPLAY])
  })
})
