/**
 * A parameter the gateway reads, given twice, is a 400 naming it (HTTP parameter
 * pollution): the callback took the first `oauth_token`/`oauth_verifier` of two, so
 * `…/callback?oauth_token=<genuine>&oauth_token=<another>` completed the dance with the genuine one
 * while another reader of the URL would see the other. Refused before anything is looked up, the
 * genuine redirect still completes. The callback is a browser's: its refusal is the HTML failure page
 * (status, message and code on it), as for its other failures; the access line is the same. The same
 * refusal, as JSON, on the other /gateway/oauth1/ routes that read a query parameter, in a form body,
 * and for a parameter given in both the body and the query of authorize.
 * Real gateway process, real python3-oauthlib provider, raw URLs.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { send, type Reply } from '../support/gateway.js'
import { createTestPki, type TestPki } from '../support/pki.js'
import { spawnGateway, type GatewayProcess } from '../support/process.js'
import { entriesWhen } from '../support/log-entries.js'
import { escapeHtml } from '../../src/dance/pages.js'
import { ADMIN, authorizeLink, cookieFor, gatewayYaml, pathOf, startDanceProvider, startInBrowser, type DanceProvider } from './dance-support.js'

let pki: TestPki
let provider: DanceProvider
let gp: GatewayProcess
let dir: string

beforeAll(async () => {
  pki = await createTestPki()
  provider = await startDanceProvider(pki)
  dir = mkdtempSync(join(tmpdir(), 'repeated-parameters-'))
  const file = join(dir, 'gateway.yaml')
  writeFileSync(file, gatewayYaml({ pki, provider, store: { kind: 'sqlite', file: join(dir, 'state.db') } }))
  gp = await spawnGateway(file, ['--workers', '1'])
}, 120_000)

afterAll(async () => {
  await gp?.stop('SIGKILL')
  await provider?.close()
  pki?.cleanup()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

const repeatedMsg = (name: string, where = 'the query string'): string => `${name} appears more than once in ${where}: the gateway does not guess which one counts; send it once`

/** The exact JSON 400, its Content-Length the body's. */
function expect400(r: Reply, msg: string): void {
  expect([r.status, r.text]).toEqual([400, JSON.stringify({ errors: [{ msg, code: 400 }] })])
  expect(Number(r.headers['content-length'])).toBe(r.body.length)
}

/** The callback's failure page for a 400 saying `msg`: HTML as its other failures, the code shown, Content-Length the body's. */
function expectPage400(r: Reply, msg: string): void {
  expect([r.status, r.headers['content-type']]).toEqual([400, 'text/html; charset=utf-8'])
  expect(Number(r.headers['content-length'])).toBe(r.body.length)
  expect(r.headers).toMatchObject({ 'cache-control': 'no-store', 'x-frame-options': 'DENY', 'referrer-policy': 'same-origin' })
  expect(r.text).toContain('data-result="failure">Authorization failed</h1>')
  expect(r.text).toContain(`<p>${escapeHtml(msg)}</p>\n<p id="code">Error code: <code>400</code></p>`)
}

/** The message on a failure page. */
const pageMessage = (r: Reply): string => /<\/h1>\n<p>([^<]*)<\/p>/.exec(r.text)?.[1] ?? ''

