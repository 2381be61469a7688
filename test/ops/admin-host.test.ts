/**
 * DNS rebinding against the admin listener: a web page open in an operator's browser points a
 * name of its own at 127.0.0.1 and reads /metrics and /readyz as its own origin, the browser
 * sending that name as Host. The admin listener now serves only IP literals, `localhost` and
 * the names of admin.allowedHosts (a reload applies a new list like a fresh start); anything else
 * is the JSON 421 before any route runs. Real gateway in-process, raw sockets.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { endpointYaml } from '../support/gateway.js'
import { spelledAddresses } from '../support/ipv6-spellings.js'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { rawRoundTrip } from '../support/raw-client.js'
import { startOpsGateway, type OpsGateway } from './helpers.js'

let pki: TestPki
let g: OpsGateway
let adminPort: number

const yamlWith = (allowed: string[]): string => `admin:\n  allowedHosts: [${allowed.map((h) => JSON.stringify(h)).join(', ')}]\nendpoints:\n${endpointYaml('partner', 9, clientTls(pki))}`

beforeAll(async () => {
  pki = await createTestPki()
  // Listed with upper case and a trailing dot: compared without either.
  g = await startOpsGateway(pki.dir, yamlWith(['admin.example.test', 'Metrics.Internal.']))
  adminPort = Number(new URL(g.adminUrl).port)
})
afterAll(async () => {
  await g?.gw.close()
  pki?.cleanup()
})

/** What the admin listener must do with a request carrying these Host lines. */
type Expected = 'served' | 'misdirected' | 'malformed' | 'not served'
interface HostCase {
  lines: readonly string[]
  expected: Expected
}

const randomCase = (text: string): fc.Arbitrary<string> =>
  fc.array(fc.boolean(), { minLength: text.length, maxLength: text.length }).map((up) => [...text].map((c, i) => (up[i] ? c.toUpperCase() : c)).join(''))
const trailingDot = (name: string): fc.Arbitrary<string> => fc.constantFrom(name, `${name}.`)
const port = fc.oneof(fc.constant(''), fc.constant(':'), fc.integer({ min: 0, max: 65535 }).map((n) => `:${n}`))
const one = (host: fc.Arbitrary<string>, expected: Expected): fc.Arbitrary<HostCase> => fc.tuple(host, port).map(([h, p]) => ({ lines: [`${h}${p}`], expected }))

const LISTED = ['admin.example.test', 'metrics.internal']
// Names a careless comparison (suffix, prefix, substring, one dot too many, decoding) could let through.
const NEAR_MISSES = [
  'localhost.evil.test', 'evil.localhost', 'localhost..', 'admin.example.test.evil.test', 'xadmin.example.test', 'admin-example.test',
  'admin.example.test..', 'admin.example.tes', 'metrics.internal.example', '127.0.0.1.nip.io', '%6cocalhost', 'rebind.attacker.test',
]
// Not the dotted quad a browser sends for an IPv4 address: names as far as this listener is concerned.
const ODD_IPV4 = ['127.1', '0x7f.0.0.1', '2130706433', '127.0.0.01', '0177.0.0.1', '127.0.0.1.', '1.2.3.4.5', '256.0.0.1']

