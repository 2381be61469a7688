/**
 * Console sessions behind a Service: two gateway processes on one Redis, each serving its
 * own admin listener. A session signed in on one replica works on the other (its CSRF token
 * too), survives a restart, ends on both when signed out on either, and ends on both when a
 * hot reload changes the admin token. Run with the console opening the store itself (nothing
 * else in the config needs one) and on the runtime's store (caller apps on). Certificate
 * operators' CSRF tokens work across replicas as well. Needs the dist build.
 */
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openStore, type Store } from '../../src/store/index.js'
import { eventually, instanceReloads, replaceFile } from '../ops/helpers.js'
import { adminUrlOf, spawnGateway, type GatewayProcess } from '../support/process.js'
import { REDIS_URL, uniqueRedisPrefix, wipeRedisPrefix } from '../support/store-backends.js'
import { adminTlsEnv, adminTlsYaml, createAdminPki, curl, type AdminPki } from './admin-tls-support.js'
import { adminRequest, CONSOLE_TOKEN, type Reply } from './console-support.js'

const NEXT_TOKEN = 'console-replica-rotated-token-41c7'
const SEAL_KEY = randomBytes(32).toString('hex')

interface Replica {
  gp: GatewayProcess
  console: string
  origin: string
}

async function startReplica(file: string, env: Record<string, string> = {}): Promise<Replica> {
  const gp = await spawnGateway(file, [], env)
  const admin = await adminUrlOf(gp)
  return { gp, console: `${admin}/console/`, origin: admin }
}

const login = (r: Replica, token: string): Promise<Reply> => adminRequest(`${r.console}api/login`, { method: 'POST', origin: r.origin, body: { token } })

/** Signs in on `r`: the cookie header and the CSRF token. */
async function signIn(r: Replica, token = CONSOLE_TOKEN): Promise<{ cookie: string; csrf: string }> {
  const reply = await login(r, token)
  expect(reply.status, reply.text).toBe(200)
  const set = reply.headers['set-cookie']
  return { cookie: (Array.isArray(set) ? set[0]! : set ?? '').split(';')[0] as string, csrf: (JSON.parse(reply.text) as { csrf: string }).csrf }
}

const overview = async (r: Replica, cookie: string): Promise<number> => (await adminRequest(`${r.console}api/overview`, { cookie })).status
/** A harmless action (validating a draft writes nothing) with a cookie and a CSRF token. */
const act = async (r: Replica, s: { cookie: string; csrf: string }): Promise<number> =>
  (await adminRequest(`${r.console}api/draft`, { method: 'POST', cookie: s.cookie, origin: r.origin, csrf: s.csrf, body: { yaml: 'endpoints: []\n' } })).status

