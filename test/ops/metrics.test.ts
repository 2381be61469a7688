import { X509Certificate } from 'node:crypto'
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { connect } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clientTls, type TestPki } from '../support/pki.js'
import { createOpensslTestPki } from '../support/openssl-pki.js' // certificates minted by the real openssl, not by src/tls
import { startMtlsServer, type RunningServer } from '../support/tls-server.js'
import { endpointYaml, send } from '../support/gateway.js'
import { HANDSHAKE_REASONS, notAfter } from '../../src/tls/index.js'
import { accessLinesWhere, get, samples, scrape, startOpsGateway, valueOf, type OpsGateway, type Sample } from './helpers.js'

const METHOD_LABELS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'CONNECT', 'TRACE', 'other']
let pki: TestPki
const DAY = 86_400_000
let upstream: RunningServer
let g: OpsGateway

beforeAll(async () => {
  pki = await createOpensslTestPki()
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt') })
  const otherRoot = await pki.issue({ subject: 'CN=Unrelated Root', kind: 'p256', ca: true, notAfter: new Date(Date.now() + 30 * DAY) })
  // An older root kept beside its successor: the endpoint keeps a valid server root past its end.
  const olderRoot = await pki.issue({ subject: 'CN=Older Unrelated Root', kind: 'p256', ca: true, notAfter: new Date(Date.now() + 3 * DAY) })
  pki.write('other-root.crt', olderRoot.pem + otherRoot.pem)
  const tls = clientTls(pki)
  // The server certificate does not chain to other-root: every call is a handshake failure.
  const untrusted = { ...tls, roots: pki.file('other-root.crt'), clientRoots: pki.file('root.crt') }
  g = await startOpsGateway(pki.dir, `endpoints:\n${endpointYaml('partner', upstream.port, tls)}${endpointYaml('untrusted', upstream.port, untrusted)}`)
})
afterAll(async () => {
  await g?.gw.close()
  await upstream?.close()
  pki?.cleanup()
})

