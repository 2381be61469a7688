/**
 * A seal-key rotation carried to its end, as docs/store.md tells an operator: k2 added everywhere,
 * then made active everywhere (a replica at a time on Redis), `mtls-gateway store reseal` run while
 * the gateway serves, then k1 removed. `serve --workers 2` on one SQLite file, and two replicas on
 * one Redis. A user's token read after k2 became active is sealed again under k2 by that read; the
 * command's dry run counts what is left under k1 (exit 1), the run seals it again (exit 0, naming
 * k1 as no longer needed), and afterwards no record names k1. The read's re-seal is counted once,
 * as a user_token, in store_records_resealed_total (summed over workers and replicas), and the console's
 * session key, carried over to k2 at the console's next use, once as a console_session_key. With k1 gone, every user token, the
 * unused one-time link, the caller bearers (a JWT's, and a JWE's with its sealed claims) and the
 * console session signed in under k1 still work.
 */
import { execFile } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { isDeepStrictEqual, promisify } from 'node:util'
import type { JWTPayload } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openStore, type Store } from '../../src/store/index.js'
import { adminRequest, CONSOLE_TOKEN } from '../console/console-support.js'
import { ADMIN_TOKEN, authorizeLink, authorizeUser, finishInBrowser, gatewayYaml, newSealKey, rawValues, startDanceProvider, startInBrowser, type DanceProvider, type StoreYaml } from '../oauth1-dance/dance-support.js'
import { AUD, botJwt } from '../oauth1-dance/dance-gateway.js'
import { pythonJwe, rsaPair, type RsaPair } from '../support/callers-fixtures.js'
import { eventually } from '../support/eventually.js'
import { samples, scrape } from '../ops/helpers.js'
import { send } from '../support/gateway.js'
import { createTestPki, type TestPki } from '../support/pki.js'
import { adminUrlOf, gatewaySet, MAIN, type GatewayProcess } from '../support/process.js'
import { REDIS_URL, uniqueRedisPrefix, wipeRedisPrefix } from '../support/store-backends.js'

const SECRET = 'reseal-test-hs256-secret-of-32-bytes!!'
const k1 = { id: 'k1', key: newSealKey() }
const k2 = { id: 'k2', key: newSealKey() }

let pki: TestPki
let provider: DanceProvider
let jweKey: RsaPair
let dir: string
const gateways = gatewaySet()

beforeAll(async () => {
  pki = await createTestPki()
  provider = await startDanceProvider(pki)
  jweKey = rsaPair()
  dir = mkdtempSync(join(tmpdir(), 'reseal-'))
  writeFileSync(join(dir, 'jwe.pem'), jweKey.privatePem)
})

