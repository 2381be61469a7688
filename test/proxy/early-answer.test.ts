/**
 * A backend that answers before it has read the request body (it refuses an upload early: 401,
 * 403, 413) leaves the caller's connection with a body nobody reads any more. The gateway said
 * `keep-alive` all the same and stopped reading: the caller's next request on that connection
 * hung until the keep-alive limit (75 s by default) and then met a reset. Now such an answer
 * says `Connection: close`, the rest of the body is discarded and the connection closes; a
 * keep-alive client sends its next request on a new connection, answered at once.
 *
 * Real peers: an mTLS backend (/early answers without reading; anything else echoes), the
 * in-process gateway in route mode, a raw TCP caller and Node's keep-alive Agent.
 */
import { Agent, request } from 'node:http'
import { connect } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningGateway } from '../../src/cli/gateway-root.js'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { echo, startMtlsServer, type RunningServer } from '../support/tls-server.js'
import { endpointYaml, send, startTestGateway } from '../support/gateway.js'
import { eventually } from '../support/eventually.js'

let pki: TestPki
let upstream: RunningServer
let gw: RunningGateway

beforeAll(async () => {
  pki = await createTestPki()
  upstream = await startMtlsServer({
    cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt'),
    handler: (req, res) => (req.url?.includes('early') ? res.writeHead(403, { 'content-type': 'text/plain' }).end('early') : echo(req, res)),
  })
  // The default keep-alive limit (75 s): a connection held to it outlasts every deadline below.
  gw = await startTestGateway(pki.dir, `admin: { enabled: false }\nendpoints:\n${endpointYaml('partner', upstream.port, clientTls(pki))}`)
})

afterAll(async () => {
  await gw?.close()
  await upstream?.close()
  pki?.cleanup()
})

describe('an answer that comes before the request body has all arrived', () => {
  it('says Connection: close; the rest of the body is discarded and the connection closes (not held to the keep-alive limit)', async () => {
    const u = new URL(gw.url)
    const socket = connect(Number(u.port), u.hostname)
    socket.on('error', () => undefined)
    let text = ''
    socket.on('data', (c: Buffer) => void (text += c.toString('latin1')))
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
    socket.write(`POST /proxy/partner/early HTTP/1.1\r\nHost: gateway\r\nContent-Length: 1000000\r\n\r\n${'a'.repeat(1000)}`)
    await eventually(() => text.includes('early'), 20_000, 'the early answer')
    expect(text).toMatch(/^HTTP\/1\.1 403 /)
    expect(text.toLowerCase()).toContain('\r\nconnection: close\r\n')
    // The rest of the body, then a request the caller pipelines behind it: not served on this connection, which closes.
    socket.write('b'.repeat(999_000))
    socket.write('GET /proxy/partner/second HTTP/1.1\r\nHost: gateway\r\n\r\n')
    await Promise.race([closed, new Promise((_, reject) => setTimeout(() => reject(new Error(`the connection was kept open (held to the keep-alive limit):\n${text.slice(0, 300)}`)), 20_000))])
    expect(text.match(/HTTP\/1\.1 /g)).toHaveLength(1)
  })

  it('a keep-alive client\'s next request goes out on a new connection and is answered', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 })
    try {
      const u = new URL(gw.url)
      const early = await new Promise<{ status: number; connection: string | undefined }>((resolve, reject) => {
        const req = request({ host: u.hostname, port: u.port, method: 'POST', path: '/proxy/partner/early', agent, headers: { 'content-length': String(8 * 1024 * 1024) } }, (res) => {
          res.resume()
          res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection }))
        })
        req.on('error', reject)
        req.end(Buffer.alloc(8 * 1024 * 1024, 'x'))
      })
      expect(early).toEqual({ status: 403, connection: 'close' })
      const next = await Promise.race([
        send(gw.url, '/proxy/partner/next', { agent }),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the next request waited on the old connection')), 20_000)),
      ])
      expect(next.status).toBe(200)
    } finally {
      agent.destroy()
    }
  })
})
