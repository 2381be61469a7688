/**
 * requireClientCert (listen.tls, admin.tls) across a reload that rotates clientCa: a fresh start
 * with the new file refuses the handshake of a caller whose certificate the new CA did not issue,
 * so the reload refuses every request on the connections such callers opened before it (rev-S25:
 * they were served, only their identity withdrawn). Idle ones are closed at the reload, a
 * pass-through tunnel too; a request in flight finishes, and the next one on its connection is
 * refused (407 on the proxy path and CONNECT, 401 in route mode, on /gateway/ and on the admin
 * listener) with Connection: close; a handshake under way at the reload likewise. A certificate
 * of the new CA is served, on kept-alive connections too.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { connect as tlsConnect, type TLSSocket } from 'node:tls'
import { describe, expect, it } from 'vitest'
import { spawnGateway } from '../support/process.js'
import { eventually, instanceReloads, parseMetrics, RELOAD_REFUSED, replaceFile, valueOf } from '../ops/helpers.js'
import { heldHandshakeRelay } from '../support/held-handshake-relay.js'
import { exchange, type Answer } from '../support/exchange.js'
import { closesWithin, connectWith, gatewayFixture, gatewayYaml, spawnOn, type Pair } from './reload-client-cert-support.js'

const f = gatewayFixture([], 90_000)

const host = (): string => `api.partner.test:${f.s.upstream.port}`
const routed = (path: string): string => `GET /proxy/partner${path} HTTP/1.1\r\nHost: gateway\r\n\r\n`
const inner = (path: string): string => `GET ${path} HTTP/1.1\r\nHost: ${host()}\r\n\r\n`
const scrapeReq = (path: string): string => `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`

/** CONNECT on `outer`, then TLS to the minted leaf inside. */
async function tunnelOn(outer: TLSSocket): Promise<TLSSocket> {
  const connect = await exchange(outer, `CONNECT ${host()} HTTP/1.1\r\nHost: ${host()}\r\n\r\n`)
  expect(connect.status, connect.body).toBe(200)
  return new Promise<TLSSocket>((resolve, reject) => {
    const t = tlsConnect({ socket: outer, servername: 'api.partner.test', ca: readFileSync(f.s.ica.caCert) }, () => resolve(t))
    t.once('error', reject)
  })
}

/** The refusal every way in gives: the status, Connection: close, the message, then the connection closes. */
async function expectRefused(c: TLSSocket, answer: Answer, status: number, key = 'listen.tls'): Promise<void> {
  expect(answer.status, answer.body).toBe(status)
  expect(answer.head).toContain('\r\nconnection: close')
  expect(JSON.parse(answer.body)).toEqual({ errors: [{ msg: `${key}.requireClientCert: this listener requires a client certificate trusted by its clientCa, which a reload changed, and this connection has none; reconnect with one`, code: status }] })
  expect((await closesWithin(c, 10_000)).closed).toBe(true)
}

/** Whether `caller` is served a request on a new connection to the listener now (TLS 1.3: a refused certificate shows at the first read). */
async function servedNow(caller: Pair): Promise<boolean> {
  const c = await connectWith(f.port, f.s, caller).catch(() => undefined)
  if (!c) return false
  try {
    return (await exchange(c, routed('/probe')).catch(() => undefined))?.status === 200
  } finally {
    c.destroy()
  }
}

/**
 * SIGHUP after replacing the client CA file; resolves once the instance says it reloaded (a cluster,
 * the default here, once its primary accepted: one worker's line is not the other's reload) and,
 * given `servedCaller` (a caller only the new CA verifies), once the listener serves that caller: a
 * reload line of an earlier rotation (the file watcher's and the signal's reloads of one write),
 * read from the pipe after this call began, is not taken for this rotation's.
 */
async function rotateClientCa(pem: string, servedCaller?: Pair): Promise<void> {
  const from = f.gp.output.length
  replaceFile(f.s.clientCa, pem)
  f.gp.child.kill('SIGHUP')
  await eventually(() => instanceReloads(f.gp, from) > 0, 30_000, 'the reload')
  if (servedCaller) await eventually(() => servedNow(servedCaller), 30_000, 'the rotated client CA in force')
}

