/**
 * Requests a caller pipelines on one keep-alive connection are served one at a time
 * (pipelined.ts), so they share the endpoint's pooled upstream connection: a real mTLS backend
 * sees one connection and one handshake for all of them, not one per pipelined request.
 * On the plain listener and inside an intercepted CONNECT tunnel; one process (`--workers 1`);
 * the backend never closes an idle connection itself.
 */
import { connect as tcpConnect } from 'node:net'
import { readFileSync, writeFileSync } from 'node:fs'
import type { Duplex } from 'node:stream'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { endpointYaml } from '../support/gateway.js'
import { clientTls, createTestPki } from '../support/pki.js'
import { spawnGateway } from '../support/process.js'
import { startMtlsServer } from '../support/tls-server.js'
import { eventually } from '../support/eventually.js'
import { openTunnel } from '../support/tunnel.js'
import { writeInterceptionCa } from '../../src/tls/index.js'
import { MAX_WAITING } from '../../src/proxy/pipelined.js'

describe.each(['plain', 'tunnel'] as const)('%s', (way) => {
  it(`${MAX_WAITING + 1} requests pipelined on one caller connection: one upstream connection, one handshake`, async () => {
    const pki = await createTestPki()
    const upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt') })
    upstream.server.keepAliveTimeout = 0
    const config = join(pki.dir, 'gateway.yaml')
    const ica = await writeInterceptionCa(join(pki.dir, 'ica'))
    writeFileSync(config, `listen: { host: 127.0.0.1, port: 0 }\nadmin: { enabled: false }\ninterception: { caCert: ${ica.caCert}, caKey: ${ica.caKey} }\nendpoints:\n${endpointYaml('partner', upstream.port, clientTls(pki), '    timeouts: { keepAlive: 1h }\n')}`)
    const gp = await spawnGateway(config, ['--workers', '1'])
    const gw = new URL(gp.url)
    const authority = `api.partner.test:${upstream.port}`
    const socket: Duplex = way === 'plain' ? tcpConnect(Number(gw.port), gw.hostname) : await openTunnel({ gatewayPort: Number(gw.port), authority, ca: readFileSync(ica.caCert) })
    const request = (i: number): string => (way === 'plain' ? `GET /proxy/partner/p${i} HTTP/1.1\r\nHost: gateway\r\n\r\n` : `GET /p${i} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`)
    try {
      let text = ''
      socket.setEncoding('latin1')
      socket.on('data', (c: string) => void (text += c))
      socket.on('error', () => undefined)
      const count = MAX_WAITING + 1
      socket.write(Array.from({ length: count }, (_, i) => request(i)).join(''))
      const statuses = (): number[] => [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]))
      await eventually(() => statuses().length === count && text.includes(`"url":"/p${count - 1}"`), 60_000, 'every pipelined answer')
      expect(statuses()).toEqual(Array(count).fill(200))
      expect({ handshakes: upstream.stats.handshakes, open: upstream.stats.open }).toEqual({ handshakes: 1, open: 1 })
    } finally {
      socket.destroy()
      await gp.stop('SIGKILL')
      await upstream.close()
      pki.cleanup()
    }
  }, 180_000)
})
