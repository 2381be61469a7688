/**
 * The bodies the gateway reads itself (gateway API, console) in a Content-Encoding: refused by
 * name, 415 with Accept-Encoding: identity (RFC 9110 §15.5.16), before the body is read. Before, a
 * gzipped JSON body to POST /gateway/token was read as text and refused as "not valid UTF-8".
 * Real gateways in this process (one with a caller app, one with the console), raw TCP clients.
 */
import { gzipSync } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseRawResponse, rawClient, rawRoundTrip, type RawResponse } from '../support/raw-client.js'
import { startBotGateway, type BotGateway } from './bot-gateway.js'
import { startProviderlessConsole, type ProviderlessConsole } from '../console/console-support.js'
import { ADMIN_TOKEN } from '../oauth1-dance/dance-support.js'

let bot: BotGateway
let c: ProviderlessConsole

beforeAll(async () => {
  ;[bot, c] = await Promise.all([startBotGateway('content-coding-', 'content-coding-secret-0123456789abcdef'), startProviderlessConsole('content-coding-console-')])
}, 120_000)

afterAll(async () => {
  await bot?.close()
  await c?.close()
})

const portOf = (url: string): number => Number(new URL(url).port)
const refusal = (coding: string): string => `the request body is sent with Content-Encoding "${coding}", which the gateway does not read: send it uncompressed (RFC 9110, section 15.5.16)`

/** A POST of `body` to `path` on `port` with `headers` (each a full line), Connection: close. */
function post(port: number, path: string, headers: string, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`POST ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n${headers}Connection: close\r\n\r\n`, 'latin1'), body])
}

/** Writes `bytes` on a new connection to `port` and parses the answer once the gateway closes. */
async function ask(port: number, bytes: Buffer): Promise<RawResponse> {
  return rawRoundTrip(port, bytes.toString('latin1'))
}

/** The exact JSON 415 with its Content-Length and Accept-Encoding: identity. */
function expect415(r: RawResponse, coding: string): void {
  expect([r.status, r.body.toString('utf8')]).toEqual([415, JSON.stringify({ errors: [{ msg: refusal(coding), code: 415 }] })])
  expect(Number(r.headers['content-length'])).toBe(r.body.length)
  expect(r.headers['accept-encoding']).toBe('identity')
}

describe('a request body in a content coding, where the gateway reads the body', () => {
  it('POST /gateway/token: gzip is the 415 naming it; the same body uncompressed (or identity) is served', async () => {
    const json = Buffer.from(JSON.stringify({ assertion: await bot.jwt() }))
    expect415(await ask(portOf(bot.url), post(portOf(bot.url), '/gateway/token', 'Content-Encoding: gzip\r\n', gzipSync(json))), 'gzip')
    expect415(await ask(portOf(bot.url), post(portOf(bot.url), '/gateway/token', 'Content-Encoding: identity\r\nContent-Encoding: br\r\n', json)), 'br')
    const plain = await ask(portOf(bot.url), post(portOf(bot.url), '/gateway/token', 'Content-Encoding: identity\r\n', json))
    expect(plain.status, plain.body.toString()).toBe(200)
  })

  it('the dance start (gateway API) and a console action: the 415 too', async () => {
    const body = gzipSync(Buffer.from(JSON.stringify({ app: '', user: 'u1' })))
    expect415(await ask(portOf(c.ops.gw.url), post(portOf(c.ops.gw.url), '/gateway/oauth1/partner/authorize?format=json', `Authorization: Bearer ${ADMIN_TOKEN}\r\nContent-Encoding: gzip\r\n`, body)), 'gzip')
    const session = `Cookie: ${c.session.cookie}\r\nOrigin: ${c.session.origin}\r\nX-CSRF-Token: ${c.session.csrf}\r\n`
    const link = gzipSync(Buffer.from(JSON.stringify({ app: '', profile: 'partner', user: 'u1' })))
    const r = await ask(portOf(c.ops.adminUrl), post(portOf(c.ops.adminUrl), '/console/api/users/link', `${session}Content-Encoding: GZIP\r\n`, link))
    expect415(r, 'GZIP')
    expect(r.headers['content-security-policy']).toBeDefined()
  })

  it('a console sign-in waiting on 100-continue is refused without being invited to send', async () => {
    const client = await rawClient(portOf(c.ops.adminUrl))
    client.socket.write(`POST /console/api/login HTTP/1.1\r\nHost: 127.0.0.1:${portOf(c.ops.adminUrl)}\r\nOrigin: ${c.session.origin}\r\nContent-Type: application/json\r\nContent-Encoding: deflate\r\nContent-Length: 100000\r\nExpect: 100-continue\r\n\r\n`)
    await client.closed(15_000)
    const text = client.received().toString('latin1')
    expect(text, text).not.toMatch(/^HTTP\/1\.1 100/m)
    expect415(parseRawResponse(client.received()), 'deflate')
  })
})
