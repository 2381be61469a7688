/**
 * Anonymous users (caller JWT with isAnonymous: true): their request and access tokens are
 * in the shared store (so any worker or replica serves them), under keys of their own, with
 * callers.anonymousTtl as their expiry; a later assertion with identityToMerge moves them to
 * the known user, who keeps them without expiry. A merge moves nothing else: not a known
 * user's token (whoever names it), not over a token the known user holds, not a profile the
 * app may not use; an anonymous id never reads the known user of the same id (and merging
 * that anonymous id into that known id moves the tokens, as for any two ids). Run against
 * every topology (in-process, --workers 2, two replicas on Redis with requests alternating).
 * Also: a caller may start the dance only for its own user.
 */
import { randomUUID } from 'node:crypto'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import type { JWTPayload } from 'jose'
import { describe, expect, it } from 'vitest'
import { send } from '../support/gateway.js'
import { TOPOLOGIES, useTopology } from '../support/topology.js'
import { ADMIN_TOKEN, authorizeLink, authorizeUser, finishInBrowser, gatewayYaml, rawValues, startInBrowser } from './dance-support.js'
import { botJwt, useDanceProvider } from './dance-gateway.js'

const SECRET = 'anonymous-test-hs256-secret-of-32-bytes!'
const AUD = 'https://gateway.test'
const fx = useDanceProvider()

// Each app its own secret: apps sharing one would be refused (either could sign as the other).
const jwt = (claims: JWTPayload): Promise<string> => botJwt(claims.iss === 'other' ? `${SECRET}-other` : SECRET, claims)

const CALLERS = `callers:\n  required: true\n  anonymousTtl: 20m\n  adminToken: ${ADMIN_TOKEN}\n  apps:\n    - clientId: bot\n      hs256Secret: "${SECRET}"\n      audience: ${AUD}\n      endpoints: ["*"]\n    - clientId: other\n      hs256Secret: "${SECRET}-other"\n      audience: ${AUD}\n      endpoints: []`

const TTL_MS = 20 * 60_000

