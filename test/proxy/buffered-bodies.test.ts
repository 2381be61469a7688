/**
 * limits.maxBufferedTotal on real sockets: bodies the gateway must read whole (a payload
 * field) are charged to one budget per process; a body that would pass it gets 503 with
 * Retry-After before more of it is read, the connection closes, streamed bodies are not
 * affected, and everything held is given back when the holders go. A reload changes the
 * limit but not what is held.
 */
import { join } from 'node:path'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { echo, startMtlsServer, type RunningServer } from '../support/tls-server.js'
import { endpointYaml, send } from '../support/gateway.js'
import { eventually, replaceFile, scrape, startOpsGateway, valueOf, type OpsGateway } from '../ops/helpers.js'
import { chunk, finalAnswer, jsonBody, KiB, openPost, type Held } from './buffered-bodies-support.js'
import type { RawClient } from '../support/raw-client.js'

let pki: TestPki
let upstream: RunningServer
let g: OpsGateway
let yamlOf: (total: string) => string

beforeAll(async () => {
  pki = await createTestPki()
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt'), handler: (req, res) => (req.url?.startsWith('/unending') ? unending(req, res) : echo(req, res)) })
  const tls = clientTls(pki)
  const endpoints = `${endpointYaml('partner', upstream.port, tls)}${endpointYaml('fields', upstream.port, tls, '    fields: [{ type: payload, key: account, value: "acct-1" }]\n')}${endpointYaml('hashed', upstream.port, tls, '    profile: hashed\n')}`
  const profiles = 'profiles:\n  - name: hashed\n    consumerKey: ck-hashed\n    consumerSecret: cs-hashed\n    signatureMethod: HMAC-SHA1\n    bodyHash: true\n    token: { mode: static, token: tk-hashed, tokenSecret: ts-hashed }\n'
  yamlOf = (total) => `limits: { maxBufferedBody: 64KiB, maxBufferedTotal: ${total} }\n${profiles}endpoints:\n${endpoints}`
  g = await startOpsGateway(pki.dir, yamlOf('128KiB'))
})

afterAll(async () => {
  await g?.gw.close()
  await upstream?.close()
  pki?.cleanup()
})

/** Reads the request, then answers with a response body that never ends (until the caller goes). */
function unending(req: IncomingMessage, res: ServerResponse): void {
  req.resume()
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'text/plain' })
    res.write('first part')
  })
}

const port = (): number => g.gw.port
/** Every caller a test opened: closed after it, so one failed test does not leave the budget full for the next. */
const callers: RawClient[] = []
const post = async (...args: Parameters<typeof openPost>): Promise<Held> => {
  const h = await openPost(...args)
  callers.push(h.c)
  return h
}
afterEach(() => {
  for (const c of callers.splice(0)) c.socket.destroy()
})
const held = (): number => g.gw.runtime.bufferedBodies.held
const metric = async (name: string): Promise<number> => valueOf(await scrape(g.adminUrl), name) ?? -1

