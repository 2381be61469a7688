import { mkdirSync, readFileSync } from 'node:fs'
import type { ServerResponse } from 'node:http'
import { join } from 'node:path'
import { connect as tlsConnect } from 'node:tls'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { echo, startMtlsServer, type RunningServer } from '../support/tls-server.js'
import { endpointYaml, send } from '../support/gateway.js'
import { parseRawResponse, rawClient, type RawClient } from '../support/raw-client.js'
import { HS_SECRET, AUDIENCE } from '../support/callers-fixtures.js'
import { eventually, scrape, startOpsGateway, valueOf, type OpsGateway } from '../ops/helpers.js'
import { writeInterceptionCa } from '../../src/tls/index.js'

// Hostile and slow clients against short limits (1–2 s; headers 2 s so that a stalled test
// process cannot make a normal client late): each kind is closed by its limit
// while a normal client is served throughout. Deadlines are generous (a loaded 2-core
// machine); without the limits these connections stay open for ever.
const DEADLINE_MS = 15_000

let pki: TestPki
let upstream: RunningServer
let g: OpsGateway
let port: number
let adminPort: number
let caCert: string

beforeAll(async () => {
  pki = await createTestPki()
  const ca = await writeInterceptionCa(join(pki.dir, 'ica'))
  caCert = ca.caCert
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt'), handler: (req, res) => (req.url === '/big' ? sendBig(res) : echo(req, res)) })
  const tls = clientTls(pki)
  const yaml = `listen:
  timeouts: { headers: 2s, bodyIdle: 1s, bufferedBody: 2s, sendIdle: 1s, keepAlive: 1s, tlsHandshake: 2s, tunnelIdle: 2s }
admin:
  timeouts: { headers: 2s, keepAlive: 1s }
limits: { maxBufferedBody: 64KiB }
interception: { caCert: ${ca.caCert}, caKey: ${ca.caKey} }
callers:
  required: false
  apps: [{ clientId: app, hs256Secret: "${HS_SECRET}", audience: "${AUDIENCE}" }]
endpoints:
${endpointYaml('partner', upstream.port, tls)}${endpointYaml('fields', upstream.port, tls, '    fields: [{ type: payload, key: account, value: "acct-1" }]\n').replace('api.partner.test', 'fields.partner.test')}`
  g = await startOpsGateway(pki.dir, yaml)
  port = g.gw.port
  adminPort = Number(new URL(g.adminUrl).port)
})

afterAll(async () => {
  await g?.gw.close()
  await upstream?.close()
  pki?.cleanup()
})

/** 256 MiB, written as fast as the reader takes it. */
function sendBig(res: ServerResponse): void {
  const chunk = Buffer.alloc(64 * 1024, 'b')
  let left = 4096
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(chunk.length * left) })
  const more = (): void => {
    while (left > 0) {
      left--
      if (!res.write(chunk)) return void res.once('drain', more)
    }
    res.end()
  }
  res.on('close', () => (left = 0))
  more()
}

/** A normal client calling every 100 ms until stopped; every answer must be 200. */
function normalClient(): { stop(): Promise<number[]> } {
  const statuses: number[] = []
  let running = true
  const loop = (async () => {
    while (running) {
      statuses.push((await send(g.gw.url, '/proxy/partner/normal')).status)
      await new Promise((r) => setTimeout(r, 100))
    }
  })()
  return {
    stop: async () => {
      running = false
      await loop
      return statuses
    },
  }
}

/** Checks a gateway-made answer: the JSON envelope, with a Content-Length equal to its byte length. */
function expectEnvelope(c: RawClient, status: number): void {
  const r = parseRawResponse(c.received())
  expect(r.status).toBe(status)
  expect(Number(r.headers['content-length'])).toBe(r.body.length)
  expect(JSON.parse(r.body.toString('utf8'))).toMatchObject({ errors: [{ code: status, msg: expect.any(String) }] })
}

const many = <T>(n: number, make: () => Promise<T>): Promise<T[]> => Promise.all(Array.from({ length: n }, make))