const hostCases: fc.Arbitrary<HostCase> = fc.oneof(
  one(fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((b) => b.join('.')), 'served'),
  one(spelledAddresses().map((a) => `[${a.text}]`), 'served'),
  one(randomCase('localhost').chain(trailingDot), 'served'),
  one(fc.constantFrom(...LISTED).chain(randomCase).chain(trailingDot), 'served'),
  one(fc.constantFrom(...NEAR_MISSES, ...ODD_IPV4).chain(randomCase), 'misdirected'),
  one(fc.domain().filter((d) => !LISTED.includes(d.toLowerCase().replace(/\.$/, '')) && d.toLowerCase() !== 'localhost'), 'misdirected'),
  one(fc.constantFrom('[v1.fe]', '[vF.localhost]'), 'misdirected'),
  // Unbracketed IPv6: not a host[:port] (400), or read as a name with a port (`1:2` → host 1): never served.
  one(spelledAddresses().map((a) => a.text), 'not served'),
  fc.constant<HostCase>({ lines: [''], expected: 'malformed' }),
  fc.constant<HostCase>({ lines: [], expected: 'malformed' }),
  fc.tuple(fc.constantFrom('127.0.0.1', 'localhost', 'admin.example.test', '[::1]'), fc.constantFrom('127.0.0.1', 'localhost', 'evil.test')).map(([a, b]) => ({ lines: [a, b], expected: 'malformed' as const })),
)

async function ask(path: string, lines: readonly string[]): Promise<{ status: number; body: string; contentLength: string | undefined }> {
  const r = await rawRoundTrip(adminPort, `GET ${path} HTTP/1.1\r\n${lines.map((l) => `Host: ${l}\r\n`).join('')}Connection: close\r\n\r\n`)
  return { status: r.status, body: r.body.toString('utf8'), contentLength: r.headers['content-length'] }
}

describe('the admin listener and the Host header (DNS rebinding)', () => {
  it('logs a refused name with its reason', async () => {
    const r = await ask('/metrics', ['rebind.attacker.test:9090'])
    expect(r.status).toBe(421)
    const refused = g.lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((e) => e.msg === 'request refused' && e.reason === 'admin_host_not_allowed')
    expect(refused).toHaveLength(1)
    expect(refused[0]).toMatchObject({ listener: 'admin', method: 'GET' })
    expect(String(refused[0]?.error)).toContain('"rebind.attacker.test"')
  })

  it('serves exactly IP literals, localhost and the listed names, on /healthz and /metrics alike (fast-check, seeded)', async () => {
    await fc.assert(
      fc.asyncProperty(hostCases, fc.constantFrom('/healthz', '/metrics'), async ({ lines, expected }, path) => {
        const r = await ask(path, lines)
        if (expected === 'served') return void expect(r.status, r.body).toBe(200)
        if (expected === 'malformed') return void expect(r.status, r.body).toBe(400)
        if (expected === 'not served') expect([400, 421], r.body).toContain(r.status)
        else expect(r.status, r.body).toBe(421)
        const body = JSON.parse(r.body) as { errors: { msg: string; code: number }[] }
        expect(body.errors).toHaveLength(1)
        expect(body.errors[0]?.code).toBe(r.status)
        expect(Number(r.contentLength)).toBe(Buffer.byteLength(r.body))
        // Nothing of the route answered: no metric text, no health status.
        expect(r.body).not.toContain('mtls_gateway_')
        if (r.status === 421) expect(body.errors[0]?.msg).toMatch(/^the Host header names ".*", which the admin listener does not answer for: .*admin\.allowedHosts/)
      }),
      { seed: 0xad3105, numRuns: 300 },
    )
  }, 120_000)

  it('a reload that changes admin.allowedHosts answers as a fresh start with the new list does', async () => {
    writeFileSync(join(pki.dir, 'gateway.yaml'), yamlWith(['console.ops.example']))
    expect(await g.gw.ops?.reload('test')).toMatchObject({ ok: true })
    expect((await ask('/readyz', ['admin.example.test'])).status).toBe(421)
    expect((await ask('/healthz', ['Console.Ops.Example.:9090'])).status).toBe(200)
    expect((await ask('/healthz', ['127.0.0.1'])).status).toBe(200)
    writeFileSync(join(pki.dir, 'gateway.yaml'), yamlWith([]))
    expect(await g.gw.ops?.reload('test')).toMatchObject({ ok: true })
    expect((await ask('/healthz', ['console.ops.example'])).status).toBe(421)
    expect((await ask('/healthz', ['localhost'])).status).toBe(200)
  })
})
