/**
 * fillProfileUrl, the one place every profile URL of the dance is filled (token URLs, the
 * provider's authorize URL, a templated callback), judged as a proxied request's outbound URL
 * (callers' judgeOutboundUrl): for generated templates (the tenant in the host and the path, the
 * user and fields in the path, the query and the fragment) and generated values (any text, and
 * gateway bearers in any case set off by any delimiter or joined by "-"/"_"), a filled URL is
 * either refused with a 400 or stays on the template's origin with the tenant alone placed in it
 * and holds no bearer, as written or percent-decoded, in any case; a value holding a bearer is
 * always refused. Before, a bearer placed as the user or a field was filled in and sent. Nothing
 * is dialled: the function only fills.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { newBearerToken } from '../../src/callers/bearer-shape.js'
import { carriesGatewayBearer } from '../../src/callers/index.js'
import type { ProfileConfig } from '../../src/config/index.js'
import { GatewayError, statusOf } from '../../src/errors.js'
import { compileProfiles, fillProfileUrl, type DanceScope } from '../../src/gateway/index.js'

const BEARERS = Array.from({ length: 6 }, () => newBearerToken())
const HOSTS = ['https://{tenant}.idp.test', 'https://idp.test:8443', 'http://{tenant}-x.idp.test:8080']
const PATHS = ['/rt', '/t/{tenant}/rt', '/u/{{user}}/rt', '/f/{{fields.org}}/x-{{user}}', '/{{user}}']
const QUERIES = ['', '?u={{user}}', '?org={{fields.org}}&u=v-{{user}}', '?a=1&t={tenant}']
const FRAGMENTS = ['', '#{{user}}']

const casing = fc.constantFrom((s: string) => s, (s: string) => s.toLowerCase(), (s: string) => s.toUpperCase())
// Characters outside base64url set a bearer off; "-" and "_" join it to a longer run.
const DELIMITERS = ['', ' ', '/', '.', '%', '?', '#', '&', '=', '@', ':', '..', '%2F', '-', '_', '\\', '+', '~']
const bearerValue = fc.record({ i: fc.nat(BEARERS.length - 1), casing, before: fc.constantFrom(...DELIMITERS, 'a-', 'x_'), after: fc.constantFrom(...DELIMITERS, '-b', '_x') }).map(({ i, casing: c, before, after }) => ({ value: `${before}${c(BEARERS[i] as string)}${after}`, bearer: true }))
const anyValue = fc.oneof(fc.string({ maxLength: 12 }), fc.string({ unit: 'binary', maxLength: 8 }), fc.constantFrom('..', '.', '//evil.test', '@evil.test', 'a:1', '%2e%2e', 'évil')).map((value) => ({ value, bearer: false }))
const value = fc.oneof(bearerValue, anyValue, anyValue)
const tenant = fc.oneof(fc.constantFrom('acme', 'a-1', 'x').map((v) => ({ value: v, bearer: false })), bearerValue.map((b) => ({ ...b, value: b.value.toLowerCase() })), anyValue)

const base: Omit<ProfileConfig, 'requestTokenUrl'> = {
  name: 'p', index: 0, consumerKey: 'ck', consumerSecret: 'cs', signatureMethod: 'HMAC-SHA1', tenancy: true, version: true, bodyHash: false,
  placement: 'header', legacyOAuth10: false, tokenUrlsOnEndpointServer: false, tokenUrlEndpoints: [], token: { mode: 'per_user' }, additionalFields: {}, userFields: ['org'], fields: [],
}

/** The template's origin with the tenant alone placed: what the config allows. */
const configuredOrigin = (host: string, t: string): string => new URL(host.replace('{tenant}', t)).origin

describe('fillProfileUrl: the outbound check of a proxied request', () => {
  it('a filled URL is refused, or stays on the configured origin and holds no bearer; a bearer in a value is refused (5,000 runs)', () => {
    const profiles = new Map(HOSTS.flatMap((h) => PATHS.flatMap((p) => QUERIES.flatMap((q) => FRAGMENTS.map((f) => h + p + q + f)))).map((url) => [url, compileProfiles([{ ...base, requestTokenUrl: url }]).profiles.get('p')!]))
    const templates = [...profiles.keys()]
    fc.assert(
      fc.property(fc.constantFrom(...templates), tenant, value, value, (template, t, user, org) => {
        const scope: DanceScope = { tenant: t.value, user: user.value, fields: { org: org.value } }
        const profile = profiles.get(template)!
        let filled: { url: string } | undefined
        try {
          filled = fillProfileUrl(profile, 'requestTokenUrl', scope)
        } catch (err) {
          expect(err).toBeInstanceOf(GatewayError)
          expect(statusOf((err as GatewayError).reason, 'api'), (err as Error).message).toBe(400)
          return
        }
        const url = filled!.url
        const placed = [...(template.includes('{tenant}') ? [t] : []), ...(template.includes('{{user}}') ? [user] : []), ...(template.includes('{{fields.org}}') ? [org] : [])]
        expect(placed.some((v) => v.bearer), `a bearer was filled into ${url}`).toBe(false)
        expect(new URL(url).origin).toBe(configuredOrigin(template, t.value))
        const decoded = decodeURIComponentLoose(url)
        for (const b of BEARERS) expect(`${url}\n${decoded}`.toLowerCase()).not.toContain(b.toLowerCase())
        expect(carriesGatewayBearer(url) || carriesGatewayBearer(decoded)).toBe(false)
      }),
      { seed: 0xf111ed, numRuns: 5_000 },
    )
  }, 120_000)

  it('the refusal is credential_in_target and never repeats the bearer', () => {
    const profile = compileProfiles([{ ...base, tenancy: false, requestTokenUrl: 'https://idp.test/rt?u={{user}}' }]).profiles.get('p')!
    const bearer = BEARERS[0] as string
    for (const user of [bearer, bearer.toUpperCase(), `me/${bearer.toLowerCase()}.x`]) {
      const err = (() => {
        try {
          fillProfileUrl(profile, 'requestTokenUrl', { user })
        } catch (e) {
          return e as GatewayError
        }
        throw new Error('expected a refusal')
      })()
      expect([err.reason, err.message.toLowerCase().includes(bearer.toLowerCase())]).toEqual(['credential_in_target', false])
    }
    expect(fillProfileUrl(profile, 'requestTokenUrl', { user: 'alice' })?.url).toBe('https://idp.test/rt?u=alice')
  })
})

/** Percent-decoded once, each escape a Latin-1 byte (never throws). */
function decodeURIComponentLoose(text: string): string {
  return text.replace(/%([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)))
}
