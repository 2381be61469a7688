/**
 * An upstream that resets its connection after the gateway relayed its response head (and part of
 * its body) to the caller: nothing can follow a head but its body, so the gateway cuts the caller's
 * connection (no error answer after it), and the access line keeps the status sent and says what
 * happened (`upstream_response_truncated`, after status 200 was sent); a request pipelined behind
 * it is never served (`444` `connection_closed_ahead`, the cut named). On the TLS listener, a real TLS caller.
 *
 * Deterministic: the upstream (a scripted raw mTLS backend, so it can break off mid-body) resets only
 * once the caller has read the head and the first body bytes. In-process gateway, raw callers.
 */
import { readFileSync } from 'node:fs'
import { connect as tlsConnect, type TLSSocket } from 'node:tls'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { endpointYaml } from '../support/gateway.js'
import { resetUnder, startScriptedBackend, type ScriptedBackend } from '../support/scripted-backend.js'
import { eventually, startOpsGateway, type OpsGateway } from '../ops/helpers.js'

let pki: TestPki
let upstream: ScriptedBackend
let g: OpsGateway
/** The upstream's connections that sent a head and part of a body, by request id. */
const cutting = new Map<string, TLSSocket>()
const reached: string[] = []
const PART = 'x'.repeat(1000)

beforeAll(async () => {
  pki = await createTestPki()
  upstream = await startScriptedBackend(pki, (head, s) => {
    const id = /\r\nx-request-id: (\S+)/i.exec(head)?.[1] ?? ''
    reached.push(id)
    cutting.set(id, s)
    return `HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 100000\r\n\r\n${PART}`
  })
  g = await startOpsGateway(pki.dir, `listen:\n  tls: { cert: ${pki.file('server-chain.crt')}, key: ${pki.file('server.key')} }\ncallers: { required: false }\nendpoints:\n${endpointYaml('partner', upstream.port, clientTls(pki))}`)
})

afterAll(async () => {
  await g?.gw.close()
  await upstream?.close()
  pki?.cleanup()
})

const get = (id: string): string => `GET /proxy/partner/${id} HTTP/1.1\r\nHost: gw\r\nX-Request-Id: ${id}\r\n\r\n`

describe('an upstream that resets after its response head was relayed', () => {
  it('the caller gets the head and the bytes relayed, then a cut connection (no error answer after the head); the line says 200 upstream_response_truncated; the request behind it is connection_closed_ahead', async () => {
    const ids = ['reset-first', 'reset-second']
    const caller = tlsConnect({ port: g.gw.port, host: '127.0.0.1', servername: 'localhost', ca: readFileSync(pki.file('root.crt')) })
    const chunks: Buffer[] = []
    caller.on('data', (c: Buffer) => chunks.push(c))
    caller.on('error', () => {})
    const closed = new Promise((resolve) => caller.once('close', resolve))
    await new Promise((resolve) => caller.once('secureConnect', resolve))
    caller.write(ids.map(get).join(''))
    const received = (): string => Buffer.concat(chunks).toString('latin1')
    await eventually(() => received().endsWith(`\r\n\r\n${PART}`), 30_000, 'the caller to read the relayed head and the first body bytes')
    resetUnder(cutting.get('reset-first') as TLSSocket)
    await closed
    const text = received()
    expect(text.match(/HTTP\/1\.1 \d{3}/g)).toEqual(['HTTP/1.1 200'])
    expect(text.endsWith(`\r\n\r\n${PART}`), text.slice(-200)).toBe(true)
    const lines = await eventually(() => {
      const mine = ids.map((id) => g.access().find((l) => l.reqId === id))
      return !mine.includes(undefined) && mine.map((l) => [l?.status, l?.reason, l?.error])
    }, 30_000, 'an access line for each request')
    expect(lines).toEqual([
      [200, 'upstream_response_truncated', 'endpoint "partner": response cut short after status 200 was sent (ECONNRESET)'],
      [444, 'connection_closed_ahead', 'not started: the gateway cut the connection in its answer to the request before it on the connection (200, upstream_response_truncated), so it was never served: not sent upstream, not answered; send it again on a new connection'],
    ])
    expect(reached).toEqual(['reset-first'])
  })
})
