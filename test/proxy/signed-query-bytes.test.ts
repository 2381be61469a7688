/**
 * An endpoint signed with OAuth 1.0a and the caller's query: the gateway signs the query exactly
 * as it sends it, and two verifiers nobody here wrote (python3-oauthlib and PHP's classic
 * OAuth.php reading with PHP's own urldecode) both verify the signature; or the query is refused
 * with 400 before signing, because its octets read differently to them (`%E9` was signed as U+FFFD:
 * oauthlib agreed, PHP did not; a raw "[" was signed, and oauthlib refuses such a query). Seeded
 * property over every visible ASCII character, escapes of any octet and UTF-8 escapes; each refusal
 * is checked to be needed (the request signed anyway fails one of the verifiers).
 */
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { GatewayError, STATUS } from '../../src/errors.js'
import { compileDestination, type Endpoint } from '../../src/gateway/index.js'
import { createSigner, PLACEMENTS, type Placement } from '../../src/oauth1/index.js'
import { destinationPathAndQuery, OutboundRequest } from '../../src/proxy/outbound-request.js'
import type { Admitted, OutboundHeaders } from '../../src/proxy/pipeline.js'
import { createSignOAuth1 } from '../../src/proxy/steps/sign-oauth1.js'
import { buildUpstreamTarget, type UpstreamTarget } from '../../src/proxy/upstream-target.js'
import { oauthlibVerifier, phpVerifier, type Verdict, type Verifier } from '../support/oauth1-verifiers.js'

const CONSUMER = { key: 'gatewayconsumerkey0001', secret: 'kd94hf93k423kf44-consumer_secret.~' }
const ORIGIN = 'https://api.partner.test'

let oauthlib: Verifier
let php: Verifier | undefined

beforeAll(() => {
  oauthlib = oauthlibVerifier()
  php = phpVerifier()
})

afterAll(() => {
  oauthlib?.close()
  php?.close()
})

interface Signing { ctx: Admitted; target: UpstreamTarget }

function admitted(placement: Placement, query: string): Signing {
  const signer = createSigner({ consumerKey: CONSUMER.key, consumerSecret: CONSUMER.secret, signatureMethod: 'HMAC-SHA1', placement })
  const profile = { name: 'p', config: { signatureMethod: 'HMAC-SHA1', placement }, signer }
  const endpoint = { name: 'ep', url: ORIGIN, config: {}, fields: [], destination: compileDestination(ORIGIN, undefined), profile } as unknown as Endpoint
  const target = buildUpstreamTarget(endpoint, undefined, '/y', query, 'append')
  let bytes: Buffer = Buffer.alloc(0)
  const body = { present: true, get buffered() { return bytes }, stream: undefined, bytes: async () => bytes, replace: (b: Buffer) => { bytes = b } }
  // POST with an empty form: every placement fits, body placement included.
  const headers: OutboundHeaders = { 'content-type': 'application/x-www-form-urlencoded' }
  const outbound = new OutboundRequest('POST', headers, body as unknown as Admitted['outbound']['body'])
  outbound.routeTo(target)
  const ctx = { endpoint, target, caller: { appId: 'bot', claims: {} }, auth: {}, outbound } as unknown as Admitted
  return { ctx, target }
}

/** The step's refusal, or undefined once it signed. */
const sign = (ctx: Admitted): Promise<GatewayError | undefined> =>
  Promise.resolve().then(() => createSignOAuth1().run(ctx)).then(() => undefined, (err: unknown) => (err instanceof GatewayError ? err : Promise.reject(err)))

/** Each verifier's verdict on the request exactly as the gateway would send it. */
async function verdicts({ ctx, target }: Signing): Promise<{ oauthlib: Verdict; php?: Verdict }> {
  const headers: Record<string, string> = {}
  for (const [k, v] of Object.entries(ctx.outbound.headers)) if (typeof v === 'string') headers[k] = v
  const body = await ctx.outbound.body.bytes()
  const msg = { uri: ORIGIN + destinationPathAndQuery(target, ctx.outbound), method: ctx.outbound.method, headers, body_hex: body.toString('hex'), client_secret: CONSUMER.secret }
  return { oauthlib: await oauthlib.ask(msg), ...(php ? { php: await php.ask(msg) } : {}) }
}

/** The same request signed by the bare signer, as the gateway signed it before it refused such queries. */
async function verdictsSignedAnyway(placement: Placement, query: string): Promise<{ oauthlib: Verdict; php?: Verdict }> {
  const s = admitted(placement, query)
  const p = s.ctx.endpoint.profile as NonNullable<Endpoint['profile']>
  const signed = p.signer.sign({ method: 'POST', url: s.ctx.outbound.url, contentType: 'application/x-www-form-urlencoded', body: Buffer.alloc(0) })
  if (signed.authorizationHeader) s.ctx.outbound.headers.authorization = signed.authorizationHeader
  if (signed.queryUrl) s.ctx.outbound.url = signed.queryUrl
  if (signed.body !== undefined) s.ctx.outbound.body.replace(Buffer.from(signed.body))
  return verdicts(s)
}

