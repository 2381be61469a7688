/**
 * A proxied call sent again (its reused connection closed under it) over the endpoint's pool,
 * where a profile test's token call had dialled that connection: the retry runs from the
 * connection's callback, inside the profile test's tracing scope, and the API tracer's undici hook
 * spanned it into the profile test's trace and added a second `traceparent` (found by review; W3C:
 * two are none, so the caller's trace was cut at the backend). Real gateway, real mTLS backend that
 * closes the connection the token call left open, real OTLP receiver.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TLSSocket } from 'node:tls'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningGateway } from '../../src/cli/gateway-root.js'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { endpointYaml, send, startTestGateway } from '../support/gateway.js'
import { startOtlpReceiver, type OtlpReceiver } from '../support/otlp-receiver.js'
import { startScriptedBackend, type ScriptedBackend } from '../support/scripted-backend.js'

const ADMIN = 'admin-token-of-the-scope-retry-test-0123'
const CALLER_TRACE = 'ab'.repeat(16)

let pki: TestPki
let receiver: OtlpReceiver
let backend: ScriptedBackend
let gw: RunningGateway
let dir: string
// Each socket's request heads, and whether the next /data on a socket the token call used is cut.
const served = new WeakMap<TLSSocket, string[]>()
const dataHeads: { head: string; cut: boolean }[] = []
let cutReused = false

const ok = (body: string, type = 'application/json'): string => `HTTP/1.1 200 OK\r\ncontent-type: ${type}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`

beforeAll(async () => {
  pki = await createTestPki()
  receiver = await startOtlpReceiver()
  backend = await startScriptedBackend(pki, (head, socket) => {
    const before = served.get(socket) ?? []
    served.set(socket, [...before, head])
    if (head.startsWith('POST /request_token')) return ok('oauth_token=rt&oauth_token_secret=rs&oauth_callback_confirmed=true', 'application/x-www-form-urlencoded')
    const cut = cutReused && before.some((h) => h.startsWith('POST /request_token'))
    dataHeads.push({ head, cut })
    if (cut) return void socket.destroy()
    return ok('{}')
  })
  dir = mkdtempSync(join(tmpdir(), 'api-scope-retry-'))
  const origin = `https://api.partner.test:${backend.port}`
  gw = await startTestGateway(dir, `admin: { enabled: false }
callers:
  required: false
  adminToken: ${ADMIN}
tracing:
  enabled: true
  sampler: { ratio: 1 }
  otlp: { endpoint: ${receiver.url} }
endpoints:
${endpointYaml('partner', backend.port, clientTls(pki), '    profile: partner\n')}profiles:
  - name: partner
    consumerKey: ck
    consumerSecret: cs-secret-of-the-test
    requestTokenUrl: ${origin}/request_token
    accessTokenUrl: ${origin}/access_token
    authorizeUrl: https://browser.partner.test/authorize
    token: { mode: none }
`)
})

afterAll(async () => {
  await gw?.close()
  await backend?.close()
  await receiver?.close()
  pki?.cleanup()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

describe('a proxied call sent again over a connection an API call dialled', () => {
  it('goes with its own traceparent only, and makes no span in the API call\'s trace', async () => {
    const test = await send(gw.url, '/gateway/oauth1/partner/test', { method: 'POST', headers: { authorization: `Bearer ${ADMIN}` } })
    expect(test.status, test.text).toBe(200)
    cutReused = true
    const r = await send(gw.url, '/proxy/partner/data', { headers: { traceparent: `00-${CALLER_TRACE}-00f067aa0ba902b7-01` } })
    expect(r.status, r.text).toBe(200)
    // Not vacuous: the call went over the token call's connection, was cut there and sent again.
    expect(dataHeads.map((d) => d.cut)).toEqual([true, false])
    const traceparents = (head: string): string[] => head.split('\r\n').filter((l) => /^traceparent:/i.test(l)).map((l) => l.slice(l.indexOf(':') + 1).trim())
    for (const { head } of dataHeads) {
      const sent = traceparents(head)
      expect(sent, head).toHaveLength(1)
      expect(sent[0]).toMatch(new RegExp(`^00-${CALLER_TRACE}-[0-9a-f]{16}-01$`))
    }
    const spans = await receiver.waitFor((s) => s.some((x) => x.name === 'POST /gateway/oauth1/{profile}/test') && s.filter((x) => x.traceId === CALLER_TRACE).length >= 2)
    const apiTrace = spans.find((x) => x.name === 'POST /gateway/oauth1/{profile}/test')?.traceId
    // The profile test's trace holds its server span and its one token call, nothing of the proxied call.
    expect(spans.filter((x) => x.traceId === apiTrace).map((x) => x.name).sort()).toEqual(['POST', 'POST /gateway/oauth1/{profile}/test'])
  })
})
