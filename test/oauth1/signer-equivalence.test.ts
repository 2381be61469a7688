/**
 * The optimized signer (precomputed per profile, parameters encoded once, the base string's
 * second encoding done on the encoded pairs) against a straightforward reference built from
 * the RFC's steps as written — collect, normalize, base string, sign, serialise — over
 * generated requests: the same base string, signature, parameters, header, URL and body
 * byte for byte, or the same error.
 */
import { generateKeyPairSync } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { GatewayError } from '../../src/errors.js'
import {
  collectParameters,
  computeBodyHash,
  computeSignature,
  createSigner,
  formEncode,
  isFormContentType,
  percentEncode,
  signatureBaseString,
  signRequest,
  type Param,
  type SignInput,
  type SignResult,
  type SignerStatics,
  type SignRequestInput,
} from '../../src/oauth1/index.js'

/** RFC 5849 §3.1–3.5 as the signer was first written: one object per step, nothing precomputed. */
function reference(input: SignInput): SignResult {
  const url = new URL(input.url)
  if (url.hash !== '') url.hash = ''
  const formBody = isFormContentType(input.contentType)
  if (input.placement === 'body' && !formBody) {
    throw new GatewayError('unsupported_payload', `OAuth parameters can go in the body only of an application/x-www-form-urlencoded request, not "${input.contentType ?? 'no content type'}"`)
  }
  const p: Record<string, string> = { oauth_consumer_key: input.consumerKey }
  if (input.token !== undefined) p.oauth_token = input.token
  p.oauth_signature_method = input.signatureMethod
  p.oauth_timestamp = input.timestamp ?? String(Math.floor(Date.now() / 1000))
  p.oauth_nonce = input.nonce ?? 'unused'
  if (input.callback !== undefined) p.oauth_callback = input.callback
  if (input.verifier !== undefined) p.oauth_verifier = input.verifier
  if (input.includeVersion === true) p.oauth_version = '1.0'
  if (input.bodyHash === true && !formBody) p.oauth_body_hash = computeBodyHash(input.signatureMethod, input.body)
  for (const [name, value] of Object.entries(input.extraOAuthParams ?? {})) {
    if (!name.startsWith('oauth_')) throw new TypeError(`extraOAuthParams: "${name}" is not an oauth_ parameter`)
    if (name in p || name === 'oauth_signature') throw new TypeError(`extraOAuthParams: "${name}" is set by the signer`)
    p[name] = value
  }
  const collected = collectParameters({ url, oauthParams: p, contentType: input.contentType, body: input.body })
  const baseString = signatureBaseString(input.method, url, collected)
  const signature = computeSignature(input.signatureMethod, baseString, input)
  const oauthParams = Object.freeze({ ...p, oauth_signature: signature })
  const pairs: Param[] = Object.entries(oauthParams)
  // First, before the existing parameters (parameter limits: see placement.ts).
  const prepend = (existing: string): string => (existing === '' ? formEncode(pairs) : `${formEncode(pairs)}&${existing}`)
  switch (input.placement) {
    case 'header': {
      const parts: string[] = []
      if (input.realm !== undefined) parts.push(`realm="${input.realm.replace(/[\x00-\x1f\x7f]/g, '').replace(/["\\]/g, '\\$&')}"`)
      for (const [name, value] of pairs) parts.push(`${percentEncode(name)}="${percentEncode(value)}"`)
      return { baseString, signature, oauthParams, authorizationHeader: `OAuth ${parts.join(', ')}`, url: url.href }
    }
    case 'query':
      url.search = prepend(url.search.slice(1))
      return { baseString, signature, oauthParams, url: url.href, queryUrl: url }
    case 'body':
      return { baseString, signature, oauthParams, url: url.href, body: prepend(input.body === undefined ? '' : input.body.toString()) }
  }
}

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 1024 })

