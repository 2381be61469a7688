/**
 * A rolling upgrade and a rollback: an earlier release and this one on one store, each reading
 * what the other wrote. Redis with both running side by side; SQLite one after the other on one
 * file, as a Deployment with a volume replaces its pod. Both directions: a caller's bearer
 * exchanged on one is used on the other (this release's, spelled with the tag that lets it know
 * them in headers, on the earlier one too), its assertion's `jti` is refused there as a replay, a
 * dance started on one completes on the other, a one-time link made on one is opened on the other
 * (both releases' dance records carry their owner sealed in ownerBinding and their clear fields in
 * clearBinding, which this release refuses a record without), the user's token signs on both, an
 * anonymous user's link made on one is opened on the other and its dance called back on the first,
 * and that user's token signs on the other and moves to the known user (identityToMerge) there, wrong admin tokens
 * counted by one are refused by the other, a console session signed in on one works on the other
 * and signed out there ends on the first; the SQLite file the earlier release made is marked
 * by this one (application_id, user_version), and the earlier release still opens it. And a
 * seal-key rotation this release ends (a read's re-seal, `store reseal`) while the earlier one
 * serves beside it: the earlier release reads every record this one sealed again, also once the
 * old key is removed.
 *
 * The earlier release: MTLS_GATEWAY_PREVIOUS names its build (`scripts/rolling-upgrade.sh <commit>`
 * sets it for any commit); without it, the last release before this one's work, PINNED_PREVIOUS,
 * built once into the cache by scripts/previous-release.sh (a minute the first time).
 */
import { execFile } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import Database from 'better-sqlite3'
import { SignJWT, type JWTPayload } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { THROTTLE_WINDOW_MS } from '../../src/api/sliding-window.js'
import { carriesGatewayBearer } from '../../src/callers/index.js'
import { requestFrom } from '../api/throttle-support.js'
import { send } from '../support/gateway.js'
import { adminUrlOf, gatewaySet, type GatewayProcess } from '../support/process.js'
import { adminRequest, CONSOLE_TOKEN } from '../console/console-support.js'
import { createTestPki, type TestPki } from '../support/pki.js'
import { REDIS_URL, uniqueRedisPrefix, wipeRedisPrefix } from '../support/store-backends.js'
import { ADMIN_TOKEN, authorizeLink, cookieFor, gatewayYaml, newSealKey, pathOf, startDanceProvider, startInBrowser, type DanceProvider, type StartedDance, type StoreYaml } from '../oauth1-dance/dance-support.js'

/** The release the suite runs beside this one: the last to land before this one's changes. Move it on at each release. */
const PINNED_PREVIOUS = 'a30e8e2a'
let previous = process.env.MTLS_GATEWAY_PREVIOUS
type Release = 'previous' | 'current'
const mainOf = (release: Release): string => (release === 'current' ? 'dist/src/main.js' : join(previous as string, 'dist/src/main.js'))
const SECRET = 'rolling-upgrade-hs256-secret-of-32-bytes'
const AUD = 'https://gateway.test'
const CALLERS = `callers:\n  required: false\n  adminToken: ${ADMIN_TOKEN}\n  apps:\n    - { clientId: bot, hs256Secret: "${SECRET}", audience: "${AUD}", endpoints: ["*"] }`
const DIRECTIONS: readonly [Release, Release][] = [['previous', 'current'], ['current', 'previous']]

let pki: TestPki
let provider: DanceProvider
let dir: string
const gateways = gatewaySet()

beforeAll(async () => {
  // Built in a child process: the build (a minute the first time, then cached) keeps the event loop free.
  previous ??= (await promisify(execFile)('bash', ['scripts/previous-release.sh', PINNED_PREVIOUS], { encoding: 'utf8', timeout: 540_000 })).stdout.trim()
  pki = await createTestPki()
  provider = await startDanceProvider(pki)
  dir = mkdtempSync(join(tmpdir(), 'rolling-upgrade-'))
}, 600_000)

