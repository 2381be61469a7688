/**
 * Beyond the proxy path (test/proxy/repeated-headers.property.test.ts), the gateway API, the dance
 * and the console read a credential, the host or the console's CSRF token once or not at all: sent
 * twice, it is a 400 header_repeated naming it, with a correct Content-Length, logged like every
 * refused request; sent once, the request is served as before. Real gateway with its console (in
 * process), real SQLite file, raw bytes on the wire.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { eventually } from '../support/eventually.js'
import { rawRoundTrip, type RawResponse } from '../support/raw-client.js'
import { startProviderlessConsole, type ProviderlessConsole } from '../console/console-support.js'
import { ADMIN_TOKEN } from './dance-support.js'

let c: ProviderlessConsole

beforeAll(async () => {
  c = await startProviderlessConsole('repeated-headers-surfaces-')
})

afterAll(async () => {
  await c?.close()
})

/** Sends the request of `lines` (CRLF-joined; Connection: close added) and `body` to 127.0.0.1:`port`. */
function raw(port: number, lines: string[], body = ''): Promise<RawResponse> {
  const length = body === '' ? [] : [`Content-Length: ${Buffer.byteLength(body)}`]
  return rawRoundTrip(port, `${[...lines, ...length, 'Connection: close'].join('\r\n')}\r\n\r\n${body}`)
}

const portOf = (url: string): number => Number(new URL(url).port)

/** The exact 400 naming `label`, its Content-Length the body's. */
function expectRepeated(r: RawResponse, label: string): void {
  const msg = `${label} appears more than once in the request: the gateway does not guess which one counts; send it once`
  expect([r.status, r.body.toString('utf8')]).toEqual([400, JSON.stringify({ errors: [{ msg, code: 400 }] })])
  expect(Number(r.headers['content-length'])).toBe(r.body.length)
}

describe('the gateway API, the dance and the console take one of each', () => {
  const authorize = 'GET /gateway/oauth1/partner/authorize?user=alice&app=&format=json HTTP/1.1'

  it('Authorization on the gateway API: once, an authorize link; twice (any case, even the same token), the 400, in the access log as header_repeated', async () => {
    const port = portOf(c.ops.gw.url)
    const once = await raw(port, [authorize, 'Host: gw', `Authorization: Bearer ${ADMIN_TOKEN}`])
    expect(once.status, once.body.toString()).toBe(200)
    expectRepeated(await raw(port, [authorize, 'Host: gw', `Authorization: Bearer ${ADMIN_TOKEN}`, `authorization: Bearer ${ADMIN_TOKEN}`]), 'Authorization')
    expectRepeated(await raw(port, [authorize, 'Host: gw', 'AUTHORIZATION: Bearer wrong', `Authorization: Bearer ${ADMIN_TOKEN}`]), 'Authorization')
    await eventually(() => c.ops.access().filter((l) => l.reason === 'header_repeated' && l.status === 400).length >= 2, 15_000, 'the access lines of the refusals')
  })

  it('Host on either listener: two lines are the 400, one is served', async () => {
    const port = portOf(c.ops.gw.url)
    expectRepeated(await raw(port, [authorize, 'Host: gw', 'host: other.test', `Authorization: Bearer ${ADMIN_TOKEN}`]), 'Host')
    const admin = portOf(c.ops.adminUrl)
    expect((await raw(admin, ['GET /healthz HTTP/1.1', 'Host: 127.0.0.1'])).status).toBe(200)
    expectRepeated(await raw(admin, ['GET /healthz HTTP/1.1', 'Host: 127.0.0.1', 'HOST: 127.0.0.1']), 'Host')
  })

  it("the console's X-CSRF-Token: once, the action runs; twice (even the right token twice), the 400", async () => {
    const admin = portOf(c.ops.adminUrl)
    const { cookie, csrf, origin } = c.session
    const host = new URL(origin).host
    const body = JSON.stringify({ profile: 'partner', app: '', user: 'alice' })
    const head = ['POST /console/api/users/link HTTP/1.1', `Host: ${host}`, `Cookie: ${cookie}`, `Origin: ${origin}`, 'Content-Type: application/json']
    const once = await raw(admin, [...head, `X-CSRF-Token: ${csrf}`], body)
    expect(once.status, once.body.toString()).toBe(200)
    expectRepeated(await raw(admin, [...head, `X-CSRF-Token: ${csrf}`, `x-csrf-token: ${csrf}`], body), 'X-CSRF-Token')
  })
})