describe.each(TOPOLOGIES)('anonymous users and identityToMerge (%s)', (kind) => {
  const { gw, topo, dir } = useTopology(kind, 'dance-anon', (store) => gatewayYaml({ pki: fx.pki, provider: fx.provider, store, callers: CALLERS }))

  const oauthKeys = async (): Promise<string[]> => (await rawValues(topo().store)).map((r) => r.key).filter((k) => k.startsWith('oauth1:'))

  /** Milliseconds until `key` expires (null: never); read from the SQLite file, undefined on Redis. */
  function expiresIn(key: string): number | null | undefined {
    if (kind === 'replicas') return undefined
    const db = new Database(join(dir(), 'state.db'), { readonly: true })
    try {
      const row = db.prepare('SELECT expires_at FROM store_entries WHERE key = ?').get(key) as { expires_at: number | null }
      return row.expires_at === null ? null : row.expires_at - Date.now()
    } finally {
      db.close()
    }
  }
  /** Checks an expiry where the test can read it (SQLite); Redis's TTLs are the store contract's. */
  const expectExpiry = (key: string, check: (ms: number | null) => void): void => {
    const ms = expiresIn(key)
    if (ms !== undefined) check(ms)
  }

  it('an anonymous user\'s dance is stored with the anonymous TTL; the merge moves the token to the known user', async () => {
    const anon = await jwt({ sub: 'anon-42', isAnonymous: true })
    const link = await authorizeLink(gw.url, '', { authorization: `Bearer ${anon}` })
    const started = await startInBrowser(link, { provider: fx.provider, gateway: () => gw.url })
    expect(started.page.text).toContain('guest session <b id="holder-user">anon-42</b>')
    const pending = (await oauthKeys()).find((k) => k.startsWith('oauth1:request:')) ?? ''
    expect(pending).not.toBe('')
    // The request token waits at most the dance's 10 minutes, within the anonymous TTL.
    expectExpiry(pending, (ms) => expect(ms).toBeGreaterThan(0))
    expectExpiry(pending, (ms) => expect(ms).toBeLessThanOrEqual(10 * 60_000))

    const { done } = await finishInBrowser(started, { provider: fx.provider, gateway: () => gw.url })
    expect(done.status, done.text).toBe(200)
    expect(await oauthKeys()).toContain('oauth1:anon:bot/anon-42:partner:')
    expectExpiry('oauth1:anon:bot/anon-42:partner:', (ms) => expect(ms).toBeGreaterThan(TTL_MS - 60_000))
    expectExpiry('oauth1:anon:bot/anon-42:partner:', (ms) => expect(ms).toBeLessThanOrEqual(TTL_MS))

    const call = await send(gw.url, '/proxy/partner/resource/a', { headers: { 'proxy-authorization': `Bearer ${anon}` } })
    expect(call.status, call.text).toBe(200)
    const token = call.json<{ token: string }>().token

    // An anonymous user's bearer works on every worker and replica, not only the issuing one.
    const anonBearer = await send(gw.url, '/gateway/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ assertion: await jwt({ sub: 'anon-42', isAnonymous: true, jti: randomUUID() }) }) })
    expect(anonBearer.status, anonBearer.text).toBe(200)
    for (const path of ['/proxy/partner/resource/c', '/proxy/partner/resource/d', '/proxy/partner/resource/e']) {
      const r = await send(gw.url, path, { headers: { 'proxy-authorization': `Bearer ${anonBearer.json<{ access_token: string }>().access_token}` } })
      expect([path, r.status, r.json<{ token: string }>().token]).toEqual([path, 200, token])
    }

    const merge = await send(gw.url, '/gateway/token', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ assertion: await jwt({ sub: 'known-7', identityToMerge: 'anon-42', jti: randomUUID() }) }),
    })
    expect(merge.status, merge.text).toBe(200)
    expect(await oauthKeys()).not.toContain('oauth1:anon:bot/anon-42:partner:')
    expect(await oauthKeys()).toContain('oauth1:token:bot/known-7:partner:')
    expectExpiry('oauth1:token:bot/known-7:partner:', (ms) => expect(ms).toBeNull())

    const bearer = merge.json<{ access_token: string }>().access_token
    const after = await send(gw.url, '/proxy/partner/resource/b', { headers: { 'proxy-authorization': `Bearer ${bearer}` } })
    expect(after.status, after.text).toBe(200)
    expect(after.json<{ token: string }>().token).toBe(token)
  })

  /** The user's dance, approved; returns the access token the provider issued. */
  async function authorized(claims: JWTPayload): Promise<string> {
    await authorizeUser(gw.url, fx.provider, '', { authorization: `Bearer ${await jwt(claims)}` })
    return (await call(claims)).token
  }
  async function call(claims: JWTPayload): Promise<{ status: number; token: string }> {
    const r = await send(gw.url, '/proxy/partner/resource/m', { headers: { 'proxy-authorization': `Bearer ${await jwt(claims)}` } })
    return { status: r.status, token: r.status === 200 ? r.json<{ token: string }>().token : '' }
  }
  const merge = async (sub: string, identityToMerge: string, iss = 'bot'): Promise<void> => {
    const r = await send(gw.url, '/gateway/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ assertion: await jwt({ iss, sub, identityToMerge, jti: randomUUID() }) }) })
    expect(r.status, r.text).toBe(200)
  }

  it('a merge moves only an anonymous user\'s tokens: a known user\'s stay theirs, a held token is not replaced, an anonymous id reads no known user\'s token', async () => {
    const alices = await authorized({ sub: 'alice' })
    // Naming a known user as identityToMerge takes nothing from them.
    await merge('mallory', 'alice')
    expect(await call({ sub: 'alice' })).toEqual({ status: 200, token: alices })
    expect((await call({ sub: 'mallory' })).status).toBe(401)
    expect(await oauthKeys()).not.toContain('oauth1:token:bot/mallory:partner:')
    // The same id asserted as anonymous is another user: alice's token is not theirs.
    expect((await call({ sub: 'alice', isAnonymous: true })).status).toBe(401)
    // An anonymous session merged into alice does not replace the token she holds; it is dropped.
    const anons = await authorized({ sub: 'anon-9', isAnonymous: true })
    expect(anons).not.toBe(alices)
    await merge('alice', 'anon-9')
    expect(await call({ sub: 'alice' })).toEqual({ status: 200, token: alices })
    expect(await oauthKeys()).not.toContain('oauth1:anon:bot/anon-9:partner:')
  })

  it('a merge moves only the profiles of endpoints the asserting app may use', async () => {
    const anons = await authorized({ sub: 'anon-11', isAnonymous: true })
    // "other" may use no endpoint with this profile: its merge leaves the anonymous token where it is.
    await merge('known-11', 'anon-11', 'other')
    expect(await oauthKeys()).toContain('oauth1:anon:bot/anon-11:partner:')
    // Nowhere: neither in bot's user space nor in other's (whose users bot's anonymous user is not).
    expect((await oauthKeys()).filter((k) => k.startsWith('oauth1:token:') && k.includes('/known-11:'))).toEqual([])
    await merge('known-11', 'anon-11')
    expect(await call({ sub: 'known-11' })).toEqual({ status: 200, token: anons })
  })

  it('identityToMerge equal to sub moves the anonymous user of that id to the known user of that id (they are two users)', async () => {
    const anons = await authorized({ sub: 'same-5', isAnonymous: true })
    expect((await call({ sub: 'same-5' })).status).toBe(401)
    await merge('same-5', 'same-5')
    expect(await call({ sub: 'same-5' })).toEqual({ status: 200, token: anons })
    expect(await oauthKeys()).not.toContain('oauth1:anon:bot/same-5:partner:')
  })

  it('a caller may start the dance for its own user only; no credential is 401', async () => {
    const own = await jwt({ sub: 'hal' })
    const other = await send(gw.url, '/gateway/oauth1/partner/authorize?user=ivy&format=json', { headers: { authorization: `Bearer ${own}` } })
    expect(other.status).toBe(403)
    expect((await send(gw.url, '/gateway/oauth1/partner/authorize?user=ivy&format=json')).status).toBe(401)
    const bad = await send(gw.url, '/gateway/oauth1/partner/authorize?user=ivy&format=json', { headers: { authorization: 'Bearer x.y.z' } })
    expect(bad.status).toBe(401)
  })
})
