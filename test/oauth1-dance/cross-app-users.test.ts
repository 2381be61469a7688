/**
 * A user's stored OAuth token belongs to the user space of the app that asserted the user
 * (review rev-a F1; RFC 7519 §4.1.2: a `sub` is scoped to its issuer). App "partnerbot" runs
 * alice's dance; app "otherbot" (another registered caller, allowed the same endpoint)
 * asserting the same `sub` is not signed with alice's token, cannot replace it with a dance of
 * its own, and cannot merge partnerbot's anonymous user's token into one of its users. App
 * "sharebot", configured with partnerbot's userSpace, shares partnerbot's users. Callers
 * without an app (callers.required: false, X-Gateway-User) have a user space of their own.
 * Operator routes name the app: app= for links, and a revoke without it cuts the user id off
 * in every space. On SQLite (in process) and on Redis (two replicas).
 */
import { randomUUID } from 'node:crypto'
import { SignJWT, type JWTPayload } from 'jose'
import { describe, expect, it } from 'vitest'
import { send } from '../support/gateway.js'
import { useTopology, type TopologyKind } from '../support/topology.js'
import { ADMIN, ADMIN_TOKEN, authorizeLink, authorizeUser, finishInBrowser, gatewayYaml, startInBrowser } from './dance-support.js'
import { useDanceProvider } from './dance-gateway.js'

const AUD = 'https://gateway.test'
const SECRETS = {
  partnerbot: 'app-a-hs256-secret-of-at-least-32-bytes!',
  otherbot: 'app-b-hs256-secret-of-at-least-32-bytes!',
  sharebot: 'app-c-hs256-secret-of-at-least-32-bytes!',
} as const
type App = keyof typeof SECRETS
const fx = useDanceProvider()

function jwt(app: App, claims: JWTPayload): Promise<string> {
  const now = Math.floor(Date.now() / 1000)
  return new SignJWT({ iss: app, aud: AUD, iat: now, exp: now + 300, ...claims }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(SECRETS[app]))
}

const app = (id: App, extra = ''): string => `    - clientId: ${id}\n      hs256Secret: "${SECRETS[id]}"\n      audience: ${AUD}\n      endpoints: [partner]\n${extra}`
// required: false, so a caller without credentials (X-Gateway-User) is admitted, as callers without an app.
const CALLERS = `callers:\n  required: false\n  adminToken: ${ADMIN_TOKEN}\n  apps:\n${app('partnerbot')}${app('otherbot')}${app('sharebot', '      userSpace: partnerbot\n')}`.trimEnd()

const KINDS: readonly TopologyKind[] = ['in-process', 'replicas']

