/**
 * While the store is away the console keeps working on the session key this process last
 * read from it (operators need the console most during an outage): sessions verify, sign-in
 * issues one, a wrong or altered cookie and a wrong token are still refused, and a sign-out
 * holds on this process at once (the store takes it when it answers; until then another
 * replica may accept the cookie, which the 503 says). When the store answers again, the same
 * cookies work. A sign-out the store does not confirm still clears the browser's cookie and
 * says so. Redis is a real redis-server, paused with SIGSTOP for the outage.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startOpsGateway, type OpsGateway } from '../ops/helpers.js'
import type { Peer } from '../support/peers.js'
import { startRedisServer } from '../support/redis-servers.js'
import { ADMIN_TOKEN, adminTlsEnv, adminTlsYaml, createAdminPki, curl, setCookie, type AdminPki, type CurlReply } from './admin-tls-support.js'
import { sendSignal } from '../support/signals.js'

let a: AdminPki
let redis: Peer
let gw: OpsGateway
let dir: string
let admin: string
let paused = false
let storeYaml: string

beforeAll(async () => {
  a = await createAdminPki()
  Object.assign(process.env, adminTlsEnv(a.pki))
  redis = await startRedisServer()
  dir = mkdtempSync(join(tmpdir(), 'console-store-outage-'))
  storeYaml = `store: { kind: redis, url: "redis://127.0.0.1:${redis.port}", keyPrefix: "outage:", redis: { commandTimeout: 600ms, acknowledgeTimeout: 200ms, connectTimeout: 400ms } }\n`
  const yaml = adminTlsYaml(a.pki, { tls: true }).replace('endpoints: []', `${storeYaml}callers: { required: false }\nendpoints: []`)
  expect(yaml).toContain('kind: redis')
  gw = await startOpsGateway(dir, yaml, { watch: false })
  admin = gw.adminUrl.replace('127.0.0.1', 'localhost')
})

afterAll(async () => {
  if (paused) sendSignal(redis.pid, 'SIGCONT')
  await gw?.gw.close()
  await redis?.stop()
  if (dir) rmSync(dir, { recursive: true, force: true })
  a?.pki.cleanup()
})

const post = (path: string, body: unknown, o: { cookie?: string; csrf?: string; as?: { cert: string; key: string } } = {}): Promise<CurlReply> =>
  curl(`${admin}/console/api/${path}`, {
    pki: a.pki,
    ...(o.as ? { as: o.as } : {}),
    args: ['-X', 'POST', '-H', `origin: ${admin}`, '-H', 'content-type: application/json', ...(o.cookie ? ['-H', `cookie: ${o.cookie}`] : []), ...(o.csrf ? ['-H', `x-csrf-token: ${o.csrf}`] : []), '--data', JSON.stringify(body)],
  })
const getAs = (path: string, o: { cookie?: string; as?: { cert: string; key: string } }): Promise<CurlReply> =>
  curl(`${admin}/console/api/${path}`, { pki: a.pki, ...(o.as ? { as: o.as } : {}), args: o.cookie ? ['-H', `cookie: ${o.cookie}`] : [] })
const errorOf = (r: CurlReply): { msg: string; code: number } | undefined => (JSON.parse(r.body) as { errors?: { msg: string; code: number }[] }).errors?.[0]

describe('the console while the store does not answer', () => {
  it('keeps working on the session key it last read: sessions verify, sign-in issues one, wrong tokens are refused, a sign-out holds here; the same cookies work once the store is back', async () => {
    const login = await post('login', { token: ADMIN_TOKEN })
    expect(login.status, login.body).toBe(200)
    const cookie = (setCookie(login) ?? '').split(';')[0] as string
    const { csrf } = JSON.parse(login.body) as { csrf: string }
    expect((await getAs('overview', { cookie })).status).toBe(200)

    sendSignal(redis.pid, 'SIGSTOP')
    paused = true
    let during = ''
    let duringCsrf = ''
    try {
      // What operators open during an outage: the overview, saying the store is down.
      const signedIn = await getAs('overview', { cookie })
      expect(signedIn.status, signedIn.body).toBe(200)
      expect(JSON.parse(signedIn.body)).toMatchObject({ store: { kind: 'redis', up: false } })
      const again = await post('login', { token: ADMIN_TOKEN })
      expect(again.status, again.body).toBe(200)
      during = (setCookie(again) ?? '').split(';')[0] as string
      duringCsrf = (JSON.parse(again.body) as { csrf: string }).csrf
      expect((await getAs('overview', { cookie: during })).status).toBe(200)
      expect((await post('draft', { yaml: 'endpoints: []\n' }, { cookie: during, csrf: duringCsrf })).status).toBe(200)
      expect((await post('login', { token: 'not-the-admin-token-at-all' })).status).toBe(401)
      // A forged or altered cookie is still refused: the key is the store's, only remembered.
      expect((await getAs('overview', { cookie: `${cookie.slice(0, -2)}AA` })).status).toBe(401)
      const session = await getAs('session', { as: a.alice })
      expect(session.status, session.body).toBe(200)
      expect(JSON.parse(session.body)).toMatchObject({ via: 'certificate' })
      // A sign-out the store cannot take: 503 (another replica may still accept the cookie), but never here.
      const out = await post('logout', {}, { cookie: during, csrf: duringCsrf })
      expect(out.status, out.body).toBe(503)
      expect((await getAs('overview', { cookie: during })).status).toBe(401)
    } finally {
      // Resumed even when an expectation above failed, so the next test has its store.
      sendSignal(redis.pid, 'SIGCONT')
      paused = false
    }
    const back = await getAs('overview', { cookie })
    expect(back.status, back.body).toBe(200)
    expect((await post('draft', { yaml: 'endpoints: []\n' }, { cookie, csrf })).status).toBe(200)
    expect((await getAs('overview', { cookie: during })).status).toBe(401)
  })

  it('a sign-out the store does not confirm answers 503, clears the cookie and says the session may live on', async () => {
    // Writes must reach a replica this Redis does not have: reads work, every write fails.
    const strict = storeYaml.replace('acknowledgeTimeout: 200ms', 'acknowledgeTimeout: 200ms, replicasToAcknowledge: 1')
    expect(strict).not.toBe(storeYaml)
    const sdir = mkdtempSync(join(tmpdir(), 'console-store-unconfirmed-'))
    const yaml = adminTlsYaml(a.pki, { tls: true }).replace('endpoints: []', `${strict}callers: { required: false }\nendpoints: []`)
    const g = await startOpsGateway(sdir, yaml, { watch: false })
    try {
      const url = g.adminUrl.replace('127.0.0.1', 'localhost')
      const call = (path: string, o: { cookie?: string; csrf?: string; body?: unknown }): Promise<CurlReply> =>
        curl(`${url}/console/api/${path}`, { pki: a.pki, args: [...(o.body !== undefined ? ['-X', 'POST', '-H', `origin: ${url}`, '-H', 'content-type: application/json', '--data', JSON.stringify(o.body)] : []), ...(o.cookie ? ['-H', `cookie: ${o.cookie}`] : []), ...(o.csrf ? ['-H', `x-csrf-token: ${o.csrf}`] : [])] })
      // The session key exists already (the first gateway wrote it): signing in only reads.
      const login = await call('login', { body: { token: ADMIN_TOKEN } })
      expect(login.status, login.body).toBe(200)
      const cookie = (setCookie(login) ?? '').split(';')[0] as string
      const { csrf } = JSON.parse(login.body) as { csrf: string }
      const out = await call('logout', { cookie, csrf, body: {} })
      expect(out.status, out.body).toBe(503)
      expect(errorOf(out)?.msg).toMatch(/^sign-out could not be confirmed by the store \(.*\): this browser forgot the session, but a copy of its cookie may stay valid until it expires/)
      expect(setCookie(out)).toMatch(/^mtls_gateway_console=; .*Max-Age=0/)
      const audits = g.lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((e) => e.audit === 'console')
      expect(audits.some((e) => e.action === 'logout' && e.result === 'store_unavailable')).toBe(true)
    } finally {
      await g.gw.close()
      rmSync(sdir, { recursive: true, force: true })
    }
  })
})