describe('metrics after known traffic', () => {
  let m: Sample[]

  beforeAll(async () => {
    for (let i = 0; i < 3; i++) expect((await send(g.gw.url, '/proxy/partner/a', { headers: { 'x-request-id': `get-${i}` } })).status).toBe(200)
    expect((await send(g.gw.url, '/proxy/partner/b', { method: 'POST', body: '{}' })).status).toBe(200)
    expect((await send(g.gw.url, '/proxy/untrusted/x', { headers: { 'x-request-id': 'bad-tls' } })).status).toBe(502)
    expect((await send(g.gw.url, '/proxy/nope/x')).status).toBe(403)
    // Each request is counted and logged once it finished on the gateway's side, which can be after its answer was read.
    await accessLinesWhere(g, () => true, 6, 'the six requests\' access lines')
    expect(await g.gw.ops?.reload('test')).toEqual({ ok: true, endpoints: 2 })
    m = await scrape(g.adminUrl)
  })

  it('counts requests by endpoint, method and status class, exactly', () => {
    // Besides these, each configured endpoint's 5xx series of every method label exists at 0 (first-failure-series.test.ts).
    const zeros = ['partner', 'untrusted'].flatMap((endpoint) => METHOD_LABELS.map((method) => JSON.stringify({ endpoint, method, status_class: '5xx' })))
    expect(samples(m, 'mtls_gateway_requests_total').filter((x) => x.value === 0).map((x) => JSON.stringify(x.labels)).sort()).toEqual(zeros.filter((z) => z !== JSON.stringify({ endpoint: 'untrusted', method: 'GET', status_class: '5xx' })).sort())
    expect(samples(m, 'mtls_gateway_requests_total').filter((x) => x.value !== 0)).toEqual([
      { labels: { endpoint: '_none', method: 'GET', status_class: '4xx' }, value: 1 },
      { labels: { endpoint: 'partner', method: 'GET', status_class: '2xx' }, value: 3 },
      { labels: { endpoint: 'partner', method: 'POST', status_class: '2xx' }, value: 1 },
      { labels: { endpoint: 'untrusted', method: 'GET', status_class: '5xx' }, value: 1 },
    ])
    expect(valueOf(m, 'mtls_gateway_request_duration_seconds_count', { endpoint: 'partner', mode: 'route' })).toBe(4)
    expect(valueOf(m, 'mtls_gateway_upstream_duration_seconds_count', { endpoint: 'partner' })).toBe(4)
    expect(valueOf(m, 'mtls_gateway_requests_in_flight')).toBe(0)
  })

  it('says which build runs, and counts the bytes relayed per endpoint', () => {
    expect(samples(m, 'mtls_gateway_build_info')).toEqual([{ labels: { version: '0.1.0', node: process.versions.node, openssl: process.versions.openssl }, value: 1 }])
    const access = g.access().filter((l) => l.endpoint === 'partner')
    const sum = (k: string): number => access.reduce((n, l) => n + (l[k] as number), 0)
    expect(sum('requestBytes')).toBeGreaterThan(0)
    expect(valueOf(m, 'mtls_gateway_relayed_bytes_total', { endpoint: 'partner', direction: 'in' })).toBe(sum('requestBytes'))
    expect(valueOf(m, 'mtls_gateway_relayed_bytes_total', { endpoint: 'partner', direction: 'out' })).toBe(sum('responseBytes'))
  })

  it('counts the handshake failure by endpoint and reason', () => {
    expect(samples(m, 'mtls_gateway_upstream_tls_handshake_failures_total').filter((x) => x.value !== 0)).toEqual([
      { labels: { endpoint: 'untrusted', reason: 'upstream_cert_untrusted' }, value: 1 },
    ])
    // Every other reason of each configured endpoint exists at 0.
    const zeros = ['partner', 'untrusted'].flatMap((endpoint) => HANDSHAKE_REASONS.map((reason) => JSON.stringify({ endpoint, reason })))
    expect(samples(m, 'mtls_gateway_upstream_tls_handshake_failures_total').filter((x) => x.value === 0).map((x) => JSON.stringify(x.labels)).sort())
      .toEqual(zeros.filter((z) => z !== JSON.stringify({ endpoint: 'untrusted', reason: 'upstream_cert_untrusted' })).sort())
  })

  it('counts upstream connections opened and reused', () => {
    expect(samples(m, 'mtls_gateway_upstream_connections_total')).toEqual([{ labels: { endpoint: 'partner', resumed: 'false' }, value: 1 }])
    expect(samples(m, 'mtls_gateway_upstream_connection_reuses_total')).toEqual([{ labels: { endpoint: 'partner' }, value: 3 }])
    expect(valueOf(m, 'mtls_gateway_upstream_tls_handshake_seconds_count', { endpoint: 'partner' })).toBe(1)
  })

  it('counts the reload and its time', () => {
    expect(samples(m, 'mtls_gateway_config_reloads_total')).toEqual([
      { labels: { result: 'failure' }, value: 0 },
      { labels: { result: 'success' }, value: 1 },
    ])
    const at = valueOf(m, 'mtls_gateway_config_last_reload_success_timestamp_seconds') as number
    expect(Math.abs(at - Date.now() / 1000)).toBeLessThan(30)
  })

  it('exports certificate expiry per endpoint and kind', () => {
    const unix = (pem: string): number => Math.floor(notAfter(new X509Certificate(pem)).getTime() / 1000)
    expect(valueOf(m, 'mtls_gateway_certificate_expiry_timestamp_seconds', { endpoint: 'partner', kind: 'client' })).toBe(unix(pki.client.pem))
    expect(valueOf(m, 'mtls_gateway_certificate_expiry_timestamp_seconds', { endpoint: 'partner', kind: 'intermediate' })).toBe(unix(pki.inter.pem))
    expect(valueOf(m, 'mtls_gateway_certificate_expiry_timestamp_seconds', { endpoint: 'partner', kind: 'root' })).toBe(unix(pki.root.pem))
  })

  it('exports when the last server root (tls.roots) expires: the endpoint degrades then, and was silent before', () => {
    // Read by the openssl CLI, not by the gateway's X.509 code.
    const enddate = (pem: string): number => Date.parse(execFileSync('openssl', ['x509', '-noout', '-enddate', '-dateopt', 'iso_8601'], { input: pem, encoding: 'utf8' }).trim().replace(/^notAfter=/, '').replace(' ', 'T')) / 1000
    const roots = readFileSync(pki.file('other-root.crt'), 'utf8').split(/(?<=-----END CERTIFICATE-----\n)/).filter((c) => c.includes('BEGIN'))
    expect(roots).toHaveLength(2)
    expect(valueOf(m, 'mtls_gateway_certificate_expiry_timestamp_seconds', { endpoint: 'partner', kind: 'server_root' })).toBe(enddate(pki.root.pem))
    expect(valueOf(m, 'mtls_gateway_certificate_expiry_timestamp_seconds', { endpoint: 'untrusted', kind: 'server_root' })).toBe(Math.max(...roots.map(enddate)))
  })

  it('has the standard unprefixed Node process metrics, the gateway\'s own under one prefix, and only bounded labels', () => {
    expect(valueOf(m, 'process_cpu_user_seconds_total')).toBeGreaterThan(0)
    expect(m.filter((s) => !s.name.startsWith('mtls_gateway_')).every((s) => /^(process|nodejs)_/.test(s.name))).toBe(true)
    expect(m.some((s) => s.name.startsWith('mtls_gateway_process_') || s.name.startsWith('mtls_gateway_nodejs_'))).toBe(false)
    // `where` (fd_exhausted_total: accept, request) and `way` (way_in_refusals_total: forward, connect, route, api)
    // show from the start now that their series exist at 0.
    const allowed = new Set(['endpoint', 'method', 'status_class', 'reason', 'resumed', 'result', 'kind', 'le', 'profile', 'version', 'major', 'minor', 'patch', 'space', 'type', 'mode', 'direction', 'node', 'openssl', 'listener', 'where', 'way'])
    for (const s of m) for (const k of Object.keys(s.labels)) expect(allowed, `${s.name} label ${k}`).toContain(k)
    expect(JSON.stringify(m)).not.toContain('/proxy/')
  })

  it('writes one access-log line per request with the upstream facts', () => {
    const lines = g.access()
    expect(lines).toHaveLength(6)
    const [first, second] = [lines.find((l) => l.reqId === 'get-0'), lines.find((l) => l.reqId === 'get-1')]
    expect(first).toMatchObject({ level: 'info', mode: 'route', endpoint: 'partner', method: 'GET', status: 200, upstreamAddress: '127.0.0.1', tlsVersion: 'TLSv1.3', connectionReused: false, tlsResumed: false })
    expect(first?.durationMs).toEqual(expect.any(Number))
    expect(first?.upstreamMs).toEqual(expect.any(Number))
    expect(first?.tlsHandshakeMs).toBeGreaterThan(0)
    expect(first?.pid).toBe(process.pid)
    expect(second).toMatchObject({ connectionReused: true, upstreamAddress: '127.0.0.1' })
    const bad = lines.find((l) => l.reqId === 'bad-tls')
    expect(bad).toMatchObject({ level: 'warn', endpoint: 'untrusted', status: 502, reason: 'upstream_cert_untrusted', error: expect.stringContaining('endpoint "untrusted": server certificate untrusted') })
  })

  it('answers /healthz and /readyz', async () => {
    expect(await get(`${g.adminUrl}/healthz`)).toEqual({ status: 200, text: '{"status":"ok"}' })
    expect(await get(`${g.adminUrl}/readyz`)).toEqual({ status: 200, text: '{"status":"ready"}' })
    expect((await get(`${g.adminUrl}/nope`)).status).toBe(404)
  })

  /** Writes `request` raw to the admin listener; what came back, and whether the listener closed within 10 s. */
  async function rawAdmin(request: string): Promise<{ head: string; body: string; closed: boolean }> {
    const raw = connect(Number(new URL(g.adminUrl).port), '127.0.0.1')
    let text = ''
    raw.on('data', (c: Buffer) => (text += c.toString()))
    raw.write(request)
    const closed = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 10_000)
      raw.once('close', () => (clearTimeout(timer), resolve(true)))
    })
    raw.destroy()
    const [head = '', body = ''] = text.split('\r\n\r\n')
    return { head, body, closed }
  }

  it('answers an HTTP/1.1 request without Host with the JSON 400 (Node\'s own was bare) and closes the connection', async () => {
    const { head, body, closed } = await rawAdmin('GET /healthz HTTP/1.1\r\n\r\n')
    expect(head).toMatch(/^HTTP\/1\.1 400 /)
    expect(Number(/content-length: (\d+)/i.exec(head)?.[1])).toBe(Buffer.byteLength(body))
    expect(JSON.parse(body)).toEqual({ errors: [{ msg: expect.stringMatching(/must carry a Host header/), code: 400 }] })
    expect(closed).toBe(true)
  })

  it('answers a CONNECT to the admin listener with 405 and closes the connection', async () => {
    const { head, body, closed } = await rawAdmin('CONNECT example.test:443 HTTP/1.1\r\nHost: example.test:443\r\n\r\n')
    expect(head).toMatch(/^HTTP\/1\.1 405 /)
    expect(head).toMatch(/\r\nallow: GET, HEAD\r\n/i)
    expect(JSON.parse(body)).toEqual({ errors: [{ msg: expect.stringMatching(/CONNECT example\.test:443 is not served here/), code: 405 }] })
    expect(closed).toBe(true)
  })

  it('survives a client that resets its CONNECT after the 405 (the handed-over socket had no error listener: the process died)', async () => {
    for (let i = 0; i < 5; i++) {
      const raw = connect(Number(new URL(g.adminUrl).port), '127.0.0.1')
      raw.on('error', () => {})
      raw.write('CONNECT example.test:443 HTTP/1.1\r\nHost: example.test:443\r\n\r\n')
      await new Promise<void>((resolve) => raw.once('data', () => resolve()))
      raw.resetAndDestroy()
      await new Promise<void>((resolve) => raw.once('close', () => resolve()))
    }
    // A reset reaching an unguarded socket is an uncaught 'error' event: vitest fails the run on it,
    // a real gateway exits. The listener still answers.
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(await get(`${g.adminUrl}/healthz`)).toEqual({ status: 200, text: '{"status":"ok"}' })
  })
})

