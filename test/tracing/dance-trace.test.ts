import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SignJWT } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestPki, type TestPki } from '../support/pki.js'
import { send, startTestGateway } from '../support/gateway.js'
import { SPAN_KIND, startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../support/otlp-receiver.js'
import type { RunningGateway } from '../../src/cli/gateway-root.js'
import { ADMIN_TOKEN, authorizeUser, CONSUMER, gatewayYaml, startDanceProvider, type BrowserDance, type DanceProvider } from '../oauth1-dance/dance-support.js'

// The token exchange and the OAuth dance as spans: each /gateway/ request is a server span named
// by its route template (never the user or link id), and the dance's calls to the provider's
// token URLs are client spans under it that send the provider the gateway's context.
const USER = 'user-who-must-not-appear-4411'
const HS = 'hs-secret-of-at-least-thirty-two-bytes-for-trace!'
const AUD = 'https://gateway.test'

let pki: TestPki
let provider: DanceProvider
let receiver: OtlpReceiver
let gw: RunningGateway
let dir: string
let bearer: string
let dance: BrowserDance

const spansOf = (s: ReceivedSpan[], name: string): ReceivedSpan[] => s.filter((x) => x.name === name)
const childrenOf = (s: ReceivedSpan[], parent: ReceivedSpan | undefined): ReceivedSpan[] => s.filter((x) => parent !== undefined && x.parentSpanId === parent.spanId)

beforeAll(async () => {
  pki = await createTestPki()
  provider = await startDanceProvider(pki)
  receiver = await startOtlpReceiver()
  dir = mkdtempSync(join(tmpdir(), 'dance-trace-'))
  const callers = `callers:\n  adminToken: ${ADMIN_TOKEN}\n  apps:\n    - { clientId: bot, hs256Secret: "${HS}", audience: "${AUD}", endpoints: ["*"] }`
  const yaml = `tracing:\n  enabled: true\n  otlp: { endpoint: ${receiver.url} }\n${gatewayYaml({ pki, provider, store: { kind: 'sqlite', file: join(dir, 'state.db') }, callers })}`
  gw = await startTestGateway(dir, yaml)
})
afterAll(async () => {
  await gw?.close()
  await receiver?.close()
  await provider?.close()
  pki?.cleanup()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

describe('the gateway API traced', () => {
  it('the token exchange is a span named by its route', async () => {
    const now = Math.floor(Date.now() / 1000)
    const assertion = await new SignJWT({ iss: 'bot', aud: AUD, sub: USER, iat: now, exp: now + 300 }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(HS))
    const r = await send(gw.url, '/gateway/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ assertion }) })
    expect(r.status, r.text).toBe(200)
    bearer = r.json<{ access_token: string }>().access_token
    const spans = await receiver.waitFor((s) => spansOf(s, 'POST /gateway/token').length > 0)
    expect(spansOf(spans, 'POST /gateway/token')[0]).toMatchObject({ kind: SPAN_KIND.SERVER, attributes: { 'http.route': '/gateway/token', 'http.response.status_code': 200, 'mtls_gateway.mode': 'api' } })
  })

  it('the dance: authorize, the link\'s click and the callback are spans, each token call a client span under them', async () => {
    dance = await authorizeUser(gw.url, provider, `user=${USER}`)
    const spans = await receiver.waitFor((s) => spansOf(s, 'GET /gateway/oauth1/callback').length > 0 && spansOf(s, 'POST /gateway/oauth1/{profile}/authorize').length > 0 &&
      spansOf(s, 'GET /gateway/oauth1/{profile}/authorize').length >= 2 && s.filter((x) => x.kind === SPAN_KIND.CLIENT).length >= 2)
    // The credentialed start and the link's page only answer; the click gets the request token.
    const answered = spansOf(spans, 'GET /gateway/oauth1/{profile}/authorize')
    expect(answered).toHaveLength(2)
    for (const server of answered) expect(childrenOf(spans, server)).toEqual([])
    const click = spansOf(spans, 'POST /gateway/oauth1/{profile}/authorize')[0]
    const cb = spansOf(spans, 'GET /gateway/oauth1/callback')[0]
    for (const server of [click, cb]) {
      const calls = childrenOf(spans, server)
      expect(calls, server?.name).toHaveLength(1)
      expect(calls[0]).toMatchObject({ kind: SPAN_KIND.CLIENT, name: 'POST', traceId: server?.traceId, attributes: { 'server.address': 'api.partner.test', 'http.response.status_code': 200 } })
    }
  })

  it('no user, token, secret or link id anywhere in the exported bytes', async () => {
    const state = await provider.state()
    const linkId = new URL(dance.page.text.match(/action="([^"]+)"/)?.[1]?.replaceAll('&amp;', '&') ?? '', 'http://x').searchParams.get('link') ?? ''
    expect(linkId).toMatch(/^[\w-]{32}$/)
    const secrets = [USER, ADMIN_TOKEN, HS, CONSUMER.secret, bearer, dance.cookie.value, linkId, ...state.access_tokens.flatMap((t) => [t.token, t.secret]), ...state.request_tokens.flatMap((t) => [t.token, t.secret])]
    const all = Buffer.concat(receiver.bodies).toString('latin1') + JSON.stringify(receiver.spans)
    for (const s of secrets) expect(all.includes(s), `a secret of ${s.length} characters`).toBe(false)
  })
})
