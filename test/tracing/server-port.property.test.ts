/**
 * A property, seeded, over endpoint origins (http/https × DNS name, IPv4, IPv6, a tenant in the
 * host × no port, each scheme's default port, any port): the client spans the OTLP collector
 * receives name the host a WHATWG parse of the origin gives (an IPv6 address without its brackets,
 * as the conventions write an IP address in server.address) and the port the request goes to,
 * a scheme's default included (80 for http:, never 443). Both client spans are checked: a
 * proxied call's (from the endpoint's compiled destination, no per-request URL) and one the
 * gateway makes itself (the OAuth dance's token calls, whose URLs may be http:).
 */
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { compileDestination } from '../../src/gateway/index.js'
import { startTracing, type Tracing } from '../../src/tracing/index.js'
import { SPAN_KIND, startOtlpReceiver, type OtlpReceiver } from '../support/otlp-receiver.js'

const DEFAULT_PORT = { http: 80, https: 443 } as const
const TENANT = 'acme'

const label = fc.stringMatching(/^[a-zA-Z][a-zA-Z0-9-]{0,8}[a-zA-Z0-9]$/)
const host = fc.oneof(
  fc.record({ kind: fc.constant('dns' as const), text: fc.array(label, { minLength: 1, maxLength: 3 }).map((ls) => [...ls, 'test'].join('.')), tenant: fc.boolean() }),
  fc.record({ kind: fc.constant('ipv4' as const), text: fc.ipV4(), tenant: fc.constant(false) }),
  fc.record({ kind: fc.constant('ipv6' as const), text: fc.ipV6().map((a) => `[${a}]`), tenant: fc.constant(false) }),
)
const origin = fc.record({
  scheme: fc.constantFrom('http' as const, 'https' as const),
  host,
  port: fc.oneof(fc.constant(undefined), fc.constantFrom(80, 443), fc.integer({ min: 1, max: 65535 })),
})

interface Case { traceId: string; endpoint: string; url: string; address: string; port: number }

let receiver: OtlpReceiver
let tracing: Tracing | undefined

beforeAll(async () => {
  receiver = await startOtlpReceiver()
  tracing = await startTracing(
    { enabled: true, serviceName: 'server-port-property', sampler: { ratio: 1, parentBased: false }, otlp: { endpoint: receiver.url, protocol: 'http/protobuf', headers: {}, timeoutMs: 10_000, tls: {} } },
    { sampler: () => ({ ratio: 1, parentBased: false }), onExportFailure: () => {}, version: 'test' },
  )
})
afterAll(async () => {
  await tracing?.shutdown()
  await receiver?.close()
})

describe('client spans name the server of the endpoint origin', () => {
  it('server.address is the WHATWG host (IPv6 unbracketed) and server.port the port dialled, the scheme\'s default when none is given', async () => {
    const t = tracing
    if (!t) throw new Error('tracing is on in this test')
    const cases: Case[] = []
    // Spans are checked together once exported (below), hence cases from fc.sample, not a property.
    for (const { scheme, host: h, port } of fc.sample(origin, { seed: 2929, numRuns: 300 })) {
      const authority = `${h.tenant ? '{tenant}.' : ''}${h.text}${port === undefined ? '' : `:${port}`}`
      const configured = `${scheme}://${authority}/v1`
      const url = configured.replace('{tenant}', TENANT)
      const endpoint = `e${cases.length}`
      const trace = t.request({})
      trace.upstream({}, { endpoint, server: compileDestination(configured, undefined).at(h.tenant ? TENANT : undefined).server, method: 'GET' })
      trace.call('POST', new URL(url)).end(200)
      trace.end({ method: 'GET', status: 200, mode: 'route', endpoint })
      // The oracle: WHATWG's host (an IPv6 literal unbracketed), and the port as generated (else the scheme's own default).
      cases.push({ traceId: trace.traceId, endpoint, url, address: new URL(url).hostname.replace(/^\[(.*)\]$/, '$1'), port: port ?? DEFAULT_PORT[scheme] })
    }
    tracing = undefined // shut down here, so every span is exported before the check
    await t.shutdown()
    const spans = await receiver.waitFor((s) => s.filter((x) => x.kind === SPAN_KIND.CLIENT).length >= 2 * cases.length, 30_000)
    for (const c of cases) {
      const clients = spans.filter((x) => x.traceId === c.traceId && x.kind === SPAN_KIND.CLIENT)
      expect(clients.map((x) => x.name).sort(), c.url).toEqual([`GET ${c.endpoint}`, 'POST'])
      for (const span of clients) {
        expect({ name: span.name, address: span.attributes['server.address'], port: span.attributes['server.port'] }, c.url).toEqual({ name: span.name, address: c.address, port: c.port })
      }
    }
  })
})
