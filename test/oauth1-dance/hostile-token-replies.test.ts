/**
 * A hostile or broken provider's token-URL replies, from a real TLS server that requires the
 * endpoint's client certificate: the profile test (POST /gateway/oauth1/<profile>/test, the same
 * code as `test-auth`, the console's Test and the dance's request-token step) must refuse, not
 * accept, a reply it cannot read whole and faithfully:
 * - a body past the 64 KiB cap (it was cut there and parsed: a token silently truncated);
 * - a token or secret that is not UTF-8 (it was read as U+FFFD: a token the provider never issued);
 * - oauth_token, oauth_token_secret or oauth_callback_confirmed given twice (the last one won:
 *   `oauth_callback_confirmed=false&oauth_callback_confirmed=true` passed);
 * - a token or secret of more than 4096 bytes (MAX_TOKEN_BYTES): the message names its length, never it;
 * - (accepted, pinned) an empty oauth_token_secret: the signing key is then `consumer-secret&`.
 * - a reply dripped a byte at a time (each byte inside the idle timeout): bounded by the
 *   endpoint's response timeout for the whole reply, not held for ever.
 * The same refusals at the callback's access-token step: the browser gets the 502 page, nothing stored.
 * - a body (or header) with terminal control sequences: `test-auth` prints them escaped, so a
 *   provider cannot rewrite the operator's terminal (clear it, hide lines, set the clipboard).
 * A seeded property over the bytes of a provider's token and secret: a token taken is exactly
 * the bytes the provider sent (a valid one always taken), and the Authorization header of the
 * request it later signs is printable ASCII with the token percent-encoded (no header injection).
 */
import { isUtf8 } from 'node:buffer'
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import type { ServerResponse } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningGateway } from '../../src/cli/gateway-root.js'
import { formatProfileTest } from '../../src/dance/profile-test.js'
import { abridgeLongTokens, MAX_TOKEN_BYTES, parseTokenReply, type ProviderReply } from '../../src/dance/token-reply.js'
import { GatewayError } from '../../src/errors.js'
import type { Profile } from '../../src/gateway/index.js'
import { signRequest } from '../../src/oauth1/index.js'
import { openSqliteStore } from '../../src/store/index.js'
import { createTestPki, type TestPki } from '../support/pki.js'
import { send, startTestGateway } from '../support/gateway.js'
import { startMtlsServer, type RunningServer } from '../support/tls-server.js'
import { oauthlibVerifier } from '../support/oauth1-verifiers.js'
import { MAIN } from '../support/process.js'
import { assertDistFresh } from '../support/dist-fresh.js'
import { ADMIN_TOKEN, CONSUMER, authorizeLink, cookieFor, gatewayYaml, startInBrowser, startTokenProvider, type DanceProvider } from './dance-support.js'

const GOOD = 'oauth_callback_confirmed=true&oauth_token=rt1&oauth_token_secret=rs1'
let pki: TestPki
let provider: RunningServer
let dir: string
let gw: RunningGateway
/** What the provider answers next: a body, or a handler of its own. */
let answer: string | Buffer | ((res: ServerResponse) => void) = GOOD
/** What the access-token URL answers (the request-token URL answers `answer`). */
let accessAnswer: string = GOOD
let fake: DanceProvider
/** The last request the provider got (a proxied one's signature is checked against it). */
let seen: { method: string; url: string; headers: Record<string, string> } | undefined

interface TestResult {
  ok: boolean
  message: string
  response?: { status: number; body: string }
}

async function testProfile(reply: typeof answer): Promise<TestResult> {
  answer = reply
  const res = await send(gw.url, '/gateway/oauth1/partner/test', { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
  expect(res.status, res.text).toBe(200)
  return res.json<TestResult>()
}

beforeAll(async () => {
  pki = await createTestPki()
  const started = await startTokenProvider(pki, (req, res) => {
    seen = { method: req.method ?? '', url: req.url ?? '', headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)])) }
    const reply = req.url?.startsWith('/access_token') ? accessAnswer : answer
    if (typeof reply === 'function') return reply(res)
    res.writeHead(200, { 'content-type': 'application/x-www-form-urlencoded' })
    res.end(reply)
  })
  provider = started.server
  fake = started.fake
  dir = mkdtempSync(join(tmpdir(), 'dance-hostile-replies-'))
  const yaml = gatewayYaml({ pki, provider: fake, store: { kind: 'sqlite', file: join(dir, 'state.db') } })
    .replace('    profile: partner\n', '    profile: partner\n    timeouts:\n      response: 1500ms\n      idle: 1s\n')
  writeFileSync(join(dir, 'gateway.yaml'), yaml)
  gw = await startTestGateway(dir, yaml)
})

