/**
 * A pooled upstream connection closed under a request (stale-connection.ts), against a real
 * mTLS server that reads the next request on a kept-alive connection and then closes that
 * connection without answering: the moment a backend's idle timeout ends as the gateway writes.
 * The gateway sends such a request again only when a second copy cannot act twice; the server
 * counts what reached it, so a request acted on twice would show.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { startMtlsServer, type RunningServer } from '../support/tls-server.js'
import { endpointYaml, send, startTestGateway, type Reply } from '../support/gateway.js'
import { adminUrlOf, spawnGateway, type GatewayProcess } from '../support/process.js'
import type { RunningGateway } from '../../src/cli/gateway-root.js'
import { accessLinesWhere, eventually, replaceFile, scrape, startOpsGateway, valueOf, type OpsGateway } from '../ops/helpers.js'
import { SPAN_KIND, startOtlpReceiver, type OtlpReceiver } from '../support/otlp-receiver.js'

/** What the server does with a request on a connection that already answered one. */
type Mode = 'answer' | 'close-reused' | 'close-all'

interface Arrival {
  id: string
  method: string
  body: string
  /** The connection's own count: 1 for its first request. */
  nth: number
  answered: boolean
}

let pki: TestPki
let upstream: RunningServer
let mode: Mode = 'answer'
const arrivals: Arrival[] = []
const served = new WeakMap<Socket, number>()

function handler(req: IncomingMessage, res: ServerResponse): void {
  const chunks: Buffer[] = []
  req.on('data', (c: Buffer) => chunks.push(c))
  req.on('end', () => {
    const nth = (served.get(req.socket) ?? 0) + 1
    served.set(req.socket, nth)
    const drop = mode === 'close-all' || (mode === 'close-reused' && nth > 1)
    arrivals.push({ id: String(req.headers['x-test-id']), method: req.method ?? '', body: Buffer.concat(chunks).toString(), nth, answered: !drop })
    if (drop) return void req.socket.destroy()
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ nth }))
  })
}

const seen = (id: string): Arrival[] => arrivals.filter((a) => a.id === id)
const tls = (): Record<string, string> => clientTls(pki)
const configYaml = (head = ''): string =>
  `${head}endpoints:\n${endpointYaml('partner', upstream.port, tls())}` +
  endpointYaml('fields', upstream.port, tls(), '    fields: [{ type: payload, key: account, value: "acct-1" }]\n')

/** One request with an id the server records, after one that leaves a kept-alive connection in the pool. */
async function onStaleConnection(url: string, endpoint: string, id: string, o: { method?: string; headers?: Record<string, string>; body?: string; forward?: boolean } = {}): Promise<Reply> {
  // Route mode, or the forward proxy's absolute form (the host picks the first endpoint on it: partner).
  const target = (path: string): string => (o.forward ? `http://api.partner.test:${upstream.port}/${path}` : `/proxy/${endpoint}/${path}`)
  mode = 'answer'
  const warm = await send(url, target('warm'), { headers: { 'x-test-id': `${id}-warm`, ...(o.body === undefined ? {} : o.headers) }, ...(o.body === undefined ? {} : { method: 'PUT', body: o.body }) })
  expect(warm.status, warm.text).toBe(200)
  mode = 'close-reused'
  const r = await send(url, target('x'), { method: o.method ?? 'GET', headers: { 'x-test-id': id, ...o.headers }, ...(o.body === undefined ? {} : { body: o.body }) })
  mode = 'answer'
  return r
}

beforeAll(async () => {
  pki = await createTestPki()
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt'), handler })
  // Only the test decides when a connection goes stale: no idle close of the server's own.
  upstream.server.keepAliveTimeout = 60_000
})

afterAll(async () => {
  await upstream?.close()
  pki?.cleanup()
})

