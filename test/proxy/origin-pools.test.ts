/**
 * An endpoint whose URL has `{tenant}` in the host gets one upstream pool per tenant's origin, and
 * a caller may name any tenant (without `callers.apps[].tenants`): before, every tenant named kept
 * a pool and its kept-alive connections, with no limit but the keep-alive timeout. Now at most
 * `originPools` pools per endpoint: a new origin closes the least recently used idle pool (its
 * connections too) and counts the eviction. Against a real mTLS server that keeps connections alive.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { createUpstream, type UpstreamOptions } from '../../src/gateway/index.js'
import { GatewayError, statusOf } from '../../src/errors.js'
import { createClientContext, loadBundle } from '../../src/tls/index.js'
import type { EndpointTlsConfig } from '../../src/config/index.js'
import { createTestPki, type TestPki } from '../support/pki.js'
import { startMtlsServer, type RunningServer } from '../support/tls-server.js'
import { eventually } from '../support/eventually.js'

let pki: TestPki
let server: RunningServer
let open = 0

function options(originPools: number, onPoolEvicted: () => void): UpstreamOptions {
  const tls: EndpointTlsConfig = { cert: pki.file('client.crt'), key: pki.file('client.key'), intermediates: [pki.file('inter.crt')], roots: [pki.file('root.crt')], clientRoots: [], systemRoots: false, minVersion: 'TLSv1.2', pins: [], crl: [] }
  const { bundle } = loadBundle(tls)
  const { context } = createClientContext(bundle as NonNullable<typeof bundle>, tls)
  if (!context) throw new Error('no secure context')
  // Every tenant's host is dialled at 127.0.0.1 (`resolve`), the server's certificate checked as localhost.
  return { endpoint: 'partner', context, serverName: 'localhost', resolve: '127.0.0.1', pins: [], connectMs: 10_000, responseMs: 10_000, idleMs: 10_000, keepAliveMs: 60_000, connections: 4, originPools, onPoolEvicted }
}

beforeAll(async () => {
  pki = await createTestPki()
  const handler = (_req: IncomingMessage, res: ServerResponse): void => void res.end('ok')
  server = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt'), handler })
  server.server.on('secureConnection', (s) => {
    open++
    s.once('close', () => void open--)
  })
})
afterAll(async () => {
  await server?.close()
  pki?.cleanup()
})

describe('per-origin pools of one endpoint', () => {
  it('ten tenants through a cap of 3: at most 3 pools, 7 evictions, the evicted pools\' connections closed', async () => {
    let evicted = 0
    const upstream = createUpstream(options(3, () => void evicted++))
    try {
      for (let i = 0; i < 10; i++) {
        const res = await upstream.dispatcher.request({ origin: `https://t${i}.partner.test:${server.port}`, path: '/', method: 'GET' })
        expect(await res.body.text()).toBe('ok')
        expect(upstream.pool().origins).toBeLessThanOrEqual(3)
      }
      expect(evicted).toBe(7)
      await eventually(() => open <= 3, 20_000, 'the evicted pools\' connections to close')
      // The most recent tenant's pool is kept: a new request reuses it (no new pool, no eviction).
      const again = await upstream.dispatcher.request({ origin: `https://t9.partner.test:${server.port}`, path: '/', method: 'GET' })
      await again.body.text()
      expect(evicted).toBe(7)
    } finally {
      await upstream.close()
    }
    await eventually(() => open === 0, 20_000, 'every connection to close')
  })

  it('property: any sequence of tenants keeps at most the cap, evicting only when a new origin comes past it (seeded)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 4 }), fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 1, maxLength: 12 }), async (cap, tenants) => {
        let evicted = 0
        const upstream = createUpstream(options(cap, () => void evicted++))
        const held: number[] = [] // most recently used last: the model of the pools kept
        let expected = 0
        try {
          for (const t of tenants) {
            const res = await upstream.dispatcher.request({ origin: `https://t${t}.partner.test:${server.port}`, path: '/', method: 'GET' })
            await res.body.text()
            const at = held.indexOf(t)
            if (at >= 0) held.splice(at, 1)
            else if (held.length >= cap) {
              held.shift()
              expected++
            }
            held.push(t)
            expect(upstream.pool().origins).toBe(held.length)
          }
          expect(evicted).toBe(expected)
        } finally {
          await upstream.close()
        }
      }),
      { seed: 0x9001, numRuns: 12 },
    )
  }, 120_000)

  it("refuses a request that reaches them once closed (a retired snapshot's, past its cap): 503 naming the endpoint, nothing dialled, while closing and after", async () => {
    const upstream = createUpstream(options(4, () => {}))
    const origin = `https://t0.partner.test:${server.port}`
    await (await upstream.dispatcher.request({ origin, path: '/', method: 'GET' })).body.text()
    let dialled = 0
    const count = (): void => void dialled++
    server.server.on('secureConnection', count)
    try {
      const refused = async (): Promise<unknown> => upstream.dispatcher.request({ origin: `https://t1.partner.test:${server.port}`, path: '/', method: 'GET' }).then(() => 'answered', (e: unknown) => e)
      const closing = upstream.close()
      const whileClosing = await refused()
      await closing
      for (const e of [whileClosing, await refused()]) {
        expect(e).toBeInstanceOf(GatewayError)
        expect([(e as GatewayError).reason, statusOf((e as GatewayError).reason, 'proxy'), (e as GatewayError).message]).toEqual(['unavailable', 503, expect.stringMatching(/^endpoint "partner": the config this request started under was retired by a reload before the request reached the upstream .*nothing was sent/)])
      }
      // The forward step's way in (dispatch) throws the same, before any pool sees the request.
      expect(() => upstream.dispatch({ origin, path: '/', method: 'GET' }, {})).toThrow(GatewayError)
      expect([dialled, upstream.pool().origins]).toEqual([0, 0])
    } finally {
      server.server.off('secureConnection', count)
    }
  })
})

