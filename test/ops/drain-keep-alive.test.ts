/**
 * A keep-alive caller whose request is answered during a drain is told `Connection: close`.
 * Before, the answer said `Connection: keep-alive` and the gateway closed the connection right
 * after it (the drain closes idle connections): a caller's pool would reuse it for its next
 * request, racing the close, and a POST written as the socket closes is lost with no safe retry.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { writeFileSync } from 'node:fs'
import { connect as tlsConnect } from 'node:tls'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { echo, startMtlsServer, type RunningServer } from '../support/tls-server.js'
import { endpointYaml } from '../support/gateway.js'
import { exitedOf, spawnGateway, type GatewayProcess } from '../support/process.js'
import { rawClient, type RawClient } from '../support/raw-client.js'
import { writeInterceptionCa } from '../../src/tls/index.js'
import { eventually } from './helpers.js'

let pki: TestPki
let upstream: RunningServer
let config: string
let ca: { caCert: string; caKey: string }
/** Upstream requests to /held/… wait here until the test answers them. */
const held: { req: IncomingMessage; res: ServerResponse }[] = []

beforeAll(async () => {
  pki = await createTestPki()
  ca = await writeInterceptionCa(join(pki.dir, 'ica'))
  upstream = await startMtlsServer({
    cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt'),
    handler: (req, res) => (req.url?.includes('/held') ? void held.push({ req, res }) : echo(req, res)),
  })
  config = join(pki.dir, 'gateway.yaml')
  writeFileSync(config, `listen: { host: 127.0.0.1, port: 0 }\nadmin: { port: 0 }\ndrain: { grace: 60s }\ninterception:\n  caCert: ${ca.caCert}\n  caKey: ${ca.caKey}\nendpoints:\n${endpointYaml('partner', upstream.port, clientTls(pki))}`)
})
afterAll(async () => {
  for (const h of held.splice(0)) h.res.destroy()
  await upstream?.close()
  pki?.cleanup()
})

/** The head of the last response in `text` (status line and headers, lower-cased names). */
function lastHead(text: string): { status: string; headers: Map<string, string> } {
  const at = text.lastIndexOf('HTTP/1.1 ')
  const [status = '', ...lines] = text.slice(at, text.indexOf('\r\n\r\n', at)).split('\r\n')
  return { status, headers: new Map(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()])) }
}

/** A connection that was answered once with keep-alive, then sent a request the upstream holds. */
async function keptAliveWithHeldRequest(gp: GatewayProcess): Promise<RawClient> {
  const client = await rawClient(Number(new URL(gp.url).port))
  client.socket.write('GET /proxy/partner/first HTTP/1.1\r\nHost: gateway\r\n\r\n')
  await eventually(() => client.received().toString().includes('"url":"/first"'), 20_000, 'the first answer')
  expect(lastHead(client.received().toString()).headers.get('connection')).toBe('keep-alive')
  const before = held.length
  client.socket.write('POST /proxy/partner/held HTTP/1.1\r\nHost: gateway\r\nContent-Length: 2\r\n\r\nhi')
  await eventually(() => held.length === before + 1, 20_000, 'the upstream to hold the request')
  return client
}

async function drainAnswersWithClose(workers: number): Promise<void> {
  const gp = await spawnGateway(config, ['--workers', String(workers)])
  try {
    const client = await keptAliveWithHeldRequest(gp)
    const exit = exitedOf(gp.child)
    gp.child.kill('SIGTERM')
    await eventually(() => gp.logEntries().filter((e) => e.msg === 'draining: no new connections, waiting for in-flight requests').length === workers, 20_000, 'every process draining')
    for (const h of held.splice(0)) echo(h.req, h.res)
    await client.closed(20_000)
    const head = lastHead(client.received().toString())
    expect(head.status).toMatch(/^HTTP\/1\.1 200 /)
    expect(head.headers.get('connection')).toBe('close')
    expect(head.headers.has('keep-alive')).toBe(false)
    expect(await exit).toBe(0)
  } finally {
    await gp.stop('SIGKILL')
  }
}

describe('a keep-alive caller answered during a drain', () => {
  it('is told Connection: close (one process)', async () => {
    await drainAnswersWithClose(1)
  })

  it('is told Connection: close (--workers 2, the primary drains the workers)', async () => {
    await drainAnswersWithClose(2)
  })

  it('inside an intercepted CONNECT tunnel too, and the tunnel then closes', async () => {
    const gp = await spawnGateway(config, ['--workers', '1'])
    try {
      const tunnel = await rawClient(Number(new URL(gp.url).port))
      tunnel.socket.write(`CONNECT api.partner.test:${upstream.port} HTTP/1.1\r\nHost: x\r\n\r\n`)
      await eventually(() => tunnel.received().toString().includes('\r\n\r\n'), 20_000, 'the 200 to CONNECT')
      const inner = tlsConnect({ socket: tunnel.socket, servername: 'api.partner.test', ca: readFileSync(ca.caCert) })
      inner.on('error', () => {})
      await new Promise<void>((resolve, reject) => inner.once('secureConnect', resolve).once('error', reject))
      let text = ''
      inner.on('data', (d: Buffer) => void (text += d.toString('latin1')))
      const before = held.length
      inner.write(`GET /held/inner HTTP/1.1\r\nHost: api.partner.test:${upstream.port}\r\n\r\n`)
      await eventually(() => held.length === before + 1, 20_000, 'the upstream to hold the inner request')
      const exit = exitedOf(gp.child)
      gp.child.kill('SIGTERM')
      await eventually(() => gp.output.some((l) => l.includes('"draining: no new connections')), 20_000, 'the draining line')
      for (const h of held.splice(0)) echo(h.req, h.res)
      await tunnel.closed(20_000)
      const head = lastHead(text)
      expect(head.status).toMatch(/^HTTP\/1\.1 200 /)
      expect(head.headers.get('connection')).toBe('close')
      expect(await exit).toBe(0)
    } finally {
      await gp.stop('SIGKILL')
    }
  })
})