describe('a reused connection closed under a request (one process, no observers)', () => {
  let gw: RunningGateway
  beforeAll(async () => {
    gw = await startTestGateway(pki.dir, configYaml('admin: { enabled: false }\n'))
  })
  afterAll(async () => {
    await gw?.close()
  })
  beforeEach(() => {
    // Each test starts on fresh pooled connections: close what the last one left.
    upstream.server.closeAllConnections()
  })

  it.each([
    ['GET', {}],
    ['HEAD', {}],
    ['DELETE', {}],
    ['PUT without a body', { method: 'PUT' }],
    ['POST with an Idempotency-Key and no body', { method: 'POST', headers: { 'idempotency-key': 'k-1' } }],
  ] as const)('%s: sent again on another connection, answered once', async (label, o) => {
    const id = `again-${label}`
    const r = await onStaleConnection(gw.url, 'partner', id, { method: label.split(' ')[0] as string, ...o })
    expect(r.status, r.text).toBe(200)
    const got = seen(id)
    // The stale connection read it and dropped it; a fresh connection answered it.
    expect(got.map((a) => [a.nth > 1, a.answered])).toEqual([[true, false], [false, true]])
  })

  it('a body a step read whole (payload fields) is sent again byte for byte', async () => {
    const r = await onStaleConnection(gw.url, 'fields', 'held-body', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{"amount":5}' })
    expect(r.status, r.text).toBe(200)
    const got = seen('held-body')
    expect(got).toHaveLength(2)
    expect(got[0]?.body).toBe(got[1]?.body)
    expect(JSON.parse(got[1]?.body ?? '')).toEqual({ amount: 5, account: 'acct-1' })
  })

  it.each([
    ['POST', { method: 'POST', body: 'pay=5' }],
    ['POST without a body', { method: 'POST' }],
    ['PATCH', { method: 'PATCH', body: 'x' }],
    ['PUT with a streamed body', { method: 'PUT', body: 'streamed' }],
    ['POST with an Idempotency-Key and a streamed body', { method: 'POST', headers: { 'idempotency-key': 'k-2' }, body: 'streamed' }],
  ] as const)('%s: never sent twice, the caller gets the 502', async (label, o) => {
    const id = `once-${label}`
    const r = await onStaleConnection(gw.url, 'partner', id, o)
    expect(r.status, r.text).toBe(502)
    expect(r.json<{ errors: { msg: string; code: number }[] }>().errors[0]).toEqual({ code: 502, msg: expect.stringContaining('endpoint "partner"') })
    expect(seen(id).map((a) => a.answered)).toEqual([false])
  })

  it('the forward proxy\'s absolute form: the same (the pipeline is shared)', async () => {
    const r = await onStaleConnection(gw.url, 'partner', 'forward-get', { forward: true })
    expect(r.status, r.text).toBe(200)
    expect(seen('forward-get').map((a) => [a.nth > 1, a.answered])).toEqual([[true, false], [false, true]])
    const post = await onStaleConnection(gw.url, 'partner', 'forward-post', { forward: true, method: 'POST', body: 'pay=5' })
    expect(post.status, post.text).toBe(502)
    expect(seen('forward-post')).toHaveLength(1)
  })

  it('a fresh connection closed under a GET is a real fault: one attempt, 502', async () => {
    mode = 'close-all'
    const r = await send(gw.url, '/proxy/partner/x', { headers: { 'x-test-id': 'fresh' } })
    mode = 'answer'
    expect(r.status, r.text).toBe(502)
    expect(seen('fresh').map((a) => [a.nth, a.answered])).toEqual([[1, false]])
  })

  it('a server that drops every request: a GET ends after at most three attempts', async () => {
    mode = 'answer'
    expect((await send(gw.url, '/proxy/partner/warm', { headers: { 'x-test-id': 'bound-warm' } })).status).toBe(200)
    mode = 'close-all'
    const r = await send(gw.url, '/proxy/partner/x', { headers: { 'x-test-id': 'bound' } })
    mode = 'answer'
    expect(r.status, r.text).toBe(502)
    // The stale one, then a fresh one, which is a real fault: no more.
    expect(seen('bound').map((a) => [a.nth > 1, a.answered])).toEqual([[true, false], [false, false]])
  })
})

describe('counted, logged and traced', () => {
  let og: OpsGateway
  let receiver: OtlpReceiver
  beforeAll(async () => {
    upstream.server.closeAllConnections()
    receiver = await startOtlpReceiver()
    og = await startOpsGateway(pki.dir, configYaml(`tracing:\n  enabled: true\n  otlp: { endpoint: ${receiver.url} }\n`))
  })
  afterAll(async () => {
    await og?.gw.close()
    await receiver?.close()
  })

  it('upstream_retries_total, the access line and the client span say a request was sent again; a clean request says nothing', async () => {
    const trace = 'c'.repeat(32)
    const r = await onStaleConnection(og.gw.url, 'partner', 'counted', { headers: { traceparent: `00-${trace}-${'1'.repeat(16)}-01` } })
    expect(r.status, r.text).toBe(200)
    // The warm-up's client span (a trace of its own) and the retried call's.
    const spans = await receiver.waitFor((all) => all.some((x) => x.traceId === trace && x.kind === SPAN_KIND.CLIENT) && all.filter((x) => x.kind === SPAN_KIND.CLIENT).length >= 2)
    expect(spans.find((x) => x.traceId === trace && x.kind === SPAN_KIND.CLIENT)?.attributes).toMatchObject({ 'http.request.resend_count': 1 })
    const others = spans.filter((y) => y.traceId !== trace && y.kind === SPAN_KIND.CLIENT)
    expect(others).toHaveLength(1)
    expect(others[0]?.attributes).not.toHaveProperty('http.request.resend_count')
    const lines = await accessLinesWhere(og, () => true, 2, 'two access lines')
    // Each by its trace, not its place: the warm-up's line is written once it finished on the gateway's side, which can be after the second one's.
    const again = lines.find((l) => l.trace_id === trace)
    const warm = lines.find((l) => l !== again)
    expect(warm).not.toHaveProperty('upstreamRetries')
    expect(again).toMatchObject({ status: 200, upstreamRetries: 1, connectionReused: false })
    const m = await scrape(og.adminUrl)
    expect(valueOf(m, 'mtls_gateway_upstream_retries_total', { endpoint: 'partner' })).toBe(1)
  })

  it('after a hot reload, as after a fresh start: the new snapshot\'s pools send a stale GET again', async () => {
    const before = og.gw.ref.current
    replaceFile(join(pki.dir, 'gateway.yaml'), configYaml(`tracing:\n  enabled: true\n  otlp: { endpoint: ${receiver.url} }\n`) + endpointYaml('spare', upstream.port, tls()))
    await eventually(() => og.gw.ref.current !== before, 20_000, 'the reload')
    const r = await onStaleConnection(og.gw.url, 'partner', 'after-reload')
    expect(r.status, r.text).toBe(200)
    expect(seen('after-reload').map((a) => [a.nth > 1, a.answered])).toEqual([[true, false], [false, true]])
    expect(valueOf(await scrape(og.adminUrl), 'mtls_gateway_upstream_retries_total', { endpoint: 'partner' })).toBe(2)
  })
})

describe('serve --workers 2', () => {
  let gp: GatewayProcess
  let admin: string
  beforeAll(async () => {
    upstream.server.closeAllConnections()
    const file = join(pki.dir, 'workers.yaml')
    writeFileSync(file, configYaml('listen: { host: 127.0.0.1, port: 0 }\nadmin: { port: 0 }\n'))
    gp = await spawnGateway(file, ['--workers', '2'])
    admin = await adminUrlOf(gp)
  }, 120_000) // a primary and two workers starting on a loaded 2-core machine
  afterAll(async () => {
    await gp?.stop('SIGKILL')
  })

  it('every worker sends a GET again and never a POST; the primary sums the retries', async () => {
    const access = (): { pid: number; upstreamRetries?: number }[] =>
      gp.output.filter((l) => l.includes('"msg":"request"')).map((l) => JSON.parse(l) as { pid: number; upstreamRetries?: number })
    // Warm both workers' pools (each caller connection lands on either worker).
    mode = 'answer'
    const warm = await Promise.all(Array.from({ length: 8 }, (_, i) => send(gp.url, '/proxy/partner/warm', { headers: { 'x-test-id': `w-warm-${i}` } })))
    expect(warm.map((r) => r.status)).toEqual(Array(8).fill(200))
    mode = 'close-reused'
    const gets = []
    for (let i = 0; i < 8; i++) gets.push(await send(gp.url, '/proxy/partner/x', { headers: { 'x-test-id': `w-get-${i}` } }))
    const post = await send(gp.url, '/proxy/partner/x', { method: 'POST', headers: { 'x-test-id': 'w-post' }, body: 'pay=5' })
    mode = 'answer'
    expect(gets.map((r) => r.status)).toEqual(Array(8).fill(200))
    for (let i = 0; i < 8; i++) expect(seen(`w-get-${i}`).filter((a) => a.answered)).toHaveLength(1)
    const dropped = Array.from({ length: 8 }, (_, i) => seen(`w-get-${i}`).filter((a) => !a.answered).length).reduce((a, b) => a + b, 0)
    // A POST that met a closed connection got its 502; one that got a fresh one, its answer. Never two copies.
    expect([200, 502]).toContain(post.status)
    expect(seen('w-post')).toHaveLength(1)
    const lines = await eventually(() => access().length >= 17 && access(), 30_000, '17 access lines')
    const retriedBy = new Set(lines.filter((e) => e.upstreamRetries !== undefined).map((e) => e.pid))
    expect(retriedBy.size, 'workers whose access lines show a request sent again').toBe(2)
    expect(lines.reduce((n, e) => n + (e.upstreamRetries ?? 0), 0)).toBe(dropped)
    const summed = await eventually(async () => {
      const v = valueOf(await scrape(admin), 'mtls_gateway_upstream_retries_total', { endpoint: 'partner' })
      return v === dropped && v
    }, 30_000, "the primary to sum both workers' retries")
    expect(summed).toBe(dropped)
  })
})