describe('slow and silent clients', () => {
  it('closes each kind within its limit while a normal client is served throughout', async () => {
    const normal = normalClient()
    const slowHeaders = await many(10, () => rawClient(port))
    for (const c of slowHeaders) c.trickle('GET /proxy/partner/slow HTTP/1.1\r\nHost: a\r\nX-Slow: ' + 'x'.repeat(200), 200)
    const silent = await many(10, () => rawClient(port))
    const slowBody = await many(6, () => rawClient(port))
    for (const c of slowBody) c.socket.write('POST /proxy/partner/upload HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\nfirst bytes, then nothing')
    const token = await many(4, () => rawClient(port))
    for (const c of token) {
      c.socket.write('POST /gateway/token HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 400\r\n\r\n')
      c.trickle(JSON.stringify({ assertion: 'x'.repeat(380) }), 300) // under bodyIdle, over bufferedBody
    }
    const keepAlive = await many(3, () => rawClient(port))
    for (const c of keepAlive) c.socket.write('GET /proxy/partner/once HTTP/1.1\r\nHost: a\r\n\r\n')
    const connect = await many(3, () => rawClient(port))
    for (const c of connect) c.socket.write(`CONNECT api.partner.test:${upstream.port} HTTP/1.1\r\nHost: api.partner.test:${upstream.port}\r\n\r\n`)
    const admin = await many(3, () => rawClient(adminPort))
    const notReading = await many(2, () => rawClient(port))
    for (const c of notReading) {
      c.socket.write('GET /proxy/partner/big HTTP/1.1\r\nHost: a\r\n\r\n')
      c.socket.pause()
    }

    await Promise.all([...slowHeaders, ...silent, ...slowBody, ...token, ...keepAlive, ...connect, ...admin].map((c) => c.closed(DEADLINE_MS)))
    // A client that does not read cannot see its connection go: wait for the gateway's count, then read.
    const sendIdle = async (): Promise<number> => valueOf(await scrape(g.adminUrl), 'mtls_gateway_client_timeouts_total', { listener: 'proxy', reason: 'send_idle' }) ?? 0
    await eventually(async () => (await sendIdle()) >= 2, DEADLINE_MS, 'two send_idle expiries')
    for (const c of notReading) c.socket.resume()
    await Promise.all(notReading.map((c) => c.closed(DEADLINE_MS)))
    const statuses = await normal.stop()

    expect(statuses.length).toBeGreaterThan(3)
    expect(statuses.every((s) => s === 200)).toBe(true)
    for (const c of [...slowHeaders, ...silent]) expectEnvelope(c, 408)
    for (const c of [...slowBody, ...token]) expectEnvelope(c, 408)
    for (const c of keepAlive) expect(parseRawResponse(c.received()).status).toBe(200)
    for (const c of connect) expect(c.received().toString()).toMatch(/^HTTP\/1\.1 200 Connection Established\r\n\r\n$/)
    for (const c of admin) expectEnvelope(c, 408)
    expect(JSON.parse(parseRawResponse(token[0]!.received()).body.toString()).errors[0].msg).toMatch(/listen\.timeouts\.bufferedBody/)
    expect(JSON.parse(parseRawResponse(slowBody[0]!.received()).body.toString()).errors[0].msg).toMatch(/listen\.timeouts\.bodyIdle/)

    const m = await scrape(g.adminUrl)
    const count = (listener: string, reason: string): number => valueOf(m, 'mtls_gateway_client_timeouts_total', { listener, reason }) ?? 0
    expect(count('proxy', 'headers')).toBeGreaterThanOrEqual(20)
    expect(count('proxy', 'body_idle')).toBeGreaterThanOrEqual(6)
    expect(count('proxy', 'buffered_body')).toBeGreaterThanOrEqual(4)
    expect(count('proxy', 'keep_alive')).toBeGreaterThanOrEqual(3)
    expect(count('tunnel', 'tls_handshake')).toBeGreaterThanOrEqual(3)
    expect(count('admin', 'headers')).toBeGreaterThanOrEqual(3)
    expect(count('proxy', 'send_idle')).toBeGreaterThanOrEqual(2)
    const debug = g.lines.filter((l) => l.includes('"connection closed by a limit"'))
    expect(debug.some((l) => l.includes('"level":"debug"') && l.includes('"reason":"body_idle"'))).toBe(true)
    // The buffered-body and body-idle expiries are requests too: logged with their reason.
    await eventually(() => g.access().filter((e) => e.reason === 'request_timeout' && e.status === 408).length >= 10, 10_000, 'ten request_timeout access lines')
    expect(g.access().some((e) => e.reason === 'bad_request')).toBe(false)
  })

  it('a body pipelined behind an answered request that stops arriving is cut by bodyIdle (408), the answer before it delivered', async () => {
    const c = await rawClient(port)
    c.socket.write('GET /proxy/partner/first HTTP/1.1\r\nHost: a\r\n\r\nPOST /proxy/partner/upload HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\nfirst bytes, then nothing')
    await c.closed(DEADLINE_MS)
    const [first, second] = c.received().toString('latin1').split(/(?=HTTP\/1\.1 )/)
    expect(first).toMatch(/^HTTP\/1\.1 200 /)
    const refused = parseRawResponse(Buffer.from(second ?? '', 'latin1'))
    expect(refused.status).toBe(408)
    expect(JSON.parse(refused.body.toString()).errors[0].msg).toMatch(/listen\.timeouts\.bodyIdle/)
  })

  it('inside an intercepted tunnel: closes it idle between requests (tunnelIdle), and answers 408 to silence after the handshake (headers)', async () => {
    const tunnelCount = async (reason: string): Promise<number> => valueOf(await scrape(g.adminUrl), 'mtls_gateway_client_timeouts_total', { listener: 'tunnel', reason }) ?? 0
    const before = { idle: await tunnelCount('tunnel_idle'), headers: await tunnelCount('headers') }
    const open = async (): Promise<{ c: RawClient; answer: () => string; write(s: string): void }> => {
      const c = await rawClient(port)
      c.socket.write(`CONNECT api.partner.test:${upstream.port} HTTP/1.1\r\nHost: x\r\n\r\n`)
      await eventually(() => c.received().toString().includes('\r\n\r\n'), 10_000, 'the 200 to CONNECT')
      const inner = tlsConnect({ socket: c.socket, servername: 'api.partner.test', ca: readFileSync(caCert) })
      inner.on('error', () => {})
      await new Promise<void>((r, j) => inner.once('secureConnect', r).once('error', j))
      const answer: Buffer[] = []
      inner.on('data', (d: Buffer) => answer.push(d))
      return { c, answer: () => Buffer.concat(answer).toString(), write: (text) => void inner.write(text) }
    }
    const used = await open()
    used.write(`GET /one HTTP/1.1\r\nHost: api.partner.test:${upstream.port}\r\n\r\n`)
    await eventually(() => used.answer().includes('"url":"/one"'), 10_000, 'the inner answer')
    const silent = await open()
    await Promise.all([used.c.closed(DEADLINE_MS), silent.c.closed(DEADLINE_MS)])
    expect(parseRawResponse(Buffer.from(silent.answer(), 'latin1')).status).toBe(408)
    await eventually(async () => (await tunnelCount('tunnel_idle')) > before.idle && (await tunnelCount('headers')) > before.headers, 5000, 'tunnel_idle and headers to be counted')
  })
})