afterAll(async () => {
  await gw?.close()
  await provider?.close()
  pki?.cleanup()
  rmSync(dir, { recursive: true, force: true })
})

describe('the token reply a hostile provider sends', () => {
  it('an ordinary reply passes (the rig works)', async () => {
    const r = await testProfile(GOOD)
    expect(r.ok, r.message).toBe(true)
  })

  it('a reply past 64 KiB is refused, not cut and parsed (its token would be truncated)', async () => {
    const r = await testProfile(`oauth_callback_confirmed=true&oauth_token_secret=rs1&oauth_token=${'A'.repeat(70 * 1024)}`)
    expect(r.ok).toBe(false)
    expect(r.message).toMatch(/more than 64 KiB/)
    // What is shown is bounded: the token read up to the cap (over 4096 bytes) shows its first 40 characters and its length.
    expect(r.response?.body).toBe(`oauth_callback_confirmed=true&oauth_token_secret=[redacted]&oauth_token=${'A'.repeat(40)}…[${64 * 1024 - 'oauth_callback_confirmed=true&oauth_token_secret=rs1&oauth_token='.length} bytes, abridged]`)
  })

  it.each([
    ['a percent-encoded byte that is not UTF-8', 'oauth_callback_confirmed=true&oauth_token=rt%FF1&oauth_token_secret=rs1'],
    ['a raw byte that is not UTF-8', Buffer.concat([Buffer.from('oauth_callback_confirmed=true&oauth_token_secret=rs1&oauth_token=rt'), Buffer.from([0xc3, 0x28])])],
    ['a secret that is not UTF-8', 'oauth_callback_confirmed=true&oauth_token=rt1&oauth_token_secret=rs%C3'],
  ])('a token reply with %s is refused', async (_what, body) => {
    const r = await testProfile(body)
    expect(r.ok).toBe(false)
    expect(r.message).toMatch(/not UTF-8/)
  })

  it.each([
    ['oauth_callback_confirmed', 'oauth_callback_confirmed=false&oauth_callback_confirmed=true&oauth_token=rt1&oauth_token_secret=rs1'],
    ['oauth_token', 'oauth_callback_confirmed=true&oauth_token=rt1&oauth_token=rt2&oauth_token_secret=rs1'],
    ['oauth_token_secret', 'oauth_callback_confirmed=true&oauth_token=rt1&oauth_token_secret=rs1&oauth_token_secret=rs2'],
  ])('a reply that gives %s twice is refused, naming it', async (name, body) => {
    const r = await testProfile(body)
    expect(r.ok).toBe(false)
    expect(r.message).toContain(`${name} more than once`)
  })

  it.each([
    ['oauth_token', 'ASCII', 'T'.repeat(MAX_TOKEN_BYTES + 1), MAX_TOKEN_BYTES + 1],
    ['oauth_token_secret', 'ASCII', 'S'.repeat(MAX_TOKEN_BYTES + 1), MAX_TOKEN_BYTES + 1],
    ['oauth_token', 'two-byte UTF-8', '\u00e9'.repeat(MAX_TOKEN_BYTES / 2 + 1), MAX_TOKEN_BYTES + 2],
  ])('an %s of more than 4096 bytes (%s) is refused, naming its length, not it', async (name, _kind, value, bytes) => {
    const other = name === 'oauth_token' ? 'oauth_token_secret=rs1' : 'oauth_token=rt1'
    const r = await testProfile(`oauth_callback_confirmed=true&${other}&${name}=${encodeURIComponent(value)}`)
    expect(r.ok).toBe(false)
    expect(r.message).toContain(`with an ${name} of ${bytes} bytes: a token or secret may have at most 4096`)
    expect(r.message).not.toContain(value.slice(0, 16))
    expect(r.message).not.toContain(encodeURIComponent(value).slice(0, 16))
    // The body shown (test-auth, the console's Test) bounds it too: its first 40 characters and its length (a secret is redacted).
    const shown = name === 'oauth_token' ? `oauth_token_secret=[redacted]&oauth_token=${encodeURIComponent(value).slice(0, 40)}…[${bytes} bytes, abridged]` : 'oauth_token=rt1&oauth_token_secret=[redacted]'
    expect(r.response?.body).toBe(`oauth_callback_confirmed=true&${shown}`)
  })

  it('a token and a secret of exactly 4096 bytes each pass', async () => {
    const r = await testProfile(`oauth_callback_confirmed=true&oauth_token=${'T'.repeat(MAX_TOKEN_BYTES)}&oauth_token_secret=${'S'.repeat(MAX_TOKEN_BYTES)}`)
    expect(r.ok, r.message).toBe(true)
  })

  it('an empty oauth_token_secret is taken (RFC 5849 requires the parameter, not a value); a missing one is refused', async () => {
    const empty = await testProfile('oauth_callback_confirmed=true&oauth_token=rt1&oauth_token_secret=')
    expect(empty.ok, empty.message).toBe(true)
    const missing = await testProfile('oauth_callback_confirmed=true&oauth_token=rt1')
    expect(missing.ok).toBe(false)
    expect(missing.message).toContain('without oauth_token and oauth_token_secret')
  })

  it('a redirect is not followed: the signed request goes to no other address', async () => {
    let elsewhere = 0
    const other = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt'), handler: (_req, res) => { elsewhere++; res.end(GOOD) } })
    try {
      const r = await testProfile((res) => { res.writeHead(307, { location: `https://127.0.0.1:${other.port}/steal` }); res.end() })
      expect(r.ok).toBe(false)
      expect(r.response?.status).toBe(307)
      expect(r.message).toContain('refused with HTTP 307')
      expect(elsewhere).toBe(0)
    } finally {
      await other.close()
    }
  })

  it('headers past the parser\'s limit fail the test with a message, the gateway serving on', async () => {
    const r = await testProfile((res) => { res.writeHead(200, { 'x-huge': 'h'.repeat(70 * 1024) }); res.end(GOOD) })
    expect(r.ok).toBe(false)
    expect(r.message).toMatch(/endpoint "partner"/)
    expect((await testProfile(GOOD)).ok).toBe(true)
  })

  it('a reply dripped a byte at a time ends with the endpoint\'s response timeout, not when the provider stops', async () => {
    let timer: NodeJS.Timeout | undefined
    const started = Date.now()
    const r = await testProfile((res) => {
      res.writeHead(200, { 'content-type': 'application/x-www-form-urlencoded' })
      timer = setInterval(() => res.write('a'), 300)
      res.on('close', () => clearInterval(timer))
    })
    clearInterval(timer)
    const took = Date.now() - started
    expect(r.ok).toBe(false)
    expect(r.message).toMatch(/1500 ?ms|1\.5 ?s/)
    expect(took).toBeLessThan(6000)
  })
})