afterAll(async () => {
  await gateways.killAll()
  await provider?.close()
  pki?.cleanup()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

/** Writes the config of one step of the rotation; returns its file. */
function config(name: string, store: StoreYaml, sealKeys: { id: string; key: string }[], activeKey: string): string {
  const callers = `callers:\n  required: false\n  adminToken: ${ADMIN_TOKEN}\n  apps:\n    - { clientId: bot, hs256Secret: "${SECRET}", audience: "${AUD}", endpoints: ["*"] }\n  gatewayKeys:\n    - { kid: gw-jwe, privateKey: "\${file:${join(dir, 'jwe.pem')}}" }`
  const yaml = gatewayYaml({ pki, provider, store, sealKeys, activeKey, callers }).replace('admin:\n  enabled: false\n', `admin:\n  host: 127.0.0.1\n  port: 0\n  token: "${CONSOLE_TOKEN}"\n`)
  const file = join(dir, `${name}.yaml`)
  writeFileSync(file, yaml)
  return file
}

const start = (file: string, workers: number): Promise<GatewayProcess> => gateways.start(file, ['--workers', String(workers)])
const stop = (g: GatewayProcess): Promise<void> => gateways.stop(g)
const jwt = (claims: JWTPayload): Promise<string> => botJwt(SECRET, { jti: randomUUID(), ...claims })

async function bearerFor(url: string, assertion: string): Promise<string> {
  const r = await send(url, '/gateway/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ assertion }) })
  expect(r.status, r.text).toBe(200)
  return r.json<{ access_token: string }>().access_token
}

const asUser = (url: string, user: string): ReturnType<typeof send> => send(url, '/proxy/partner/resource/r', { headers: { 'x-gateway-user': user } })
const withBearer = (url: string, bearer: string): ReturnType<typeof send> => send(url, '/proxy/partner/resource/r', { headers: { 'proxy-authorization': `Bearer ${bearer}` } })

/** `mtls-gateway store reseal --config <file>` (and `extra` flags): its exit code and what it printed. */
async function reseal(file: string, ...extra: string[]): Promise<{ code: number; out: string }> {
  const run = promisify(execFile)(process.execPath, [MAIN, 'store', 'reseal', '--config', file, ...extra], { encoding: 'utf8', timeout: 120_000 })
  try {
    const { stdout, stderr } = await run
    return { code: 0, out: stdout + stderr }
  } catch (e) {
    const failed = e as { code?: number; stdout?: string; stderr?: string }
    return { code: failed.code ?? -1, out: `${failed.stdout ?? ''}${failed.stderr ?? ''}` }
  }
}

/** The keys whose values name seal key `id` (a field or a whole value sealed under it, or the console entry of it). */
async function sealedUnder(store: Store, id: string): Promise<string[]> {
  return (await rawValues(store)).filter((r) => r.value.includes(`v1.${id}.`) || r.key.endsWith(`:sealed:${id}`)).map((r) => r.key)
}

/** store_records_resealed_total by kind, summed over the pods `gws` (each primary sums its workers'). */
async function resealedByKind(gws: readonly GatewayProcess[]): Promise<Record<string, number>> {
  const byKind: Record<string, number> = {}
  for (const g of gws) {
    for (const s of samples(await scrape(await adminUrlOf(g)), 'mtls_gateway_store_records_resealed_total')) byKind[s.labels.kind as string] = (byKind[s.labels.kind as string] ?? 0) + s.value
  }
  return byKind
}

const TOPOLOGIES = [
  { name: 'sqlite, --workers 2', workers: 2, replicas: 1 },
  { name: 'redis, two replicas', workers: 1, replicas: 2 },
] as const

describe.each(TOPOLOGIES)('a seal-key rotation to its end ($name)', ({ name, workers, replicas }) => {
  const prefix = uniqueRedisPrefix()
  afterAll(() => (replicas > 1 ? wipeRedisPrefix(prefix) : undefined))

  it('a read seals again under k2, store reseal the rest, and with k1 removed nothing is lost', async () => {
    const tag = name.split(',')[0] as string
    const location: StoreYaml = replicas > 1 ? { kind: 'redis', url: REDIS_URL, keyPrefix: prefix } : { kind: 'sqlite', file: join(dir, `${tag}.db`) }
    const store = openStore(location.kind === 'sqlite' ? location : { kind: 'redis', url: location.url, keyPrefix: location.keyPrefix })
    try {
      // k1 alone: two users authorize, a third gets a link left unused, two bearers, a console sign-in.
      const only1 = config(`${tag}-k1`, location, [k1], 'k1')
      const gws = await Promise.all(Array.from({ length: replicas }, () => start(only1, workers)))
      const at = (i: number): string => (gws[i % gws.length] as GatewayProcess).url
      for (const user of ['uma', 'vic']) expect((await authorizeUser(at(0), provider, `user=${user}`)).done.status).toBe(200)
      // The callers' own users (app bot's user space), so a call with their bearer signs with their token.
      for (const user of ['caller-1', 'caller-2']) expect((await authorizeUser(at(1), provider, `user=${user}&app=bot`)).done.status).toBe(200)
      const wesLink = await authorizeLink(at(1), 'user=wes')
      const jwtBearer = await bearerFor(at(0), await jwt({ sub: 'caller-1' }))
      const jweBearer = await bearerFor(at(1), pythonJwe({ key: jweKey.publicPem, alg: 'RSA-OAEP', enc: 'A128GCM', kid: 'gw-jwe', payload: await jwt({ sub: 'caller-2', pin: '4711' }) }))
      const consoleAt = async (i: number): Promise<string> => `${await adminUrlOf(gws[i % gws.length] as GatewayProcess)}/console/`
      const signedIn = await adminRequest(`${await consoleAt(0)}api/login`, { method: 'POST', origin: new URL(await consoleAt(0)).origin, body: { token: CONSOLE_TOKEN } })
      expect(signedIn.status, signedIn.text).toBe(200)
      const cookie = String(signedIn.headers['set-cookie']).split(';')[0] as string
      expect((await sealedUnder(store, 'k1')).length).toBeGreaterThanOrEqual(7)

      // k2 added everywhere, then made active everywhere: a rolling restart each (one replica at a time).
      for (const [step, active] of [['k1k2', 'k1'], ['k2active', 'k2']] as const) {
        const file = config(`${tag}-${step}`, location, [k1, k2], active)
        for (let i = 0; i < gws.length; i++) {
          await stop(gws[i] as GatewayProcess)
          gws[i] = await start(file, workers)
        }
      }
      const rotated = join(dir, `${tag}-k2active.yaml`)
      // uma's call reads her token under k1: the read seals it again under k2 (keeping it), in the background.
      expect((await asUser(at(1), 'uma')).status).toBe(200)
      await eventually(async () => !(await sealedUnder(store, 'k1')).some((k) => k.includes('/uma:')), 30_000, "uma's token sealed again under k2")
      // Counted once, by kind, in whichever worker or replica read it: nothing else was read under k1 yet.
      const once = { user_token: 1, authorize_link: 0, reused_link: 0, caller_bearer: 0, caller_claims: 0, console_session_key: 0 }
      await eventually(async () => isDeepStrictEqual(await resealedByKind(gws), once), 30_000, 'the re-seal counted').catch(() => undefined)
      expect(await resealedByKind(gws)).toEqual(once)
      // The console's next use on each pod carries its session key over to k2: counted once (by the pod whose write the store took).
      for (let i = 0; i < gws.length; i++) expect((await adminRequest(`${await consoleAt(i)}api/overview`, { cookie })).status).toBe(200)
      expect(await resealedByKind(gws)).toEqual({ ...once, console_session_key: 1 })

      const dry = await reseal(rotated, '--dry-run')
      expect(dry.code, dry.out).toBe(1)
      expect(dry.out).toContain('Dry run: nothing written. Active seal key: k2 (store.sealKeys: k1, k2).')
      expect(dry.out).toMatch(/users' tokens: 4 records: 1 already under k2; to seal again: 3 under k1/)
      expect(dry.out).toContain('Left under other keys:')
      const before = await sealedUnder(store, 'k1')
      expect(before.some((k) => k.includes('/vic:'))).toBe(true)

      const done = await reseal(rotated)
      expect(done.code, done.out).toBe(0)
      expect(done.out).toMatch(/users' tokens: 4 records: 1 already under k2; 3 sealed again under k2/)
      expect(done.out).toMatch(/one-time authorize links: 1 record: 1 sealed again under k2/)
      expect(done.out).toMatch(/caller bearers: 2 records: 2 sealed again under k2/)
      expect(done.out).toMatch(/JWE callers' decrypted claims: 1 record: 1 sealed again under k2/)
      // The console carried the key into k2's entry already; the command removes k1's.
      expect(done.out).toContain("the console's session key: 2 records: 1 already under k2; 1 sealed again under k2")
      expect(done.out).toContain('Left under other keys: none. No record is sealed under k1 any more: it may be removed from store.sealKeys.')
      expect(await sealedUnder(store, 'k1')).toEqual([])
      expect((await reseal(rotated, '--dry-run')).code).toBe(0)

      // k1 removed: everything sealed under it before still works.
      const only2 = config(`${tag}-k2`, location, [k2], 'k2')
      for (let i = 0; i < gws.length; i++) {
        await stop(gws[i] as GatewayProcess)
        gws[i] = await start(only2, workers)
      }
      for (const [i, user] of ['uma', 'vic', 'uma', 'vic'].entries()) expect((await asUser(at(i), user)).status, user).toBe(200)
      for (let i = 0; i < 2; i++) {
        for (const bearer of [jwtBearer, jweBearer]) {
          const r = await withBearer(at(i), bearer)
          expect(r.status, r.text).toBe(200)
        }
        expect((await adminRequest(`${await consoleAt(i)}api/overview`, { cookie })).status).toBe(200)
      }
      const wes = await finishInBrowser(await startInBrowser(wesLink, { provider, gateway: () => at(1) }), { provider, gateway: () => at(0) })
      expect(wes.done.text).toContain('Authorization complete')
      for (const g of gws) await stop(g)
    } finally {
      await store.close()
    }
  }, 300_000)
})