describe('requests the gateway refuses before they reach a step', () => {
  it('answers malformed requests 400 and oversized headers 431 with the envelope, and logs them', async () => {
    const bad = await rawClient(port)
    bad.socket.write('BLAH\x01 / HTTP/1.1\r\n\r\n')
    await bad.closed(DEADLINE_MS)
    expectEnvelope(bad, 400)
    const big = await rawClient(port)
    big.socket.write(`GET /proxy/partner/x HTTP/1.1\r\nHost: a\r\nX-Big: ${'b'.repeat(20_000)}\r\n\r\n`)
    await big.closed(DEADLINE_MS)
    expectEnvelope(big, 431)
    await eventually(() => g.access().some((e) => e.reason === 'bad_request' && e.status === 400) && g.access().some((e) => e.reason === 'headers_too_large' && e.status === 431), 5000, 'both access lines')
  })

  it('the admin listener answers through the same writer (404, 405 with an unread body and a close)', async () => {
    const post = await rawClient(adminPort)
    post.socket.write('POST /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\nabc')
    await post.closed(DEADLINE_MS)
    expectEnvelope(post, 405)
    const missing = await rawClient(adminPort)
    missing.socket.write('GET /nope HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n')
    await missing.closed(DEADLINE_MS)
    expectEnvelope(missing, 404)
  })

  it('answers an unsupported expectation 417 with the envelope', async () => {
    const c = await rawClient(port)
    c.socket.write('POST /proxy/partner/x HTTP/1.1\r\nHost: a\r\nExpect: something-else\r\nContent-Length: 5\r\n\r\n')
    await eventually(() => c.received().includes('\r\n\r\n'), 10_000, 'the answer')
    await c.closed(DEADLINE_MS)
    expectEnvelope(c, 417)
  })

  it('refuses a gateway API body over its limit with 413 and closes, declared or chunked', async () => {
    const declared = await rawClient(port)
    declared.socket.write('POST /gateway/token HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 1073741824\r\n\r\n{"assertion":"')
    await declared.closed(DEADLINE_MS)
    expectEnvelope(declared, 413)
    const chunked = await rawClient(port)
    chunked.socket.write('POST /gateway/token HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n')
    const chunk = 'a'.repeat(16 * 1024)
    for (let i = 0; i < 6; i++) chunked.socket.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`)
    await chunked.closed(DEADLINE_MS)
    expectEnvelope(chunked, 413)
    expect(JSON.parse(parseRawResponse(chunked.received()).body.toString()).errors[0].msg).toMatch(/65536-byte limit .*gateway API bodies/)
  })

  it('after a 413 stops reading and closes the connection (declared and chunked bodies)', async () => {
    const declared = await rawClient(port)
    declared.socket.write('POST http://fields.partner.test:' + upstream.port + '/x HTTP/1.1\r\nHost: fields.partner.test\r\nContent-Type: application/json\r\nContent-Length: 1073741824\r\n\r\n{"a":"')
    await declared.closed(DEADLINE_MS)
    expectEnvelope(declared, 413)
    expect(parseRawResponse(declared.received()).headers.connection).toBe('close')
    const chunked = await rawClient(port)
    chunked.socket.write('POST http://fields.partner.test:' + upstream.port + '/x HTTP/1.1\r\nHost: fields.partner.test\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n')
    const chunk = 'a'.repeat(16 * 1024)
    // Keeps sending (up to 8 MiB) until the gateway closes: it must not read to the end.
    let sent = 0
    while (!chunked.socket.destroyed && sent < 8 * 1024 * 1024) {
      if (!chunked.socket.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`)) await new Promise((r) => setTimeout(r, 20))
      sent += chunk.length
    }
    await chunked.closed(DEADLINE_MS)
    expectEnvelope(chunked, 413)
  })
})