describe('the access-token reply at the callback', () => {
  /** A dance for `user` whose access-token URL answers `body`: the callback's reply and the users' token keys then stored. */
  async function dance(user: string, body: string): Promise<{ done: Awaited<ReturnType<typeof send>>; keys: string[] }> {
    answer = GOOD
    accessAnswer = body
    try {
      const started = await startInBrowser(await authorizeLink(gw.url, `user=${user}`), { provider: fake, gateway: () => gw.url })
      const path = `/gateway/oauth1/callback?oauth_token=${started.requestToken}&oauth_verifier=v1`
      const done = await send(gw.url, path, { headers: cookieFor(started.cookie, `${gw.url}${path}`) })
      // The real SQLite file the gateway writes.
      const store = openSqliteStore({ file: join(dir, 'state.db') })
      try {
        return { done, keys: await store.keys('oauth1:token:') }
      } finally {
        await store.close()
      }
    } finally {
      accessAnswer = GOOD
    }
  }

  it.each([
    ['oauth_token twice', 'oauth_token=at1&oauth_token=at2&oauth_token_secret=as1'],
    ['a token that is not UTF-8', 'oauth_token=at%FF&oauth_token_secret=as1'],
  ])('with %s: the browser gets the 502 failure page, and no token is stored', async (_what, body) => {
    const { done, keys } = await dance('alice', body)
    expect(done.status, done.text).toBe(502)
    expect(done.headers['content-type']).toMatch(/^text\/html/)
    expect(done.text).toContain('Partner Bank did not issue an access token')
    expect(done.text).toContain('Nothing was stored')
    expect(keys.filter((k) => k.includes('alice'))).toEqual([])
  })

  it('with an access token of more than 4096 bytes: the 502 failure page, and no token is stored', async () => {
    const { done, keys } = await dance('carol', `oauth_token=${'T'.repeat(MAX_TOKEN_BYTES + 1)}&oauth_token_secret=as1`)
    expect(done.status, done.text).toBe(502)
    expect(done.text).toContain('Partner Bank did not issue an access token')
    expect(done.text).not.toContain('T'.repeat(16))
    expect(keys.filter((k) => k.includes('carol'))).toEqual([])
  })

  it('with an empty oauth_token_secret: stored, and requests are signed with the key "consumer-secret&" (python3-oauthlib verifies)', async () => {
    const { done, keys } = await dance('dave', 'oauth_token=at-dave&oauth_token_secret=')
    expect(done.status, done.text).toBe(200)
    expect(keys.filter((k) => k.includes('dave'))).toHaveLength(1)
    answer = 'ok'
    const res = await send(gw.url, '/proxy/partner/resource/hello', { headers: { 'x-gateway-user': 'dave' } })
    answer = GOOD
    expect(res.status, res.text).toBe(200)
    const got = seen as NonNullable<typeof seen>
    expect(got.headers.authorization).toContain('oauth_token="at-dave"')
    const verifier = oauthlibVerifier()
    try {
      // oauthlib's key for no token secret is the same "consumer-secret&" as for an empty one.
      const verdict = await verifier.ask({ uri: `https://api.partner.test:${provider.port}${got.url}`, method: got.method, headers: { Authorization: got.headers.authorization }, body_hex: '', client_secret: CONSUMER.secret })
      expect(verdict.ok, verdict.error).toBe(true)
    } finally {
      verifier.close()
    }
  })

  it('an ordinary one completes and stores the token (the rig reaches the store)', async () => {
    const { done, keys } = await dance('bob', 'oauth_token=at1&oauth_token_secret=as1')
    expect(done.status, done.text).toBe(200)
    expect(keys.filter((k) => k.includes('bob'))).toHaveLength(1)
  })
})

