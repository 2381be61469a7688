/**
 * A backend that sends its response head and only later its body (an event stream, a long poll,
 * a slow report): the caller gets the head when the backend sends it, not with the body's first
 * byte. The gateway used to hold it (Node writes a response head with its first body write), so
 * a caller waiting for headers (EventSource's open, a client's header timeout) waited for the
 * body. Each case waits on events: the backend sends its body only once the caller holds the head.
 */
import { readFileSync, mkdtempSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer, type Server, type TLSSocket } from 'node:tls'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningGateway } from '../../src/cli/gateway-root.js'
import { endpointYaml, startTestGateway } from '../support/gateway.js'
import { clientTls, createTestPki } from '../support/pki.js'
import { rawClient } from '../support/raw-client.js'
import { closeScriptedRig } from '../support/scripted-backend.js'

let gw: RunningGateway
let server: Server
let dir: string
/** Backend sockets waiting to send their body, by request path. */
const waiting = new Map<string, TLSSocket>()
const sockets = new Set<TLSSocket>()

beforeAll(async () => {
  const pki = await createTestPki()
  server = createServer({ cert: readFileSync(pki.file('server-chain.crt')), key: readFileSync(pki.file('server.key')), ca: readFileSync(pki.file('root.crt')), requestCert: true }, (s) => {
    sockets.add(s)
    s.on('error', () => undefined)
    let head = ''
    s.on('data', (d: Buffer) => {
      head += d.toString('latin1')
      if (!head.includes('\r\n\r\n')) return
      const path = head.split(' ')[1] ?? ''
      head = ''
      const framing = path.includes('chunked') ? 'Transfer-Encoding: chunked' : 'Content-Length: 5'
      s.write(`HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n${framing}\r\n\r\n`)
      waiting.set(path, s)
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  dir = mkdtempSync(join(tmpdir(), 'response-head-first-'))
  gw = await startTestGateway(dir, `admin: { enabled: false }\nendpoints:\n${endpointYaml('up', (server.address() as AddressInfo).port, clientTls(pki))}`)
  pki.cleanup()
})

afterAll(async () => {
  for (const s of sockets) s.destroy()
  await closeScriptedRig({ gw, dir, backend: { port: 0, close: () => new Promise<void>((r) => server.close(() => r())) } })
})

let n = 0

describe('a response head sent before its body', () => {
  it('reaches the caller before the body is sent, then the body whole (fast-check, 8 runs: route and forward, chunked and Content-Length)', async () => {
    const arb = fc.record({ mode: fc.constantFrom('route', 'forward'), chunked: fc.boolean() })
    await fc.assert(
      fc.asyncProperty(arb, async ({ mode, chunked }) => {
        const path = `/s/${n++}${chunked ? '-chunked' : ''}`
        const authority = `api.partner.test:${(server.address() as AddressInfo).port}`
        const c = await rawClient(gw.port)
        c.socket.write(mode === 'route' ? `GET /proxy/up${path} HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n` : `GET http://${authority}${path} HTTP/1.1\r\nHost: ${authority}\r\nConnection: close\r\n\r\n`)
        // The head, while the backend still holds the body (bounded: without the head the body never goes).
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`no response head within 5 s: ${JSON.stringify(c.received().toString('latin1'))}`)), 5000)
          const check = (): void => void (c.received().includes('\r\n\r\n') && (clearTimeout(timer), resolve()))
          c.socket.on('data', check)
          check()
        })
        expect(c.received().toString('latin1')).toMatch(/^HTTP\/1\.1 200 OK\r\n[^]*content-type: text\/event-stream\r\n[^]*\r\n\r\n$/i)
        const backend = waiting.get(path) as TLSSocket
        backend.write(chunked ? '5\r\nhello\r\n0\r\n\r\n' : 'hello')
        await c.closed(5000)
        const received = c.received().toString('latin1')
        expect(received.endsWith(chunked ? '5\r\nhello\r\n0\r\n\r\n' : '\r\n\r\nhello'), received).toBe(true)
      }),
      { seed: 0x4ead, numRuns: 8 },
    )
  })
})