/** Characters that exercise every encoding path: unreserved, reserved, `+`, `%`, sub-delims, non-ASCII, astral. */
const text = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9._~-]{0,12}$/),
  fc.array(fc.constantFrom('a', 'Z', '0', '-', '.', '_', '~', ' ', '+', '%', '%2', '%20', '%zz', '%C3%A4', '&', '=', '!', "'", '(', ')', '*', '/', '?', '#', '"', '\\', 'ä', '€', '😀', '\t'), { maxLength: 8 }).map((a) => a.join('')),
)
// A lone surrogate has no UTF-8 form: percentEncode throws, and must throw at the same point.
const textOrBroken = fc.oneof({ weight: 9, arbitrary: text }, { weight: 1, arbitrary: text.map((t) => `${t}\ud800`) })
const queryPart = fc.tuple(fc.oneof(text, fc.constantFrom('oauth_signature', 'oauth_nonce', 'oauth_token', 'a', 'realm')), fc.option(text, { nil: undefined })).map(([n, v]) => (v === undefined ? encodeURIComponent(n) : `${encodeURIComponent(n)}=${encodeURIComponent(v)}`))
const rawQueryPart = fc.constantFrom('a=1', 'a=1', 'b', '=x', 'c=', 'q=a+b', 'x=%7E', 'x=~', 'e=%e2%82%ac', 'oauth_signature=zz', 'p=%zz', 'dup=1', 'dup=0', '')
// Mostly a few parameters; sometimes more than the signer's insertion sort takes (it then uses sort()).
const query = fc.oneof({ weight: 4, arbitrary: fc.array(fc.oneof(queryPart, rawQueryPart), { maxLength: 5 }) }, { weight: 1, arbitrary: fc.array(fc.oneof(queryPart, rawQueryPart), { minLength: 14, maxLength: 40 }) }).map((parts) => (parts.length === 0 ? '' : `?${parts.join('&')}`))
const url = fc
  .tuple(
    fc.constantFrom('https://api.example.com', 'http://Example.COM:80', 'https://api.example.com:8443', 'HTTPS://sp.example.com:443', 'http://127.0.0.1:8080', 'https://[::1]:9443'),
    fc.constantFrom('', '/', '/v1/items', '/a%20b/c', '/ä/€', '/x;y=1', '/%7B%7Bpin%7D%7D/z'),
    query,
    fc.constantFrom('', '', '#frag'),
  )
  .map(([origin, path, q, hash]) => `${origin}${path}${q}${hash}`)

const statics: fc.Arbitrary<SignerStatics> = fc.record(
  {
    consumerKey: textOrBroken,
    consumerSecret: fc.option(textOrBroken, { nil: undefined }),
    signatureMethod: fc.constantFrom('HMAC-SHA1', 'HMAC-SHA256', 'HMAC-SHA512', 'PLAINTEXT', 'RSA-SHA1', 'RSA-SHA256'),
    realm: fc.option(fc.oneof(textOrBroken, fc.constant('Photos Inc.'), fc.constant('a"b\\c\x00')), { nil: undefined }),
    includeVersion: fc.boolean(),
    bodyHash: fc.boolean(),
    placement: fc.constantFrom('header', 'header', 'query', 'body'),
  },
  { requiredKeys: ['consumerKey', 'signatureMethod', 'placement'] },
).map((s) => (s.signatureMethod.startsWith('RSA-') ? { ...s, privateKey } : s))

const request: fc.Arbitrary<Omit<SignInput, keyof SignerStatics>> = fc.record(
  {
    method: fc.constantFrom('GET', 'post', 'Put', 'DELETE', 'PATCH'),
    url,
    contentType: fc.option(fc.constantFrom('application/x-www-form-urlencoded', 'application/x-www-form-urlencoded; charset=utf-8', 'application/json', 'text/plain'), { nil: undefined }),
    body: fc.option(fc.oneof(fc.array(fc.oneof(queryPart, rawQueryPart), { maxLength: 4 }).map((p) => p.join('&')), fc.constant('{"a":1}')).chain((b) => fc.constantFrom<string | Buffer>(b, Buffer.from(b))), { nil: undefined }),
    token: fc.option(textOrBroken, { nil: undefined }),
    tokenSecret: fc.option(textOrBroken, { nil: undefined }),
    callback: fc.option(fc.oneof(fc.constant('oob'), fc.constant('https://client.example/cb?x=1&y=2')), { nil: undefined }),
    verifier: fc.option(textOrBroken, { nil: undefined }),
    extraOAuthParams: fc.option(fc.dictionary(fc.oneof(fc.constantFrom('oauth_session_handle', 'oauth_ext', 'oauth_a b', 'oauth_nonce', 'oauth_signature', 'pin'), fc.stringMatching(/^oauth_[a-z]{1,4}$/)), textOrBroken, { maxKeys: 2 }), { nil: undefined }),
    nonce: textOrBroken,
    timestamp: fc.oneof(fc.constantFrom('1318622958', '0', '1 2', '+1'), fc.integer({ min: 0, max: 2 ** 31 }).map(String)),
  },
  { requiredKeys: ['method', 'url', 'nonce', 'timestamp'] },
)

