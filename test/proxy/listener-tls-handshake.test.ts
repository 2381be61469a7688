/**
 * A caller whose TLS handshake with the listener itself (`listen.tls`, here with clientCa and
 * requireClientCert) fails, stalls or is abandoned has made no request, so the connection is one
 * access line (`mode` other, `method` "-") and one requests_total sample, worded as an
 * intercepted tunnel's: the real curl without the gateway's CA (400, TLS alert unknown_ca), curl
 * speaking plain HTTP to the TLS port (400, ERR_SSL_HTTP_REQUEST), curl and openssl s_client
 * without a client certificate or with one clientCa does not verify (400), a caller stopping
 * mid-ClientHello (408 after listen.timeouts.tlsHandshake, still counted in client_timeouts_total)
 * or closing there (499). A connection that sent no byte (a TCP health check, a port scan,
 * s_client waiting for an SMTP banner) is no request: no line, only the timeout count when the
 * limit closes it. Whatever bytes stand in for a ClientHello: exactly one line, never echoing them.
 */
import { spawn } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import type { Socket } from 'node:net'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { startMtlsServer, type RunningServer } from '../support/tls-server.js'
import { endpointYaml } from '../support/gateway.js'
import { rawClient } from '../support/raw-client.js'
import { eventually, scrape, startOpsGateway, valueOf, type OpsGateway } from '../ops/helpers.js'
import { LISTENER_ERROR, PARTIAL_HELLO, curl, listenerTlsYaml, sClient } from '../support/listener-tls.js'

let pki: TestPki
let upstream: RunningServer
let g: OpsGateway
let caller: { cert: string; key: string }
let rogue: { cert: string; key: string }

beforeAll(async () => {
  pki = await createTestPki()
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt') })
  caller = pki.writePair('caller', pki.client, { chain: [pki.inter] })
  rogue = pki.writePair('rogue', await pki.issue({ subject: 'CN=bot-runtime', issuer: await pki.issue({ subject: 'CN=Rogue CA', ca: true }), usages: ['clientAuth'] }))
  const dir = join(pki.dir, 'gateway')
  mkdirSync(dir)
  const tls = { cert: pki.file('server-chain.crt'), key: pki.file('server.key'), clientCa: pki.file('root.crt'), requireClientCert: true }
  const endpoints = endpointYaml('partner', upstream.port, clientTls(pki))
  // Each failed handshake's own line is asserted, many in a few seconds: the cap on such lines
  // (logging.callerFaults, test/ops/caller-fault-lines.test.ts) is off here.
  g = await startOpsGateway(dir, listenerTlsYaml(tls, endpoints, 'logging: { callerFaults: { interval: 0 } }\n'), { watch: false })
})

afterAll(async () => {
  await g?.gw.close()
  await upstream?.close()
  pki?.cleanup()
})

const url = (path = '/proxy/partner/x'): string => `https://localhost:${g.gw.port}${path}`
const trusted = (): string[] => ['--cacert', pki.file('root.crt'), '--cert', caller.cert, '--key', caller.key]

/** The one access line written after `before` lines (every line counts: a second one fails). */
async function nextLine(before: number): Promise<Record<string, unknown>> {
  for (const end = Date.now() + 15_000; g.access().length < before + 1;) {
    if (Date.now() > end) throw new Error('timed out after 15000 ms waiting for the access line')
    await new Promise((r) => setTimeout(r, 5))
  }
  const lines = g.access().slice(before)
  expect(lines, JSON.stringify(lines)).toHaveLength(1)
  return lines[0] as Record<string, unknown>
}

const requests4xx = async (): Promise<number> => valueOf(await scrape(g.adminUrl), 'mtls_gateway_requests_total', { endpoint: '_none', method: 'other', status_class: '4xx' }) ?? 0
const handshakeTimeouts = async (): Promise<number> => valueOf(await scrape(g.adminUrl), 'mtls_gateway_client_timeouts_total', { listener: 'proxy', reason: 'tls_handshake' }) ?? 0

