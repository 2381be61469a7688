/**
 * An endpoint signed with OAuth 1.0a and a form body: the gateway sends the caller's bytes exactly
 * (its own parameters in front with body placement) and signs what python3-oauthlib, reading
 * those bytes, computes — or refuses the body with 400 when verifiers would read its octets
 * differently: a raw non-ASCII byte (a Latin-1 é, E9, with the accepted charset=iso-8859-1 went
 * out as EF BF BD and was signed as U+FFFD), an escape that is not UTF-8 (%E9), an escape above
 * %7F in a form whose charset is Latin-1. Seeded property over mixed raw bytes and escapes.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { GatewayError, STATUS } from '../../src/errors.js'
import { compileDestination, type Endpoint } from '../../src/gateway/index.js'
import { createSigner, PLACEMENTS, type Placement } from '../../src/oauth1/index.js'
import type { Admitted, OutboundHeaders } from '../../src/proxy/pipeline.js'
import { createSignOAuth1 } from '../../src/proxy/steps/sign-oauth1.js'
import { buildUpstreamTarget, toOutboundUrl } from '../../src/proxy/upstream-target.js'
import { phpVerifier, type Verifier } from '../support/oauth1-verifiers.js'

const VERIFIER = fileURLToPath(new URL('../peers/oauthlib_verify.py', import.meta.url))
const CONSUMER = { key: 'gatewayconsumerkey0001', secret: 'kd94hf93k423kf44-consumer_secret.~' }
const CHARSETS = ['', '; charset=utf-8', '; charset=iso-8859-1', '; charset=us-ascii'] as const

let python: ChildProcessWithoutNullStreams
let replies: AsyncIterator<string>
let php: Verifier

beforeAll(() => {
  python = spawn('/usr/bin/python3', [VERIFIER])
  replies = createInterface({ input: python.stdout })[Symbol.asyncIterator]()
  php = phpVerifier()
})

afterAll(() => {
  python?.stdin.end()
  php?.close()
})

/** The request exactly as the gateway would send it, as the verifiers take it. */
async function sentRequest(ctx: Admitted): Promise<object> {
  const headers: Record<string, string> = {}
  for (const [k, v] of Object.entries(ctx.outbound.headers)) if (typeof v === 'string') headers[k] = v
  const body = await ctx.outbound.body.bytes()
  return { uri: ctx.outbound.url.href, method: ctx.outbound.method, headers, body_hex: body.toString('hex'), client_secret: CONSUMER.secret }
}

/** oauthlib's verdict on the request exactly as the gateway would send it. */
async function oauthlibVerifies(ctx: Admitted): Promise<{ ok: boolean; error?: string }> {
  python.stdin.write(`${JSON.stringify(await sentRequest(ctx))}\n`)
  const line = await replies.next()
  return JSON.parse(line.value as string) as { ok: boolean; error?: string }
}

function admitted(placement: Placement, contentType: string, body: Buffer): Admitted {
  const url = 'https://api.partner.test/b'
  const signer = createSigner({ consumerKey: CONSUMER.key, consumerSecret: CONSUMER.secret, signatureMethod: 'HMAC-SHA1', placement })
  const profile = { name: 'p', config: { signatureMethod: 'HMAC-SHA1', placement }, signer }
  const endpoint = { name: 'ep', url, config: {}, fields: [], destination: compileDestination(url, undefined), profile } as unknown as Endpoint
  const target = buildUpstreamTarget(endpoint, undefined, '/y', '?q=1', 'append')
  let bytes = body
  const headers: OutboundHeaders = { 'content-type': contentType }
  const outbound = { present: true, get buffered() { return bytes }, stream: undefined, bytes: async () => bytes, replace: (b: Buffer) => { bytes = b } }
  return { endpoint, target, caller: { appId: 'bot', claims: {} }, auth: {}, outbound: { method: 'POST', url: toOutboundUrl(target), headers, body: outbound } } as unknown as Admitted
}

async function sign(ctx: Admitted): Promise<GatewayError | undefined> {
  try {
    await createSignOAuth1().run(ctx)
    return undefined
  } catch (err) {
    if (err instanceof GatewayError) return err
    throw err
  }
}