describe('a reload that rotates clientCa while requireClientCert is on', () => {
  it('closes idle connections and pass-through tunnels of the old CA\'s callers, lets in-flight requests finish, then refuses with Connection: close', async () => {
    const idleRoute = await connectWith(f.port, f.s, f.s.oldCaller)
    expect((await exchange(idleRoute, routed('/idle'))).status).toBe(200)
    const idleAdmin = await connectWith(f.adminPort, f.s, f.s.oldCaller)
    expect((await exchange(idleAdmin, scrapeReq('/metrics'))).status).toBe(200)
    const idleTunnel = await tunnelOn(await connectWith(f.port, f.s, f.s.oldCaller))
    expect((await exchange(idleTunnel, inner('/in-tunnel'))).status).toBe(200)
    const pass = await connectWith(f.port, f.s, f.s.oldCaller)
    expect((await exchange(pass, `CONNECT 127.0.0.1:${f.s.echo.port} HTTP/1.1\r\nHost: 127.0.0.1:${f.s.echo.port}\r\n\r\n`)).status).toBe(200)
    const echoed = new Promise<string>((resolve) => pass.once('data', (b: Buffer) => resolve(b.toString())))
    pass.write('ping')
    expect(await echoed).toBe('ping')
    // In flight across the reload: a route-mode request and a tunnel's inner request.
    const busyRoute = await connectWith(f.port, f.s, f.s.oldCaller)
    const routeInFlight = exchange(busyRoute, routed('/hold/route'))
    const busyTunnel = await tunnelOn(await connectWith(f.port, f.s, f.s.oldCaller))
    const tunnelInFlight = exchange(busyTunnel, inner('/hold/tunnel'))
    await eventually(() => f.s.waiting() === 2, 20_000, 'both held requests at the upstream')
    // Handshakes under way at the reload (begun under the old client CA).
    const relay = await heldHandshakeRelay(f.port)
    const adminRelay = await heldHandshakeRelay(f.adminPort)
    const straddling = [connectWith(relay.port, f.s, f.s.oldCaller), connectWith(relay.port, f.s, f.s.oldCaller), connectWith(relay.port, f.s, f.s.oldCaller)]
    const adminStraddling = connectWith(adminRelay.port, f.s, f.s.oldCaller)
    await eventually(() => relay.held() === 3 && adminRelay.held() === 1, 20_000, 'the callers\' certificate flights at the relays')

    await rotateClientCa(readFileSync(f.s.next.file('root.crt'), 'utf8'))

    for (const idle of [idleRoute, idleAdmin, idleTunnel, pass]) expect(await closesWithin(idle, 10_000)).toEqual({ closed: true, bytes: 0 })
    expect(busyRoute.destroyed || busyTunnel.destroyed).toBe(false)
    f.s.release()
    expect((await routeInFlight).status).toBe(200)
    expect((await tunnelInFlight).status).toBe(200)
    await expectRefused(busyRoute, await exchange(busyRoute, routed('/after')), 401)
    await expectRefused(busyTunnel, await exchange(busyTunnel, inner('/after')), 407)

    relay.release()
    adminRelay.release()
    const [forward, connect, api] = (await Promise.all(straddling)) as [TLSSocket, TLSSocket, TLSSocket]
    await expectRefused(forward, await exchange(forward, `GET http://${host()}/x HTTP/1.1\r\nHost: ${host()}\r\n\r\n`), 407)
    await expectRefused(connect, await exchange(connect, `CONNECT ${host()} HTTP/1.1\r\nHost: ${host()}\r\n\r\n`), 407)
    await expectRefused(api, await exchange(api, 'GET /gateway/jwks.json HTTP/1.1\r\nHost: gateway\r\n\r\n'), 401)
    const admin = await adminStraddling
    await expectRefused(admin, await exchange(admin, scrapeReq('/healthz')), 401, 'admin.tls')
    await relay.close()
    await adminRelay.close()

    // The new CA's callers are served, kept-alive; the old CA's are refused at the handshake, as after a fresh start.
    const fresh = await connectWith(f.port, f.s, f.s.nextCaller)
    expect((await exchange(fresh, routed('/one'))).status).toBe(200)
    expect((await exchange(fresh, routed('/two'))).status).toBe(200)
    fresh.destroy()
    await expect(connectWith(f.port, f.s, f.s.oldCaller).then((c) => exchange(c, routed('/old')))).rejects.toThrow()
    const scraper = await connectWith(f.adminPort, f.s, f.s.nextCaller)
    const metrics = parseMetrics((await exchange(scraper, scrapeReq('/metrics'))).body)
    scraper.destroy()
    // Five requests refused, one CONNECT, and the pass-through tunnel the reload closed.
    expect(valueOf(metrics, 'mtls_gateway_caller_auth_failures_total', { reason: 'certificate_required' })).toBe(7)
    // One access line each on the proxy listener (the admin listener writes none).
    const refusedModes = (): string => f.gp.logEntries().filter((e) => e.reason === 'caller_certificate_required').map((e) => String(e.mode)).sort().join(' ')
    await eventually(() => refusedModes() === 'api connect connect connect forward route', 20_000, 'the access lines')
  }, 120_000)

  it('answers as a fresh start with the same files does: the new CA\'s caller served, the old CA\'s refused at the handshake', async () => {
    const fresh = await spawnGateway(join(f.s.old.dir, 'gateway.yaml'))
    try {
      for (const p of [f.port, Number(new URL(fresh.url).port)]) {
        const c = await connectWith(p, f.s, f.s.nextCaller)
        expect((await exchange(c, routed('/compare'))).status).toBe(200)
        c.destroy()
        await expect(connectWith(p, f.s, f.s.oldCaller).then((o) => exchange(o, routed('/old')))).rejects.toThrow()
      }
    } finally {
      await fresh.stop('SIGKILL')
      await rotateClientCa(readFileSync(f.s.old.file('root.crt'), 'utf8'), f.s.oldCaller)
    }
  }, 120_000)

  it('a request whose headers were partly received at the reload is not lost: once complete it is refused with Connection: close, on the listener and in a tunnel', async () => {
    const route = await connectWith(f.port, f.s, f.s.oldCaller)
    const inTunnel = await tunnelOn(await connectWith(f.port, f.s, f.s.oldCaller))
    // Served once: both connections are the gateway's, with a parser, before the partial bytes.
    expect((await exchange(route, routed('/warm'))).status).toBe(200)
    expect((await exchange(inTunnel, inner('/warm'))).status).toBe(200)
    const [r, i] = [routed('/partly'), inner('/partly')]
    // A connection closed at the reload fails here rather than waiting for an answer that never comes.
    const closed = (c: TLSSocket): Promise<never> => new Promise((_, reject) => c.once('close', () => reject(new Error('closed at the reload, the request lost'))))
    const [routeClosed, tunnelClosed] = [closed(route), closed(inTunnel)]
    // Answered, they close too: that later rejection is no failure.
    for (const p of [routeClosed, tunnelClosed]) p.catch(() => undefined)
    // In the gateway's socket buffers before the signal is sent, so read before the reload is.
    for (const [c, text] of [[route, r], [inTunnel, i]] as const) await new Promise<void>((resolve) => c.write(text.slice(0, 20), () => resolve()))
    await rotateClientCa(readFileSync(f.s.next.file('root.crt'), 'utf8'), f.s.nextCaller)
    try {
      await expectRefused(route, await Promise.race([exchange(route, r.slice(20)), routeClosed]), 401)
      await expectRefused(inTunnel, await Promise.race([exchange(inTunnel, i.slice(20)), tunnelClosed]), 407)
    } finally {
      await rotateClientCa(readFileSync(f.s.old.file('root.crt'), 'utf8'), f.s.oldCaller)
    }
  }, 120_000)
})

