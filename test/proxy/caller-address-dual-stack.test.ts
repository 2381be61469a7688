/**
 * A gateway on `::` (dual-stack, the chart's default) names an IPv4 caller by its IPv4 address
 * everywhere, as X-Forwarded-For does and as a gateway on `0.0.0.0` would: the access line of a
 * request and of a refused CONNECT, and the start-up line says where it listens. An IPv6 caller
 * keeps its address: `::1` in X-Forwarded-For and the access line, and a caller's Forwarded
 * `for="[…]"` reaches the backend bracketed. A real spawned gateway (`--workers 1`), a real mTLS
 * echo server, callers on 127.0.0.1 and ::1; the spelling rule over generated addresses (seeded).
 */
import { connect } from 'node:net'
import { request } from 'node:http'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { callerAddress, unmappedAddress } from '../../src/proxy/caller-address.js'
import { endpointYaml } from '../support/gateway.js'
import { entriesWhen } from '../support/log-entries.js'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { spawnGateway, type GatewayProcess } from '../support/process.js'
import { startMtlsServer, type EchoReply, type RunningServer } from '../support/tls-server.js'
import { replaceFile } from '../ops/helpers.js'

let pki: TestPki
let upstream: RunningServer
let gp: GatewayProcess
let port: number

beforeAll(async () => {
  pki = await createTestPki()
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt') })
  const file = join(pki.dir, 'gateway.yaml')
  replaceFile(file, `listen: { host: "::", port: 0 }\nadmin: { enabled: false }\ncallers: { required: false }\nforwarding: { xForwardedFor: true }\nendpoints:\n${endpointYaml('partner', upstream.port, clientTls(pki))}`)
  gp = await spawnGateway(file, ['--workers', '1'])
  port = Number(new URL(gp.url).port)
}, 120_000)
afterAll(async () => {
  await gp?.stop('SIGKILL')
  await upstream?.close()
  pki?.cleanup()
})

/** What the echo server saw of a route-mode call sent from `host` with `headers`. */
function call(host: string, headers: Record<string, string>): Promise<EchoReply['headers']> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path: '/proxy/partner/who', headers, agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve((JSON.parse(Buffer.concat(chunks).toString('utf8')) as EchoReply).headers))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
}

/** A CONNECT to a host no endpoint names, from `host`: refused with 403 and an access line. */
function refusedConnect(host: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port })
    let text = ''
    s.on('data', (c: Buffer) => (text += c.toString('latin1')))
    s.on('error', reject)
    s.on('close', () => resolve(text.split('\r\n')[0] ?? ''))
    s.end(`CONNECT nowhere.test:443 HTTP/1.1\r\nHost: nowhere.test:443\r\n\r\n`)
  })
}

/** The first access line `match` picks, once written. */
async function accessLine(match: (e: Record<string, unknown>) => boolean, what: string): Promise<Record<string, unknown>> {
  const [line] = await entriesWhen(gp, (e) => e.msg === 'request' && match(e), 1, { what })
  return line as Record<string, unknown>
}
const tagged = (tag: string) => (e: Record<string, unknown>): boolean => e.reqId === tag

describe('a gateway on "::" names its callers', () => {
  it('says where it listens: [::]:port, IPv6 and IPv4, with a URL this machine reaches', () => {
    const line = gp.output.map((l) => (l.startsWith('{"msg":"listening"') ? (JSON.parse(l) as unknown) : undefined)).find(Boolean)
    expect(line).toEqual({ msg: 'listening', url: `http://127.0.0.1:${port}`, on: `[::]:${port} (IPv6 and IPv4)` })
  })

  it('an IPv4 caller as IPv4 in X-Forwarded-For and its access line; an IPv6 caller as itself, its Forwarded for= bracketed', async () => {
    const v4 = await call('127.0.0.1', { 'x-request-id': 'v4-call' })
    expect(v4['x-forwarded-for']).toBe('127.0.0.1')
    expect((await accessLine(tagged('v4-call'), 'the v4 call')).clientAddress).toBe('127.0.0.1')
    const v6 = await call('::1', { 'x-request-id': 'v6-call', forwarded: 'for="[2001:db8::7]:4711";host=evil.test', 'x-forwarded-for': '2001:db8::7' })
    expect({ xff: v6['x-forwarded-for'], forwarded: v6.forwarded }).toEqual({ xff: '2001:db8::7, ::1', forwarded: 'for="[2001:db8::7]:4711"' })
    expect((await accessLine(tagged('v6-call'), 'the v6 call')).clientAddress).toBe('::1')
  })

  it('a refused CONNECT from an IPv4 caller as IPv4 in its access line', async () => {
    expect(await refusedConnect('127.0.0.1')).toMatch(/^HTTP\/1\.1 403 /)
    const line = await accessLine((e) => e.mode === 'connect' && e.status === 403, 'the CONNECT')
    expect({ mode: line.mode, clientAddress: line.clientAddress }).toEqual({ mode: 'connect', clientAddress: '127.0.0.1' })
  })

  it('property (seeded): ::ffff:a.b.c.d (any case) is a.b.c.d, and every other address is as the kernel gave it', () => {
    const mapped = /^::ffff:\d+\.\d+\.\d+\.\d+$/i
    fc.assert(
      fc.property(fc.ipV4(), fc.constantFrom('::ffff:', '::FFFF:', '::Ffff:'), (v4, prefix) => {
        expect(unmappedAddress(`${prefix}${v4}`)).toBe(v4)
        expect(callerAddress({ remoteAddress: `${prefix}${v4}` })).toBe(v4)
        expect(unmappedAddress(v4)).toBe(v4)
      }),
      { seed: 35_611, numRuns: 1000 },
    )
    fc.assert(
      fc.property(fc.oneof(fc.ipV6(), fc.ipV4Extended(), fc.string()).filter((a) => !mapped.test(a)), (a) => {
        expect(unmappedAddress(a)).toBe(a)
        expect(callerAddress({ remoteAddress: a })).toBe(a)
      }),
      { seed: 35_612, numRuns: 1000 },
    )
    // NAT64, IPv4-compatible, a mapped address in hex, a zone, and none at all stay as they are.
    for (const kept of ['64:ff9b::a00:1', '::10.0.0.1', '::ffff:a00:1', 'fe80::1%eth0', '::1']) expect(unmappedAddress(kept)).toBe(kept)
    expect(callerAddress({})).toBeUndefined()
  })
})