// Raw ASCII that oauthlib's urldecode reads (it refuses e.g. a raw "[" or space, ignoring the form).
const OAUTHLIB_RAW = [...'abcXYZ019-._~:+,*@!()/?\''].map((c) => Buffer.from(c))
const token = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...OAUTHLIB_RAW) },
  { weight: 1, arbitrary: fc.integer({ min: 0x80, max: 0xff }).map((b) => Buffer.from([b])) },
  { weight: 3, arbitrary: fc.tuple(fc.integer({ min: 0, max: 0xff }), fc.boolean()).map(([b, upper]) => Buffer.from(`%${b.toString(16).padStart(2, '0')[upper ? 'toUpperCase' : 'toLowerCase']()}`)) },
  // UTF-8 escapes, so a good share of bodies are ones every verifier reads alike.
  { weight: 2, arbitrary: fc.constantFrom('%C3%A9', '%E2%82%AC', '%F0%9F%98%80', '%C3', '%A9').map((s) => Buffer.from(s)) },
)
const text = fc.array(token, { maxLength: 6 }).map((parts) => Buffer.concat(parts))
const pair = fc.tuple(text, text).map(([name, value]) => Buffer.concat([Buffer.from('p'), name, Buffer.from('='), value]))
const formBody = fc.array(pair, { maxLength: 4 }).map((pairs) => Buffer.concat(pairs.flatMap((p, i) => (i === 0 ? [p] : [Buffer.from('&'), p]))))

const FORM_TYPE = 'application/x-www-form-urlencoded'
/** The form media type in any case, sometimes with a space before its parameters: what a caller may write. */
const formTypeSpelling = fc.tuple(fc.array(fc.boolean(), { minLength: FORM_TYPE.length, maxLength: FORM_TYPE.length }), fc.boolean())
  .map(([upper, spaced]) => ({ type: [...FORM_TYPE].map((c, i) => (upper[i] ? c.toUpperCase() : c)).join(''), spaced }))

/** True when the body's octets, raw or escaped, include one above 7F. */
function hasNonAsciiOctet(body: Buffer): boolean {
  return body.some((b) => b >= 0x80) || /%[89a-f][0-9a-f]/i.test(body.toString('latin1'))
}