function outcome(run: () => SignResult): SignResult | string {
  try {
    const r = run()
    // Key order is part of the output (the CLI prints the parameters in it).
    // A URL object compares by its href (toEqual sees no own properties on it).
    const queryUrl = r.queryUrl === undefined ? {} : { queryUrl: r.queryUrl.href as unknown as URL }
    return { ...r, ...queryUrl, oauthParams: { order: Object.keys(r.oauthParams).join(','), frozen: Object.isFrozen(r.oauthParams), ...r.oauthParams } as unknown as SignResult['oauthParams'] }
  } catch (err) {
    return `${(err as Error).constructor.name}: ${(err as Error).message}`
  }
}

describe('the optimized signer against the reference', () => {
  it('signRequest: the same result or the same error (3,000 requests)', () => {
    fc.assert(
      fc.property(statics, request, (s, r) => {
        const input: SignInput = { ...s, ...r }
        expect(outcome(() => signRequest(input))).toEqual(outcome(() => reference(input)))
      }),
      { seed: 5849, numRuns: 3_000 },
    )
  })

  it('one signer reused across requests (as a profile signs): each result is the reference one (500 profiles × 8 requests)', () => {
    fc.assert(
      fc.property(statics, fc.array(request, { minLength: 8, maxLength: 8 }), fc.boolean(), (s, requests, sameToken) => {
        const signer = createSigner(s)
        for (const r0 of requests) {
          // A static token repeats on every request; per-user tokens change.
          const r = sameToken ? { ...r0, token: 'static-token', tokenSecret: 'static secret/+' } : r0
          expect(outcome(() => signer.sign(r))).toEqual(outcome(() => reference({ ...s, ...r })))
        }
      }),
      { seed: 5850, numRuns: 500 },
    )
  })

  it('a URL\'s parts (the proxy passes them before anything parsed its URL) sign as the URL does (500 requests)', () => {
    fc.assert(
      fc.property(statics, request, (s, r) => {
        let parsed: URL
        try {
          parsed = new URL(r.url)
        } catch {
          return // no parts without a URL
        }
        const parts = (u: URL): SignRequestInput['url'] => ({ protocol: u.protocol, host: u.host, pathname: u.pathname, search: u.search, hash: u.hash, href: u.href })
        const signer = createSigner(s)
        expect(outcome(() => signer.sign({ ...r, url: parts(new URL(parsed)) }))).toEqual(outcome(() => signer.sign({ ...r, url: new URL(parsed) })))
      }),
      { seed: 5851, numRuns: 500 },
    )
  })

  it('a URL object is used as is unless signing must change it (fragment, query placement)', () => {
    const u = new URL('https://api.example.com/v1?a=1')
    const signer = createSigner({ consumerKey: 'ck', consumerSecret: 'cs', signatureMethod: 'HMAC-SHA1', placement: 'header' })
    signer.sign({ method: 'GET', url: u })
    expect(u.href).toBe('https://api.example.com/v1?a=1')
    const q = createSigner({ consumerKey: 'ck', consumerSecret: 'cs', signatureMethod: 'HMAC-SHA1', placement: 'query' }).sign({ method: 'GET', url: u })
    expect(u.href).toBe('https://api.example.com/v1?a=1')
    expect(q.url.startsWith('https://api.example.com/v1?oauth_consumer_key=ck&')).toBe(true)
    expect(q.url.endsWith('&a=1')).toBe(true)
  })
})
