/**
 * A CONNECT pipelined behind requests on one connection is answered after them (RFC 9112 §9.3.2:
 * answers leave in the order asked). Node orders the requests' answers itself, but the gateway
 * answers a CONNECT on the raw socket: its `200 Connection Established` overtook a slower answer
 * before it, whose bytes then went into the tunnel where the caller had begun its TLS handshake.
 * Now the tunnel opens in its turn and works.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { connect as tcpConnect, type Socket } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningGateway } from '../../src/cli/gateway-root.js'
import { writeInterceptionCa } from '../../src/tls/index.js'
import { startTestGateway } from '../support/gateway.js'
import { clientTlsYaml, createTestPki, type TestPki } from '../support/pki.js'
import { echo, startMtlsServer, type RunningServer } from '../support/tls-server.js'
import { rawExchange } from '../support/tunnel.js'
import { MAX_WAITING } from '../../src/proxy/pipelined.js'

let pki: TestPki
let upstream: RunningServer
let gw: RunningGateway
let ca: Buffer
let A = ''

beforeAll(async () => {
  pki = await createTestPki('p256', ['api.partner.test'])
  // /slow/… answers after 300 ms: a CONNECT behind it would be answered first if nothing held it.
  const handler = (req: Parameters<typeof echo>[0], res: Parameters<typeof echo>[1]): void => void (req.url?.startsWith('/slow') ? setTimeout(() => echo(req, res), 300) : echo(req, res))
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt'), handler })
  const ica = await writeInterceptionCa(join(pki.dir, 'ica'))
  ca = readFileSync(ica.caCert)
  A = `api.partner.test:${upstream.port}`
  gw = await startTestGateway(pki.dir, `admin: { enabled: false }\ninterception: { caCert: ${ica.caCert}, caKey: ${ica.caKey} }\nendpoints:\n  - name: partner\n    url: https://${A}\n    resolve: 127.0.0.1\n    allowPrivate: true\n    tls: ${clientTlsYaml(pki)}\n`)
})

afterAll(async () => {
  await gw?.close()
  await upstream?.close()
  pki?.cleanup()
})

/** Reads `count` answers with a Content-Length, then a CONNECT's head; resolves with their status lines and bodies, in order. */
function readAnswers(s: Socket, count: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    let got = Buffer.alloc(0)
    const answers: string[] = []
    const onData = (c: Buffer): void => {
      got = Buffer.concat([got, c])
      for (;;) {
        const text = got.toString('latin1')
        const end = text.indexOf('\r\n\r\n')
        if (end < 0) return
        const head = text.slice(0, end)
        const length = answers.length < count ? Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1] ?? 0) : 0
        if (got.length < end + 4 + length) return
        answers.push(`${head.split('\r\n')[0] ?? ''} ${text.slice(end + 4, end + 4 + length)}`)
        got = got.subarray(end + 4 + length)
        if (answers.length === count + 1) {
          s.off('data', onData)
          return resolve(answers)
        }
      }
    }
    s.on('data', onData)
    s.once('error', reject)
    s.once('close', () => reject(new Error(`closed after ${JSON.stringify(answers)}`)))
  })
}

describe('a CONNECT pipelined behind requests', () => {
  it('is answered after them, and its tunnel then serves (seeded property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.constantFrom('slow', 'fast'), { minLength: 1, maxLength: 4 }), async (paths) => {
        const s = tcpConnect(gw.port, '127.0.0.1')
        await new Promise<void>((r, j) => s.once('connect', r).once('error', j))
        const requests = paths.map((p, i) => `GET http://${A}/${p}/${i} HTTP/1.1\r\nHost: ${A}\r\n\r\n`).join('')
        const answers = readAnswers(s, paths.length)
        s.write(`${requests}CONNECT ${A} HTTP/1.1\r\nHost: ${A}\r\n\r\n`)
        const got = await answers
        expect(got.slice(0, -1).map((a) => [a.slice(0, 15), (JSON.parse(a.slice(a.indexOf('{'))) as { url: string }).url])).toEqual(paths.map((p, i) => ['HTTP/1.1 200 OK', `/${p}/${i}`]))
        expect(got.at(-1)).toMatch(/^HTTP\/1\.1 200 Connection Established/)
        const tls = tlsConnect({ socket: s, servername: 'api.partner.test', ca })
        await new Promise<void>((r, j) => tls.once('secureConnect', r).once('error', j))
        const inner = await rawExchange(tls, `GET /inner HTTP/1.1\r\nHost: ${A}\r\nConnection: close\r\n\r\n`)
        expect([inner.status, (JSON.parse(inner.body) as { url: string }).url]).toEqual([200, '/inner'])
      }),
      { seed: 0x9132, numRuns: 8 },
    )
  }, 120_000)

  it('behind a request refused for pipelining too many, is not answered: the connection closes after that refusal', async () => {
    const s = tcpConnect(gw.port, '127.0.0.1')
    await new Promise<void>((r, j) => s.once('connect', r).once('error', j))
    let got = ''
    s.on('data', (c: Buffer) => (got += c.toString('latin1')))
    const closed = new Promise<void>((r) => s.once('close', () => r()))
    const requests = Array.from({ length: MAX_WAITING + 2 }, (_, i) => `GET http://${A}/slow/${i} HTTP/1.1\r\nHost: ${A}\r\n\r\n`).join('')
    s.write(`${requests}CONNECT ${A} HTTP/1.1\r\nHost: ${A}\r\n\r\n`)
    await closed
    const statuses = [...got.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => m[1])
    expect(statuses).toEqual([...Array.from({ length: MAX_WAITING + 1 }, () => '200'), '503'])
    expect(got).not.toContain('Connection Established')
  })
})