describe('an OAuth-signed form body', () => {
  it('is sent byte for byte and verified by python3-oauthlib and PHP, or refused with 400 for octets verifiers read differently; the media type goes in lower case (seeded)', async () => {
    let verified = 0
    let respelled = 0
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...PLACEMENTS), fc.constantFrom(...CHARSETS), formTypeSpelling, formBody, async (placement, charset, spelling, body) => {
        const written = `${spelling.type}${spelling.spaced && charset !== '' ? ' ' : ''}${charset}`
        const ctx = admitted(placement, written, body)
        const refused = await sign(ctx)
        if (refused) {
          expect(STATUS[refused.reason], refused.message).toBe(400)
          expect(hasNonAsciiOctet(body), refused.message).toBe(true)
          return
        }
        const sent = await ctx.outbound.body.bytes()
        if (placement === 'body') {
          const prefix = sent.toString('latin1').match(/^(?:oauth_[a-z_]+=[A-Za-z0-9%._~-]*&?)+/)?.[0] ?? ''
          expect(prefix.startsWith('oauth_consumer_key=')).toBe(true)
          expect(sent.subarray(prefix.length).toString('hex')).toBe(body.toString('hex'))
          expect(prefix.endsWith('&')).toBe(body.length > 0)
        } else {
          expect(sent.toString('hex')).toBe(body.toString('hex'))
        }
        // Case-insensitive by RFC 9110, but oauthlib and PHP verifiers look for the lower-case text.
        expect(ctx.outbound.headers['content-type']).toBe(`${FORM_TYPE}${charset}`)
        if (written !== `${FORM_TYPE}${charset}`) respelled++
        const verdict = await oauthlibVerifies(ctx)
        expect(verdict, `${placement} ${written} ${body.toString('hex')}`).toEqual({ ok: true })
        expect((await php.ask(await sentRequest(ctx))).ok, `${placement} ${written} ${body.toString('hex')}`).toBe(true)
        verified++
      }),
      { seed: 20261205, numRuns: 300 },
    )
    // Not a property that refuses everything, nor one that only met the lower-case spelling.
    expect(verified).toBeGreaterThan(50)
    expect(respelled).toBeGreaterThan(40)
  })

  it('a Latin-1 é (raw E9) is refused before signing, naming the byte', async () => {
    for (const placement of PLACEMENTS) {
      const ctx = admitted(placement, 'application/x-www-form-urlencoded; charset=iso-8859-1', Buffer.concat([Buffer.from('name=Ren'), Buffer.from([0xe9])]))
      const refused = await sign(ctx)
      expect(refused && STATUS[refused.reason]).toBe(400)
      expect(refused?.message).toContain('raw non-ASCII byte (0xE9 at offset 8)')
      expect(ctx.outbound.headers.authorization).toBeUndefined()
    }
  })

  it('é as UTF-8 escapes is signed as é and verified; as %E9, or as escapes in a Latin-1 form, refused', async () => {
    const utf8 = admitted('header', 'application/x-www-form-urlencoded', Buffer.from('name=Ren%C3%A9'))
    expect(await sign(utf8)).toBeUndefined()
    expect(await oauthlibVerifies(utf8)).toEqual({ ok: true })
    expect((await sign(admitted('header', 'application/x-www-form-urlencoded', Buffer.from('name=Ren%E9'))))?.message).toContain('not UTF-8')
    expect((await sign(admitted('header', 'application/x-www-form-urlencoded; charset=iso-8859-1', Buffer.from('name=Ren%C3%A9'))))?.message).toContain('charset is not UTF-8')
  })

  it('a raw ASCII character oauthlib does not read in a form ("[", space, "|", a newline) is sent percent-encoded, once, and both verifiers verify; a bad "%" is refused', async () => {
    for (const [raw, sent] of [['f[a]=1&g%5B%5D=2', 'f%5Ba%5D=1&g%5B%5D=2'], ['a=two words', 'a=two%20words'], ['a=x|y', 'a=x%7Cy'], ['a=1\n', 'a=1%0A'], ['a={"b":"<c>"}', 'a=%7B%22b%22:%22%3Cc%3E%22%7D']] as const) {
      const signedAnyway = admitted('header', 'application/x-www-form-urlencoded', Buffer.from(raw))
      const signer = (signedAnyway.endpoint.profile as NonNullable<Endpoint['profile']>).signer
      signedAnyway.outbound.headers.authorization = signer.sign({ method: 'POST', url: signedAnyway.outbound.url, contentType: 'application/x-www-form-urlencoded', body: Buffer.from(raw) }).authorizationHeader as string
      // Signed as sent (before the 400 of ee51c99): PHP verifies it, oauthlib leaves the form out of its base string and does not.
      expect(await oauthlibVerifies(signedAnyway), raw).toEqual({ ok: false })
      expect((await php.ask(await sentRequest(signedAnyway))).ok, raw).toBe(true)
      for (const placement of PLACEMENTS) {
        const ok = admitted(placement, 'application/x-www-form-urlencoded', Buffer.from(raw))
        expect(await sign(ok), raw).toBeUndefined()
        const body = (await ok.outbound.body.bytes()).toString('latin1')
        expect(placement === 'body' ? body.replace(/^(oauth_[a-z_]+=[^&]*&)+/, '') : body, raw).toBe(sent)
        expect(await oauthlibVerifies(ok), `${placement} ${raw}`).toEqual({ ok: true })
        expect((await php.ask(await sentRequest(ok))).ok, `${placement} ${raw}`).toBe(true)
      }
    }
    const refused = await sign(admitted('header', 'application/x-www-form-urlencoded', Buffer.from('a=%zz')))
    expect(refused && STATUS[refused.reason]).toBe(400)
    expect(refused?.message).toContain('the form body has a "%" not followed by two hex digits (at offset 2)')
  })
})
