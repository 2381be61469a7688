/**
 * Properties, seeded, over thousands of generated requests: whatever a caller puts in the path,
 * the query or any header (other than the W3C context itself), none of it reaches a span the
 * gateway records — the names, attributes and events of server and client spans — and a
 * `/gateway/…` span name is always a route template made of fixed words.
 */
import fc from 'fast-check'
import { InMemorySpanExporter, BasicTracerProvider, SimpleSpanProcessor, AlwaysOnSampler } from '@opentelemetry/sdk-trace-base'
import { describe, expect, it } from 'vitest'
import { apiRoute } from '../../src/tracing/index.js'
import { startRequestTrace } from '../../src/tracing/spans.js'

const WORDS = new Set(['', 'gateway', 'token', 'jwks.json', 'oauth1', 'callback', 'authorize', 'test', 'tokens', 'link', '{profile}', '{user}', '{unknown}'])
// A marker generated inside every secret, so "does not reach a span" is a plain search.
const secret = fc.string({ minLength: 1, maxLength: 24 }).map((s) => `S3CR3T${s.replace(/[^A-Za-z0-9]/g, 'x')}Z`)

describe('span contents never carry request data', () => {
  it('apiRoute gives only fixed words, for any path', () => {
    fc.assert(
      fc.property(fc.oneof(fc.webPath(), fc.string(), fc.constantFrom('/gateway/oauth1/p/tokens/', '/gateway/token?x=1')), (path) => {
        const route = apiRoute(`/gateway${path.startsWith('/') ? '' : '/'}${path}`)
        for (const part of route.split('/')) expect(WORDS.has(part), `${path} → ${route}`).toBe(true)
      }),
      { seed: 1919, numRuns: 5000 },
    )
  })

  it('headers, path and query values never reach the server or client span', () => {
    const exporter = new InMemorySpanExporter()
    const provider = new BasicTracerProvider({ sampler: new AlwaysOnSampler(), spanProcessors: [new SimpleSpanProcessor(exporter)] })
    const tracer = provider.getTracer('test')
    const methods = fc.constantFrom('GET', 'POST', 'PUT', 'DELETE')
    fc.assert(
      fc.property(secret, methods, fc.constantFrom('forward', 'route', 'connect', 'api'), fc.boolean(), fc.integer({ min: 100, max: 599 }), (s, method, mode, withParent, status) => {
        exporter.reset()
        const headers = {
          authorization: `Bearer ${s}`,
          'proxy-authorization': `Bearer ${s}`,
          cookie: `sid=${s}`,
          'x-api-key': s,
          'x-gateway-user': s,
          ...(withParent ? { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' } : {}),
        }
        const trace = startRequestTrace(tracer, headers)
        const out: Record<string, string | string[]> = { ...headers }
        trace.upstream(out, { endpoint: 'partner', server: { address: 'api.partner.test', port: 8443 }, method })
        trace.call('POST', new URL('https://idp.partner.test/oauth/request_token')).end(200)
        trace.end({ method, status, mode, path: `/gateway/oauth1/partner/tokens/${s}?link=${s}`, endpoint: 'partner', caller: 'bot', requestBytes: 10, responseBytes: 20 })
        const spans = exporter.getFinishedSpans()
        expect(spans.length).toBe(3)
        const text = JSON.stringify(spans.map((x) => ({ name: x.name, attributes: x.attributes, events: x.events, links: x.links, status: x.status })))
        expect(text).not.toContain('S3CR3T')
        expect(out.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/)
      }),
      { seed: 1920, numRuns: 3000 },
    )
  })
})