describe('requireClientCert off, or turned on or off by a reload', () => {
  it('without requireClientCert a clientCa rotation refuses no request on open connections; turning it on is a restart-only change the reload refuses', async () => {
    const file = join(f.s.old.dir, 'gateway.yaml')
    await f.gp.stop('SIGKILL')
    Object.assign(f, await spawnOn(f.s, false))
    const none = await connectWith(f.port, f.s, undefined)
    const old = await connectWith(f.port, f.s, f.s.oldCaller)
    for (const c of [none, old]) expect((await exchange(c, routed('/before'))).status).toBe(200)
    await rotateClientCa(readFileSync(f.s.next.file('root.crt'), 'utf8'))
    // Not required: each connection keeps being served (the old CA's certificate identifies no one now).
    for (const c of [none, old]) expect((await exchange(c, routed('/after'))).status).toBe(200)
    // Turning requireClientCert on (or off) needs a restart (listen.tls): the reload is refused, nothing changes.
    const from = f.gp.output.length
    replaceFile(file, gatewayYaml(f.s, true))
    f.gp.child.kill('SIGHUP')
    await eventually(() => f.gp.logEntries(from).some((e) => e.msg === RELOAD_REFUSED), 30_000, 'the refused reload')
    expect(JSON.stringify(f.gp.logEntries(from))).toContain('takes effect only after a restart')
    for (const c of [none, old]) expect((await exchange(c, routed('/refused-reload'))).status).toBe(200)
    none.destroy()
    old.destroy()
  }, 120_000)
})