/** authorize, an API route (JSON errors). */
const start = (query: string, o: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Reply> =>
  send(gp.url, `/gateway/oauth1/partner/authorize?${query}`, { method: o.method ?? 'GET', headers: { ...ADMIN, ...o.headers }, ...(o.body !== undefined ? { body: Buffer.from(o.body) } : {}) })

describe('the callback', () => {
  it('refuses a repeated oauth_token, oauth_verifier or denied, naming it, and leaves the dance to the genuine redirect', async () => {
    const started = await startInBrowser(await authorizeLink(gp.url, 'user=alice'), { provider })
    const callbackUrl = await provider.decide(started.requestToken, 'approve')
    const cookie = cookieFor(started.cookie, callbackUrl)
    const from = gp.output.length
    const callback = (extra: string): Promise<Reply> => send(gp.url, `${pathOf(callbackUrl)}${extra}`, { headers: cookie })
    // The genuine token first: the first-wins reading completed the dance with it.
    expectPage400(await callback('&oauth_token=forged-request-token'), repeatedMsg('oauth_token'))
    expectPage400(await callback('&oauth_verifier=forged-verifier'), repeatedMsg('oauth_verifier'))
    expectPage400(await callback('&denied=x&denied=y'), repeatedMsg('denied'))
    expectPage400(await send(gp.url, `/gateway/oauth1/callback?oauth_token=forged&${new URL(callbackUrl).search.slice(1)}`, { headers: cookie }), repeatedMsg('oauth_token'))
    const lines = await entriesWhen(gp, (e) => e.msg === 'request' && e.reason === 'bad_request' && String(e.error).includes('appears more than once in the query string'), 4, { from, what: 'the refusals\' access lines' })
    expect(lines.map((l) => l.status)).toEqual([400, 400, 400, 400])
    // Bytes that are not UTF-8 in its query: the page too (the JSON 400 on the API routes).
    const notUtf8 = 'the query string is not valid UTF-8: percent-encode a character\'s UTF-8 bytes (é is %C3%A9)'
    expectPage400(await callback('&utm=%FF'), notUtf8)
    expect400(await start('user=%FF&app=&format=json'), notUtf8)
    // A parameter the callback does not read may repeat; the approval was not used up by the refusals.
    const done = await callback('&utm=1&utm=2')
    expect(done.status, done.text.slice(0, 300)).toBe(200)
    expect(done.text).toContain('Authorization complete')
  })
})

describe('the other /gateway/oauth1/ routes', () => {

  it('authorize: the query, the form body, and body and query at once', async () => {
    expect((await start('user=alice&app=&format=json')).status).toBe(200)
    expect400(await start('user=alice&user=mallory&app=&format=json'), repeatedMsg('user'))
    expect400(await start('user=alice&app=&app=&format=json'), repeatedMsg('app'))
    expect400(await start('user=alice&app=&format=json&format=html'), repeatedMsg('format'))
    const form = { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' } }
    expect((await start('format=json', { ...form, body: 'user=alice&app=' })).status).toBe(200)
    expect400(await start('format=json', { ...form, body: 'user=alice&app=&user=mallory' }), repeatedMsg('user', 'the form body'))
    const json = { method: 'POST', headers: { 'content-type': 'application/json' } }
    expect((await start('format=json', { ...json, body: '{"user":"alice","app":""}' })).status).toBe(200)
    expect400(await start('format=json&user=mallory', { ...json, body: '{"user":"alice","app":""}' }), 'user is given both in the request body and in the query string: the gateway does not guess which one counts; send it once')
  })

  it('a profile test and a token revoke: tenant and app', async () => {
    expect400(await send(gp.url, '/gateway/oauth1/partner/test?tenant=a&tenant=b', { method: 'POST', headers: ADMIN }), repeatedMsg('tenant'))
    expect400(await send(gp.url, '/gateway/oauth1/partner/tokens/alice?app=&app=x', { method: 'DELETE', headers: ADMIN }), repeatedMsg('app'))
    expect400(await send(gp.url, '/gateway/oauth1/partner/tokens/alice?tenant=a&tenant=a', { method: 'DELETE', headers: ADMIN }), repeatedMsg('tenant'))
  })

  it('any query of authorize or the callback: the 400 exactly when a parameter it reads repeats (seeded property)', async () => {
    const READS = { authorize: ['user', 'app', 'format', 'link', 'anonymous', 'tenant'], callback: ['oauth_token', 'oauth_verifier', 'denied'] } as const
    const query = (route: keyof typeof READS): fc.Arbitrary<[string, string][]> =>
      fc.array(fc.tuple(fc.constantFrom(...READS[route], 'utm', 'x'), fc.constantFrom('alice', '', 'a b', 'json')), { maxLength: 6 })
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('authorize' as const, 'callback' as const).chain((route) => fc.tuple(fc.constant(route), query(route))), async ([route, pairs]) => {
        const search = new URLSearchParams(pairs).toString()
        const r = route === 'authorize' ? await start(search) : await send(gp.url, `/gateway/oauth1/callback?${search}`)
        const reads: readonly string[] = READS[route]
        const repeated = reads.filter((name) => pairs.filter(([k]) => k === name).length > 1)
        if (repeated.length === 0) return void expect(r.text).not.toContain('appears more than once')
        expect(r.status).toBe(400)
        // The browser's callback answers with its page, the API route with JSON.
        const msg = route === 'callback' ? pageMessage(r) : (r.json<{ errors: { msg: string }[] }>().errors[0]?.msg ?? '')
        expect(repeated.map((name) => repeatedMsg(name))).toContain(msg)
        if (route === 'callback') expectPage400(r, msg)
      }),
      { seed: 0x4770, numRuns: 120 },
    )
  }, 120_000)
})

it('src/ reads a request\'s query or form parameters only through singleParameter(s) or uniqueParameters (a new read cannot take the first of two)', () => {
  const files = readdirSync('src', { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts') && !f.endsWith('config-validator.ts'))
  const reads = files.filter((f) => /searchParams\.get\(|Object\.fromEntries\(new URLSearchParams/.test(readFileSync(join('src', f), 'utf8')))
  expect(reads).toEqual([])
})
