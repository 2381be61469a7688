/**
 * A caller that leaves an intercepted CONNECT tunnel, at every stage: while its CONNECT is
 * admitted and its leaf minted (before the 200), during its TLS handshake, between inner
 * requests, and while an inner request is in flight upstream. Each time the gateway notices at
 * once: the upstream call is abandoned, the line says 499 caller_aborted (none for an idle
 * tunnel), and the connection slot and the in-flight count are released (real curl giving up by
 * --max-time too). Before the fix a caller that left before the 200 was answered 200 anyway and
 * logged, 10 s later, as a 408 handshake timeout (behind a store that did not answer: as that
 * lookup's 503, commandTimeout later), its connection slot held meanwhile.
 */
import { execFile } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { promisify } from 'node:util'
import { connect as netConnect } from 'node:net'
import { join } from 'node:path'
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls'
import type { AddressInfo, Socket } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SignJWT } from 'jose'
import type { Peer } from '../support/peers.js'
import { startRedisServer } from '../support/redis-server.js'
import { send } from '../support/gateway.js'
import { writeInterceptionCa } from '../../src/tls/index.js'
import { clientTlsYaml, createTestPki, type TestPki } from '../support/pki.js'
import { openTunnel } from '../support/tunnel.js'
import { accessLineWhere, eventually, scrape, startOpsGateway, valueOf, type OpsGateway } from '../ops/helpers.js'
import { sendSignal } from '../support/signals.js'

let pki: TestPki
let upstream: TlsServer
let g: OpsGateway
let ca: Buffer
let port: number
const upstreamClosed: number[] = []
const upstreamGot: number[] = []
const SECRET = 's'.repeat(32)
const run = promisify(execFile)

beforeAll(async () => {
  pki = await createTestPki()
  upstream = createTlsServer({ cert: readFileSync(pki.file('server-chain.crt')), key: readFileSync(pki.file('server.key')), ca: readFileSync(pki.file('root.crt')), requestCert: true, rejectUnauthorized: true }, (s: TLSSocket) => {
    let head = ''
    s.on('data', (d: Buffer) => {
      head += d.toString('latin1')
      if (!head.includes('\r\n\r\n')) return
      upstreamGot.push(performance.now())
      // /slow is never answered: only the caller leaving ends it.
      if (head.startsWith('GET /quick ')) s.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok')
      head = ''
    })
    s.on('close', () => upstreamClosed.push(performance.now()))
    s.on('error', () => {})
  })
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r))
  port = (upstream.address() as AddressInfo).port
  const ica = await writeInterceptionCa(join(pki.dir, 'ica'))
  ca = readFileSync(ica.caCert)
  g = await startOpsGateway(pki.dir, interceptingYaml(ica))
})

/** Interception by `ica` and the one endpoint, after `extra` config. */
function interceptingYaml(ica: { caCert: string; caKey: string }, extra = ''): string {
  return `${extra}interception: { caCert: ${ica.caCert}, caKey: ${ica.caKey} }
endpoints:
  - name: partner
    url: https://api.partner.test:${port}
    resolve: 127.0.0.1
    allowPrivate: true
    tls: ${clientTlsYaml(pki)}
`
}

afterAll(async () => {
  await g?.gw.close()
  await new Promise((r) => upstream?.close(r))
  pki?.cleanup()
})

const authority = (): string => `api.partner.test:${port}`
const openNow = async (): Promise<{ open: number | undefined; inFlight: number | undefined }> => {
  const m = await scrape(g.adminUrl)
  return { open: valueOf(m, 'mtls_gateway_connections_open', { listener: 'proxy' }), inFlight: valueOf(m, 'mtls_gateway_requests_in_flight') }
}
const released = (): Promise<unknown> => eventually(async () => {
  const now = await openNow()
  return now.open === 0 && now.inFlight === 0 ? true : undefined
}, 2_000, 'the connection slot and the in-flight count released')

