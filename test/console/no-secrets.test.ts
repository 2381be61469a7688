/**
 * No secret from the config ever reaches the browser. Every console file and every API
 * route is fetched (reads, every action, error replies, a Test that fails against the
 * real provider, a user's token obtained through the dance) and each answer is searched
 * for every secret value: consumer secrets, the admin token, the seal key, the client
 * key, users' tokens and token secrets. A property test checks the final scrub over
 * thousands of generated secrets and replies, each secret as written, percent-encoded or
 * JSON-escaped.
 */
import { readFileSync } from 'node:fs'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { STATIC_NAMES } from '../../src/console/index.js'
import { MIN_SECRET_LENGTH, scrubbedJson, scrubSecrets } from '../../src/console/scrub.js'
import { configSecretValues } from '../../src/ops/index.js'
import { adminRequest, apiSession, CONSOLE_TOKEN, SEAL_KEY, useConsoleRig, WRONG_SECRET, type Reply } from './console-support.js'
import { CONSUMER, danceInBrowser } from '../oauth1-dance/dance-support.js'

const use = useConsoleRig()

/** The PEM body lines of a key file (any 40-character run of one would be a leak). */
function keyMaterial(file: string): string[] {
  return readFileSync(file, 'utf8').split('\n').filter((l) => l.length >= 40 && !l.startsWith('-----'))
}

describe('no secret in any console response', () => {
  it('crawls every file and route and finds none of the config\'s secrets, keys or users\' tokens', async () => {
    const s = await apiSession(use.rig.consoleUrl)
    const post = (name: string, body: unknown): Promise<Reply> => adminRequest(`${use.rig.consoleUrl}api/${name}`, { method: 'POST', cookie: s.cookie, origin: s.origin, csrf: s.csrf, body })
    const replies: { what: string; reply: Reply }[] = []
    const keep = async (what: string, reply: Promise<Reply>): Promise<Reply> => {
      const r = await reply
      replies.push({ what, reply: r })
      return r
    }

    // A user's token through the dance, so the users page has something to (not) show.
    const link = JSON.parse((await keep('users/link', post('users/link', { app: '', profile: 'partner', user: 'frank' }))).text) as { url: string }
    const { done } = await danceInBrowser(link.url, { provider: use.rig.provider, gateway: use.rig.ops.gw.url })
    expect(done.status, done.text).toBe(200)

    for (const name of STATIC_NAMES) await keep(name, adminRequest(`${use.rig.consoleUrl}${name}`))
    for (const name of ['session', 'overview', 'endpoints', 'profiles', 'users', 'nope']) await keep(name, adminRequest(`${use.rig.consoleUrl}api/${name}`, { cookie: s.cookie }))
    for (const profile of ['partner', 'partner-wrong', 'nope']) await keep(`test ${profile}`, post('profiles/test', { profile }))
    await keep('test tenanted', post('profiles/test', { profile: 'tenanted', tenant: 'acme' }))
    await keep('test bad tenant', post('profiles/test', { profile: 'tenanted', tenant: 'Not A Label' }))
    for (const endpoint of ['partner', 'nope']) await keep(`connection ${endpoint}`, post('endpoints/test', { endpoint }))
    const yaml = readFileSync(use.rig.ops.gw.ref.current.config.file, 'utf8')
    await keep('draft as is', post('draft', { yaml }))
    await keep('draft broken', post('draft', { yaml: yaml.replace('consumerKey: dancegatewayconsumer01', 'consumerKey: [1]') }))
    await keep('draft not yaml', post('draft', { yaml: `${yaml}\n  : : [` }))
    await keep('reload', post('reload', {}))
    await keep('wrong login', adminRequest(`${use.rig.consoleUrl}api/login`, { method: 'POST', origin: s.origin, body: { token: `${CONSOLE_TOKEN}x` } }))
    await keep('revoke missing', post('users/revoke', { space: '', profile: 'partner', user: 'nobody' }))
    await keep('revoke', post('users/revoke', { space: '', profile: 'partner', user: 'frank' }))
    await keep('logout', post('logout', {}))

    const state = await use.rig.provider.state()
    const secrets = [
      ...configSecretValues(use.rig.ops.gw.ref.current.config),
      CONSOLE_TOKEN, SEAL_KEY, WRONG_SECRET, CONSUMER.secret,
      ...keyMaterial(use.rig.pki.file('client.key')),
      ...state.access_tokens.flatMap((t) => [t.token, t.secret]),
      ...state.request_tokens.map((t) => t.secret),
    ]
    expect(state.access_tokens.length).toBeGreaterThan(0)
    expect(secrets).toContain(CONSOLE_TOKEN)
    expect(replies.length).toBeGreaterThan(STATIC_NAMES.length + 12)
    // Each reply was really served (not all errors), so the search had something to search.
    expect(replies.filter((r) => r.reply.status === 200).length).toBeGreaterThan(STATIC_NAMES.length + 8)
    for (const { what, reply } of replies) {
      const text = `${JSON.stringify(reply.headers)}\n${reply.text}`
      for (const secret of secrets) expect(text.includes(secret), `${what} contains a secret`).toBe(false)
    }
  })
})

