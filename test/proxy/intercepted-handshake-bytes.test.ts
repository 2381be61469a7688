/**
 * An intercepted tunnel whose caller's TLS handshake never completes is recorded by the same
 * code as a failed handshake with the listener itself (caller-handshake.ts): its access line
 * carries the bytes the caller's connection moved, the CONNECT and its answer included, as a
 * pass-through tunnel's does.
 */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { startMtlsServer, type RunningServer } from '../support/tls-server.js'
import { endpointYaml } from '../support/gateway.js'
import { rawClient } from '../support/raw-client.js'
import { eventually, startOpsGateway, type OpsGateway } from '../ops/helpers.js'
import { PARTIAL_HELLO } from '../support/listener-tls.js'
import { writeInterceptionCa } from '../../src/tls/index.js'

const ANSWER = 'HTTP/1.1 200 Connection Established\r\n\r\n'
let pki: TestPki
let upstream: RunningServer
let g: OpsGateway

beforeAll(async () => {
  pki = await createTestPki()
  const ca = await writeInterceptionCa(join(pki.dir, 'ica'))
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt') })
  const dir = join(pki.dir, 'gateway')
  mkdirSync(dir)
  const endpoints = endpointYaml('partner', upstream.port, clientTls(pki))
  g = await startOpsGateway(dir, `listen:\n  timeouts: { tlsHandshake: 1s }\ninterception:\n  caCert: ${ca.caCert}\n  caKey: ${ca.caKey}\nendpoints:\n${endpoints}`, { watch: false })
})

afterAll(async () => {
  await g?.gw.close()
  await upstream?.close()
  pki?.cleanup()
})

describe('a failed handshake inside an intercepted tunnel', () => {
  it('is one line with the bytes of the caller\'s connection: its CONNECT and hello in, the 200 out', async () => {
    const before = g.access().length
    const c = await rawClient(g.gw.port)
    const connect = `CONNECT api.partner.test:${upstream.port} HTTP/1.1\r\nHost: api.partner.test:${upstream.port}\r\n\r\n`
    c.socket.write(connect)
    await eventually(() => c.received().toString('latin1') === ANSWER, 15_000, 'the 200 to CONNECT')
    c.socket.end(PARTIAL_HELLO)
    await eventually(() => g.access().length > before, 15_000, 'the tunnel\'s line')
    expect(g.access().slice(before)).toEqual([expect.objectContaining({
      mode: 'connect', method: 'CONNECT', status: 499, reason: 'caller_aborted',
      error: `CONNECT api.partner.test:${upstream.port}: tls_handshake_aborted: the caller closed the tunnel before completing its TLS handshake`,
      requestBytes: connect.length + PARTIAL_HELLO.length, responseBytes: ANSWER.length,
    })])
  })
})