/** A raw caller that sent its CONNECT; resolves once it is connected. */
async function connectSent(): Promise<Socket> {
  const s = netConnect(g.gw.port, '127.0.0.1')
  s.on('error', () => undefined)
  await new Promise((r) => s.once('connect', r))
  s.write(`CONNECT ${authority()} HTTP/1.1\r\nHost: ${authority()}\r\n\r\n`)
  return s
}

describe('a caller leaving an intercepted tunnel', () => {
  it('before the 200 (while admitted and minted): a 499 line at once, no 200, the slot released', async () => {
    const before = g.access().length
    const s = await connectSent()
    let got = ''
    s.on('data', (c: Buffer) => (got += c.toString('latin1')))
    s.end()
    const left = performance.now()
    // At once, not the handshake timeout (10 s) later: 5 s spares a loaded machine.
    const line = await accessLineWhere(g, (e) => e.method === 'CONNECT', 'the CONNECT\'s access line', { from: before, timeoutMs: 8_000 })
    expect(line).toMatchObject({ status: 499, reason: 'caller_aborted', mode: 'connect', method: 'CONNECT' })
    expect(String(line.error)).toContain(`CONNECT ${authority()}: the caller closed the connection before the tunnel was opened`)
    expect(performance.now() - left).toBeLessThan(5_000)
    await released()
    expect(got).toBe('')
  })

  it('after the 200, before its TLS handshake: 499 tls_handshake_aborted at once', async () => {
    const before = g.access().length
    const s = await connectSent()
    await new Promise((r) => s.once('data', r))
    s.end()
    const line = await accessLineWhere(g, (e) => e.method === 'CONNECT', 'the tunnel\'s access line', { from: before, timeoutMs: 3_000 })
    expect(line).toMatchObject({ status: 499, reason: 'caller_aborted' })
    expect(String(line.error)).toContain('tls_handshake_aborted')
    await released()
  })

  it('between inner requests: no line, the slot released', async () => {
    const before = g.access().length
    const tls = await openTunnel({ gatewayPort: g.gw.port, authority: authority(), ca })
    tls.write(`GET /quick HTTP/1.1\r\nHost: ${authority()}\r\n\r\n`)
    await accessLineWhere(g, (e) => e.mode === 'connect' && e.method === 'GET', 'the inner request\'s line', { from: before, timeoutMs: 5_000 })
    tls.end()
    await released()
    expect(g.access().length).toBe(before + 1)
  })

  for (const how of ['closes its TLS', 'resets its connection', 'sends a FIN'] as const) {
    it(`mid inner request (${how}): the upstream call abandoned at once, 499, the slot released`, async () => {
      const tls = await openTunnel({ gatewayPort: g.gw.port, authority: authority(), ca })
      const reqId = `leave-${how.replace(/ /g, '-')}`
      const got = upstreamGot.length
      tls.write(`GET /slow HTTP/1.1\r\nHost: ${authority()}\r\nX-Request-Id: ${reqId}\r\n\r\n`)
      await eventually(() => upstreamGot.length > got || undefined, 10_000, 'the upstream got the request')
      const closedBefore = upstreamClosed.length
      const left = performance.now()
      const raw = (tls as unknown as { _parent: Socket })._parent
      if (how === 'closes its TLS') tls.destroy()
      else if (how === 'resets its connection') raw.resetAndDestroy()
      else raw.end()
      const line = await eventually(() => g.access().find((e) => e.reqId === reqId), 3_000, 'the access line')
      const closedAt = await eventually(() => upstreamClosed[closedBefore], 3_000, 'the upstream connection closed')
      expect(line).toMatchObject({ status: 499, reason: 'caller_aborted' })
      expect(closedAt - left).toBeLessThan(1_000)
      await released()
    })
  }
})