describe('a caller whose TLS handshake with the listener fails is one access line', () => {
  it('the real curl without the gateway\'s CA: 400, TLS alert unknown_ca, the bytes it sent; one 4xx sample', async () => {
    const m0 = await requests4xx()
    const before = g.access().length
    const out = await curl(['--cert', caller.cert, '--key', caller.key, url()])
    expect(out).toMatch(/certificate/i)
    const line = await nextLine(before)
    expect(line).toMatchObject({ level: 'info', msg: 'request', mode: 'other', method: '-', status: 400, reason: 'bad_request', error: LISTENER_ERROR.unknownCa })
    expect(line.requestBytes).toBeGreaterThan(0)
    expect(line).not.toHaveProperty('endpoint')
    expect(await requests4xx()).toBe(m0 + 1)
  })

  it('curl speaking plain HTTP to the TLS port: 400, ERR_SSL_HTTP_REQUEST', async () => {
    const before = g.access().length
    await curl([`http://127.0.0.1:${g.gw.port}/proxy/partner/x`])
    expect(await nextLine(before)).toMatchObject({ status: 400, reason: 'bad_request', error: LISTENER_ERROR.plainHttp })
  })

  it('requireClientCert: curl with no certificate, or with one clientCa does not verify (TLS 1.3 and 1.2); openssl s_client with it', async () => {
    let before = g.access().length
    await curl(['--cacert', pki.file('root.crt'), url()])
    expect(await nextLine(before)).toMatchObject({ status: 400, error: LISTENER_ERROR.noCertificate })
    const refused = { status: 400, reason: 'bad_request', error: expect.stringMatching(/^listen\.tls: tls_handshake_failed: the caller's certificate does not verify against listen\.tls\.clientCa \([A-Z0-9_]+\)$/) }
    for (const version of [[], ['--tls-max', '1.2']]) {
      before = g.access().length
      await curl(['--cacert', pki.file('root.crt'), '--cert', rogue.cert, '--key', rogue.key, ...version, url()])
      expect(await nextLine(before)).toMatchObject(refused)
    }
    before = g.access().length
    await sClient(['-connect', `127.0.0.1:${g.gw.port}`, '-servername', 'localhost', '-CAfile', pki.file('root.crt'), '-cert', rogue.cert, '-key', rogue.key])
    expect(await nextLine(before)).toMatchObject(refused)
  })

  it('a caller that stops mid-ClientHello: 408 after listen.timeouts.tlsHandshake, counted; one that closes or resets there: 499', async () => {
    const timeouts = await handshakeTimeouts()
    let before = g.access().length
    const silent = await rawClient(g.gw.port)
    silent.socket.write(PARTIAL_HELLO)
    expect(await nextLine(before)).toMatchObject({ status: 408, reason: 'request_timeout', error: LISTENER_ERROR.timeout, requestBytes: PARTIAL_HELLO.length })
    await eventually(async () => (await handshakeTimeouts()) === timeouts + 1, 15_000, 'the timeout count')
    silent.socket.destroy()
    // From addresses of their own: the line names the connection's peer, even one reset before its record was made.
    for (const [leave, from] of [[(s: Socket) => s.end(PARTIAL_HELLO), '127.0.0.5'], [(s: Socket) => s.write(PARTIAL_HELLO, () => s.resetAndDestroy()), '127.0.0.6']] as const) {
      before = g.access().length
      leave((await rawClient(g.gw.port, from)).socket)
      expect(await nextLine(before)).toMatchObject({ status: 499, reason: 'caller_aborted', error: LISTENER_ERROR.aborted, clientAddress: from })
    }
  })

  it('no byte sent is no request: TCP connect and close (FIN or RST), or s_client waiting for a banner, write no line; the limit still counts the silent one', async () => {
    const before = g.access().length
    const timeouts = await handshakeTimeouts()
    for (let i = 0; i < 3; i++) {
      const fin = await rawClient(g.gw.port)
      fin.socket.end()
      await fin.closed(15_000)
      ;(await rawClient(g.gw.port)).socket.resetAndDestroy()
    }
    const client = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${g.gw.port}`, '-starttls', 'smtp'], { stdio: ['pipe', 'ignore', 'ignore'] })
    const exited = new Promise((r) => client.once('exit', r))
    try {
      await eventually(async () => (await handshakeTimeouts()) === timeouts + 1, 15_000, 'the silent connection\'s timeout count')
    } finally {
      client.kill()
      await exited
    }
    // A caller that did send something, after them: its line is the only one.
    await curl([`http://127.0.0.1:${g.gw.port}/`])
    expect(await nextLine(before)).toMatchObject({ error: LISTENER_ERROR.plainHttp })
  })

  it('a handshake that succeeds has no such line: only the request\'s, or none when the caller closes without one', async () => {
    const before = g.access().length
    const out = await curl([...trusted(), url('/proxy/partner/inner')])
    expect(out).toContain('/inner')
    expect(await nextLine(before)).toMatchObject({ mode: 'route', method: 'GET', status: 200, endpoint: 'partner' })
    expect(await sClient(['-connect', `127.0.0.1:${g.gw.port}`, '-servername', 'localhost', '-CAfile', pki.file('root.crt'), '-cert', caller.cert, '-cert_chain', pki.file('inter.crt'), '-key', caller.key, '-verify_return_error'])).toBe(0)
    await curl([`http://127.0.0.1:${g.gw.port}/`])
    expect(await nextLine(before + 1)).toMatchObject({ error: LISTENER_ERROR.plainHttp })
  })

  it('whatever bytes a caller sends instead of a ClientHello, then closing: exactly one line, 400, 408 or 499, never echoing them; the gateway serves on (seeded property)', async () => {
    const reason = /^listen\.tls: tls_handshake_(failed: (TLS alert [a-z_]+ from the caller(: [a-zA-Z ;?,'().]+)?|the caller [a-zA-Z ,()_.']+|ERR_SSL_[A-Z0-9_]+)|aborted: the caller closed the connection before completing its TLS handshake|timeout: .+)$/
    const marker = fc.string({ minLength: 6, maxLength: 12, unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz') }).map((s) => `zq${s}`)
    const bytes = fc.oneof(
      fc.uint8Array({ minLength: 1, maxLength: 600 }).map((b) => Buffer.from(b)),
      // A TLS record header (handshake, alert, application data) with an arbitrary body.
      fc.tuple(fc.constantFrom(0x14, 0x15, 0x16, 0x17), fc.constantFrom(0x00, 0x01, 0x03), fc.uint8Array({ maxLength: 300 })).map(([t, v, b]) => Buffer.concat([Buffer.from([t, 0x03, v, b.length >> 8, b.length & 0xff]), b])),
    )
    let runs = 0
    const start = g.access().length
    await fc.assert(
      fc.asyncProperty(bytes, marker, async (b, mark) => {
        const before = g.access().length
        const c = await rawClient(g.gw.port)
        c.socket.end(Buffer.concat([b, Buffer.from(mark)]))
        const line = await nextLine(before)
        expect([400, 408, 499]).toContain(line.status)
        expect(String(line.error)).toMatch(reason)
        expect(JSON.stringify(line)).not.toContain(mark)
        c.socket.destroy()
        runs++
      }),
      { seed: 20261204, numRuns: 1000 },
    )
    expect(runs).toBe(1000)
    expect(g.access()).toHaveLength(start + runs)
    expect(await curl([...trusted(), url('/proxy/partner/after')])).toContain('/after')
  }, 300_000)
})