describe('readiness', () => {
  it('is 503 with the reasons when an injected probe fails', async () => {
    const tls = clientTls(pki)
    const other = await startOpsGateway(pki.dir, `endpoints:\n${endpointYaml('partner', upstream.port, tls)}`, {
      probes: [{ name: 'store', check: () => Promise.reject(new Error('connection refused')) }, { name: 'fine', check: () => Promise.resolve() }],
      watch: false,
    })
    try {
      const r = await get(`${other.adminUrl}/readyz`)
      expect(r.status).toBe(503)
      expect(JSON.parse(r.text)).toEqual({ status: 'not_ready', reasons: ['store: connection refused'] })
      expect((await get(`${other.adminUrl}/healthz`)).status).toBe(200)
    } finally {
      await other.gw.close()
    }
  })
})

describe('store_up', () => {
  it('is 1 while the store answers and 0 when it does not, at scrape time', async () => {
    const { createMetrics } = await import('../../src/ops/index.js')
    const metrics = createMetrics({ defaultMetrics: false })
    let healthy = true
    metrics.watchStore(async () => {
      if (!healthy) throw new Error('down')
    })
    expect(await metrics.registry.getSingleMetricAsString('mtls_gateway_store_up')).toMatch(/^mtls_gateway_store_up 1$/m)
    healthy = false
    expect(await metrics.registry.getSingleMetricAsString('mtls_gateway_store_up')).toMatch(/^mtls_gateway_store_up 0$/m)
  })

  it('is absent when no store is watched (a gateway without a store)', async () => {
    const { createMetrics } = await import('../../src/ops/index.js')
    const metrics = createMetrics({ defaultMetrics: false })
    expect(await metrics.registry.metrics()).not.toContain('mtls_gateway_store_up')
    expect(await metrics.registry.metrics()).toContain('mtls_gateway_requests_in_flight')
  })
})

describe('log_lines_dropped_total', () => {
  it("follows the log's own count of dropped lines at every scrape, 0 before any", async () => {
    const { createMetrics } = await import('../../src/ops/index.js')
    let dropped = 0
    const metrics = createMetrics({ defaultMetrics: false, droppedLogLines: () => dropped })
    const read = async (): Promise<string> => metrics.registry.getSingleMetricAsString('mtls_gateway_log_lines_dropped_total')
    expect(await read()).toMatch(/^mtls_gateway_log_lines_dropped_total 0$/m)
    dropped = 40
    expect(await read()).toMatch(/^mtls_gateway_log_lines_dropped_total 40$/m)
    dropped = 41
    expect(await read()).toMatch(/^mtls_gateway_log_lines_dropped_total 41$/m)
    expect(await read()).toMatch(/^mtls_gateway_log_lines_dropped_total 41$/m)
  })
})
