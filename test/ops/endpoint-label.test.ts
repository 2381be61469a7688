/**
 * The endpoint label of requests matched to no endpoint: `_gateway` for the gateway API, `_none`
 * for the rest (refused before routing, such as a client's HTTP/2 preface answered 505). No
 * endpoint name the config accepts is either (the chart's alerts tell them apart by that), and a
 * 5xx the client caused logs at info, not at warn like the gateway's or an upstream's.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { configSchema } from '../../src/config/schema.js'
import { GatewayError, type Reason } from '../../src/errors.js'
import { createLog, createOps, endpointLabel, GATEWAY_API_LABEL, NO_ENDPOINT_LABEL } from '../../src/ops/index.js'
import type { RequestRecord } from '../../src/proxy/listener.js'
import { parseMetrics, samples } from './helpers.js'

const ENDPOINT_NAME = new RegExp(configSchema.properties.endpoints.items.properties.name.pattern)

/** A finished request as the listener reports it: no endpoint matched, ended by `reason`'s error. */
function unrouted(mode: RequestRecord['mode'], method: string, status: number, reason: Reason): RequestRecord {
  return { id: `r-${reason}`, mode, method, status, durationMs: 1, facts: {}, error: new GatewayError(reason, reason) }
}

describe('the endpoint label of a request', () => {
  it('is the endpoint\'s name when one matched; no name the config schema accepts is a reserved label (fast-check, seeded)', () => {
    expect([GATEWAY_API_LABEL, NO_ENDPOINT_LABEL].filter((l) => ENDPOINT_NAME.test(l))).toEqual([])
    expect(ENDPOINT_NAME.test('none')).toBe(true)
    fc.assert(
      fc.property(fc.stringMatching(ENDPOINT_NAME), fc.constantFrom('api', 'route', 'forward', 'connect', 'other', undefined), (name, mode) => {
        expect(endpointLabel(name, mode)).toBe(name)
        expect([GATEWAY_API_LABEL, NO_ENDPOINT_LABEL]).not.toContain(name)
      }),
      { seed: 2929, numRuns: 2000 },
    )
    expect(endpointLabel(undefined, 'api')).toBe('_gateway')
    for (const mode of ['route', 'forward', 'connect', 'other', undefined]) expect(endpointLabel(undefined, mode)).toBe('_none')
  })

  it('counts the gateway API\'s 5xx under "_gateway", a refused HTTP/2 preface under "_none", and logs only the gateway\'s at warn', async () => {
    const lines: string[] = []
    const log = createLog({ level: 'info', destination: { write: (s: string) => void lines.push(s) } })
    const ops = createOps({ log, admin: false, watch: false })
    ops.onDone(unrouted('api', 'GET', 502, 'oauth_provider_failed'))
    ops.onDone(unrouted('api', 'POST', 503, 'store_unavailable'))
    ops.onDone(unrouted('api', 'GET', 500, 'internal'))
    ops.onDone(unrouted('other', 'other', 505, 'http_version_not_supported'))
    ops.onDone(unrouted('other', 'GET', 503, 'unavailable'))
    const m = parseMetrics(await ops.metrics.registry.metrics())
    expect(samples(m, 'mtls_gateway_requests_total')).toEqual([
      { labels: { endpoint: '_gateway', method: 'GET', status_class: '5xx' }, value: 2 },
      { labels: { endpoint: '_gateway', method: 'POST', status_class: '5xx' }, value: 1 },
      { labels: { endpoint: '_none', method: 'GET', status_class: '5xx' }, value: 1 },
      { labels: { endpoint: '_none', method: 'other', status_class: '5xx' }, value: 1 },
    ])
    const levels = lines.map((l) => JSON.parse(l) as { level: string; status: number }).map((l) => [l.status, l.level])
    expect(levels).toEqual([[502, 'warn'], [503, 'warn'], [500, 'warn'], [505, 'info'], [503, 'warn']])
  })
})
