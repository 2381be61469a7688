/**
 * The egress policy sees through IPv6 wrappers: an IPv4 address inside NAT64, 6to4,
 * IPv4-compatible, IPv4-mapped (any spelling), IPv4-translated or Teredo is judged by the
 * IPv4 rules — through the real dial path (the DNS answer the dial uses, and a pinned
 * literal `resolve`). Pass-through refusals are counted in egress_refusals_total and name
 * the setting that allows them. Every address here is refused before any packet is sent.
 */
import type { LookupAddress } from 'node:dns'
import { createServer as createTcpServer, type Server as TcpServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningGateway } from '../../src/cli/gateway-root.js'
import { classifyAddress } from '../../src/gateway/index.js'
import { createLog, createOps } from '../../src/ops/index.js'
import { writeInterceptionCa } from '../../src/tls/index.js'
import { send, startTestGateway } from '../support/gateway.js'
import { clientTlsYaml, createTestPki, type TestPki } from '../support/pki.js'
import { ConnectRefused, openTunnel } from '../support/tunnel.js'
import { samples, scrape } from '../ops/helpers.js'

// [label, address, the IPv4 inside, its reason]
const WRAPPED: [string, string, string, string][] = [
  ['NAT64 well-known prefix', '64:ff9b::7f00:1', '127.0.0.1', 'loopback'],
  ['NAT64, dotted spelling', '64:ff9b::169.254.169.254', '169.254.169.254', 'metadata'],
  ['NAT64 local-use /48 (RFC 8215)', '64:ff9b:1::10.0.0.1', '10.0.0.1', 'private'],
  ['6to4', '2002:7f00:1::', '127.0.0.1', 'loopback'],
  ['6to4 to the metadata service', '2002:a9fe:a9fe::1', '169.254.169.254', 'metadata'],
  ['IPv4-compatible', '::127.0.0.1', '127.0.0.1', 'loopback'],
  ['IPv4-compatible, hex', '::a01:203', '10.1.2.3', 'private'],
  ['IPv4-mapped, hex spelling', '::ffff:7f00:1', '127.0.0.1', 'loopback'],
  ['IPv4-translated (SIIT)', '::ffff:0:a9fe:a9fe', '169.254.169.254', 'metadata'],
  ['Teredo, inverted client address', '2001:0:4136:e378:8000:63bf:80ff:fffe', '127.0.0.1', 'loopback'],
  ['Teredo, private server address', '2001:0:a00:1:8000:63bf:f7f7:f7f7', '10.0.0.1', 'private'],
  ['CGNAT inside NAT64', '64:ff9b::100.64.0.1', '100.64.0.1', 'cgnat'],
]

let pki: TestPki
let gw: RunningGateway
let adminUrl: string
let echo: TcpServer
let echoPort = 0
const answers: Record<string, LookupAddress[]> = {}

beforeAll(async () => {
  pki = await createTestPki('p256')
  const ica = await writeInterceptionCa(join(pki.dir, 'ica'))
  echo = createTcpServer((s) => s.destroy())
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r))
  echoPort = (echo.address() as AddressInfo).port
  const tls = `    tls: ${clientTlsYaml(pki)}\n`
  let endpoints = ''
  WRAPPED.forEach(([, address], i) => {
    answers[`w${i}.test`] = [{ address, family: 6 }]
    endpoints += `  - name: dns-${i}\n    url: https://w${i}.test:8443\n${tls}`
    endpoints += `  - name: literal-${i}\n    url: https://l${i}.test:8443\n    resolve: "${address}"\n${tls}`
  })
  const ops = createOps({ log: createLog({ level: 'error', destination: { write: () => undefined } }), admin: { host: '127.0.0.1', port: 0 } })
  gw = await startTestGateway(pki.dir, `interception:
  caCert: ${ica.caCert}
  caKey: ${ica.caKey}
  passThrough: [{ host: 127.0.0.1, port: ${echoPort} }, { host: localhost, port: ${echoPort} }]
endpoints:
${endpoints}`, {
    ops,
    resolve: (host, _o, cb) => {
      const found = answers[host]
      if (found) cb(null, found)
      else cb(Object.assign(new Error(`no test answer for ${host}`), { code: 'ENOTFOUND' }), [])
    },
  })
  adminUrl = gw.ops?.adminUrl ?? ''
})

afterAll(async () => {
  await gw?.close()
  await new Promise((r) => echo?.close(r))
  pki?.cleanup()
})

describe('IPv4 inside IPv6 is judged as IPv4, on the real dial path', () => {
  it.each(WRAPPED.map((w, i) => [...w, i] as const))('%s (%s → %s, %s): refused from DNS and as a pinned literal', async (_label, address, ipv4, reason, i) => {
    for (const endpoint of [`dns-${i}`, `literal-${i}`]) {
      const r = await send(gw.url, `/proxy/${endpoint}/x`)
      expect(r.status, r.text).toBe(403)
      const msg = r.json<{ errors: { msg: string }[] }>().errors[0]?.msg ?? ''
      expect(msg).toContain(`endpoint "${endpoint}": destination`)
      expect(msg).toContain(`resolves to ${address}, a ${reason.replace('_', '-')} address (IPv4 ${ipv4}`)
      expect(msg).toContain('set allowPrivate on the endpoint to allow it')
    }
  })

  it('counts every refusal by the IPv4 reason', async () => {
    const counted = Object.fromEntries(samples(await scrape(adminUrl), 'mtls_gateway_egress_refusals_total').map((s) => [s.labels.reason, s.value]))
    for (const reason of new Set(WRAPPED.map((w) => w[3]))) expect(counted[reason] ?? 0, reason).toBeGreaterThanOrEqual(2 * WRAPPED.filter((w) => w[3] === reason).length)
  })

  it('public IPv4 inside a wrapper and plain public IPv6 are not refused by the classification', () => {
    for (const a of ['64:ff9b::808:808', '2002:808:808::1', '::ffff:8.8.8.8', '2001:0:4136:e378:8000:63bf:f7f7:f7f7', '2606:4700::1111']) expect(classifyAddress(a), a).toBeUndefined()
    expect(classifyAddress('::1')).toBe('loopback')
    expect(classifyAddress('::')).toBe('unspecified')
  })
})

describe('pass-through refusals', () => {
  it('a literal and a name resolving to loopback are refused, name interception.passThrough[].allowPrivate, and are counted', async () => {
    const port = echoPort
    const before = samples(await scrape(adminUrl), 'mtls_gateway_egress_refusals_total').find((s) => s.labels.reason === 'loopback')?.value ?? 0
    for (const host of ['127.0.0.1', 'localhost']) {
      const refused = await openTunnel({ gatewayPort: Number(new URL(gw.url).port), authority: `${host}:${port}`, ca: '' }).then(() => undefined, (e: unknown) => e)
      expect(refused, host).toBeInstanceOf(ConnectRefused)
      expect((refused as ConnectRefused).status).toBe(403)
      expect((refused as ConnectRefused).raw).toContain('set interception.passThrough[].allowPrivate to allow it')
    }
    const after = samples(await scrape(adminUrl), 'mtls_gateway_egress_refusals_total').find((s) => s.labels.reason === 'loopback')?.value ?? 0
    expect(after - before).toBe(2)
  })
})