describe('test-auth on a terminal', () => {
  it('prints a provider\'s control characters escaped, never raw', async () => {
    answer = (res) => {
      res.writeHead(401, { 'content-type': 'text/plain', 'x-note': 'a\u0080b' })
      res.end('error=bad\u001b[2J\u001b[1A\rAuth Test Succeeded\u001b]52;c;ZWNobyBwd25lZA==\u0007\u009b31m\u202eevil\r\nnext line\u0000\u007f')
    }
    assertDistFresh()
    // Not spawnSync: the provider answers from this process.
    const r = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, [MAIN, 'test-auth', 'partner', '--config', join(dir, 'gateway.yaml')], { encoding: 'utf8', timeout: 20_000 }, (err, stdout, stderr) => resolve({ status: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr }))
    })
    expect(r.status, r.stderr).toBe(1)
    const out = r.stdout + r.stderr
    expect(out).toMatch(/^Auth Test Failed\n/)
    // No C0 control but line feed (and tab), no DEL, no C1, no bidirectional override reaches the terminal.
    expect(out).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/)
    expect(out).toContain('error=bad\\x1b[2J\\x1b[1A\\rAuth Test Succeeded\\x1b]52;c;ZWNobyBwd25lZA==\\x07\\x9b31m\\u202eevil\n  next line\\x00\\x7f')
    expect(out).toContain('x-note: a\\x80b')
  })

  it('any text a provider answers prints without a terminal control, its printable characters kept (seeded property)', () => {
    const controls = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/
    const text = fc.string({ unit: fc.oneof(fc.constantFrom('\u001b', '\r', '\n', '\u0007', '\u009b', '\u202e', '\u2066', '\u0000', '\t', '['), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })), maxLength: 40 })
    fc.assert(
      fc.property(text, text, text, (body, value, message) => {
        const out = formatProfileTest({ ok: false, profile: 'p', message, response: { method: 'POST', url: 'https://p.test/rt', endpoint: 'p', status: 401, headers: { 'x-h': value }, body } })
        expect(out).not.toMatch(controls)
        // Each run of printable characters is printed as it is (the controls between them as escapes).
        const runs = (t: string): string[] => t.split(/[\s\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]+/).filter((x) => x.length > 0)
        for (const part of [body, value, message]) for (const piece of runs(part)) expect(out).toContain(piece)
      }),
      { seed: 0x1b5b, numRuns: 300 },
    )
  })
})

