/**
 * X-Forwarded-For from a listener bound dual-stack (`::`, the chart's default): an IPv4 caller is
 * `::ffff:a.b.c.d` to Node, and the backend is told the IPv4 address, as on `0.0.0.0`; an IPv6
 * caller keeps its address. A real gateway on `::` and a real mTLS echo server, called over IPv4
 * and IPv6 loopback; the spelling rule over generated addresses (seeded).
 */
import { request } from 'node:http'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningGateway } from '../../src/cli/gateway-root.js'
import type { Admitted } from '../../src/proxy/pipeline.js'
import { addForwardingHeaders } from '../../src/proxy/steps/forwarding-headers.js'
import { endpointYaml, startTestGateway } from '../support/gateway.js'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { startMtlsServer, type EchoReply, type RunningServer } from '../support/tls-server.js'

let pki: TestPki
let upstream: RunningServer
let gw: RunningGateway

beforeAll(async () => {
  pki = await createTestPki()
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt') })
  const yaml = `admin: { enabled: false }\ncallers: { required: false }\nforwarding: { xForwardedFor: true }\nendpoints:\n${endpointYaml('partner', upstream.port, clientTls(pki))}`
  gw = await startTestGateway(pki.dir, yaml, { listen: { host: '::', port: 0 } })
})
afterAll(async () => {
  await gw?.close()
  await upstream?.close()
  pki?.cleanup()
})

/** The X-Forwarded-For the echo server saw for a route-mode call sent from `host`. */
function forwardedFor(host: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port: gw.port, path: '/proxy/partner/xff', agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve((JSON.parse(Buffer.concat(chunks).toString('utf8')) as EchoReply).headers['x-forwarded-for']))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
}

/** The X-Forwarded-For the step writes for a caller at `remoteAddress`. */
function written(remoteAddress: string): unknown {
  const ctx = { gateway: { config: { forwarding: { via: false, xForwardedFor: true } } }, inbound: { headers: {}, remoteAddress }, outbound: { headers: {} } } as unknown as Admitted
  void addForwardingHeaders.run(ctx)
  return ctx.outbound.headers['x-forwarded-for']
}

describe('X-Forwarded-For on a dual-stack listener', () => {
  it('names an IPv4 caller by its IPv4 address and an IPv6 caller by its own', async () => {
    expect(await forwardedFor('127.0.0.1')).toBe('127.0.0.1')
    expect(await forwardedFor('::1')).toBe('::1')
  })

  it('writes ::ffff:a.b.c.d as a.b.c.d, and every other address as it is (seeded property)', () => {
    fc.assert(
      fc.property(fc.ipV4(), (v4) => {
        expect(written(`::ffff:${v4}`)).toBe(v4)
        expect(written(`::FFFF:${v4}`)).toBe(v4)
        expect(written(v4)).toBe(v4)
      }),
      { seed: 35_022, numRuns: 300 },
    )
    // Only the mapped form: NAT64, IPv4-compatible, a mapped address in hex and any other IPv6 stay.
    const mapped = /^::ffff:\d+\.\d+\.\d+\.\d+$/i
    fc.assert(
      fc.property(fc.ipV6().filter((a) => !mapped.test(a)), (v6) => {
        expect(written(v6)).toBe(v6)
      }),
      { seed: 35_023, numRuns: 300 },
    )
    for (const kept of ['64:ff9b::a00:1', '::10.0.0.1', '::ffff:a00:1', 'fe80::1%eth0']) expect(written(kept)).toBe(kept)
  })
})