describe('real curl behind HTTPS_PROXY', () => {
  it('giving up (--max-time) mid inner request: the upstream call abandoned at once, 499', async () => {
    const caFile = join(pki.dir, 'ica', 'curl-ca.pem')
    writeFileSync(caFile, ca)
    const got = upstreamGot.length
    const closedBefore = upstreamClosed.length
    const curl = run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '1', '--cacert', caFile, '--proxy', `http://127.0.0.1:${g.gw.port}`, '-H', 'X-Request-Id: curl-gives-up', `https://${authority()}/slow`]).catch((e: { code?: number }) => e)
    await eventually(() => upstreamGot.length > got || undefined, 10_000, 'the upstream got the request')
    expect((await curl as { code?: number }).code).toBe(28)
    const gaveUp = performance.now()
    const line = await eventually(() => g.access().find((e) => e.reqId === 'curl-gives-up'), 3_000, 'the access line')
    const closedAt = await eventually(() => upstreamClosed[closedBefore], 3_000, 'the upstream connection closed')
    expect(line).toMatchObject({ status: 499, reason: 'caller_aborted', mode: 'connect' })
    expect(closedAt - gaveUp).toBeLessThan(1_000)
    await released()
  })
})

describe('a caller leaving while its CONNECT waits on a store that does not answer', () => {
  let redis: Peer & { url: string }
  let h: OpsGateway
  beforeAll(async () => {
    redis = await startRedisServer()
    const ica = await writeInterceptionCa(join(pki.dir, 'ica-store'))
    h = await startOpsGateway(pki.dir, interceptingYaml(ica, `store: { kind: redis, url: "${redis.url}", keyPrefix: "tunnel-leaves:", redis: { commandTimeout: 10s } }
callers:
  required: true
  apps: [{ clientId: bot, hs256Secret: "${SECRET}", audience: "https://gateway.test", endpoints: [partner] }]
`), { watch: false })
  })
  afterAll(async () => {
    if (redis) sendSignal(redis.pid, 'SIGCONT')
    await h?.gw.close()
    await redis?.stop()
  })

  it('is a 499 at once, not the 503 the lookup ends in (commandTimeout, 10 s here) written to nobody', async () => {
    const now = Math.floor(Date.now() / 1000)
    const assertion = await new SignJWT({ iss: 'bot', aud: 'https://gateway.test', sub: 'u1', iat: now, exp: now + 300, jti: `j-${now}-${Math.random()}` }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(SECRET))
    const r = await send(h.gw.url, '/gateway/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ assertion }) })
    expect(r.status, r.text).toBe(200)
    const token = r.json<{ access_token: string }>().access_token
    // The token call's own line can land after its answer: wait for it, so it is never taken for the CONNECT's.
    await eventually(() => h.access().find((e) => e.method === 'POST'), 8_000, 'the token call\'s access line')
    sendSignal(redis.pid, 'SIGSTOP')
    const before = h.access().length
    const s = netConnect(h.gw.port, '127.0.0.1')
    s.on('error', () => undefined)
    await new Promise((res) => s.once('connect', res))
    s.write(`CONNECT ${authority()} HTTP/1.1\r\nHost: ${authority()}\r\nProxy-Authorization: Bearer ${token}\r\n\r\n`)
    // The gateway is now looking the bearer up in the stopped Redis.
    await new Promise((res) => setTimeout(res, 300))
    const left = performance.now()
    s.end()
    // At once, not once the lookup failed (commandTimeout, 10 s here, so that 5 s spares a loaded machine).
    const line = await eventually(() => h.access().slice(before).find((e) => e.method === 'CONNECT'), 8_000, 'the CONNECT\'s access line')
    expect(h.access().length).toBe(before + 1)
    expect(line).toMatchObject({ status: 499, reason: 'caller_aborted', method: 'CONNECT', error: `CONNECT ${authority()}: the caller closed the connection before the tunnel was opened` })
    expect(performance.now() - left).toBeLessThan(5_000)
    sendSignal(redis.pid, 'SIGCONT')
  })
})
