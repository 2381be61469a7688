/**
 * The dance's query string (user=, app=, tenant=) and the request bodies of the gateway API and
 * the console are read as UTF-8 like X-Gateway-User: bytes that are not UTF-8 are a 400, never
 * replaced by U+FFFD. Before, `authorize?user=jos%E9` (é percent-encoded as Latin-1) made a link
 * for the user "jos\uFFFD" (the same user as `jos%E8`, and neither the header's "josé", which is
 * refused as Latin-1 bytes, nor the revoke path's, which refuses `%E9`); a JSON or form body
 * with such bytes did the same. Real gateway with its console (in process), real SQLite file;
 * then a seeded property over any bytes of the percent-decoder the dance uses.
 */
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { checkPercentUtf8 } from '../../src/callers/index.js'
import { GatewayError } from '../../src/errors.js'
import { send, type Reply } from '../support/gateway.js'
import { startProviderlessConsole, type ProviderlessConsole } from '../console/console-support.js'
import { ADMIN_TOKEN } from './dance-support.js'

const QUERY_MSG = "the query string is not valid UTF-8: percent-encode a character's UTF-8 bytes (é is %C3%A9)"
const FORM_MSG = "the form body is not valid UTF-8: percent-encode a character's UTF-8 bytes (é is %C3%A9)"
const BODY_MSG = 'the request body is not valid UTF-8: send its text UTF-8 encoded (the gateway reads no other encoding)'
const errorBody = (msg: string): string => JSON.stringify({ errors: [{ msg, code: 400 }] })

let c: ProviderlessConsole

beforeAll(async () => {
  c = await startProviderlessConsole('utf8-query-body-')
})

afterAll(async () => {
  await c?.close()
})

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` }
const start = (query: string, o: { method?: string; headers?: Record<string, string>; body?: Buffer } = {}): Promise<Reply> =>
  send(c.ops.gw.url, `/gateway/oauth1/partner/authorize${query}`, { method: o.method ?? 'GET', headers: { ...admin, ...o.headers }, ...(o.body ? { body: o.body } : {}) })
/** The exact 400 body, with its Content-Length. */
function expect400(r: Reply, msg: string): void {
  expect([r.status, r.text]).toEqual([400, errorBody(msg)])
  expect(Number(r.headers['content-length'])).toBe(r.body.length)
}

describe('the dance start reads user= as UTF-8', () => {
  it('a UTF-8 percent-encoded user makes a link; one whose octets are not UTF-8 is a 400 (query, form body)', async () => {
    const ok = await start('?user=jos%C3%A9&app=&format=json')
    expect(ok.status, ok.text).toBe(200)
    for (const bad of ['jos%E9', 'jos%E8', '%ED%A0%80', '%C3']) expect400(await start(`?user=${bad}&app=&format=json`), QUERY_MSG)
    const form = { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' } }
    expect((await start('?format=json', { ...form, body: Buffer.from('user=jos%C3%A9&app=') })).status).toBe(200)
    expect400(await start('?format=json', { ...form, body: Buffer.from('user=jos%E9&app=') }), FORM_MSG)
  })

  it('a JSON body whose bytes are not UTF-8 is a 400 (gateway API and console), not read with U+FFFD', async () => {
    const json = (user: Buffer): Buffer => Buffer.concat([Buffer.from('{"app":"","user":"'), user, Buffer.from('"}')])
    const post = { method: 'POST', headers: { 'content-type': 'application/json' } }
    expect((await start('?format=json', { ...post, body: json(Buffer.from('josé', 'utf8')) })).status).toBe(200)
    expect400(await start('?format=json', { ...post, body: json(Buffer.from('josé', 'latin1')) }), BODY_MSG)
    const consoleLink = (user: Buffer): Promise<Reply> =>
      send(c.ops.adminUrl, '/console/api/users/link', {
        method: 'POST',
        headers: { 'content-type': 'application/json', cookie: c.session.cookie, origin: c.session.origin, 'x-csrf-token': c.session.csrf },
        body: Buffer.concat([Buffer.from('{"app":"","profile":"partner","user":"'), user, Buffer.from('"}')]),
      })
    expect((await consoleLink(Buffer.from('josé', 'utf8'))).status).toBe(200)
    const r = await consoleLink(Buffer.from('josé', 'latin1'))
    expect([r.status, (JSON.parse(r.text) as { errors: { msg: string }[] }).errors[0]?.msg]).toEqual([400, BODY_MSG])
  })
})

describe('checkPercentUtf8 (seeded property)', () => {
  it('any bytes, percent-encoded in a query: refused exactly when they are not UTF-8, else URLSearchParams reads exactly their UTF-8 text', () => {
    const utf8 = new TextDecoder('utf-8', { fatal: true })
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 24 }), fc.constantFrom('%', '%z', '+', '&x=1', ''), (bytes, tail) => {
        const encoded = `?user=${[...bytes].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('')}${tail}`
        let text: string | undefined
        try {
          text = utf8.decode(bytes)
        } catch {
          text = undefined
        }
        if (text === undefined) {
          expect(() => checkPercentUtf8(encoded, 'the query string')).toThrow(GatewayError)
        } else {
          checkPercentUtf8(encoded, 'the query string')
          expect(new URL(`http://x/${encoded}`).searchParams.get('user')?.startsWith(text)).toBe(true)
        }
      }),
      { seed: 0x7f8a9, numRuns: 3000 },
    )
  })
})