describe('the TLS listener', () => {
  it('closes a connection that never handshakes, and one that handshakes and then sends nothing', async () => {
    const dir = join(pki.dir, 'tls-listener')
    mkdirSync(dir, { recursive: true })
    const tls = clientTls(pki)
    const t = await startOpsGateway(dir, `listen:\n  tls: { cert: ${pki.file('server-chain.crt')}, key: ${pki.file('server.key')} }\n  timeouts: { headers: 2s, tlsHandshake: 2s }\nendpoints:\n${endpointYaml('partner', upstream.port, tls)}`)
    try {
      const silent = await rawClient(t.gw.port)
      const afterHandshake = tlsConnect({ host: '127.0.0.1', port: t.gw.port, servername: 'localhost', ca: readFileSync(pki.file('root.crt')) })
      afterHandshake.on('error', () => {})
      const answer: Buffer[] = []
      afterHandshake.on('data', (d: Buffer) => answer.push(d))
      await new Promise<void>((r, j) => afterHandshake.once('secureConnect', r).once('error', j))
      const closed = new Promise<void>((r) => afterHandshake.once('close', () => r()))
      await silent.closed(DEADLINE_MS)
      await Promise.race([closed, new Promise((_, j) => setTimeout(() => j(new Error('TLS connection still open')), DEADLINE_MS))])
      expect(parseRawResponse(Buffer.concat(answer)).status).toBe(408)
      const m = await scrape(t.adminUrl)
      expect(valueOf(m, 'mtls_gateway_client_timeouts_total', { listener: 'proxy', reason: 'tls_handshake' })).toBeGreaterThanOrEqual(1)
      expect(valueOf(m, 'mtls_gateway_client_timeouts_total', { listener: 'proxy', reason: 'headers' })).toBeGreaterThanOrEqual(1)
    } finally {
      await t.gw.close()
    }
  })
})
