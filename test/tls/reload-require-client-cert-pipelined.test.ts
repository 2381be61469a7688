/**
 * requireClientCert after a reload that rotated clientCa, with HTTP/1.1 pipelining: a refused
 * connection gets one answer (401 caller_certificate_required, Connection: close), counted once,
 * and the requests pipelined behind it are neither answered nor judged, counted or logged as
 * refusals (rev-reqcert: the next one got its turn while the closing connection lingered, was
 * refused again into a response never sent, counted and logged as a 401 a second time; on the
 * admin listener every pipelined request was counted).
 */
import { readFileSync } from 'node:fs'
import type { TLSSocket } from 'node:tls'
import { describe, expect, it } from 'vitest'
import { eventually, instanceReloads, parseMetrics, replaceFile, valueOf } from '../ops/helpers.js'
import { exchange } from '../support/exchange.js'
import { heldHandshakeRelay } from '../support/held-handshake-relay.js'
import { finalEntries } from '../support/log-entries.js'
import { connectWith, gatewayFixture } from './reload-client-cert-support.js'

const f = gatewayFixture([], 90_000)

const routed = (path: string): string => `GET /proxy/partner${path} HTTP/1.1\r\nHost: gateway\r\n\r\n`
const scrapeReq = (path: string): string => `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`
const refusal = (key: string, code: number): string =>
  JSON.stringify({ errors: [{ msg: `${key}.requireClientCert: this listener requires a client certificate trusted by its clientCa, which a reload changed, and this connection has none; reconnect with one`, code }] })

/** Everything the connection receives until it closes, split into answers framed by Content-Length. */
function answersUntilClose(c: TLSSocket): Promise<{ status: number; head: string; body: string }[]> {
  return new Promise((resolve) => {
    let got = Buffer.alloc(0)
    c.on('data', (b: Buffer) => void (got = Buffer.concat([got, b])))
    c.on('error', () => {})
    c.once('close', () => {
      const answers: { status: number; head: string; body: string }[] = []
      let rest = got
      while (rest.length > 0) {
        const text = rest.toString('latin1')
        const end = text.indexOf('\r\n\r\n')
        const head = text.slice(0, end < 0 ? text.length : end).toLowerCase()
        const length = Number(/\r\ncontent-length: *(\d+)/.exec(head)?.[1] ?? 0)
        answers.push({ status: Number(text.slice(9, 12)), head, body: rest.subarray(end + 4, end + 4 + length).toString() })
        rest = end < 0 ? Buffer.alloc(0) : rest.subarray(end + 4 + length)
      }
      resolve(answers)
    })
  })
}

async function certificateRequired(): Promise<number | undefined> {
  const scraper = await connectWith(f.adminPort, f.s, f.s.nextCaller)
  const metrics = parseMetrics((await exchange(scraper, scrapeReq('/metrics'))).body)
  scraper.destroy()
  return valueOf(metrics, 'mtls_gateway_caller_auth_failures_total', { reason: 'certificate_required' })
}

describe('requests pipelined on a connection the rotated clientCa refuses', () => {
  it('one refusal on the wire and in the counter; the rest go unanswered and are not refusals', async () => {
    // Proxy listener: three requests pipelined behind one in flight across the reload.
    const proxied = await connectWith(f.port, f.s, f.s.oldCaller)
    const proxiedAnswers = answersUntilClose(proxied)
    proxied.write(routed('/hold/first') + routed('/second') + routed('/third') + routed('/fourth'))
    await eventually(() => f.s.waiting() === 1, 20_000, 'the first request held at the upstream')
    // Admin listener: a handshake under way at the reload, then three pipelined scrapes.
    const adminRelay = await heldHandshakeRelay(f.adminPort)
    const straddling = connectWith(adminRelay.port, f.s, f.s.oldCaller)
    await eventually(() => adminRelay.held() === 1, 20_000, "the admin caller's certificate flight at the relay")

    const from = f.gp.output.length
    replaceFile(f.s.clientCa, readFileSync(f.s.next.file('root.crt'), 'utf8'))
    f.gp.child.kill('SIGHUP')
    // The instance's reload (a cluster's primary accepts it once every worker runs it), not the first worker's line.
    await eventually(() => instanceReloads(f.gp, from) > 0, 30_000, 'the reload')

    f.s.release()
    const onProxy = await proxiedAnswers
    expect(onProxy.map((a) => a.status)).toEqual([200, 401])
    expect(onProxy[1]?.head).toContain('\r\nconnection: close')
    expect(onProxy[1]?.body).toBe(refusal('listen.tls', 401))

    adminRelay.release()
    const admin = await straddling
    const adminAnswers = answersUntilClose(admin)
    admin.write(scrapeReq('/healthz') + scrapeReq('/metrics') + scrapeReq('/readyz'))
    const onAdmin = await adminAnswers
    expect(onAdmin.map((a) => a.status)).toEqual([401])
    expect(onAdmin[0]?.body).toBe(refusal('admin.tls', 401))
    await adminRelay.close()

    // One per refused connection.
    expect(await certificateRequired()).toBe(2)
    // One refusal line (the admin listener writes none); the requests behind it were not served: 499, never a second 401.
    const lines = (entries = f.gp.logEntries(from)): string => entries.filter((e) => e.mode === 'route').map((e) => `${String(e.status)} ${String(e.reason ?? '-')}`).sort().join(', ')
    await eventually(() => lines().startsWith('200 -, 401 caller_certificate_required'), 20_000, 'the access lines')
    // Never a second: read once every line is out (the gateway writes its lines in batches).
    expect(lines(await finalEntries(f.gp, from))).not.toMatch(/401.*401/)
  }, 120_000)
})
