/**
 * Pure pieces of the dance: what the profile test takes out of provider text, and how
 * the gateway names its own callback and authorize link (always on one origin, so the
 * cookie the link's page sets comes back with the callback).
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { Gateway, Profile } from '../../src/gateway/index.js'
import type { ProfileConfig } from '../../src/config/index.js'
import { redactProviderText, formatProfileTest } from '../../src/dance/index.js'
import { callbackUrlFor, gatewayBase, linkUrl, originFrom } from '../../src/dance/index.js'
import { bindingCookieFor } from '../../src/dance/binding.js'

function profile(over: Partial<ProfileConfig> = {}): Profile {
  const config: ProfileConfig = {
    name: 'p', index: 0, consumerKey: 'ck', consumerSecret: 's3cr/t+value', signatureMethod: 'HMAC-SHA1', tenancy: false, version: true, bodyHash: false,
    placement: 'header', legacyOAuth10: false, tokenUrlsOnEndpointServer: false, tokenUrlEndpoints: [], token: { mode: 'per_user' }, additionalFields: {}, userFields: [], fields: [], ...over,
  }
  // No signer: none of the pieces tested here signs anything.
  const unsigned: Omit<Profile, 'signer'> = { name: config.name, config, fields: [] }
  return unsigned as Profile
}

const gateway = (publicUrl?: string): Gateway => ({ config: { listen: { host: '0.0.0.0', port: 8080, ...(publicUrl ? { publicUrl } : {}) } } }) as unknown as Gateway

describe('redactProviderText', () => {
  it('removes the consumer secret (raw and percent-encoded), token secrets, signatures and verifiers', () => {
    const p = profile()
    const text = 'bad secret s3cr/t+value or s3cr%2Ft%2Bvalue; oauth_token=abc&oauth_token_secret=XYZ&oauth_signature=SIG%3D {"oauth_verifier": "VVV"} oauth_signature="Q"'
    const out = redactProviderText(p, text)
    for (const secret of ['s3cr/t+value', 's3cr%2Ft%2Bvalue', 'XYZ', 'SIG%3D', 'VVV', '"Q"']) expect(out).not.toContain(secret)
    expect(out).toContain('oauth_token=abc')
    expect(out).toContain('oauth_token_secret=[redacted]')
  })

  it('removes a token secret the provider answers in XML, JSON, a form, a header or a percent-encoded echo', () => {
    const text = '<oauth_token_secret>XMLSECRET</oauth_token_secret> {"oauth_token_secret" : "JSON\\"SECRET"} oauth_token_secret=FORMSECRET&x=1 OAuth oauth_signature="SIG%252F%26", a%3Fb%3D1%26oauth_verifier%3DPCTSECRET%26c%3D2'
    const out = redactProviderText(profile(), text)
    for (const secret of ['XMLSECRET', 'SECRET"', 'FORMSECRET', 'SIG%252F', 'PCTSECRET']) expect(out).not.toContain(secret)
    expect(out).toContain('<oauth_token_secret>[redacted]</oauth_token_secret>')
    expect(out).toContain('&x=1')
    expect(out).toContain('%26c%3D2')
  })

  it('removes them in any case, as a header-like `name: value` line, and in the providers\' own spellings (tokenSecret, token_secret)', () => {
    const text = 'OAUTH_TOKEN_SECRET=UPPERSECRET&x=1\noauth_token_secret: COLONSECRET\nOauth-Verifier:HEADERSECRET\n{"tokenSecret":"CAMELSECRET","token_secret": "SNAKESECRET", "oauthTokenSecret": "JOINEDSECRET"}\ninvalid token secret, oauth_token=kept'
    const out = redactProviderText(profile(), text)
    for (const secret of ['UPPERSECRET', 'COLONSECRET', 'HEADERSECRET', 'CAMELSECRET', 'SNAKESECRET', 'JOINEDSECRET']) expect(out).not.toContain(secret)
    expect(out).toContain('OAUTH_TOKEN_SECRET=[redacted]&x=1')
    expect(out).toContain('oauth_token_secret: [redacted]\n')
    expect(out).toContain('"tokenSecret":"[redacted]"')
    // Words, not a parameter: kept; so is the token itself (not a secret).
    expect(out).toContain('invalid token secret, oauth_token=kept')
  })

  it('removes a PLAINTEXT signature echoed raw: the consumer secret encoded twice', () => {
    const out = redactProviderText(profile({ consumerSecret: 'consumer secret/XYZ+123' }), 'x-echo-sig: consumer%2520secret%252FXYZ%252B123%26')
    expect(out).toBe('x-echo-sig: [redacted]%26')
  })

  it('formats a failure without a response when the provider was never reached', () => {
    const text = formatProfileTest({ ok: false, profile: 'p', message: 'endpoint "x": client certificate rejected by the server' })
    expect(text).toMatch(/^Auth Test Failed\n.*\n\nHeaders\n {2}\(no response/)
    expect(text).toContain('\nResponse\n  (none)')
  })
})

describe('redactProviderText (property)', () => {
  // The test's own encoders, written independently of the gateway's: every way a provider may echo a value.
  const hex = (n: number, w = 2): string => n.toString(16).toUpperCase().padStart(w, '0')
  const ENCODERS: Readonly<Record<string, (s: string) => string>> = {
    rfc3986: (s) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${hex(c.charCodeAt(0))}`),
    uriComponent: encodeURIComponent,
    form: (s) => new URLSearchParams([['', s]]).toString().slice(1),
    escape: (s) => escape(s),
    lowerHex: (s) => s.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()),
    json: (s) => JSON.stringify(s).slice(1, -1),
    jsonAscii: (s) => JSON.stringify(s).slice(1, -1).replace(/[\u007f-\uffff/]/g, (c) => (c === '/' ? '\\/' : `\\u${hex(c.charCodeAt(0), 4).toLowerCase()}`)),
    xml: (s) => s.replace(/[&<>"']/g, (c) => `&${({ '&': 'amp', '<': 'lt', '>': 'gt', '"': 'quot', "'": 'apos' })[c] ?? ''};`),
    xmlNumeric: (s) => Array.from(s, (c) => (/[\w ]/.test(c) ? c : `&#${c.codePointAt(0) ?? 0};`)).join(''),
  }
  const encode = (s: string, steps: readonly string[]): string => steps.reduce((v, e) => (ENCODERS[e] as (x: string) => string)(v), s)
  // Reserved, quoting and non-ASCII characters; no lowercase hex letters or filler letters, so no form is found by coincidence.
  const secret = (min: number): fc.Arbitrary<string> => fc.string({ unit: fc.constantFrom(...' /+&=%?#"\'<>\\*!()~-._:;,@[]{}|^`$Q0179xyzéß€日😀'.split(/(?:)/u)), minLength: min, maxLength: 16 })
  const encodings = fc.array(fc.constantFrom(...Object.keys(ENCODERS)), { maxLength: 4 })
  const around = fc.constantFrom(['', ''], ['ECHO: ', ' END'], ['{"echo":"', '"}'], ['<echo>', '</echo>'], ['?got=', '&n=1'], ['realm="', '", ok'])

  it('no secret of the profile survives in any wire form, encoded up to four layers deep in any order (4,000 runs)', () => {
    fc.assert(
      fc.property(fc.record({ consumer: secret(4), token: secret(4), passphrase: secret(4), field: secret(4) }), fc.array(fc.tuple(fc.constantFrom('consumer', 'token', 'passphrase', 'field', 'plaintext'), encodings, around), { minLength: 1, maxLength: 5 }), (s, echoes) => {
        const p = profile({ consumerSecret: s.consumer, token: { mode: 'static', token: 'tok', tokenSecret: s.token }, privateKeyPassphrase: s.passphrase, additionalFields: { pin: s.field } })
        const rfc = ENCODERS.rfc3986 as (x: string) => string
        const forms = echoes.map(([which, steps, [before, after]]) => {
          // PLAINTEXT: the signature is both secrets encoded and joined, encoded again in the header: two layers already.
          const value = which === 'plaintext' ? `${rfc(s.consumer)}&${rfc(s.token)}` : s[which]
          return { form: encode(value, which === 'plaintext' ? ['rfc3986', ...steps.slice(0, 2)] : steps), before, after }
        })
        const out = redactProviderText(p, forms.map((f) => `${f.before}${f.form}${f.after}`).join('\n'))
        for (const { form } of forms) expect(out.includes(form), `${JSON.stringify(form)} in ${JSON.stringify(out)}`).toBe(false)
        for (const v of Object.values(s)) expect(out.includes(v), `${JSON.stringify(v)} in ${JSON.stringify(out)}`).toBe(false)
      }),
      { seed: 0x7e57, numRuns: 4_000 },
    )
  })

  it('no secret survives echoed in another letter case or inside base64, base64url or hex, then escaped in any order (3,000 runs)', () => {
    const BINARY: Readonly<Record<string, (s: string) => string>> = {
      base64: (s) => Buffer.from(s).toString('base64'),
      base64url: (s) => Buffer.from(s).toString('base64url'),
      hex: (s) => Buffer.from(s).toString('hex'),
      hexUpper: (s) => Buffer.from(s).toString('hex').toUpperCase(),
    }
    const CASES: Readonly<Record<string, (s: string) => string>> = { upper: (s) => s.toUpperCase(), lower: (s) => s.toLowerCase(), same: (s) => s }
    // A debug echo of the request: the Authorization header, or the secret in it, encoded before it is quoted.
    const echoes = fc.tuple(fc.constantFrom(...Object.keys(CASES)), fc.option(fc.constantFrom(...Object.keys(BINARY)), { nil: undefined }), fc.array(fc.constantFrom(...Object.keys(ENCODERS)), { maxLength: 2 }), around, fc.constantFrom('', 'x-debug: ', 'b64='))
    fc.assert(
      fc.property(fc.record({ consumer: secret(6), field: secret(6) }), fc.constantFrom('consumer', 'field'), echoes, (s, which, [letterCase, binary, steps, [before, after], label]) => {
        // A letter whose other case is other letters (ß, SS) is no longer the secret's spelling: no matcher finds it.
        fc.pre([s[which].toUpperCase(), s[which].toLowerCase()].every((c) => c.length === s[which].length))
        const p = profile({ consumerSecret: s.consumer, additionalFields: { pin: s.field } })
        const cased = (CASES[letterCase] as (x: string) => string)(`sig=${s[which]}&n=1`)
        const wire = encode(binary ? (BINARY[binary] as (x: string) => string)(cased) : cased, steps)
        const out = redactProviderText(p, `${before}${label}${wire}${after}`)
        expect(out.includes(wire), `${JSON.stringify(wire)} in ${JSON.stringify(out)}`).toBe(false)
        expect(out.toLowerCase().includes(s[which].toLowerCase()), `${JSON.stringify(s[which])} in ${JSON.stringify(out)}`).toBe(false)
        expect(out).toContain('[redacted]')
      }),
      { seed: 0xb64, numRuns: 3_000 },
    )
  })

  it('a token secret the provider answers is removed from every answer form (4,000 runs)', () => {
    const answers: readonly ((v: string) => string)[] = [
      (v) => `oauth_token=tok&oauth_token_secret=${encode(v, ['form'])}&oauth_callback_confirmed=true`,
      (v) => `{"oauth_token":"tok", "oauth_token_secret" : ${JSON.stringify(v)}}`,
      (v) => `{"oauth_token_secret":${JSON.stringify(v).replace(/[^\x20-\x7e]/g, (c) => `\\u${hex(c.charCodeAt(0), 4)}`)}}`,
      (v) => `<r><oauth_token_secret>${encode(v, ['xml'])}</oauth_token_secret></r>`,
      (v) => `<oauth_token_secret><![CDATA[${v.replaceAll(']]>', '')}]]></oauth_token_secret>`,
      (v) => `<token oauth_token_secret="${encode(v, ['xml'])}"/>`,
      (v) => `OAuth oauth_token="tok", oauth_token_secret="${encode(v, ['rfc3986'])}"`,
      (v) => `you sent: a%3D1%26oauth_token_secret%3D${encode(v, ['rfc3986', 'rfc3986'])}%26b%3D2`,
    ]
    fc.assert(
      fc.property(secret(6), fc.nat({ max: answers.length - 1 }), (v, i) => {
        const sent = (answers[i] as (x: string) => string)(v)
        const out = redactProviderText(profile(), sent)
        for (const form of [v, encode(v, ['form']), encode(v, ['xml']), encode(v, ['rfc3986']), JSON.stringify(v).slice(1, -1)].filter((f) => f.length >= 6)) {
          expect(out.includes(form), `${JSON.stringify(form)} in ${JSON.stringify(out)}`).toBe(false)
        }
        expect(out).toContain('[redacted]')
      }),
      { seed: 0x5ec2e7, numRuns: 4_000 },
    )
  })
})

describe('redactProviderText: the parameters inside an echo of the request', () => {
  it('removes the signature of the gateway\'s own Authorization header echoed inside a JSON body', () => {
    const header = 'OAuth oauth_consumer_key="ck", oauth_nonce="n1", oauth_signature="x4zyxv%2BKOMtdHtOXdSsTLgXDo5Q%3D"'
    const out = redactProviderText(profile(), `refused: ${JSON.stringify({ headers: { authorization: header } })}`)
    expect(out).not.toContain('x4zyxv')
    expect(out).toContain('oauth_nonce=\\"n1\\"')
  })

  // Each parameter form a provider may answer with, then quoted again by however it echoes the
  // request: a JSON string (once or twice), a form value, XML text, a percent-encoded query.
  const hex = (n: number): string => n.toString(16).toUpperCase().padStart(2, '0')
  const rfc = (s: string): string => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${hex(c.charCodeAt(0))}`)
  const WRAPS: Readonly<Record<string, (s: string) => string>> = {
    json: (s) => JSON.stringify(s),
    jsonObject: (s) => JSON.stringify({ echo: { headers: { authorization: s } } }),
    form: (s) => new URLSearchParams([['sent', s]]).toString(),
    xml: (s) => `<sent>${s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)}</sent>`,
    query: (s) => `?sent=${rfc(s)}`,
  }
  const FORMS: readonly ((name: string, v: string) => string)[] = [
    (n, v) => `OAuth oauth_consumer_key="ck", ${n}="${rfc(v)}", oauth_version="1.0"`,
    (n, v) => `a=1&${n}=${rfc(v)}&b=2`,
    (n, v) => `{"${n}":${JSON.stringify(v)}}`,
    (n, v) => `<${n}>${v.replace(/[&<>]/g, (c) => `&#${c.charCodeAt(0)};`)}</${n}>`,
  ]
  it('no token secret, signature or verifier survives an answer form quoted again up to two layers (3,000 runs)', () => {
    // Signature-like values: base64 (with "+", "/", "=") long enough that no piece occurs by chance.
    const value = fc.base64String({ minLength: 16, maxLength: 44 }).filter((v) => /[A-Za-z0-9]{8}/.test(v))
    fc.assert(
      fc.property(value, fc.constantFrom('oauth_signature', 'oauth_token_secret', 'oauth_verifier'), fc.nat({ max: FORMS.length - 1 }), fc.array(fc.constantFrom(...Object.keys(WRAPS)), { minLength: 1, maxLength: 2 }), (v, name, form, wraps) => {
        const sent = wraps.reduce((text, w) => (WRAPS[w] as (x: string) => string)(text), (FORMS[form] as (n: string, x: string) => string)(name, v))
        const out = redactProviderText(profile(), sent)
        for (const piece of v.split(/[+/=]/).filter((p) => p.length >= 8)) expect(out.includes(piece), `${JSON.stringify(piece)} in ${JSON.stringify(out)}`).toBe(false)
        expect(out).toContain('[redacted]')
      }),
      { seed: 0x519e, numRuns: 3_000 },
    )
  })
})

describe('gateway URLs', () => {
  it('publicUrl wins, then the profile callbackUrl, then the request origin', () => {
    expect(gatewayBase(gateway('https://gw.example'), profile(), 'http://10.0.0.1:8080')).toBe('https://gw.example')
    expect(gatewayBase(gateway(), profile({ callbackUrl: 'https://pub.example/base/gateway/oauth1/callback' }), 'http://x')).toBe('https://pub.example/base')
    expect(gatewayBase(gateway(), profile(), 'http://10.0.0.1:8080')).toBe('http://10.0.0.1:8080')
    expect(callbackUrlFor(gateway(), profile({ callbackUrl: 'https://{tenant}.example/gateway/oauth1/callback' }), 'acme', undefined)).toBe('https://acme.example/gateway/oauth1/callback')
    expect(callbackUrlFor(gateway(), profile(), undefined, undefined)).toBeUndefined()
    expect(linkUrl(gateway(), profile(), 'abc', undefined)).toBe('/gateway/oauth1/p/authorize?link=abc')
  })

  it('links are built on the callback\'s origin, also when callbackUrl and publicUrl differ', () => {
    const other = profile({ callbackUrl: 'https://cb.example/base/gateway/oauth1/callback' })
    expect(linkUrl(gateway('https://gw.example'), other, 'abc', undefined)).toBe('https://cb.example/base/gateway/oauth1/p/authorize?link=abc')
    const tenanted = profile({ callbackUrl: 'https://{tenant}.cb.example/gateway/oauth1/callback' })
    expect(linkUrl(gateway('https://gw.example'), tenanted, 'abc', undefined, 'acme')).toBe('https://acme.cb.example/gateway/oauth1/p/authorize?link=abc')
    // A callback at a path of its own (a reverse proxy maps it): publicUrl when on its origin, else that origin.
    expect(linkUrl(gateway('https://gw.example/pre'), profile({ callbackUrl: 'https://gw.example/cb' }), 'abc', undefined)).toBe('https://gw.example/pre/gateway/oauth1/p/authorize?link=abc')
    expect(linkUrl(gateway('https://gw.example/pre'), profile({ callbackUrl: 'https://cb.example/cb' }), 'abc', undefined)).toBe('https://cb.example/gateway/oauth1/p/authorize?link=abc')
  })

  it('the browser that opens a link posts its button on the callback\'s origin, and its cookie\'s path covers the callback (every way the URLs resolve; 2,000 runs)', () => {
    const publicUrls = [undefined, 'http://gw.example:8080', 'https://gw.example/prefix', 'https://gw.example/a/b', 'https://cb.example']
    const callbackUrls = [undefined, 'https://cb.example/base/gateway/oauth1/callback', 'https://{tenant}.cb.example/gateway/oauth1/callback', 'https://cb.example/t/{tenant}/gateway/oauth1/callback?x=1',
      'http://other.example:9000/cb', 'https://gw.example/prefix/custom/cb', 'https://gw.example/prefix/gateway/oauth1/callback', 'http://gw.example:8080/gateway/oauth1/callback']
    const origins = [undefined, 'http://10.0.0.1:8080', 'https://gw.internal', 'http://[::1]:80']
    fc.assert(
      fc.property(fc.constantFrom(...publicUrls), fc.constantFrom(...callbackUrls), fc.constantFrom(...origins), fc.constantFrom(undefined, 'acme', 't-2'), fc.string({ minLength: 1, maxLength: 8 }),
        (publicUrl, callbackUrl, madeAt, tenantOrNone, requestToken) => {
          // {tenant} in callbackUrl needs tenancy (check refuses it otherwise), so such a user has a tenant.
          const tenant = callbackUrl?.includes('{') === true ? (tenantOrNone ?? 'acme') : tenantOrNone
          const g = gateway(publicUrl)
          const p = profile(callbackUrl !== undefined ? { callbackUrl } : {})
          const link = linkUrl(g, p, 'id', madeAt, tenant)
          if (link.startsWith('/')) {
            // Relative only when nothing names the gateway: then the button's request names the callback too.
            expect(callbackUrlFor(g, p, tenant, undefined)).toBeUndefined()
            return
          }
          // The button POSTs to the link page's own origin; the callback is worked out from that request.
          const clickedAt = new URL(link).origin
          const callback = callbackUrlFor(g, p, tenant, clickedAt) as string
          expect(new URL(callback).origin).toBe(clickedAt)
          const cookie = bindingCookieFor(requestToken, callback)
          const path = new URL(callback).pathname
          expect(path === cookie.path || path.startsWith(cookie.path.endsWith('/') ? cookie.path : `${cookie.path}/`)).toBe(true)
          expect(cookie.secure).toBe(clickedAt.startsWith('https:'))
        }),
      { seed: 0x0c00c1e, numRuns: 2_000 },
    )
  })

  it('a Host header that is not a plain host[:port] is not used', () => {
    expect(originFrom('gw.example:8443', true)).toBe('https://gw.example:8443')
    expect(originFrom('[::1]:80', false)).toBe('http://[::1]:80')
    expect(originFrom('evil.example/path', false)).toBeUndefined()
    expect(originFrom('a b', false)).toBeUndefined()
    // Shaped like one, but no URL holds it (the link built on it threw: a 500 after the link was stored).
    for (const host of ['a:99999', 'gw.example:65536', '[::::]', '[1:2:3]', '[::1::2]:443']) expect(originFrom(host, false), host).toBeUndefined()
    expect(originFrom('gw.example:65535', false)).toBe('http://gw.example:65535')
  })
})