describe('limits.maxBufferedTotal', () => {

  it('answers 503 with Retry-After once held bodies fill the budget, streams meanwhile, serves again once they go', async () => {
    const refusals = await metric('mtls_gateway_buffered_body_refusals_total')
    // A declared length is charged before a byte is read.
    const a = await post(port(), '/proxy/fields/a', 64 * KiB)
    expect(a.first).toBe(100)
    a.c.socket.write(jsonBody(64 * KiB).slice(0, 60 * KiB))
    // A chunked body is charged chunk by chunk.
    const b = await post(port(), '/proxy/fields/b', undefined)
    expect(b.first).toBe(100)
    b.c.socket.write(chunk('x'.repeat(40 * KiB)))
    await eventually(() => held() === 104 * KiB, 20_000, 'a and b held')
    expect(await metric('mtls_gateway_buffered_body_bytes')).toBe(104 * KiB)

    // Declared over what is left: refused before the caller is told to send.
    const declared = await post(port(), '/proxy/fields/c', 32 * KiB)
    expect(declared.first).toBe(503)
    const r = await finalAnswer(declared.c)
    expect(r.headers['retry-after']).toBe('5')
    expect(r.headers.connection).toBe('close')
    expect(Number(r.headers['content-length'])).toBe(r.body.length)
    const { errors } = JSON.parse(r.body.toString('utf8')) as { errors: { msg: string; code: number }[] }
    expect(errors).toEqual([{ code: 503, msg: expect.stringContaining('limits.maxBufferedTotal') }])
    // Chunked past what is left: refused mid-body, and its share given back.
    const d = await post(port(), '/proxy/fields/d', undefined)
    expect(d.first).toBe(100)
    d.c.socket.write(chunk('y'.repeat(30 * KiB)))
    const mid = await finalAnswer(d.c)
    expect([mid.status, mid.headers['retry-after'], mid.headers.connection]).toEqual([503, '5', 'close'])
    expect(held()).toBe(104 * KiB)
    expect(await metric('mtls_gateway_buffered_body_refusals_total')).toBe(refusals + 2)
    // The last one's line is written once it finished on the gateway's side, which can be after its answer was read.
    const lines = await eventually(() => {
      const full = g.access().filter((l) => l.reason === 'buffered_bodies_full')
      return full.length >= 2 && full
    }, 15_000, 'the two refusals\' access lines')
    expect(lines.map((l) => l.status)).toEqual([503, 503])
    expect(JSON.stringify(lines)).not.toContain('yyyy')

    // Streaming is not charged: a body larger than the whole budget goes through.
    const streamed = await send(g.gw.url, '/proxy/partner/up', { method: 'POST', body: Buffer.alloc(256 * KiB, 's') })
    expect(streamed.status).toBe(200)

    a.c.socket.destroy()
    b.c.socket.destroy()
    await eventually(() => held() === 0, 20_000, 'held bodies given back')
    const served = await send(g.gw.url, '/proxy/fields/after', { method: 'POST', headers: { 'content-type': 'application/json' }, body: jsonBody(64 * KiB) })
    expect(served.status).toBe(200)
    expect(held()).toBe(0)
    expect(await metric('mtls_gateway_buffered_body_bytes')).toBe(0)
  })

  it('gives a body back once the upstream has answered, not when a long response ends', async () => {
    const h = await post(port(), '/proxy/fields/unending', 32 * KiB)
    expect(h.first).toBe(100)
    h.c.socket.write(jsonBody(32 * KiB))
    await eventually(() => h.c.received().includes('first part'), 20_000, 'the start of the response')
    expect(held()).toBe(0)
    h.c.socket.destroy()
  })

  it('a reload changes the limit; what is held stays counted; 0 is no total', async () => {
    const configFile = join(pki.dir, 'gateway.yaml')
    const a = await post(port(), '/proxy/fields/a', 64 * KiB)
    expect(a.first).toBe(100)
    replaceFile(configFile, yamlOf('64KiB'))
    await eventually(() => g.gw.ref.current.config.limits.maxBufferedTotal === 64 * KiB, 20_000, 'the reload')
    expect(held()).toBe(64 * KiB)
    const small = await post(port(), '/proxy/fields/small', 1 * KiB)
    expect(small.first).toBe(503)
    await finalAnswer(small.c)
    a.c.socket.destroy()
    await eventually(() => held() === 0, 20_000, 'a given back')
    expect((await send(g.gw.url, '/proxy/fields/one', { method: 'POST', headers: { 'content-type': 'application/json' }, body: jsonBody(64 * KiB) })).status).toBe(200)

    replaceFile(configFile, yamlOf('0'))
    await eventually(() => g.gw.ref.current.config.limits.maxBufferedTotal === 0, 20_000, 'the second reload')
    const many = await Promise.all([1, 2, 3].map((i) => post(port(), `/proxy/fields/${i}`, 64 * KiB)))
    expect(many.map((h) => h.first)).toEqual([100, 100, 100])
    expect(held()).toBe(192 * KiB)
    for (const h of many) h.c.socket.destroy()
    await eventually(() => held() === 0, 20_000, 'all given back')
  })

  it('refuses before 100 Continue on every kind of endpoint that reads bodies whole, the OAuth body hash too', async () => {
    replaceFile(join(pki.dir, 'gateway.yaml'), yamlOf('128KiB'))
    await eventually(() => g.gw.ref.current.config.limits.maxBufferedTotal === 128 * KiB, 20_000, 'the reload to 128 KiB')
    // Two declared 64 KiB bodies fill the budget before a byte of them is sent.
    const a = await post(port(), '/proxy/fields/a', 64 * KiB)
    const b = await post(port(), '/proxy/fields/b', 64 * KiB)
    expect([a.first, b.first]).toEqual([100, 100])
    await eventually(() => held() === 128 * KiB, 20_000, 'a and b reserved')
    for (const path of ['/proxy/fields/c', '/proxy/hashed/c']) {
      const refused = await post(port(), path, KiB)
      expect(refused.first, path).toBe(503)
      expect(refused.c.received().toString('latin1')).not.toContain('100 Continue')
    }
  })
})
