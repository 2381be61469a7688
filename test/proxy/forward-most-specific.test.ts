/**
 * Forward proxy and CONNECT: among the endpoints serving one host:port, the one whose pathPrefix
 * holds the request path most specifically wins, whatever the config order; an endpoint without
 * pathPrefix only takes what no prefix holds. In config order, an earlier endpoint without a
 * prefix took /payments/… too, and with it its own credentials (client bundle, fields) and its
 * callers' permission, while the payments endpoint was unreachable.
 */
import { afterAll, beforeAll, expect, it } from 'vitest'
import type { RunningGateway } from '../../src/cli/gateway-root.js'
import { endpointYaml, send, startTestGateway } from '../support/gateway.js'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { startMtlsServer, type EchoReply, type RunningServer } from '../support/tls-server.js'

let pki: TestPki
let upstream: RunningServer
let gw: RunningGateway

beforeAll(async () => {
  pki = await createTestPki('p256')
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt') })
  const tls = clientTls(pki)
  const field = (v: string): string => `    fields:\n      - { type: header, key: X-Api-Key, value: "${v}" }\n`
  gw = await startTestGateway(pki.dir, `admin: { enabled: false }\nendpoints:\n${endpointYaml('general', upstream.port, tls, field('general-secret'))}${endpointYaml('payments', upstream.port, tls, `    pathPrefix: /payments\n${field('payments-secret')}`)}${endpointYaml('refunds', upstream.port, tls, `    pathPrefix: /payments/refunds\n${field('refunds-secret')}`)}`)
})

afterAll(async () => {
  await gw?.close()
  await upstream?.close()
  pki?.cleanup()
})

const keyFor = async (path: string): Promise<unknown> => {
  const r = await send(gw.url, `http://api.partner.test:${upstream.port}${path}`)
  expect(r.status, r.text).toBe(200)
  return r.json<EchoReply>().headers['x-api-key']
}

it('the most specific pathPrefix wins over an earlier endpoint without one, and over a shorter prefix', async () => {
  expect(await keyFor('/payments/x')).toBe('payments-secret')
  expect(await keyFor('/payments')).toBe('payments-secret')
  expect(await keyFor('/payments/refunds/7')).toBe('refunds-secret')
  // Segment boundaries: /paymentsx is not under /payments.
  expect(await keyFor('/paymentsx')).toBe('general-secret')
  expect(await keyFor('/other')).toBe('general-secret')
})

it('matches pathPrefix in the path\'s normal spelling (RFC 3986 §6.2.2), as the backend reads it: /%70ayments/x is the payments endpoint\'s', async () => {
  expect(await keyFor('/%70ayments/x')).toBe('payments-secret')
  expect(await keyFor('/payments/%72efunds/7')).toBe('refunds-secret')
  // An encoded slash is not a separator: /payments%2Frefunds is one segment, under no prefix.
  expect(await keyFor('/payments%2Frefunds')).toBe('general-secret')
})
