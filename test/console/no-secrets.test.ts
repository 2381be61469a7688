/**
 * No secret from the config ever reaches the browser. Every console file and every API
 * route is fetched (reads, every action, error replies, a Test that fails against the
 * real provider, a user's token obtained through the dance) and each answer is searched
 * for every secret value: consumer secrets, the admin token, the seal key, the client
 * key, users' tokens and token secrets. A property test checks the final scrub over
 * thousands of generated secrets and replies.
 */
import { readFileSync } from 'node:fs'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { STATIC_NAMES } from '../../src/console/index.js'
import { MIN_SECRET_LENGTH, scrubSecrets } from '../../src/console/scrub.js'
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

describe('scrubSecrets (property)', () => {
  const secret = fc.string({ minLength: MIN_SECRET_LENGTH, maxLength: 24, unit: 'binary' }).filter((s) => !s.includes('•'))
  const value = (secrets: string[]): fc.Arbitrary<string> =>
    fc.tuple(fc.string({ maxLength: 8 }), fc.constantFrom(...secrets), fc.string({ maxLength: 8 })).map(([a, s, b]) => a + s + b)

  it('leaves no secret, raw or JSON-escaped, in any JSON reply', () => {
    fc.assert(
      fc.property(
        fc.array(secret, { minLength: 1, maxLength: 4 }).chain((secrets) => fc.tuple(fc.constant(secrets), fc.array(fc.tuple(fc.string({ maxLength: 6 }), value(secrets)), { maxLength: 6 }))),
        ([secrets, entries]) => {
          const json = JSON.stringify({ list: entries.map(([k, v]) => ({ [k]: v })), text: entries.map(([, v]) => v).join(' ') })
          const out = scrubSecrets(json, secrets)
          for (const s of secrets) {
            expect(out.includes(s)).toBe(false)
            expect(out.includes(JSON.stringify(s).slice(1, -1))).toBe(false)
          }
        },
      ),
      { seed: 20_2026, numRuns: 3000 },
    )
  })
})
