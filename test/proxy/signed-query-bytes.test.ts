/**
 * An endpoint signed with OAuth 1.0a and the caller's query and form body: the gateway signs them
 * exactly as it sends them, with raw characters RFC 3986 does not allow unencoded (`[`, `|`, a
 * space…) percent-encoded, and two verifiers nobody here wrote (python3-oauthlib and PHP's classic
 * OAuth.php reading with PHP's own urldecode) both verify the signature, while PHP's parse_str and
 * python's parse_qsl read the parameters the caller's text meant (its raw characters as
 * themselves); or the text is refused with 400 before signing, because its octets read differently
 * to them (`%E9` was signed as U+FFFD: oauthlib agreed, PHP did not). Seeded property over every
 * visible ASCII character, escapes of any octet and UTF-8 escapes (and, in a form, a space, control
 * characters and raw non-ASCII bytes); each refusal is checked to be needed (the request signed
 * anyway fails one of the verifiers).
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
let php: Verifier

beforeAll(() => {
  oauthlib = oauthlibVerifier()
  php = phpVerifier()
})

afterAll(() => {
  oauthlib?.close()
  php?.close()
})

interface Signing { ctx: Admitted; target: UpstreamTarget }

function admitted(placement: Placement, query: string, form: Buffer = Buffer.alloc(0)): Signing {
  const signer = createSigner({ consumerKey: CONSUMER.key, consumerSecret: CONSUMER.secret, signatureMethod: 'HMAC-SHA1', placement })
  const profile = { name: 'p', config: { signatureMethod: 'HMAC-SHA1', placement }, signer }
  const endpoint = { name: 'ep', url: ORIGIN, config: {}, fields: [], destination: compileDestination(ORIGIN, undefined), profile } as unknown as Endpoint
  const target = buildUpstreamTarget(endpoint, undefined, '/y', query, 'append')
  let bytes: Buffer = form
  const body = { present: true, get buffered() { return bytes }, stream: undefined, bytes: async () => bytes, replace: (b: Buffer) => { bytes = b } }
  // POST with a form (empty unless given): every placement fits, body placement included.
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
async function verdicts({ ctx, target }: Signing): Promise<{ oauthlib: Verdict; php: Verdict }> {
  const headers: Record<string, string> = {}
  for (const [k, v] of Object.entries(ctx.outbound.headers)) if (typeof v === 'string') headers[k] = v
  const body = await ctx.outbound.body.bytes()
  const msg = { uri: ORIGIN + destinationPathAndQuery(target, ctx.outbound), method: ctx.outbound.method, headers, body_hex: body.toString('hex'), client_secret: CONSUMER.secret }
  return { oauthlib: await oauthlib.ask(msg), php: await php.ask(msg) }
}

/** The same request signed by the bare signer, as the gateway signed it before it refused such text. */
async function verdictsSignedAnyway(placement: Placement, query: string, form?: Buffer): Promise<{ oauthlib: Verdict; php: Verdict }> {
  const s = admitted(placement, query, form)
  const p = s.ctx.endpoint.profile as NonNullable<Endpoint['profile']>
  const signed = p.signer.sign({ method: 'POST', url: s.ctx.outbound.url, contentType: 'application/x-www-form-urlencoded', body: await s.ctx.outbound.body.bytes() })
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
  // What RFC 3986 does not allow raw in a query (JSON:API's page[size], PHP's ids[]), sent encoded.
  { weight: 1, arbitrary: fc.constantFrom('[', ']', '[]', '{', '}', '|', '\\', '^', '`', '"', '<', '>') },
  { weight: 2, arbitrary: fc.tuple(fc.integer({ min: 0, max: 0xff }), fc.boolean()).map(([b, upper]) => `%${b.toString(16).padStart(2, '0')[upper ? 'toUpperCase' : 'toLowerCase']()}`) },
  { weight: 2, arbitrary: fc.constantFrom('%C3%A9', '%E2%82%AC', '%F0%9F%98%80', '%20', '%5B', '%25') },
)
const text = fc.array(token, { maxLength: 5 }).map((t) => t.join(''))
const query = fc.array(fc.tuple(text, text).map(([n, v]) => `q${n}=${v}`), { minLength: 1, maxLength: 3 }).map((pairs) => `?${pairs.join('&')}`)
// A form body may hold what a request line may not: a space, control characters, raw bytes above
// 7F (a Latin-1 é, raw UTF-8), held as Latin-1 text, one character per byte.
const formToken = fc.oneof({ weight: 6, arbitrary: token }, { weight: 1, arbitrary: fc.constantFrom(' ', '\n', '\t', '\x7f', '\xe9', '\xc3\xa9') })
const formText = fc.array(formToken, { maxLength: 5 }).map((t) => t.join(''))
const form = fc.array(fc.tuple(formText, formText).map(([n, v]) => `f${n}=${v}`), { maxLength: 3 }).map((pairs) => Buffer.from(pairs.join('&'), 'latin1'))