describe.each(KINDS)('per-user OAuth tokens across caller apps (%s)', (kind) => {
  const { gw, topo } = useTopology(kind, 'cross-app', (store) => gatewayYaml({ pki: fx.pki, provider: fx.provider, store, callers: CALLERS }))
  const call = (headers: Record<string, string>): ReturnType<typeof send> => send(gw.url, '/proxy/partner/resource/a', { headers })
  const as = async (a: App, claims: JWTPayload): Promise<Record<string, string>> => ({ 'proxy-authorization': `Bearer ${await jwt(a, claims)}` })
  const tokenOf = async (headers: Record<string, string>): Promise<string> => {
    const r = await call(headers)
    expect(r.status, r.text).toBe(200)
    return r.json<{ token: string }>().token
  }
  const authorizeFor = async (a: App, sub: string): Promise<string> => {
    const headers = { authorization: `Bearer ${await jwt(a, { sub })}` }
    await authorizeUser(gw.url, fx.provider, '', headers)
    return tokenOf(await as(a, { sub }))
  }

  it('another app asserting the same sub gets 401 with its own authorize link, not the first app\'s user\'s token', async () => {
    const alices = await authorizeFor('partnerbot', 'alice')
    const stolen = await call(await as('otherbot', { sub: 'alice' }))
    expect(stolen.status, stolen.text).toBe(401)
    const link = stolen.json<{ errors: { authorizeUrl: string }[] }>().errors[0]?.authorizeUrl ?? ''
    expect(topo().urls.some((u) => link.startsWith(`${u}/gateway/oauth1/partner/authorize?link=`))).toBe(true)
    // That link is otherbot's alice's: its dance gives otherbot a token of its own, and partnerbot keeps hers.
    const { done } = await finishInBrowser(await startInBrowser(link, { provider: fx.provider, gateway: () => gw.url }), { provider: fx.provider, gateway: () => gw.url })
    expect(done.status, done.text).toBe(200)
    const others = await tokenOf(await as('otherbot', { sub: 'alice' }))
    expect(others).not.toBe(alices)
    expect(await tokenOf(await as('partnerbot', { sub: 'alice' }))).toBe(alices)
    // A caller without an app naming alice is neither app's alice.
    expect((await call({ 'x-gateway-user': 'alice' })).status).toBe(401)
  })

  it('another app asserting the same sub cannot replace the first app\'s user\'s token with one of its own dance', async () => {
    const bobs = await authorizeFor('partnerbot', 'bob')
    const impostor = { authorization: `Bearer ${await jwt('otherbot', { sub: 'bob' })}` }
    const { done } = await finishInBrowser(await startInBrowser(await authorizeLink(gw.url, '', impostor), { provider: fx.provider, gateway: () => gw.url }), { provider: fx.provider, gateway: () => gw.url })
    expect(done.status, done.text).toBe(200)
    expect(await tokenOf(await as('partnerbot', { sub: 'bob' }))).toBe(bobs)
    expect(await tokenOf(await as('otherbot', { sub: 'bob' }))).not.toBe(bobs)
  })

  it('another app cannot merge the first app\'s anonymous user\'s token into its own user; an app of the same space can', async () => {
    const anon = { sub: 'guest-77', isAnonymous: true }
    await authorizeUser(gw.url, fx.provider, '', { authorization: `Bearer ${await jwt('partnerbot', anon)}` })
    const anonToken = await tokenOf(await as('partnerbot', anon))
    // otherbot's anonymous guest-77 is someone else.
    expect((await call(await as('otherbot', anon))).status).toBe(401)
    const exchange = async (a: App, claims: JWTPayload): Promise<Record<string, string>> => {
      const r = await send(gw.url, '/gateway/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ assertion: await jwt(a, { ...claims, jti: randomUUID() }) }) })
      expect(r.status, r.text).toBe(200)
      return { 'proxy-authorization': `Bearer ${r.json<{ access_token: string }>().access_token}` }
    }
    const mallory = await exchange('otherbot', { sub: 'mallory', identityToMerge: 'guest-77' })
    expect((await call(mallory)).status).toBe(401)
    // Still partnerbot's anonymous user's, until sharebot (partnerbot's user space) merges it.
    expect(await tokenOf(await as('partnerbot', anon))).toBe(anonToken)
    const carol = await exchange('sharebot', { sub: 'carol', identityToMerge: 'guest-77' })
    expect(await tokenOf(carol)).toBe(anonToken)
    expect(await tokenOf(await as('partnerbot', { sub: 'carol' }))).toBe(anonToken)
  })

  it('apps with the same userSpace share a user\'s token both ways', async () => {
    const dans = await authorizeFor('partnerbot', 'dan')
    expect(await tokenOf(await as('sharebot', { sub: 'dan' }))).toBe(dans)
    const eves = await authorizeFor('sharebot', 'eve')
    expect(await tokenOf(await as('partnerbot', { sub: 'eve' }))).toBe(eves)
    expect((await call(await as('otherbot', { sub: 'eve' }))).status).toBe(401)
  })

  it('an operator\'s authorize link names the app: app= missing or unknown is 400; app=<clientId> is that app\'s user\'s', async () => {
    const missing = await send(gw.url, '/gateway/oauth1/partner/authorize?user=fred&format=json', { headers: ADMIN })
    expect(missing.status, missing.text).toBe(400)
    expect(missing.json<{ errors: { msg: string }[] }>().errors[0]?.msg).toMatch(/^name the caller app whose user this is: app=<clientId>/)
    const unknown = await send(gw.url, '/gateway/oauth1/partner/authorize?user=fred&app=nobot&format=json', { headers: ADMIN })
    expect(unknown.status, unknown.text).toBe(400)
    expect(unknown.json<{ errors: { msg: string }[] }>().errors[0]?.msg).toBe('app=: no caller app has the client id "nobot" (callers.apps[].clientId)')
    await authorizeUser(gw.url, fx.provider, 'user=fred&app=otherbot')
    const freds = await tokenOf(await as('otherbot', { sub: 'fred' }))
    expect((await call(await as('partnerbot', { sub: 'fred' }))).status).toBe(401)
    expect((await call({ 'x-gateway-user': 'fred' })).status).toBe(401)
    // app= with no value: the callers without an app.
    await authorizeUser(gw.url, fx.provider, 'user=fred&app=')
    expect(await tokenOf({ 'x-gateway-user': 'fred' })).not.toBe(freds)
  })

  it('an operator\'s revoke with app= removes that app\'s user\'s token only; without it, the user id\'s in every space', async () => {
    await authorizeFor('partnerbot', 'gil')
    const others = await authorizeFor('otherbot', 'gil')
    await authorizeUser(gw.url, fx.provider, 'user=gil&app=')
    // And otherbot's anonymous gil, another user again (a key of its own).
    const anonGil = { sub: 'gil', isAnonymous: true }
    await authorizeUser(gw.url, fx.provider, '', { authorization: `Bearer ${await jwt('otherbot', anonGil)}` })
    expect((await call(await as('otherbot', anonGil))).status).toBe(200)
    const revoke = (query: string): ReturnType<typeof send> => send(gw.url, `/gateway/oauth1/partner/tokens/gil${query}`, { method: 'DELETE', headers: ADMIN })
    const unknown = await revoke('?app=nobot')
    expect(unknown.status, unknown.text).toBe(400)
    expect((await revoke('?app=sharebot')).status).toBe(200)
    // sharebot's space is partnerbot's: partnerbot's gil is gone, otherbot's and the app-less one stay.
    expect((await call(await as('partnerbot', { sub: 'gil' }))).status).toBe(401)
    expect(await tokenOf(await as('otherbot', { sub: 'gil' }))).toBe(others)
    expect((await call({ 'x-gateway-user': 'gil' })).status).toBe(200)
    expect((await revoke('?app=partnerbot')).status).toBe(404)
    expect((await revoke('')).status).toBe(200)
    expect((await call(await as('otherbot', { sub: 'gil' }))).status).toBe(401)
    expect((await call({ 'x-gateway-user': 'gil' })).status).toBe(401)
    expect((await call(await as('otherbot', anonGil))).status).toBe(401)
    expect((await revoke('')).status).toBe(404)
  })
})