// What a request line's query may hold (visible ASCII; "#" starts the fragment), escapes of any
// octet in either case, a lone "%", and UTF-8 escapes so that many queries read alike everywhere.
const VISIBLE = [...Array(0x7f - 0x21).keys()].map((i) => String.fromCharCode(0x21 + i)).filter((c) => c !== '#')
const token = fc.oneof(
  { weight: 2, arbitrary: fc.constantFrom(...'abcXYZ019-._~+'.split('')) },
  { weight: 1, arbitrary: fc.constantFrom(...VISIBLE) },
  { weight: 2, arbitrary: fc.tuple(fc.integer({ min: 0, max: 0xff }), fc.boolean()).map(([b, upper]) => `%${b.toString(16).padStart(2, '0')[upper ? 'toUpperCase' : 'toLowerCase']()}`) },
  { weight: 2, arbitrary: fc.constantFrom('%C3%A9', '%E2%82%AC', '%F0%9F%98%80', '%20', '%5B', '%25') },
)
const text = fc.array(token, { maxLength: 5 }).map((t) => t.join(''))
const query = fc.array(fc.tuple(text, text).map(([n, v]) => `q${n}=${v}`), { minLength: 1, maxLength: 3 }).map((pairs) => `?${pairs.join('&')}`)

describe('an OAuth-signed request\'s query', () => {
  it(`is signed as sent and verified by python3-oauthlib and PHP (where installed), or refused with 400 when they read it differently (seeded)`, async () => {
    let verified = 0
    let refusedCount = 0
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...PLACEMENTS), query, async (placement, q) => {
        const s = admitted(placement, q)
        const refused = await sign(s.ctx)
        if (refused) {
          expect(STATUS[refused.reason], refused.message).toBe(400)
          expect(refused.message).toMatch(/the query has .*, so no signature would verify everywhere: /)
          // Needed: signed anyway, one verifier or the other fails it.
          const anyway = await verdictsSignedAnyway(placement, q)
          expect(anyway.oauthlib.ok && (anyway.php?.ok ?? false), `${placement} ${q}: ${refused.message}`).toBe(false)
          refusedCount++
          return
        }
        const v = await verdicts(s)
        expect(v.oauthlib, `oauthlib ${placement} ${q}`).toEqual({ ok: true })
        if (v.php) expect(v.php.ok, `php ${placement} ${q} ${v.php.base}`).toBe(true)
        verified++
      }),
      { seed: 20261205, numRuns: 200 },
    )
    // Neither a property that refuses everything nor one that never refuses.
    expect(verified).toBeGreaterThan(40)
    expect(refusedCount).toBeGreaterThan(20)
  }, 60_000)

  it('%E9 is refused naming what to send; é as UTF-8 (%C3%A9) is verified by both', async () => {
    for (const placement of PLACEMENTS) {
      const latin1 = admitted(placement, '?x=%E9')
      const refused = await sign(latin1.ctx)
      expect(refused && STATUS[refused.reason]).toBe(400)
      expect(refused?.message).toBe('endpoint "ep" is signed with OAuth 1.0a, whose signature covers query parameters, and the query has a percent-escape whose octets are not UTF-8 (python-oauthlib reads U+FFFD, PHP the octet), so no signature would verify everywhere: percent-encode text as UTF-8 (é is %C3%A9)')
      expect(latin1.ctx.outbound.headers.authorization).toBeUndefined()
      const utf8 = admitted(placement, '?x=%C3%A9')
      expect(await sign(utf8.ctx)).toBeUndefined()
      const v = await verdicts(utf8)
      expect(v.oauthlib).toEqual({ ok: true })
      if (v.php) expect(v.php.ok).toBe(true)
    }
  })

  it('a raw "[" (JSON:API filter[a]=1) is refused naming %5B; filter%5Ba%5D=1 is verified by both', async () => {
    const raw = await sign(admitted('header', '?filter[a]=1').ctx)
    expect(raw?.message).toContain('the query has a raw "[" (0x5B at offset 6), which python-oauthlib refuses')
    expect(raw?.message).toContain('percent-encode it (%5B)')
    const escaped = admitted('header', '?filter%5Ba%5D=1')
    expect(await sign(escaped.ctx)).toBeUndefined()
    const v = await verdicts(escaped)
    expect(v.oauthlib).toEqual({ ok: true })
    if (v.php) expect(v.php.ok).toBe(true)
  })
})