describe('no secret in a console error either', () => {
  it('a route named by a secret is a 404 whose message masks it', async () => {
    const s = await apiSession(use.rig.consoleUrl)
    for (const method of ['GET', 'POST']) {
      const r = await adminRequest(`${use.rig.consoleUrl}api/${CONSUMER.secret}`, { method, cookie: s.cookie, origin: s.origin, csrf: s.csrf, ...(method === 'POST' ? { body: {} } : {}) })
      expect(r.status, r.text).toBe(404)
      expect(r.text).not.toContain(CONSUMER.secret)
      expect(JSON.parse(r.text)).toEqual({ errors: [{ msg: expect.stringMatching(/^no console (route GET|action) /), code: 404 }] })
      expect(r.headers['content-length']).toBe(String(Buffer.byteLength(r.text)))
    }
  })
})

describe('scrubbedJson (property)', () => {
  // Ordinary text is drawn from letters and spaces; every secret holds something else, so ordinary text never holds one.
  const ordinary = fc.stringMatching(/^[a-z ]{0,8}$/)
  const secret = fc.string({ minLength: MIN_SECRET_LENGTH, maxLength: 24, unit: 'binary' }).filter((s) => !s.includes('•') && /[^a-z ]/.test(s))
  /** The ways a secret reaches a reply: as written, percent-encoded once or twice (a URL's path), JSON-escaped inside a string (a provider's echo). */
  const FORMS: readonly ((s: string) => string)[] = [(s) => s, encodeURIComponent, (s) => encodeURIComponent(encodeURIComponent(s)), (s) => JSON.stringify(s).slice(1, -1), (s) => JSON.stringify(encodeURIComponent(s)).slice(1, -1)]
  const holding = (secrets: string[]): fc.Arbitrary<string> =>
    fc.tuple(ordinary, fc.constantFrom(...secrets), fc.nat(FORMS.length - 1), ordinary).map(([a, s, form, b]) => a + (FORMS[form] as (s: string) => string)(s) + b)
  const reply = (secrets: string[]): fc.Arbitrary<Record<string, unknown>> =>
    // Keys holding a secret only inside (two may mask to one key; what they held is not ordinary text).
    fc.dictionary(ordinary, fc.oneof(ordinary, holding(secrets), fc.array(fc.oneof(ordinary, holding(secrets), fc.integer()), { maxLength: 4 }), fc.dictionary(fc.oneof(ordinary, holding(secrets)), holding(secrets), { maxKeys: 3 })), { maxKeys: 6 })
  const strings = (v: unknown): string[] =>
    typeof v === 'string' ? [v] : Array.isArray(v) ? v.flatMap(strings) : v !== null && typeof v === 'object' ? Object.entries(v).flatMap(([k, x]) => [k, ...strings(x)]) : []

  it('leaves valid JSON holding no secret in any form, and every ordinary string as it was', () => {
    let masked = 0
    fc.assert(
      fc.property(fc.array(secret, { minLength: 1, maxLength: 4 }).chain((secrets) => fc.tuple(fc.constant(secrets), reply(secrets))), ([secrets, body]) => {
        const parsed = JSON.parse(scrubbedJson(body, secrets)) as unknown
        const out = strings(parsed)
        for (const text of out) {
          for (const s of secrets) for (const form of FORMS) expect(text.includes(form(s)), `${JSON.stringify(text)} holds ${JSON.stringify(s)}`).toBe(false)
          if (text.includes('••••••')) masked++
        }
        // Nothing else is lost: each ordinary string of the body is still there, unchanged.
        for (const text of strings(body).filter((t) => /^[a-z ]*$/.test(t))) expect(out).toContain(text)
      }),
      { seed: 20_2026, numRuns: 2000 },
    )
    expect(masked).toBeGreaterThan(1000)
  })

  it('a message is scrubbed the same way (percent-encoded in a URL, JSON-escaped)', () => {
    const secrets = ['p@ss/wörd "x"', 'tok en']
    const message = `GET https://api.test/v1/${encodeURIComponent(secrets[0] as string)}/x failed: {"echo":${JSON.stringify(secrets[0])},"t":"tok+en"}`
    const out = scrubSecrets(message, secrets)
    expect(out).toBe('GET https://api.test/v1/••••••/x failed: {"echo":"••••••","t":"••••••"}')
  })
})
