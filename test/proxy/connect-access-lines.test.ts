/**
 * Every CONNECT the gateway answers is one access line and one requests_total sample: a
 * pass-through tunnel when it closes (status 200, its destination, how long it lived, the bytes
 * it carried on the caller's connection, headers included; kept out of the request-duration
 * histogram, a tunnel's life not being a response time); a CONNECT refused with 405 inside an
 * intercepted tunnel (with the tunnel's caller). An intercepted tunnel's lines are those of its
 * inner requests. The admin listener, which has no access log, says a refused CONNECT in one
 * line of its own. The same in one process and with `--workers 2`.
 */
import { connect as tcpConnect, type Socket } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import { readFileSync } from 'node:fs'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { adminUrlOf } from '../support/process.js'
import { accessLineWhere, eventually, scrape, valueOf } from '../ops/helpers.js'
import { callerBearer as bearer, echoPassThroughYaml, useInterceptionGateway } from '../ops/interception-gateway.js'

// Each gateway (in-process, --workers) gets a store file of its own.
const h = useInterceptionGateway({ yaml: () => echoPassThroughYaml(h) })
const echoPort = (): number => h.echoPort()

/** Reads from `s` until `n` bytes (after the CONNECT answer's head) have come back. */
function readBack(s: Socket, head: string, n: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = ''
    const on = (c: Buffer): void => {
      got += c.toString('latin1')
      if (got.length >= head.length + n) {
        s.off('data', on)
        resolve(got)
      }
    }
    s.on('data', on)
    s.once('error', reject)
  })
}

const ANSWER = 'HTTP/1.1 200 Connection Established\r\n\r\n'

/** A pass-through tunnel carrying `chunks` to the echo and back, then closed by the caller: the bytes each way. */
async function tunnel(port: number, token: string, chunks: string[]): Promise<{ sent: number; received: number }> {
  const s = tcpConnect(port, '127.0.0.1')
  await new Promise<void>((resolve, reject) => s.once('connect', resolve).once('error', reject))
  const request = `CONNECT 127.0.0.1:${echoPort()} HTTP/1.1\r\nHost: 127.0.0.1:${echoPort()}\r\nProxy-Authorization: Bearer ${token}\r\n\r\n`
  const total = chunks.reduce((n, c) => n + Buffer.byteLength(c, 'latin1'), 0)
  const back = readBack(s, ANSWER, total)
  s.write(request)
  await readBack(s, '', ANSWER.length)
  for (const c of chunks) s.write(Buffer.from(c, 'latin1'))
  const got = await back
  expect(got).toBe(ANSWER + chunks.join(''))
  await new Promise<void>((resolve) => {
    s.once('close', () => resolve())
    s.end()
  })
  return { sent: Buffer.byteLength(request) + total, received: ANSWER.length + total }
}

/** A CONNECT sent inside an intercepted tunnel: the answer's status line. */
async function nested(port: number, token: string): Promise<string> {
  const raw = tcpConnect(port, '127.0.0.1')
  await new Promise<void>((resolve) => raw.once('connect', () => resolve()))
  const authority = `api.partner.test:${h.upstream.port}`
  raw.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\nProxy-Authorization: Bearer ${token}\r\n\r\n`)
  await new Promise<void>((resolve) => raw.once('data', () => resolve()))
  const tls = tlsConnect({ socket: raw, servername: 'api.partner.test', ca: readFileSync(h.ca.caCert, 'utf8') })
  await new Promise<void>((resolve, reject) => tls.once('secureConnect', () => resolve()).once('error', reject))
  let text = ''
  tls.on('data', (c: Buffer) => (text += c.toString()))
  tls.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`)
  await new Promise<void>((resolve) => tls.once('close', () => resolve()).once('error', () => undefined))
  return text.split('\r\n')[0] ?? ''
}

const connectLines = (): Record<string, unknown>[] => h.g.access().filter((e) => e.method === 'CONNECT')

describe('a pass-through tunnel is one access line, written when it closes', () => {
  it('status 200, its destination and caller, its life and bytes; one requests_total sample, no duration observation', async () => {
    const { g } = h
    const token = await bearer()
    const before = connectLines().length
    const { sent, received } = await tunnel(g.gw.port, token, ['ping-not-tls\u0000\u00ff', 'x'.repeat(70_000)])
    await eventually(() => connectLines().length === before + 1, 10_000, 'the tunnel\'s access line')
    const line = connectLines()[before] as Record<string, unknown>
    expect(line).toMatchObject({ level: 'info', mode: 'connect', method: 'CONNECT', status: 200, passThrough: `127.0.0.1:${echoPort()}`, caller: 'bot', requestBytes: sent, responseBytes: received })
    expect(line.durationMs).toEqual(expect.any(Number))
    expect(line).not.toHaveProperty('reason')
    expect(line).not.toHaveProperty('endpoint')
    expect(JSON.stringify(line)).not.toContain(token)
    const m = await scrape(g.adminUrl)
    expect(valueOf(m, 'mtls_gateway_requests_total', { endpoint: '_none', method: 'CONNECT', status_class: '2xx' })).toBe(1)
    expect(valueOf(m, 'mtls_gateway_relayed_bytes_total', { endpoint: '_none', direction: 'in' })).toBe(sent)
    expect(valueOf(m, 'mtls_gateway_relayed_bytes_total', { endpoint: '_none', direction: 'out' })).toBe(received)
    expect(valueOf(m, 'mtls_gateway_request_duration_seconds_count', { endpoint: '_none', mode: 'connect' })).toBeUndefined()
    expect(valueOf(m, 'mtls_gateway_connect_tunnels_total', { kind: 'pass_through' })).toBe(1)
  })

  it('exactly one line per tunnel, whatever it carries, with the bytes it carried (seeded property)', async () => {
    const { g } = h
    const token = await bearer()
    const payloads = fc.array(fc.string({ unit: fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c)), maxLength: 2000 }), { minLength: 0, maxLength: 4 })
    let runs = 0
    await fc.assert(
      fc.asyncProperty(payloads, async (chunks) => {
        const before = connectLines().length
        const { sent, received } = await tunnel(g.gw.port, token, chunks)
        await eventually(() => connectLines().length >= before + 1, 10_000, 'the tunnel\'s access line')
        const lines = connectLines().slice(before)
        expect(lines).toHaveLength(1)
        expect(lines[0]).toMatchObject({ status: 200, requestBytes: sent, responseBytes: received })
        runs++
      }),
      { seed: 4242, numRuns: 1000 },
    )
    const m = await scrape(g.adminUrl)
    // The first test's tunnel, and this one's.
    expect(valueOf(m, 'mtls_gateway_requests_total', { endpoint: '_none', method: 'CONNECT', status_class: '2xx' })).toBe(1 + runs)
  }, 300_000)
})

