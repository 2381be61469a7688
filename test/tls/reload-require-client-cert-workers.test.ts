/**
 * `serve --workers 2`: a reload that rotates clientCa while requireClientCert is on is applied by
 * each worker to its own proxy-listener connections and by the primary to the admin listener's,
 * exactly as by a single process (reload-require-client-cert.test.ts): the old CA's idle
 * connections are closed at the reload, a handshake under way at it is refused at its first
 * request (401, Connection: close), and the refusals are counted in the instance's metrics.
 */
import { readFileSync } from 'node:fs'
import type { TLSSocket } from 'node:tls'
import { describe, expect, it } from 'vitest'
import { eventually, parseMetrics, replaceFile, valueOf } from '../ops/helpers.js'
import { heldHandshakeRelay } from '../support/held-handshake-relay.js'
import { exchange } from '../support/exchange.js'
import { closesWithin, connectWith, gatewayFixture } from './reload-client-cert-support.js'

const f = gatewayFixture(['--workers', '2'], 120_000)

const routed = (path: string): string => `GET /proxy/partner${path} HTTP/1.1\r\nHost: gateway\r\n\r\n`
const MSG = (key: string): string => `${key}.requireClientCert: this listener requires a client certificate trusted by its clientCa, which a reload changed, and this connection has none; reconnect with one`

describe('requireClientCert across a clientCa rotation with --workers 2', () => {
  it('every worker and the primary\'s admin listener close the old CA\'s idle connections and refuse its straddling handshakes', async () => {
    // Connections are handed to the workers in turn: four reach both.
    const idle: TLSSocket[] = []
    for (let i = 0; i < 4; i++) {
      const c = await connectWith(f.port, f.s, f.s.oldCaller)
      expect((await exchange(c, routed(`/idle-${i}`))).status).toBe(200)
      idle.push(c)
    }
    const scraper = await connectWith(f.adminPort, f.s, f.s.oldCaller)
    expect((await exchange(scraper, 'GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')).status).toBe(200)
    const relay = await heldHandshakeRelay(f.port)
    const adminRelay = await heldHandshakeRelay(f.adminPort)
    const straddling = [connectWith(relay.port, f.s, f.s.oldCaller), connectWith(relay.port, f.s, f.s.oldCaller)]
    const adminStraddling = connectWith(adminRelay.port, f.s, f.s.oldCaller)
    await eventually(() => relay.held() === 2 && adminRelay.held() === 1, 30_000, 'the callers\' certificate flights at the relays')

    const from = f.gp.output.length
    replaceFile(f.s.clientCa, readFileSync(f.s.next.file('root.crt'), 'utf8'))
    f.gp.child.kill('SIGHUP')
    await eventually(() => f.gp.logEntries(from).some((e) => e.msg === 'reload accepted by every worker'), 60_000, 'the reload')

    for (const c of [...idle, scraper]) expect(await closesWithin(c, 10_000)).toEqual({ closed: true, bytes: 0 })
    relay.release()
    adminRelay.release()
    for (const c of (await Promise.all(straddling)) as TLSSocket[]) {
      const answer = await exchange(c, routed('/straddled'))
      expect({ status: answer.status, close: answer.head.includes('\r\nconnection: close'), body: JSON.parse(answer.body) as unknown }).toEqual({ status: 401, close: true, body: { errors: [{ msg: MSG('listen.tls'), code: 401 }] } })
      expect((await closesWithin(c, 10_000)).closed).toBe(true)
    }
    const admin = await adminStraddling
    const refusedScrape = await exchange(admin, 'GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')
    expect({ status: refusedScrape.status, close: refusedScrape.head.includes('\r\nconnection: close'), body: JSON.parse(refusedScrape.body) as unknown }).toEqual({ status: 401, close: true, body: { errors: [{ msg: MSG('admin.tls'), code: 401 }] } })
    await relay.close()
    await adminRelay.close()

    // The new CA's callers are served by both workers and the primary.
    for (let i = 0; i < 2; i++) {
      const c = await connectWith(f.port, f.s, f.s.nextCaller)
      expect((await exchange(c, routed(`/new-${i}`))).status).toBe(200)
      c.destroy()
    }
    const fresh = await connectWith(f.adminPort, f.s, f.s.nextCaller)
    await eventually(async () => {
      const metrics = parseMetrics((await exchange(fresh, 'GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')).body)
      return valueOf(metrics, 'mtls_gateway_caller_auth_failures_total', { reason: 'certificate_required' }) === 3
    }, 20_000, 'three refusals counted (two workers, the primary)')
    fresh.destroy()
    // Both workers refused one each (their access lines).
    await eventually(() => new Set(f.gp.logEntries(from).filter((e) => e.reason === 'caller_certificate_required').map((e) => e.pid)).size === 2, 20_000, 'a refusal line from each worker')
  }, 180_000)
})