describe.each([
  { name: 'the console opens the store itself', callers: '' },
  { name: 'on the runtime\'s store (caller apps on)', callers: 'callers: { required: false }\n' },
])('console sessions on two replicas sharing Redis: $name', ({ callers }) => {
  const prefix = uniqueRedisPrefix()
  let dir: string
  let file: string
  let tokenFile: string
  let a: Replica
  let b: Replica
  let store: Store

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'console-replicas-'))
    file = join(dir, 'gateway.yaml')
    tokenFile = join(dir, 'admin-token')
    writeFileSync(tokenFile, CONSOLE_TOKEN)
    writeFileSync(file, `listen: { host: 127.0.0.1, port: 0 }
admin: { host: 127.0.0.1, port: 0, token: "\${file:${tokenFile}}" }
store: { kind: redis, url: "${REDIS_URL}", keyPrefix: "${prefix}", sealKeys: [{ id: k1, key: "${SEAL_KEY}" }] }
${callers}endpoints: []
`)
    ;[a, b] = await Promise.all([startReplica(file), startReplica(file)])
    store = openStore({ kind: 'redis', url: REDIS_URL, keyPrefix: prefix })
  }, 120_000)

  afterAll(async () => {
    await Promise.all([a?.gp.stop(), b?.gp.stop()])
    await store?.close()
    await wipeRedisPrefix(prefix)
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  it('signed in on A, the session and its CSRF token work on B; the key is sealed in Redis', async () => {
    expect(a.origin).not.toBe(b.origin)
    const s = await signIn(a)
    expect(await overview(b, s.cookie)).toBe(200)
    const session = await adminRequest(`${b.console}api/session`, { cookie: s.cookie })
    expect(JSON.parse(session.text)).toEqual({ who: 'token', via: 'session', csrf: s.csrf })
    expect(await act(b, s)).toBe(200)
    expect(await act(b, { cookie: s.cookie, csrf: `${s.csrf.slice(0, -2)}xx` })).toBe(403)
    // The shared key, sealed under store.sealKeys; nothing else of the console is kept.
    expect(await store.keys('console:')).toEqual(['console:session:key:sealed:k1'])
    expect(await store.get('console:session:key:sealed:k1')).toMatch(/^v1\.k1\./)
  })

  it('a session outlives a restart of the replica that issued it', async () => {
    const s = await signIn(a)
    await a.gp.stop('SIGTERM')
    a = await startReplica(file)
    expect(await overview(a, s.cookie)).toBe(200)
    expect(await act(a, s)).toBe(200)
  })

  it('signed out on B, the cookie is refused on A and B; other sessions go on', async () => {
    const s = await signIn(a)
    const other = await signIn(b)
    expect(await overview(a, s.cookie)).toBe(200)
    const out = await adminRequest(`${b.console}api/logout`, { method: 'POST', cookie: s.cookie, origin: b.origin, csrf: s.csrf, body: {} })
    expect(out.status, out.text).toBe(200)
    expect(String(out.headers['set-cookie'])).toContain('Max-Age=0')
    expect([await overview(a, s.cookie), await overview(b, s.cookie)]).toEqual([401, 401])
    expect(await act(a, s)).toBe(401)
    expect([await overview(a, other.cookie), await overview(b, other.cookie)]).toEqual([200, 200])
  })

  it('a hot reload that changes the admin token ends every session on both replicas; the new token signs in on either', async () => {
    const s = await signIn(a)
    const t = await signIn(b)
    // Each replica's own reload (as a cluster, its primary's verdict, which the console follows), not one worker's line.
    const from = [a.gp.output.length, b.gp.output.length] as const
    replaceFile(tokenFile, NEXT_TOKEN)
    await eventually(() => instanceReloads(a.gp, from[0]) > 0 && instanceReloads(b.gp, from[1]) > 0, 30_000, 'both replicas to reload')
    for (const r of [a, b]) {
      expect([await overview(r, s.cookie), await overview(r, t.cookie)]).toEqual([401, 401])
      expect((await login(r, CONSOLE_TOKEN)).status).toBe(401)
    }
    const next = await signIn(b, NEXT_TOKEN)
    expect([await overview(a, next.cookie), await act(a, next)]).toEqual([200, 200])
  })
})

describe('certificate operators on two replicas sharing Redis', () => {
  const prefix = uniqueRedisPrefix()
  let pki: AdminPki
  let dir: string
  let admins: string[] = []
  let procs: GatewayProcess[] = []

  beforeAll(async () => {
    pki = await createAdminPki()
    dir = mkdtempSync(join(tmpdir(), 'console-replicas-cert-'))
    const file = join(dir, 'gateway.yaml')
    const yaml = adminTlsYaml(pki.pki, { tls: true }).replace('endpoints: []', `store: { kind: redis, url: "${REDIS_URL}", keyPrefix: "${prefix}" }\nendpoints: []`)
    expect(yaml).toContain('kind: redis')
    writeFileSync(file, yaml)
    procs = await Promise.all([spawnGateway(file, [], adminTlsEnv(pki.pki)), spawnGateway(file, [], adminTlsEnv(pki.pki))])
    admins = await Promise.all(procs.map(async (p) => (await adminUrlOf(p)).replace('127.0.0.1', 'localhost')))
  }, 120_000)

  afterAll(async () => {
    await Promise.all(procs.map((p) => p.stop()))
    await wipeRedisPrefix(prefix)
    if (dir) rmSync(dir, { recursive: true, force: true })
    pki?.pki.cleanup()
  })

  it('the CSRF token A hands an allowed certificate is accepted by B; a wrong one is not', async () => {
    const [onA, onB] = admins as [string, string]
    const session = await curl(`${onA}/console/api/session`, { pki: pki.pki, as: pki.alice })
    const { csrf, via } = JSON.parse(session.body) as { csrf: string; via: string }
    expect(via).toBe('certificate')
    const post = (token: string) => curl(`${onB}/console/api/draft`, { pki: pki.pki, as: pki.alice, args: ['-X', 'POST', '-H', `origin: ${onB}`, '-H', `x-csrf-token: ${token}`, '-H', 'content-type: application/json', '--data', '{"yaml":"endpoints: []\\n"}'] })
    const good = await post(csrf)
    expect(good.status, good.body).toBe(200)
    expect((await post(`${csrf.slice(0, -2)}xx`)).status).toBe(403)
    // Bob's certificate is allowed too, but Alice's token is not his.
    const bob = await curl(`${onB}/console/api/draft`, { pki: pki.pki, as: pki.bob, args: ['-X', 'POST', '-H', `origin: ${onB}`, '-H', `x-csrf-token: ${csrf}`, '-H', 'content-type: application/json', '--data', '{"yaml":"endpoints: []\\n"}'] })
    expect(bob.status).toBe(403)
  })
})
