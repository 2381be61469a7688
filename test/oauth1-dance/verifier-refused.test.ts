/**
 * A callback whose approval the provider refuses at the access-token exchange (a made-up
 * `oauth_verifier`, as anyone holding a link can send): the python3-oauthlib provider answers
 * 4xx, and the browser gets a 403 `oauth_authorization_refused` page naming the provider's
 * status, never the verifier or the tokens; the pending dance is used up (the real verifier
 * cannot redeem it afterwards), and a new link completes. A provider that is down at the
 * callback is still the 502 an operator must see. In this process and with `--workers 2`.
 */
import { createHash } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { isGatewayError } from '../../src/errors.js'
import { parseAccessTokenReply } from '../../src/dance/token-reply.js'
import type { Profile } from '../../src/gateway/index.js'
import { send } from '../support/gateway.js'
import { useTopology } from '../support/topology.js'
import { authorizeLink, cookieFor, CONSUMER, danceInBrowser, gatewayYaml, pathOf, rawValues, setCookiesOf, startInBrowser } from './dance-support.js'
import { useDanceProvider } from './dance-gateway.js'

const asUser = (user: string): Record<string, string> => ({ 'x-gateway-user': user })
const pendingKey = (requestToken: string): string => `oauth1:request:${createHash('sha256').update(requestToken).digest('base64url')}`
const MADE_UP = 'madeupverifier0123456789'

/** `callbackUrl` with its oauth_verifier replaced by `verifier`. */
function withVerifier(callbackUrl: string, verifier: string): string {
  const u = new URL(callbackUrl)
  u.searchParams.set('oauth_verifier', verifier)
  return pathOf(u.toString())
}

describe.each(['in-process', 'workers'] as const)('the provider refuses the approval at the callback (%s)', (kind) => {
  // Each topology's own provider: the last test stops it.
  const fx = useDanceProvider()
  const { gw, topo } = useTopology(kind, 'verifier-refused', (store) => gatewayYaml({ pki: fx.pki, provider: fx.provider, store }))

  it('a made-up verifier: a 403 page with the provider\'s status, the dance used up, a new link completes', async () => {
    const started = await startInBrowser(await authorizeLink(gw.url, 'user=mallory'), { provider: fx.provider, gateway: () => gw.url })
    const callbackUrl = await fx.provider.decide(started.requestToken, 'approve')
    const realVerifier = new URL(callbackUrl).searchParams.get('oauth_verifier') as string
    const cookie = cookieFor(started.cookie, callbackUrl)
    const page = await send(gw.url, withVerifier(callbackUrl, MADE_UP), { headers: cookie })
    expect(page.status, page.text).toBe(403)
    expect(page.headers['content-type']).toMatch(/^text\/html/)
    expect(page.text).toContain('Authorization failed')
    expect(page.text).toMatch(/Partner Bank refused this authorization \(its access-token request answered HTTP 4\d\d\)/)
    expect(page.text).toContain('<code>403</code>')
    expect(page.text).toContain('Ask for a new authorization link')
    for (const secret of [MADE_UP, realVerifier, started.requestToken, started.cookie.value, CONSUMER.secret]) expect(page.text).not.toContain(secret)
    const calls = (await fx.provider.state()).token_calls.filter((c) => c.endpoint === 'access_token')
    expect(calls.at(-1)?.status).toBeGreaterThanOrEqual(400)
    expect(calls.at(-1)?.status).toBeLessThan(500)
    // The cookie is cleared and the pending dance is gone: the real verifier cannot redeem it now.
    expect(setCookiesOf(page).find((c) => c.name === started.cookie.name)?.attributes['max-age']).toBe('0')
    expect((await rawValues(topo().store)).map((r) => r.key)).not.toContain(pendingKey(started.requestToken))
    const late = await send(gw.url, pathOf(callbackUrl), { headers: cookie })
    expect(late.status).toBe(400)
    expect(late.text).toContain('unknown, expired or already completed')
    expect((await send(gw.url, '/proxy/partner/resource/x', { headers: asUser('mallory') })).status).toBe(401)
    // Starting again works.
    const again = await danceInBrowser(await authorizeLink(gw.url, 'user=mallory'), { provider: fx.provider, gateway: () => gw.url })
    expect(again.done.status, again.done.text).toBe(200)
    expect((await send(gw.url, '/proxy/partner/resource/x', { headers: asUser('mallory') })).status).toBe(200)
  })

  it('the provider down at the callback is still a 502 page', async () => {
    const started = await startInBrowser(await authorizeLink(gw.url, 'user=paula'), { provider: fx.provider, gateway: () => gw.url })
    const callbackUrl = await fx.provider.decide(started.requestToken, 'approve')
    await fx.provider.close()
    const page = await send(gw.url, pathOf(callbackUrl), { headers: cookieFor(started.cookie, callbackUrl) })
    expect(page.status, page.text).toBe(502)
    expect(page.text).toContain('Partner Bank did not issue an access token')
  })
})

describe('parseAccessTokenReply (seeded property)', () => {
  const profile = { name: 'p', config: { legacyOAuth10: false } } as unknown as Profile
  it('a 4xx but 408 and 429 refuses the approval, naming only the status; every other failure stays oauth_provider_failed', () => {
    const body = fc.oneof(fc.constant('oauth_token=t0k&oauth_token_secret=s3c'), fc.string({ maxLength: 40 }).map((t) => `oauth_problem=${encodeURIComponent(t)}&oauth_token_secret=leaked-secret`))
    fc.assert(
      fc.property(fc.integer({ min: 100, max: 599 }), body, (status, text) => {
        let outcome: unknown
        try {
          outcome = parseAccessTokenReply(profile, { method: 'POST', url: 'https://p.test/at', endpoint: 'p', status, headers: {}, body: text, whole: true, utf8: true })
        } catch (err) {
          outcome = err
        }
        const refuses = status >= 400 && status < 500 && status !== 408 && status !== 429
        if (refuses) {
          expect(isGatewayError(outcome) && outcome.reason).toBe('oauth_authorization_refused')
          expect(isGatewayError(outcome) && outcome.callerMessage).toBe(`its access-token request answered HTTP ${status}`)
          expect(isGatewayError(outcome) && outcome.message).not.toContain('leaked-secret')
        } else if (status >= 200 && status < 300 && text.startsWith('oauth_token=')) expect(outcome).toEqual({ token: 't0k', secret: 's3c' })
        else expect(isGatewayError(outcome) && outcome.reason).toBe('oauth_provider_failed')
      }),
      { seed: 0x40a, numRuns: 400 },
    )
  })
})
