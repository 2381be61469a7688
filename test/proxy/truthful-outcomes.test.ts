import { readFileSync } from 'node:fs'
import { request as httpRequest } from 'node:http'
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { endpointYaml, send } from '../support/gateway.js'
import { rawClient } from '../support/raw-client.js'
import { writeThenReset } from '../support/scripted-backend.js'
import { eventually, startOpsGateway, type OpsGateway } from '../ops/helpers.js'

// The access log says what really happened: a caller that left is a caller abort, an
// upstream that cut its body short after 200 is a truncated response, and oversized or
// malformed upstream headers have reasons of their own. The upstream is a raw mTLS socket
// server, so it can misbehave in ways an HTTP server library refuses to.
let pki: TestPki
let upstream: TlsServer
let g: OpsGateway

const BEHAVIOUR: Record<string, (s: TLSSocket) => void> = {
  '/slow': (s) => void setTimeout(() => s.end('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok'), 5000),
  '/cut': (s) => {
    s.write('HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\n' + 'x'.repeat(1000))
    setTimeout(() => s.destroy(), 100)
  },
  // A body read to the close (no Content-Length, no chunked) that the backend's connection breaks off (a reset, not a close).
  '/cut-to-close': (s) => writeThenReset(s, 'HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n' + 'x'.repeat(1000)),
  '/cut-http10': (s) => writeThenReset(s, 'HTTP/1.0 200 OK\r\n\r\n' + 'x'.repeat(1000)),
  '/huge-headers': (s) => s.end(`HTTP/1.1 200 OK\r\nx-big: ${'h'.repeat(64 * 1024)}\r\ncontent-length: 0\r\n\r\n`),
  '/malformed': (s) => s.end('HTTP/1.1 200 OK\r\ncontent-length: nope\r\n\r\nok'),
  '/bad-chunk': (s) => {
    s.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n')
    setTimeout(() => s.write('zz\r\nxx\r\n'), 50)
  },
  '/stall': (s) => void s.write('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nab'),
}

beforeAll(async () => {
  pki = await createTestPki()
  upstream = createTlsServer({ cert: readFileSync(pki.file('server-chain.crt')), key: readFileSync(pki.file('server.key')), ca: readFileSync(pki.file('root.crt')), requestCert: true, rejectUnauthorized: true }, (s) => {
    let head = ''
    s.on('data', (d: Buffer) => {
      head += d.toString('latin1')
      if (!head.includes('\r\n\r\n')) return
      const path = /^[A-Z]+ (\S+)/.exec(head)?.[1] ?? ''
      head = ''
      ;(BEHAVIOUR[path] ?? ((t: TLSSocket) => t.end('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n')))(s)
    })
    s.on('error', () => {})
  })
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r))
  const tls = clientTls(pki)
  const port = (upstream.address() as AddressInfo).port
  g = await startOpsGateway(pki.dir, `endpoints:\n${endpointYaml('partner', port, tls)}${endpointYaml('stalling', port, tls, '    timeouts: { idle: "300ms" }\n')}`)
})

afterAll(async () => {
  await g?.gw.close()
  await new Promise((r) => upstream?.close(r))
  pki?.cleanup()
})

const lineFor = (path: string): Promise<Record<string, unknown>> =>
  eventually(() => g.access().find((e) => e.reqId === path.slice(1)), 10_000, `the access line of ${path}`)

describe('truthful outcomes', () => {
  it('logs a caller that leaves before the answer as caller_aborted (499), not as an upstream failure', async () => {
    const req = httpRequest({ host: '127.0.0.1', port: g.gw.port, path: '/proxy/partner/slow', headers: { 'x-request-id': 'slow' } })
    req.on('error', () => {})
    req.end()
    setTimeout(() => req.destroy(), 300)
    expect(await lineFor('/slow')).toMatchObject({ reason: 'caller_aborted', status: 499 })
  })

  it('logs an upstream that cuts its body short after 200 as upstream_response_truncated with the status sent', async () => {
    await send(g.gw.url, '/proxy/partner/cut', { headers: { 'x-request-id': 'cut' } }).catch((e: unknown) => e)
    expect(await lineFor('/cut')).toMatchObject({ reason: 'upstream_response_truncated', status: 200, error: expect.stringMatching(/cut short after status 200/) })
  })

  it('a body read to the close that the backend breaks off (a reset) reaches the caller cut, never as a whole answer; the access line says truncated', async () => {
    for (const path of ['/cut-to-close', '/cut-http10']) {
      const c = await rawClient(g.gw.port)
      c.socket.write(`GET /proxy/partner${path} HTTP/1.1\r\nHost: gw\r\nX-Request-Id: ${path.slice(1)}\r\nConnection: close\r\n\r\n`)
      await c.closed(15_000)
      const text = c.received().toString('latin1')
      // Relayed chunked, the last chunk never comes; or a 502 when the gateway saw the reset before relaying the head.
      if (text.startsWith('HTTP/1.1 200 ')) expect([path, /transfer-encoding: chunked\r\n/i.test(text), text.endsWith('0\r\n\r\n')], text.slice(0, 300)).toEqual([path, true, false])
      else expect([path, text.slice(0, 12)]).toEqual([path, 'HTTP/1.1 502'])
      expect(await lineFor(path)).toMatchObject({ reason: 'upstream_response_truncated' })
    }
  })

  it('logs a malformed chunk after the status as upstream_response_malformed naming it; the caller sees the chunked body cut', async () => {
    const err = await send(g.gw.url, '/proxy/partner/bad-chunk', { headers: { 'x-request-id': 'bad-chunk' } }).then(() => undefined, (e: unknown) => e)
    expect(err, 'the caller must not read a cut body as complete').toBeInstanceOf(Error)
    expect(await lineFor('/bad-chunk')).toMatchObject({
      reason: 'upstream_response_malformed',
      status: 200,
      error: 'endpoint "partner": malformed response body after status 200 was sent (HPE_INVALID_CHUNK_SIZE): the chunked body is malformed: a chunk size that is not hexadecimal',
    })
  })

  it("a stalled upstream body is cut after the endpoint's timeouts.idle (upstream_timeout), never left open or ended as complete", async () => {
    const err = await send(g.gw.url, '/proxy/stalling/stall', { headers: { 'x-request-id': 'stall' } }).then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(Error)
    // Which timer cut it is in the line ('response body stalled' is the idle timer's alone), not in
    // the wall clock, which also counts a loaded machine.
    expect(await lineFor('/stall')).toMatchObject({ reason: 'upstream_timeout', status: 200, error: 'endpoint "stalling": response body stalled after status 200' })
  })

  it('gives oversized and malformed upstream responses their own reasons (502)', async () => {
    const huge = await send(g.gw.url, '/proxy/partner/huge-headers', { headers: { 'x-request-id': 'huge-headers' } })
    expect(huge.status).toBe(502)
    expect(huge.json()).toMatchObject({ errors: [{ code: 502, msg: 'endpoint "partner": response headers too large' }] })
    expect(await lineFor('/huge-headers')).toMatchObject({ reason: 'upstream_headers_too_large' })
    const bad = await send(g.gw.url, '/proxy/partner/malformed', { headers: { 'x-request-id': 'malformed' } })
    expect(bad.status).toBe(502)
    expect(await lineFor('/malformed')).toMatchObject({ reason: 'upstream_response_malformed', error: expect.stringMatching(/malformed HTTP response \((HPE_|invalid message framing)/) })
  })
})
