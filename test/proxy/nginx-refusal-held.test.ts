/**
 * The few bytes of a 400 the gateway holds to tell nginx's refusal page from a backend's own
 * 400 (src/proxy/nginx-refusal.ts): a body that arrives slowly, one exactly at the limit, HEAD,
 * requests pipelined behind it on the caller's connection, and a caller that leaves while the
 * body is held (the upstream call ends; nothing is left behind). One gateway, one raw mTLS
 * backend whose every write the test makes.
 */
import { readFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { createServer, type Server, type TLSSocket } from 'node:tls'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { eventually } from '../support/eventually.js'
import { endpointYaml } from '../support/gateway.js'
import { createTestPki, type TestPki } from '../support/pki.js'
import { rawClient } from '../support/raw-client.js'
import { startOpsGateway, type OpsGateway } from '../ops/helpers.js'

let pki: TestPki
let g: OpsGateway
let backend: Server
/** Each request head the backend read, with its connection. */
const heads: { head: string; socket: TLSSocket }[] = []
const closed = new Set<TLSSocket>()

beforeAll(async () => {
  pki = await createTestPki()
  backend = createServer({ cert: readFileSync(pki.file('server-chain.crt')), key: readFileSync(pki.file('server.key')), ca: readFileSync(pki.file('root.crt')), requestCert: true }, (s) => {
    let buf = ''
    s.on('error', () => undefined)
    s.on('close', () => closed.add(s))
    s.on('data', (d: Buffer) => {
      buf += d.toString('latin1')
      for (let end = buf.indexOf('\r\n\r\n'); end >= 0; end = buf.indexOf('\r\n\r\n')) {
        heads.push({ head: buf.slice(0, end), socket: s })
        buf = buf.slice(end + 4)
      }
    })
  })
  await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r))
  const tls = { cert: pki.file('client.crt'), key: pki.file('client.key'), intermediates: pki.file('inter.crt'), roots: pki.file('root.crt') }
  g = await startOpsGateway(pki.dir, `endpoints:\n${endpointYaml('up', (backend.address() as AddressInfo).port, tls)}`)
})

afterAll(async () => {
  await g?.gw.close()
  for (const { socket } of heads) socket.destroy()
  await new Promise<void>((r) => backend?.close(() => r()))
  pki?.cleanup()
})

/** The backend's connection that read the request for `path`. */
const requestFor = (path: string): Promise<{ head: string; socket: TLSSocket }> =>
  eventually(() => heads.find((h) => h.head.split(' ')[1] === path), 20_000, `the request for ${path} at the backend`)

const head400 = (length: number, extra = ''): string => `HTTP/1.1 400 Bad Request\r\nContent-Type: text/html\r\n${extra}Content-Length: ${length}\r\n\r\n`

describe('a 400 whose head could be nginx\'s page', () => {
  it('arriving slowly, reaches the caller byte-identical once it is whole', async () => {
    const body = Buffer.from('<html><body>your request was bad</body></html>\r\n')
    const c = await rawClient(g.gw.port)
    try {
      c.socket.write('GET /proxy/up/slow HTTP/1.1\r\nHost: gw\r\n\r\n')
      const { socket } = await requestFor('/slow')
      socket.write(head400(body.length, 'X-Marker: kept\r\n') + body.subarray(0, 10).toString('latin1'))
      socket.write(body.subarray(10))
      await eventually(() => c.received().includes(body), 20_000, 'the whole answer')
      const text = c.received().toString('latin1')
      expect(text).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/)
      expect(text).toMatch(/\r\nx-marker: kept\r\n/i)
      expect(text).toMatch(new RegExp(`\\r\\ncontent-length: ${body.length}\\r\\n`, 'i'))
      expect(c.received().subarray(c.received().indexOf('\r\n\r\n') + 4).equals(body)).toBe(true)
    } finally {
      c.socket.destroy()
    }
  })

  it('exactly at the limit (2048 bytes), is held and relayed byte-identical', async () => {
    const body = Buffer.alloc(2048, 0x61)
    const c = await rawClient(g.gw.port)
    try {
      c.socket.write('GET /proxy/up/limit HTTP/1.1\r\nHost: gw\r\n\r\n')
      const { socket } = await requestFor('/limit')
      socket.write(Buffer.concat([Buffer.from(head400(body.length)), body]))
      await eventually(() => c.received().length >= body.length, 20_000, 'the whole answer')
      expect(c.received().subarray(c.received().indexOf('\r\n\r\n') + 4).equals(body)).toBe(true)
    } finally {
      c.socket.destroy()
    }
  })

  it('to HEAD, reaches the caller with its Content-Length and no body; the next request on the connection is answered', async () => {
    const c = await rawClient(g.gw.port)
    try {
      c.socket.write('HEAD /proxy/up/head HTTP/1.1\r\nHost: gw\r\n\r\nGET /proxy/up/after-head HTTP/1.1\r\nHost: gw\r\n\r\n')
      ;(await requestFor('/head')).socket.write(head400(250))
      const after = await requestFor('/after-head')
      after.socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok')
      await eventually(() => /\r\n\r\nok$/.test(c.received().toString('latin1')), 20_000, 'the second answer')
      const text = c.received().toString('latin1')
      expect(text).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n[^]*content-length: 250\r\n[^]*?\r\n\r\nHTTP\/1\.1 200 OK\r\n/i)
    } finally {
      c.socket.destroy()
    }
  })

  it('pipelined between two requests on one caller connection: each answer in order, the nginx page as a 502', async () => {
    const page = '<html>\r\n<head><title>400 The SSL certificate error</title></head>\r\n<body>\r\n<center><h1>400 Bad Request</h1></center>\r\n<center>The SSL certificate error</center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n'
    const c = await rawClient(g.gw.port)
    try {
      c.socket.write(['/p1', '/p2', '/p3'].map((p) => `GET /proxy/up${p} HTTP/1.1\r\nHost: gw\r\n\r\n`).join(''))
      ;(await requestFor('/p1')).socket.write(head400(3) + 'one')
      ;(await requestFor('/p2')).socket.write(head400(page.length) + page)
      ;(await requestFor('/p3')).socket.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nthree')
      await eventually(() => c.received().toString('latin1').endsWith('three'), 20_000, 'the third answer')
      const statuses = [...c.received().toString('latin1').matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => m[1])
      expect(statuses).toEqual(['400', '502', '200'])
    } finally {
      c.socket.destroy()
    }
  })

  it('held when the caller leaves: the upstream call ends (its connection closes), as for any answer', async () => {
    const c = await rawClient(g.gw.port)
    c.socket.write('GET /proxy/up/leave HTTP/1.1\r\nHost: gw\r\n\r\n')
    const { socket } = await requestFor('/leave')
    socket.write(head400(250) + '<html>')
    c.socket.destroy()
    await expect.poll(() => closed.has(socket), { timeout: 20_000, message: 'the upstream connection to close' }).toBe(true)
    // Logged as every answer the caller left: 499 caller_aborted (no other case here leaves).
    await expect.poll(() => g.access().some((e) => e.status === 499 && e.reason === 'caller_aborted'), { timeout: 20_000, message: 'the access log line' }).toBe(true)
  })
})