describe('token bytes a provider sends (seeded property)', () => {
  const profile = { name: 'p', config: { legacyOAuth10: false } } as unknown as Profile
  /** The reply as callTokenUrl reads a whole body: UTF-8 with U+FFFD for an invalid byte, and whether it was valid. */
  const reply = (bytes: Buffer): ProviderReply => ({ method: 'POST', url: 'https://p.test/rt', endpoint: 'p', status: 200, headers: {}, body: bytes.toString('utf8'), whole: true, utf8: isUtf8(bytes) })
  const pct = (b: Uint8Array): string => [...b].map((x) => `%${x.toString(16).padStart(2, '0')}`).join('')
  // Raw bytes are sent as they are, but for the form's own delimiters (& = % +), which a provider must encode.
  const raw = (b: Uint8Array): Uint8Array => b.filter((x) => ![0x26, 0x3d, 0x25, 0x2b].includes(x))
  const bytes = fc.oneof(fc.uint8Array({ minLength: 1, maxLength: 24 }), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 8 }).map((t) => new Uint8Array(Buffer.from(t))), fc.constantFrom(...['\r\nX-Injected: 1', '"><script>alert(1)</script>', '\u0000\u007f', 'a"b\\c'].map((t) => new Uint8Array(Buffer.from(t)))))

  it('takes a token only as the exact bytes sent, and signs it into a printable, encoded header', () => {
    fc.assert(
      fc.property(bytes, bytes, fc.boolean(), (tokenBytes, secretBytes, encoded) => {
        const token = encoded ? tokenBytes : raw(tokenBytes)
        const secret = encoded ? secretBytes : raw(secretBytes)
        const wire = (b: Uint8Array): Buffer => (encoded ? Buffer.from(pct(b)) : Buffer.from(b))
        const body = Buffer.concat([Buffer.from('oauth_callback_confirmed=true&oauth_token='), wire(token), Buffer.from('&oauth_token_secret='), wire(secret)])
        let taken
        try {
          taken = parseTokenReply(profile, 'request-token', reply(body))
        } catch (err) {
          expect(err).toBeInstanceOf(GatewayError)
          expect((err as GatewayError).reason).toBe('oauth_provider_failed')
          // Refused only what cannot be taken faithfully: an empty token or bytes that are not UTF-8.
          expect(token.length === 0 || !isUtf8(token) || !isUtf8(secret)).toBe(true)
          return
        }
        expect(Buffer.from(taken.token)).toEqual(Buffer.from(token))
        expect(Buffer.from(taken.secret)).toEqual(Buffer.from(secret))
        const signed = signRequest({ method: 'GET', url: 'https://api.p.test/x', consumerKey: 'ck', consumerSecret: 'cs', token: taken.token, tokenSecret: taken.secret, signatureMethod: 'HMAC-SHA1', placement: 'header' })
        const header = signed.authorizationHeader ?? ''
        expect(header).toMatch(/^[\x20-\x7e]+$/)
        const sent = /oauth_token="([^"]*)"/.exec(header)?.[1]
        expect(sent !== undefined && decodeURIComponent(sent)).toBe(taken.token)
      }),
      { seed: 0x5849_21, numRuns: 300 },
    )
  })
})

describe('a failure\'s body with a token over 4096 bytes (seeded property)', () => {
  it('shows every such token reply parameter as its first 40 characters and its length, and leaves the rest of the body as it was', () => {
    const name = fc.constantFrom('oauth_token', 'oauth_token_secret', 'oauth_callback_confirmed', 'oauth%5Ftoken', 'other')
    const value = fc.tuple(fc.constantFrom('T', '%C3%A9', '\u00e9', '\u{1F600}', '%20'), fc.integer({ min: 1, max: 5_000 })).map(([unit, n]) => unit.repeat(n))
    fc.assert(
      fc.property(fc.array(fc.tuple(name, value), { minLength: 1, maxLength: 4 }), (params) => {
        const parts = params.map(([n, v]) => `${n}=${v}`)
        const shown = abridgeLongTokens(parts.join('&')).split('&')
        expect(shown).toHaveLength(parts.length)
        for (const [i, [n, v]] of params.entries()) {
          const bytes = Buffer.byteLength(decodeURIComponent(v))
          const long = n !== 'other' && bytes > MAX_TOKEN_BYTES
          expect(shown[i], `${n} of ${bytes} bytes`).toBe(long ? `${n}=${Array.from(v).slice(0, 40).join('')}…[${bytes} bytes, abridged]` : parts[i])
        }
      }),
      { seed: 0x4096, numRuns: 400 },
    )
  })
})