describe('a CONNECT answered 405 by the connection guard is reported', () => {
  it('inside an intercepted tunnel: one access line with the tunnel\'s caller and one requests_total sample; the tunnel itself none', async () => {
    const { g } = h
    const token = await bearer()
    const before = connectLines().length
    const m0 = await scrape(g.adminUrl)
    const was = valueOf(m0, 'mtls_gateway_requests_total', { endpoint: '_none', method: 'CONNECT', status_class: '4xx' }) ?? 0
    expect(await nested(g.gw.port, token)).toMatch(/^HTTP\/1\.1 405 /)
    // Found by its status, not its place: a line of an earlier tunnel may still land after the count taken before.
    const line = await accessLineWhere({ access: connectLines }, (e) => e.status === 405, 'the 405\'s access line', { from: before, timeoutMs: 10_000 })
    expect(connectLines()).toHaveLength(before + 1)
    expect(line).toMatchObject({ mode: 'connect', method: 'CONNECT', status: 405, reason: 'method_not_allowed', caller: 'bot', error: `CONNECT api.partner.test:${h.upstream.port} is not served inside an intercepted tunnel: use GET, HEAD, POST, PUT, PATCH, DELETE or OPTIONS` })
    const m = await scrape(g.adminUrl)
    expect(valueOf(m, 'mtls_gateway_requests_total', { endpoint: '_none', method: 'CONNECT', status_class: '4xx' })).toBe(was + 1)
  })

  it('on the admin listener: one line of its own (it has no access log)', async () => {
    const { g } = h
    const before = g.lines.length
    const port = Number(new URL(g.adminUrl).port)
    const status = await new Promise<string>((resolve, reject) => {
      const s = tcpConnect(port, '127.0.0.1', () => s.write('CONNECT example.test:443 HTTP/1.1\r\nHost: example.test:443\r\n\r\n'))
      let got = ''
      s.on('data', (c: Buffer) => (got += c.toString()))
      s.once('close', () => resolve(got.split('\r\n')[0] ?? ''))
      s.once('error', reject)
    })
    expect(status).toMatch(/^HTTP\/1\.1 405 /)
    const mine = (): Record<string, unknown>[] => g.lines.slice(before).map((l) => JSON.parse(l) as Record<string, unknown>).filter((e) => e.listener === 'admin')
    await eventually(() => mine().length === 1, 10_000, 'the admin listener\'s line')
    expect(mine()[0]).toMatchObject({ level: 'info', msg: 'request refused', method: 'CONNECT', reason: 'method_not_allowed', error: 'CONNECT example.test:443 is not served here: use GET or HEAD' })
    expect(g.lines.slice(before).map((l) => JSON.parse(l) as Record<string, unknown>).filter((e) => e.msg === 'request')).toEqual([])
  })
})

describe('with --workers 2', () => {
  const run = h.workers()

  it('the same lines and samples: a pass-through tunnel at close, a 405 inside a tunnel', async () => {
    const { gp } = run
    const admin = await adminUrlOf(gp)
    const port = Number(new URL(gp.url).port)
    const token = await bearer()
    const { sent, received } = await tunnel(port, token, ['hello through two workers'])
    expect(await nested(port, token)).toMatch(/^HTTP\/1\.1 405 /)
    const lines = (): Record<string, unknown>[] => gp.logEntries().filter((e) => e.msg === 'request' && e.method === 'CONNECT')
    await eventually(() => lines().length === 2, 15_000, 'the two access lines')
    expect(lines().map((e) => [e.status, e.reason, e.caller]).sort()).toEqual([[200, undefined, 'bot'], [405, 'method_not_allowed', 'bot']])
    expect(lines().find((e) => e.status === 200)).toMatchObject({ passThrough: `127.0.0.1:${echoPort()}`, requestBytes: sent, responseBytes: received })
    const m = await scrape(admin)
    expect(valueOf(m, 'mtls_gateway_requests_total', { endpoint: '_none', method: 'CONNECT', status_class: '2xx' })).toBe(1)
    expect(valueOf(m, 'mtls_gateway_requests_total', { endpoint: '_none', method: 'CONNECT', status_class: '4xx' })).toBe(1)
  })
})