// What is still refused: what no encoding makes read alike (the rest is sent percent-encoded).
const STILL_REFUSED = /has (a raw non-ASCII byte|a percent-escape whose octets are not UTF-8|a "%" not followed by two hex digits)/

/** Parameters as python's parse_qsl and PHP's parse_str read `text` ($_GET, $_POST), the gateway's oauth_* left out. */
async function parsed(text: string): Promise<{ python: unknown; php: unknown }> {
  const python = ((await oauthlib.parse(text)) as [string, string][]).filter(([n]) => !n.startsWith('oauth_'))
  // An empty result is a JSON [], any other an object (the names are never all numbers).
  const byPhp = (await php.parse(text)) as Record<string, unknown>
  return { python, php: Object.fromEntries(Object.entries(byPhp).filter(([n]) => !n.startsWith('oauth_'))) }
}

describe('an OAuth-signed request\'s query', () => {
  it(`is sent with raw characters percent-encoded, signed as sent, verified by python3-oauthlib and PHP and read as the caller meant; or refused with 400 when no encoding reads alike (seeded)`, async () => {
    let verified = 0
    let encoded = 0
    let refusedCount = 0
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...PLACEMENTS), query, form, async (placement, q, f) => {
        const s = admitted(placement, q, f)
        const refused = await sign(s.ctx)
        if (refused) {
          expect(STATUS[refused.reason], refused.message).toBe(400)
          expect(refused.message).toMatch(/the (query|form body) has .*, so no signature would verify everywhere: /)
          expect(refused.message, refused.message).toMatch(STILL_REFUSED)
          // Needed: signed anyway, one verifier or the other fails it.
          const anyway = await verdictsSignedAnyway(placement, q, f)
          expect(anyway.oauthlib.ok && anyway.php.ok, `${placement} ${q} ${JSON.stringify(f.toString('latin1'))}: ${refused.message}`).toBe(false)
          refusedCount++
          return
        }
        const v = await verdicts(s)
        const shown = `${placement} ${q} ${JSON.stringify(f.toString('latin1'))}`
        expect(v.oauthlib, `oauthlib ${shown}`).toEqual({ ok: true })
        expect(v.php.ok, `php ${shown} ${v.php.base}`).toBe(true)
        // Only the query and the form changed: the origin and the path are the caller's.
        const sentPath = destinationPathAndQuery(s.target, s.ctx.outbound)
        expect(sentPath.startsWith('/y?'), sentPath).toBe(true)
        const sentBody = (await s.ctx.outbound.body.bytes()).toString('latin1')
        // What the caller meant (its raw characters read as themselves by the same parsers) is what arrives.
        expect(await parsed(sentPath.slice(3)), `query ${shown} sent as ${sentPath}`).toEqual(await parsed(q.slice(1)))
        expect(await parsed(sentBody), `form ${shown} sent as ${sentBody}`).toEqual(await parsed(f.toString('latin1')))
        if (/[^A-Za-z0-9\-._~!$&'()*+,;=:@/?%]/.test(q + f.toString('latin1'))) encoded++
        verified++
      }),
      { seed: 20261205, numRuns: 400 },
    )
    // Neither a property that refuses everything nor one that never refuses or never encodes.
    expect(verified).toBeGreaterThan(40)
    expect(encoded).toBeGreaterThan(20)
    expect(refusedCount).toBeGreaterThan(20)
  })

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
      expect(v.php.ok).toBe(true)
    }
  })

  it('a raw "[" (JSON:API page[size]=10, ids[]=1) is sent as %5B, once (an existing %5B stays), and verified by both', async () => {
    for (const placement of PLACEMENTS) {
      const raw = admitted(placement, '?page[size]=10&filter%5Bname%5D=x&ids[]=1', Buffer.from('tags[]=a b&q=x|y'))
      expect(await sign(raw.ctx)).toBeUndefined()
      const sent = destinationPathAndQuery(raw.target, raw.ctx.outbound)
      expect(sent).toMatch(/^\/y\?(oauth_[^&]*&)*page%5Bsize%5D=10&filter%5Bname%5D=x&ids%5B%5D=1$/)
      const body = (await raw.ctx.outbound.body.bytes()).toString('latin1')
      expect(body).toMatch(/^(oauth_[^&]*&)*tags%5B%5D=a%20b&q=x%7Cy$/)
      const v = await verdicts(raw)
      expect(v.oauthlib, placement).toEqual({ ok: true })
      expect(v.php.ok, placement).toBe(true)
    }
  })
})