afterAll(async () => {
  await gateways.killAll()
  await provider?.close()
  pki?.cleanup()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

function configFor(name: string, store: StoreYaml, seals: { sealKeys?: { id: string; key: string }[]; activeKey?: string } = {}): string {
  const file = join(dir, `${name}.yaml`)
  const yaml = gatewayYaml({ pki, provider, store, callers: CALLERS, ...seals }).replace('admin:\n  enabled: false\n', `admin:\n  host: 127.0.0.1\n  port: 0\n  token: "${CONSOLE_TOKEN}"\n`)
  writeFileSync(file, yaml)
  return file
}

async function start(release: Release, config: string): Promise<GatewayProcess> {
  // This release with two workers: what one reads another wrote, as across releases.
  return gateways.start(config, ['--workers', release === 'current' ? '2' : '1'], {}, [], mainOf(release))
}

const stop = (g: GatewayProcess): Promise<void> => gateways.stop(g)

const jwt = (claims: JWTPayload): Promise<string> => {
  const now = Math.floor(Date.now() / 1000)
  return new SignJWT({ iss: 'bot', aud: AUD, iat: now, exp: now + 300, ...claims }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(new TextEncoder().encode(SECRET))
}

const exchange = (url: string, assertion: string): ReturnType<typeof send> =>
  send(url, '/gateway/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ assertion }) })

const call = (url: string, bearer: string): ReturnType<typeof send> => send(url, '/proxy/partner/resource/r', { headers: { 'proxy-authorization': `Bearer ${bearer}` } })

/** The release's process on the shared store (started, or restarted in turn, as needed). */
type On = () => Promise<GatewayProcess>

/** A dance's link made on `linkOn` (with `headers`), its page and button on `openOn`: the browser at the provider. */
async function startAcross(linkOn: On, openOn: On, query: string, headers?: Record<string, string>): Promise<StartedDance> {
  return startInBrowser(await authorizeLink((await linkOn()).url, query, headers), { provider, gateway: (await openOn()).url })
}

/** The user approves a started dance and the browser is sent back to `backOn`: the callback's reply. */
async function callBack(started: StartedDance, backOn: On): Promise<ReturnType<typeof send>> {
  const callbackUrl = await provider.decide(started.requestToken, 'approve')
  return send((await backOn()).url, pathOf(callbackUrl), { headers: cookieFor(started.cookie, callbackUrl) })
}

/** A dance whose link `linkOn` makes (with `headers`), opened and started on `openOn` (there too by default) and called back on `backOn`: the callback's reply. */
async function danceAcross(linkOn: On, backOn: On, query: string, headers?: Record<string, string>, openOn: On = linkOn): Promise<ReturnType<typeof send>> {
  return callBack(await startAcross(linkOn, openOn, query, headers), backOn)
}

/**
 * Wrong admin tokens counted by w weigh on r: past 20 in a minute, r refuses the address. The 20
 * and r's check must fall in one counting window (epoch minutes): across a boundary the last
 * window's count fades (api/sliding-window.ts), and in turn r's start sits between them (a full
 * run read 401). A first pair that straddled a boundary proves nothing and is made again from
 * another address at handOver's next crossing, which waits, when past half of its window, for the
 * next one: a pair within one window is what each check asserts on.
 */
function throttleAcross(tag: string): { count(on: On): Promise<void>; check(on: On): Promise<void> } {
  const windowNow = (): number => Math.floor(Date.now() / THROTTLE_WINDOW_MS)
  let tries = 0
  let counted: { address: string; window: number } | undefined
  let shown = false
  const wrong = (url: string, address: string): ReturnType<typeof requestFrom> =>
    requestFrom(`${url}/gateway/oauth1/partner/authorize?user=u1&app=bot&format=json`, { headers: { authorization: 'Bearer not-the-admin-token-but-long-enough' }, localAddress: address })
  return {
    /** The 20 on w (once more only when the last pair straddled a boundary). */
    async count(on) {
      if (shown) return
      if (tries > 0) {
        const intoWindow = Date.now() % THROTTLE_WINDOW_MS
        if (intoWindow > THROTTLE_WINDOW_MS / 2) await new Promise((resolve) => setTimeout(resolve, THROTTLE_WINDOW_MS - intoWindow + 200))
      }
      const address = `127.33.${tag.length + 50 * tries}.${1 + Math.floor(Math.random() * 250)}`
      const url = (await on()).url
      const window = windowNow()
      for (let i = 0; i < 20; i++) expect((await wrong(url, address)).status).toBe(401)
      counted = { address, window }
    },
    /** r's answer to the 21st: 429 when the pair fell in one window (always on the last try). */
    async check(on) {
      if (shown) return
      const { address, window } = counted as { address: string; window: number }
      const status = (await wrong((await on()).url, address)).status
      tries += 1
      if (windowNow() !== window && tries < 2) return
      expect(status).toBe(429)
      shown = true
    },
  }
}

/**
 * What one release writes and the other reads, `w` and `r` sharing one store (side by side, or in
 * turn: each call may restart, seconds each). The steps run in five lives, w r w r w, each check
 * still written by one release and read by the other; a later life reads what the last one wrote.
 */
async function handOver(on: { w: On; r: On }, tag: string): Promise<void> {
  const w = async (): Promise<string> => (await on.w()).url
  const r = async (): Promise<string> => (await on.r()).url
  const user = `user-${tag}`
  const anon = `anon-${tag}`
  const asAnon = async (): Promise<Record<string, string>> => ({ authorization: `Bearer ${await jwt({ sub: anon, isAnonymous: true })}` })
  const consoleOf = async (g: On): Promise<string> => `${await adminUrlOf(await g())}/console/`
  const throttle = throttleAcross(tag)

  // w: a caller's bearer exchanged for a user, whose dance w starts (r completes it).
  const assertion = await jwt({ sub: user, jti: randomUUID() })
  const exchanged = await exchange(await w(), assertion)
  expect(exchanged.status, exchanged.text).toBe(200)
  const bearer = exchanged.json<{ access_token: string }>().access_token
  // Both releases issue bearers that carry their tag (since 8955743f), and each must take the other's.
  expect(carriesGatewayBearer(bearer), `spelled by the writer (${tag})`).toBe(true)
  const started = await startAcross(on.w, on.w, `user=${user}&app=bot`)
  // One-time links w makes, opened on r (its page and button: r's dance), called back on w: each release
  // reads the other's link and pending request. The user's second; an anonymous user's (their life in
  // clear bound in clearBinding), whose token w stores and r moves to the known user.
  const link = await authorizeLink(await w(), `user=${user}&app=bot`)
  const anonLink = await authorizeLink(await w(), '', await asAnon())
  // A console session signed in on w works on r; signed out on r, w refuses it.
  const signedIn = await adminRequest(`${await consoleOf(on.w)}api/login`, { method: 'POST', origin: new URL(await consoleOf(on.w)).origin, body: { token: CONSOLE_TOKEN } })
  expect(signedIn.status, signedIn.text).toBe(200)
  const cookie = String(signedIn.headers['set-cookie']).split(';')[0] as string
  const csrf = (JSON.parse(signedIn.text) as { csrf: string }).csrf
  const overview = async (g: On): Promise<number> => (await adminRequest(`${await consoleOf(g)}api/overview`, { cookie })).status
  // Last in w's life, first in r's: the fewer seconds between them, the rarer a window boundary.
  await throttle.count(on.w)

  // r: the throttle's check; the user's dance w started completes; the assertion's jti, recorded by w, is a replay.
  await throttle.check(on.r)
  const done = await callBack(started, on.r)
  expect([done.status, done.text.includes('Authorization complete')], done.text).toEqual([200, true])
  const replay = await exchange(await r(), assertion)
  expect([replay.status, replay.text.includes('possibly a replay')], replay.text).toEqual([401, true])
  const linked = await startInBrowser(link, { provider, gateway: await r() })
  const anonStarted = await startInBrowser(anonLink, { provider, gateway: await r() })
  expect(await overview(on.r)).toBe(200)
  const out = await adminRequest(`${await consoleOf(on.r)}api/logout`, { method: 'POST', cookie, origin: new URL(await consoleOf(on.r)).origin, csrf, body: {} })
  expect(out.status, out.text).toBe(200)

  // w: both links' dances called back (the user's token, replacing the one r stored, and the anonymous user's).
  const linkedDone = await callBack(linked, on.w)
  expect([linkedDone.status, linkedDone.text.includes('Authorization complete')], linkedDone.text).toEqual([200, true])
  const anonDone = await callBack(anonStarted, on.w)
  expect([anonDone.status, anonDone.text.includes('Authorization complete')], anonDone.text).toEqual([200, true])
  expect(await overview(on.w)).toBe(401)
  await throttle.count(on.w)

  // r: the user's token w stored signs for the bearer; the anonymous user's token as w stored it (its life in
  // clear bound in clearBinding) signs, and moves to the known user (identityToMerge).
  await throttle.check(on.r)
  const onR = await call(await r(), bearer)
  expect(onR.status, onR.text).toBe(200)
  const asAnonymous = await send(await r(), '/proxy/partner/resource/r', { headers: { 'proxy-authorization': (await asAnon()).authorization as string } })
  expect(asAnonymous.status, asAnonymous.text).toBe(200)
  const merged = await exchange(await r(), await jwt({ sub: `known-${tag}`, identityToMerge: anon, jti: randomUUID() }))
  expect(merged.status, merged.text).toBe(200)

  // w: the same token signs here; the token r moved is used.
  const onW = await call(await w(), bearer)
  expect([onW.status, onW.json<{ token: string }>().token], onW.text).toEqual([200, onR.json<{ token: string }>().token])
  const afterMerge = await call(await w(), merged.json<{ access_token: string }>().access_token)
  expect(afterMerge.status, afterMerge.text).toBe(200)
}

describe('an earlier release and this one on one store', () => {
  describe.each(DIRECTIONS)('Redis, side by side: %s writes, %s reads', (writer, reader) => {
    const prefix = uniqueRedisPrefix()
    afterAll(() => wipeRedisPrefix(prefix))
    it('bearer, jti, dance, user token, identityToMerge, throttle counters and console session cross over', async () => {
      const config = configFor(`redis-${writer}`, { kind: 'redis', url: REDIS_URL, keyPrefix: prefix })
      const [w, r] = await Promise.all([start(writer, config), start(reader, config)])
      await handOver({ w: async () => w, r: async () => r }, `redis-${writer}`)
    }, 240_000)
  })

  describe.each(DIRECTIONS)('SQLite, in turn on one file: %s first, then %s', (first, second) => {
    it('the second reads what the first wrote; the file is marked once this release opened it; the first opens it again', async () => {
      const file = join(dir, `${first}.db`)
      const config = configFor(`sqlite-${first}`, { kind: 'sqlite', file })
      // One process at a time: each step (re)starts the release it needs on the file.
      let live: { release: Release; g: GatewayProcess } | undefined
      const on = (release: Release) => async (): Promise<GatewayProcess> => {
        if (live?.release !== release) {
          if (live) await stop(live.g)
          live = { release, g: await start(release, config) }
        }
        return live.g
      }
      await handOver({ w: on(first), r: on(second) }, `sqlite-${first}`)
      await on(first)()
      const header = (): number[] => {
        const db = new Database(file, { readonly: true })
        try {
          return [Number(db.pragma('application_id', { simple: true })), Number(db.pragma('user_version', { simple: true }))]
        } finally {
          db.close()
        }
      }
      expect(header()).toEqual([0x6d746c73, 1])
      if (live) await stop(live.g)
    }, 240_000)
  })
})

describe('a seal-key rotation ended by this release, the earlier one serving beside it', () => {
  const prefix = uniqueRedisPrefix()
  afterAll(() => wipeRedisPrefix(prefix))
  const k1 = { id: 'k1', key: newSealKey() }
  const k2 = { id: 'k2', key: newSealKey() }
  const rotation = (name: string, sealKeys: { id: string; key: string }[], activeKey: string): string => configFor(name, { kind: 'redis', url: REDIS_URL, keyPrefix: prefix }, { sealKeys, activeKey })

  it('Redis: what this release seals again under k2 (on read, and by store reseal) the earlier one reads, also once k1 is gone', async () => {
    // k1 alone, the earlier release: a user's token, a caller's bearer, a console session.
    let old = await start('previous', rotation('rot-k1', [k1], 'k1'))
    expect((await danceAcross(async () => old, async () => old, 'user=rita&app=bot')).text).toContain('Authorization complete')
    const bearer = (await exchange(old.url, await jwt({ sub: 'rita', jti: randomUUID() }))).json<{ access_token: string }>().access_token
    const admin = async (g: GatewayProcess): Promise<string> => `${await adminUrlOf(g)}/console/`
    const signedIn = await adminRequest(`${await admin(old)}api/login`, { method: 'POST', origin: new URL(await admin(old)).origin, body: { token: CONSOLE_TOKEN } })
    const cookie = String(signedIn.headers['set-cookie']).split(';')[0] as string
    // k2 added, then active (the rotation's two rollouts); both releases side by side.
    await stop(old)
    old = await start('previous', rotation('rot-k1k2', [k1, k2], 'k1'))
    await stop(old)
    const rotated = rotation('rot-k2active', [k1, k2], 'k2')
    const [current, previous] = await Promise.all([start('current', rotated), start('previous', rotated)])
    expect((await call(current.url, bearer)).status).toBe(200)
    const done = await promisify(execFile)(process.execPath, [mainOf('current'), 'store', 'reseal', '--config', rotated], { encoding: 'utf8', timeout: 120_000 })
    expect(done.stdout).toContain('Left under other keys: none.')
    for (const g of [previous, current]) {
      expect((await call(g.url, bearer)).status, g.url).toBe(200)
      expect((await adminRequest(`${await admin(g)}api/overview`, { cookie })).status).toBe(200)
    }
    // A rollback (or the earlier release started anew) once k1 is gone reads them all.
    await Promise.all([stop(current), stop(previous)])
    const back = await start('previous', rotation('rot-k2', [k2], 'k2'))
    expect((await call(back.url, bearer)).status).toBe(200)
    expect((await adminRequest(`${await admin(back)}api/overview`, { cookie })).status).toBe(200)
    await stop(back)
  }, 240_000)
})
