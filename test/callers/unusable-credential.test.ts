/**
 * A credential header the gateway cannot use is refused as such (attacker review, session 33).
 * `Proxy-Authorization: Bearer` with nothing after it, a value that is not one token68, or
 * another scheme, was read as no credential: under `callers.required: true` the caller was told
 * "credentials required", and under `required: false` it was served as the open caller although it
 * had tried to authenticate. Now it is a 401/407 `caller credential not usable: …` naming what is
 * wrong (never the value), counted as `malformed_credential`, on every way in (route, forward
 * proxy, CONNECT, a tunnel's inner requests, the gateway API) with `--workers 2`. In route mode an
 * Authorization of another scheme (Basic, Digest, OAuth…) stays the caller's own, for the backend.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readBearerHeader } from '../../src/callers/index.js'
import { credentialFromHeaders } from '../../src/proxy/steps/authenticate-caller.js'
import type { IncomingMessage } from 'node:http'
import { bearerFrom } from '../../src/api/http.js'
import { adminUrlOf } from '../support/process.js'
import { send } from '../support/gateway.js'
import { expectJsonError, startWaysIn, type Answer, type WaysIn } from '../support/ways-in.js'
import { startBotGateway, type BotGateway } from './bot-gateway.js'

// What each unusable header is told; the values carry SECRET so an echo would show.
const UNUSABLE: [string, RegExp][] = [
  ['Bearer', /Proxy-Authorization carries no token after "Bearer"/],
  ['Bearer    ', /Proxy-Authorization carries no token after "Bearer"/],
  ['Bearer SECRET"quoted"', /Proxy-Authorization's token is not one bearer token/],
  ['Bearer SECRET one two', /Proxy-Authorization's token is not one bearer token/],
  ['Bearer:SECRETabc', /Proxy-Authorization must use the Bearer scheme/],
  ['Basic U0VDUkVUOnB3', /Proxy-Authorization must use the Bearer scheme/],
  ['SECRET', /Proxy-Authorization must use the Bearer scheme/],
]

describe('readBearerHeader', () => {
  it('property: a header is its token exactly when it is "Bearer <token68>", else unusable with a message that never holds the value (seeded)', () => {
    const token68 = fc.stringMatching(/^[A-Za-z0-9\-._~+/]{1,20}=*$/)
    const anyText = fc.string({ unit: fc.constantFrom('a', 'B', '=', ' ', '\t', '"', ',', ':', '/', 'é', '\u0000'), maxLength: 12 })
    const value = fc.oneof(
      fc.tuple(fc.constantFrom('Bearer', 'bearer', 'BEARER'), fc.constantFrom(' ', '  ', '\t'), token68).map(([s, w, t]) => `${s}${w}${t}`),
      fc.tuple(fc.constantFrom('Bearer', 'Bearer ', 'Basic ', 'Bearer:', 'Token ', ''), anyText).map(([s, t]) => `${s}${t}`),
    )
    fc.assert(
      fc.property(value, (v) => {
        const read = readBearerHeader('Proxy-Authorization', v)
        const m = /^bearer[ \t]+([A-Za-z0-9\-._~+/]+=*)[ \t]*$/i.exec(v.trim())
        if (m) return void expect(read).toEqual({ token: m[1] })
        expect(read).toHaveProperty('unusable')
        const said = (read as { unusable: string }).unusable.replace(/Proxy-Authorization|Bearer|<token>|"-._~\+\/"|"="/g, '')
        const sent = v.trim().replace(/^bearer/i, '')
        if (sent.length >= 3) expect(said).not.toContain(sent)
      }),
      { seed: 3302, numRuns: 2000 },
    )
  })

  it('route mode: Authorization is the gateway\'s only when its scheme starts with Bearer; a present unusable header wins over a good one', () => {
    const good = 'Bearer abcdefghijklmnopqrstuvwxyz'
    const credentialFrom = (headers: Record<string, string>, route: boolean): ReturnType<typeof credentialFromHeaders> => credentialFromHeaders({ headers, rawHeaders: Object.entries(headers).flat() }, route)
    expect(credentialFrom({ authorization: 'Basic dXNlcjpwdw==' }, true)).toBeUndefined()
    expect(credentialFrom({ authorization: 'OAuth oauth_token="x"' }, true)).toBeUndefined()
    expect(credentialFrom({ authorization: 'Bearer' }, true)).toHaveProperty('unusable')
    expect(credentialFrom({ authorization: 'bearer:abc' }, true)).toHaveProperty('unusable')
    expect(credentialFrom({ authorization: 'Bearer' }, false)).toBeUndefined()
    expect(credentialFrom({ 'proxy-authorization': good, authorization: 'Bearer' }, true)).toHaveProperty('unusable')
    expect(credentialFrom({ 'proxy-authorization': 'Bearer', authorization: good }, true)).toHaveProperty('unusable')
    expect(credentialFrom({ 'proxy-authorization': good, authorization: 'Basic dXNlcjpwdw==' }, true)).toEqual({ token: 'abcdefghijklmnopqrstuvwxyz' })
  })
})

describe('the gateway API\'s Authorization', () => {
  const request = (authorization: string): IncomingMessage => ({ headers: { authorization }, rawHeaders: ['Authorization', authorization] }) as unknown as IncomingMessage
  it('takes any word after Bearer, as callers.adminToken may be any string; refuses nothing after it, blanks in it, another scheme', () => {
    expect(bearerFrom(request('Bearer Pa$$w0rd!"admin":token'))).toBe('Pa$$w0rd!"admin":token')
    for (const [value, msg] of [['Bearer', /carries no token/], ['Bearer two words', /not one bearer token \(no blanks\)/], ['Basic dXNlcjpwdw==', /must use the Bearer scheme/]] as const) {
      expect(() => bearerFrom(request(value))).toThrow(msg)
    }
  })
})

describe('callers.required: false, --workers 2: an unusable credential is refused on every way in, never served as the open caller', () => {
  let ways: WaysIn
  let dir: string
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'unusable-credential-'))
    const callers = `store: { kind: sqlite, file: ${join(dir, 'state.db')} }\ncallers:\n  required: false\n  apps:\n    - { clientId: bot, hs256Secret: "unusable-credential-secret-of-32-bytes!", audience: "https://gateway.test", endpoints: ["*"] }\n`
    ways = await startWaysIn(['--workers', '2'], callers)
  }, 120_000)
  afterAll(async () => {
    await ways?.stop()
    rmSync(dir, { recursive: true, force: true })
  })
  const authority = (): string => `api.partner.test:${ways.port}`
  const expectRefused = (a: Answer, code: number, msg: RegExp): void => {
    expectJsonError(a, code, msg)
    expect(a.head).toMatch(code === 407 ? /\r\nproxy-authenticate: bearer/ : /\r\nwww-authenticate: bearer/)
    expect(a.body.toString('latin1')).not.toMatch(/SECRET/)
  }

  it('route, forward proxy, CONNECT and a tunnel\'s inner request: 401/407 naming what is wrong', async () => {
    for (const [value, msg] of UNUSABLE) {
      const header = `Proxy-Authorization: ${value}\r\n`
      expectRefused(await ways.ask('plain', `GET /proxy/partner/x HTTP/1.1\r\nHost: 127.0.0.1\r\n${header}\r\n`), 401, msg)
      expectRefused(await ways.ask('plain', `GET http://${authority()}/x HTTP/1.1\r\nHost: ${authority()}\r\n${header}\r\n`), 407, msg)
      expectRefused(await ways.ask('plain', `CONNECT ${authority()} HTTP/1.1\r\nHost: ${authority()}\r\n${header}\r\n`), 407, msg)
      expectRefused(await ways.ask('tunnel', `GET /x HTTP/1.1\r\nHost: ${authority()}\r\n${header}\r\n`), 407, msg)
    }
  }, 120_000)

  it('route mode: an Authorization whose scheme starts with Bearer is the gateway\'s; Basic goes to the backend; no header is the open caller', async () => {
    expectRefused(await ways.ask('plain', 'GET /proxy/partner/x HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer\r\n\r\n'), 401, /^caller credential not usable: Authorization carries no token after "Bearer"$/)
    expectRefused(await ways.ask('plain', 'GET /proxy/partner/x HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer:SECRETx\r\n\r\n'), 401, /Authorization must use the Bearer scheme/)
    const basic = await ways.ask('plain', 'GET /proxy/partner/x HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic dXNlcjpwdw==\r\n\r\n')
    expect(basic.status, basic.body.toString()).toBe(200)
    expect(JSON.parse(basic.body.toString()).headers.authorization).toBe('Basic dXNlcjpwdw==')
    const none = await ways.ask('plain', 'GET /proxy/partner/x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')
    expect(none.status).toBe(200)
    // On the forward proxy Authorization is the backend's whatever it holds.
    const forward = await ways.ask('plain', `GET http://${authority()}/x HTTP/1.1\r\nHost: ${authority()}\r\nAuthorization: Bearer\r\n\r\n`)
    expect(forward.status, forward.body.toString()).toBe(200)
  })

  it('counts caller_auth_failures_total{reason="malformed_credential"}', async () => {
    const metrics = await send(await adminUrlOf(ways.plain), '/metrics')
    const count = Number(/mtls_gateway_caller_auth_failures_total\{reason="malformed_credential"\} (\d+)/.exec(metrics.text)?.[1] ?? 0)
    expect(count).toBeGreaterThanOrEqual(UNUSABLE.length * 4 + 2)
    // Label sets are created at zero: no refusal here was counted as a missing credential.
    expect(Number(/mtls_gateway_caller_auth_failures_total\{reason="missing"\} (\d+)/.exec(metrics.text)?.[1] ?? 0)).toBe(0)
  })
})

describe('callers.required: true: an unusable credential is not "credentials required"', () => {
  let gw: BotGateway
  beforeAll(async () => {
    gw = await startBotGateway('unusable-required-', 'unusable-required-hs256-secret-32-bytes!')
  })
  afterAll(() => gw?.close())

  it('route mode and the gateway API answer 401 naming the fault', async () => {
    for (const [value, msg] of UNUSABLE) {
      const r = await send(gw.url, '/proxy/partner/resource/a', { headers: { 'proxy-authorization': value } })
      expect(r.status, r.text).toBe(401)
      expect(Number(r.headers['content-length'])).toBe(r.body.length)
      expect(r.json()).toEqual({ errors: [{ msg: expect.stringMatching(msg), code: 401 }] })
      expect(r.text).not.toMatch(/SECRET/)
    }
    const api = await send(gw.url, '/gateway/oauth1/partner/authorize?format=json', { headers: { authorization: 'Bearer' } })
    expect([api.status, api.json()]).toEqual([401, { errors: [{ msg: 'caller credential not usable: Authorization carries no token after "Bearer"', code: 401 }] }])
    const missing = await send(gw.url, '/proxy/partner/resource/a')
    expect(missing.json<{ errors: { msg: string }[] }>().errors[0]?.msg).toMatch(/^caller credentials required/)
  })
})
