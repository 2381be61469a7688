import { readFileSync, writeFileSync } from 'node:fs'
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import { join } from 'node:path'
import type { ChildProcess } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { echo, startMtlsServer, type RunningServer } from '../support/tls-server.js'
import { endpointYaml, send } from '../support/gateway.js'
import { spawnGateway } from '../support/process.js'
import { rawClient, type RawClient } from '../support/raw-client.js'
import { writeInterceptionCa } from '../../src/tls/index.js'
import { eventually } from './helpers.js'

// SIGTERM with idle keep-alive connections, silent connections and idle tunnels open: they
// are closed at once, the in-flight request finishes, and the process exits 0 long before
// its 30 s grace period (at the grace period it would exit 1).
let pki: TestPki
let upstream: RunningServer
let echoTcp: TcpServer
let ca: { caCert: string; caKey: string }
let received = 0

const config = (grace: string): string => {
  const tls = clientTls(pki)
  const file = join(pki.dir, `gateway-${grace}.yaml`)
  writeFileSync(file, `listen: { host: 127.0.0.1, port: 0 }
admin: { port: 0 }
drain: { grace: ${grace} }
interception:
  caCert: ${ca.caCert}
  caKey: ${ca.caKey}
  passThrough: [{ host: 127.0.0.1, port: ${(echoTcp.address() as AddressInfo).port}, allowPrivate: true }]
endpoints:
${endpointYaml('partner', upstream.port, tls)}`)
  return file
}

beforeAll(async () => {
  pki = await createTestPki()
  ca = await writeInterceptionCa(join(pki.dir, 'ica'))
  upstream = await startMtlsServer({
    cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt'),
    handler: (req, res) => {
      received++
      const delay = req.url?.includes('very-slow') ? 8000 : req.url?.includes('slow') ? 2000 : 0
      setTimeout(() => echo(req, res), delay)
    },
  })
  echoTcp = createTcpServer((s) => s.pipe(s))
  await new Promise<void>((r) => echoTcp.listen(0, '127.0.0.1', r))
})

afterAll(async () => {
  await upstream?.close()
  await new Promise((r) => echoTcp?.close(r))
  pki?.cleanup()
})

const exited = (child: ChildProcess): Promise<number | null> =>
  child.exitCode !== null ? Promise.resolve(child.exitCode) : new Promise((resolve) => child.once('exit', (code) => resolve(code)))

/** Opens every kind of connection that holds no request: keep-alive, silent, intercepted and pass-through tunnels. */
async function openIdleConnections(port: number): Promise<RawClient[]> {
  const keepAlive = await Promise.all([1, 2, 3].map(() => rawClient(port)))
  for (const c of keepAlive) c.socket.write('GET /proxy/partner/once HTTP/1.1\r\nHost: a\r\n\r\n')
  await eventually(() => keepAlive.every((c) => c.received().toString().includes('"url":"/once"')), 10_000, 'keep-alive answers')
  const silent = await Promise.all([1, 2, 3].map(() => rawClient(port)))
  const intercepted = await rawClient(port)
  intercepted.socket.write(`CONNECT api.partner.test:${upstream.port} HTTP/1.1\r\nHost: x\r\n\r\n`)
  await eventually(() => intercepted.received().toString().includes('\r\n\r\n'), 10_000, 'the 200 to CONNECT')
  const inner = tlsConnect({ socket: intercepted.socket, servername: 'api.partner.test', ca: readFileSync(ca.caCert) })
  await new Promise<void>((r, j) => inner.once('secureConnect', r).once('error', j))
  const answer: Buffer[] = []
  inner.on('data', (d: Buffer) => answer.push(d))
  inner.on('error', () => {})
  inner.write(`GET /inner HTTP/1.1\r\nHost: api.partner.test:${upstream.port}\r\n\r\n`)
  await eventually(() => Buffer.concat(answer).toString().includes('"url":"/inner"'), 10_000, 'the inner answer')
  const passThrough = await rawClient(port)
  const echoPort = (echoTcp.address() as AddressInfo).port
  passThrough.socket.write(`CONNECT 127.0.0.1:${echoPort} HTTP/1.1\r\nHost: x\r\n\r\n`)
  await eventually(() => passThrough.received().toString().includes('200 Connection Established'), 10_000, 'the pass-through tunnel')
  return [...keepAlive, ...silent, intercepted, passThrough]
}

describe('drain with idle connections', () => {
  for (const workers of [1, 2]) {
    it(`closes idle, silent and tunnel connections at once and exits 0 (--workers ${workers})`, async () => {
      const gp = await spawnGateway(config('30s'), ['--workers', String(workers)])
      try {
        const port = Number(new URL(gp.url).port)
        const idle = await openIdleConnections(port)
        received = 0
        const inFlight = send(gp.url, '/proxy/partner/slow')
        await eventually(() => received === 1, 10_000, 'the upstream to receive the slow request')
        const exit = exited(gp.child)
        gp.child.kill('SIGTERM')
        await Promise.all(idle.map((c) => c.closed(20_000)))
        expect((await inFlight).status).toBe(200)
        expect(await exit).toBe(0)
      } finally {
        await gp.stop('SIGKILL')
      }
    }, 120_000)
  }

  it('with --workers 2, exits 1 when a worker hit its grace period', async () => {
    const gp = await spawnGateway(config('1s'), ['--workers', '2'])
    try {
      received = 0
      const cut = send(gp.url, '/proxy/partner/very-slow').catch((e: unknown) => e)
      await eventually(() => received === 1, 10_000, 'the upstream to receive the request')
      const exit = exited(gp.child)
      gp.child.kill('SIGTERM')
      expect(await exit).toBe(1)
      // Ended by the worker's drain: its 503 says why (drain-ended.test.ts), not a hang-up.
      expect(await cut).toMatchObject({ status: 503, text: expect.stringContaining('drain.grace (1 s) ran out') })
    } finally {
      await gp.stop('SIGKILL')
    }
  }, 120_000)
})
