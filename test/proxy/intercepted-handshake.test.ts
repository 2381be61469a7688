/**
 * An intercepted CONNECT whose caller never completes its TLS handshake inside the tunnel has
 * no inner request, so the tunnel itself is one access line and one requests_total sample
 * (endpoint "_none", like a refused CONNECT), naming the host and why: the real curl without the
 * interception CA (400, tls_handshake_failed: TLS alert unknown_ca), curl speaking plain HTTP
 * into the tunnel (400, ERR_SSL_HTTP_REQUEST), openssl s_client waiting for a banner that never
 * comes, or a caller stopping mid-ClientHello (408, tls_handshake_timeout, after
 * listen.timeouts.tlsHandshake), a caller closing mid-handshake (499, tls_handshake_aborted).
 * A tunnel whose handshake succeeds gets no such line; whatever bytes a caller sends instead
 * of a ClientHello, exactly one line, never echoing them. The same with `--workers 2`.
 */
import { execFile, spawn } from 'node:child_process'
import { connect as tcpConnect, type Socket } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { clientTls } from '../support/pki.js'
import { endpointYaml } from '../support/gateway.js'
import { adminUrlOf } from '../support/process.js'
import { eventually, scrape, valueOf } from '../ops/helpers.js'
import { BOT_APP, callerBearer as bearer, useInterceptionGateway } from '../ops/interception-gateway.js'

const run = promisify(execFile)
const ANSWER = 'HTTP/1.1 200 Connection Established\r\n\r\n'

const authority = (): string => `api.partner.test:${h.upstream.port}`
// Each failed handshake's own line is asserted, many in a few seconds: the cap on such lines
// (logging.callerFaults, test/ops/caller-fault-lines.test.ts) is off here.
const yaml = (dir: string): string =>
  `logging: { callerFaults: { interval: 0 } }\nlisten:\n  host: 127.0.0.1\n  port: 0\n  timeouts: { tlsHandshake: 1s }\nadmin: { host: 127.0.0.1, port: 0 }\nstore: { kind: sqlite, file: ${join(dir, 'store.db')} }\n` +
  `callers:\n  required: false\n  apps:\n${BOT_APP}` +
  `interception:\n  caCert: ${h.ca.caCert}\n  caKey: ${h.ca.caKey}\n` +
  `endpoints:\n${endpointYaml('partner', h.upstream.port, clientTls(h.pki))}`
const h = useInterceptionGateway({ yaml })

/** curl through the gateway; its failure is expected here, so only its output is kept. */
async function curl(gatewayUrl: string, args: string[]): Promise<string> {
  const r = await run('curl', ['-sS', '-x', gatewayUrl, ...args], { timeout: 60_000 }).catch((e: { stdout: string; stderr: string }) => e)
  return r.stdout + r.stderr
}

/** A raw CONNECT whose answer has been read: the socket is then inside the intercepted tunnel. */
async function tunnel(port: number): Promise<Socket> {
  const s = tcpConnect(port, '127.0.0.1')
  s.on('error', () => undefined)
  await new Promise<void>((resolve) => s.once('connect', () => resolve()))
  s.write(`CONNECT ${authority()} HTTP/1.1\r\nHost: ${authority()}\r\n\r\n`)
  const head = await new Promise<string>((resolve) => s.once('data', (c: Buffer) => resolve(c.toString('latin1'))))
  expect(head).toBe(ANSWER)
  return s
}

/** The first bytes of a TLS ClientHello record: a caller that stops here is mid-handshake. */
const PARTIAL_HELLO = Buffer.from([0x16, 0x03, 0x01, 0x00, 0xc8, 0x01, 0x00, 0x00, 0xc4, 0x03, 0x03])

const connectLines = (): Record<string, unknown>[] => h.g.access().filter((e) => e.method === 'CONNECT')
const failed = (what: string): string => `CONNECT ${authority()}: tls_handshake_failed: ${what}`
const TIMED_OUT = (): string => `CONNECT ${authority()}: tls_handshake_timeout: the caller did not complete its TLS handshake within 1 s (listen.timeouts.tlsHandshake)`

/** The one CONNECT line written after `before` lines. */
async function nextLine(before: number): Promise<Record<string, unknown>> {
  // Polled often: the property below waits for a thousand of these.
  for (const end = Date.now() + 15_000; connectLines().length < before + 1;) {
    if (Date.now() > end) throw new Error('timed out after 15000 ms waiting for the CONNECT access line')
    await new Promise((r) => setTimeout(r, 5))
  }
  const lines = connectLines().slice(before)
  expect(lines).toHaveLength(1)
  return lines[0] as Record<string, unknown>
}

describe('an intercepted tunnel whose caller fails its TLS handshake is one access line', () => {
  it('the real curl without the interception CA: 400, TLS alert unknown_ca, its caller; one 4xx sample', async () => {
    const { g } = h
    const token = await bearer()
    const m0 = await scrape(g.adminUrl)
    const before = connectLines().length
    const out = await curl(g.gw.url, ['--proxy-header', `Proxy-Authorization: Bearer ${token}`, `https://${authority()}/x`])
    expect(out).toMatch(/certificate/i)
    const line = await nextLine(before)
    expect(line).toMatchObject({ level: 'info', mode: 'connect', method: 'CONNECT', status: 400, reason: 'bad_request', caller: 'bot', error: failed('TLS alert unknown_ca from the caller: the caller does not trust the interception CA') })
    expect(line).not.toHaveProperty('endpoint')
    expect(line).not.toHaveProperty('passThrough')
    expect(JSON.stringify(line)).not.toContain(token)
    const m = await scrape(g.adminUrl)
    const was = (name: string, labels: Record<string, string>): number => valueOf(m0, name, labels) ?? 0
    expect(valueOf(m, 'mtls_gateway_requests_total', { endpoint: '_none', method: 'CONNECT', status_class: '4xx' })).toBe(was('mtls_gateway_requests_total', { endpoint: '_none', method: 'CONNECT', status_class: '4xx' }) + 1)
    expect(valueOf(m, 'mtls_gateway_connect_tunnels_total', { kind: 'intercepted' })).toBe(was('mtls_gateway_connect_tunnels_total', { kind: 'intercepted' }) + 1)
  })

  it('curl speaking plain HTTP into the tunnel (--proxytunnel, http://): 400, ERR_SSL_HTTP_REQUEST', async () => {
    const { g } = h
    const before = connectLines().length
    await curl(g.gw.url, ['--proxytunnel', `http://${authority()}/x`])
    expect(await nextLine(before)).toMatchObject({ status: 400, reason: 'bad_request', error: failed('the caller sent plain HTTP into the tunnel, not TLS (ERR_SSL_HTTP_REQUEST)') })
  })

  it('openssl s_client waiting for an SMTP banner instead of starting its handshake: 408 after listen.timeouts.tlsHandshake, counted', async () => {
    const { g } = h
    const before = connectLines().length
    const m0 = await scrape(g.adminUrl)
    const client = spawn('openssl', ['s_client', '-proxy', `127.0.0.1:${g.gw.port}`, '-connect', authority(), '-starttls', 'smtp'], { stdio: ['pipe', 'ignore', 'ignore'] })
    const exited = new Promise((r) => client.once('exit', r))
    try {
      expect(await nextLine(before)).toMatchObject({ status: 408, reason: 'request_timeout', error: TIMED_OUT() })
    } finally {
      client.kill()
      await exited
    }
    const m = await scrape(g.adminUrl)
    const labels = { listener: 'tunnel', reason: 'tls_handshake' }
    expect(valueOf(m, 'mtls_gateway_client_timeouts_total', labels)).toBe((valueOf(m0, 'mtls_gateway_client_timeouts_total', labels) ?? 0) + 1)
  })

  it('a caller that stops in the middle of its ClientHello: 408; one that closes there: 499, tls_handshake_aborted', async () => {
    const { g } = h
    let before = connectLines().length
    const silent = await tunnel(g.gw.port)
    silent.write(PARTIAL_HELLO)
    expect(await nextLine(before)).toMatchObject({ status: 408, reason: 'request_timeout', error: TIMED_OUT() })
    silent.destroy()
    const aborted = { status: 499, reason: 'caller_aborted', error: `CONNECT ${authority()}: tls_handshake_aborted: the caller closed the tunnel before completing its TLS handshake` }
    before = connectLines().length
    const leaving = await tunnel(g.gw.port)
    leaving.end(PARTIAL_HELLO)
    expect(await nextLine(before)).toMatchObject(aborted)
    // A reset (RST) instead of a FIN: the same.
    before = connectLines().length
    const resetting = await tunnel(g.gw.port)
    resetting.write(PARTIAL_HELLO, () => resetting.resetAndDestroy())
    expect(await nextLine(before)).toMatchObject(aborted)
  })

  it('a tunnel the gateway closes itself mid-handshake (what a drain does) has no line, not even once its limit would have passed', async () => {
    const { g } = h
    const before = connectLines().length
    const s = await tunnel(g.gw.port)
    s.write(PARTIAL_HELLO)
    const closed = new Promise((r) => s.once('close', r))
    // What the drain calls: closes every connection with no request in progress, tunnels included.
    g.gw.server.closeIdleConnections()
    await closed
    // Past the 1 s handshake limit, whose timer would have reported the tunnel had it been left running.
    const until = Date.now() + 3000
    await eventually(() => Date.now() > until, 10_000, 'the handshake limit to pass')
    expect(connectLines()).toHaveLength(before)
  })

  it('a tunnel whose handshake succeeds has no such line: only its inner request\'s', async () => {
    const { g } = h
    const before = connectLines().length
    const all = g.access().length
    const out = await curl(g.gw.url, ['--cacert', h.ca.caCert, `https://${authority()}/inner`])
    expect(out).toContain('/inner')
    await eventually(() => g.access().length > all, 15_000, 'the inner request\'s line')
    expect(g.access().slice(all)).toEqual([expect.objectContaining({ mode: 'connect', method: 'GET', status: 200, endpoint: 'partner' })])
    // A tunnel closed right after its handshake, without a request: the gateway has seen the
    // caller's FIN (and would have reported it) before the caller sees the gateway's.
    const raw = await tunnel(g.gw.port)
    const tls = tlsConnect({ socket: raw, servername: 'api.partner.test', ca: readFileSync(h.ca.caCert, 'utf8') })
    await new Promise<void>((resolve, reject) => tls.once('secureConnect', () => resolve()).once('error', reject))
    const closed = new Promise((r) => tls.once('close', r))
    tls.end()
    await closed
    expect(connectLines()).toHaveLength(before)
  })

  it('whatever bytes a caller sends instead of a ClientHello, then closing: exactly one line, 400 or 499, never echoing them (seeded property)', async () => {
    const { g } = h
    const reason = new RegExp(`^CONNECT ${authority().replace(/\./g, '\\.')}: tls_handshake_(failed: (TLS alert [a-z_]+ from the caller(: [a-z ;?,]+)?|the caller [a-zA-Z ,()_]+|ERR_SSL_[A-Z0-9_]+)|aborted: the caller closed the tunnel before completing its TLS handshake)$`)
    const marker = fc.string({ minLength: 6, maxLength: 12, unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz') }).map((s) => `zq${s}`)
    const bytes = fc.oneof(
      fc.uint8Array({ minLength: 1, maxLength: 600 }).map((b) => Buffer.from(b)),
      // A TLS record header (handshake, alert, application data) with an arbitrary body.
      fc.tuple(fc.constantFrom(0x14, 0x15, 0x16, 0x17), fc.constantFrom(0x00, 0x01, 0x03), fc.uint8Array({ maxLength: 300 })).map(([t, v, b]) => Buffer.concat([Buffer.from([t, 0x03, v, b.length >> 8, b.length & 0xff]), b])),
    )
    let runs = 0
    const start = connectLines().length
    await fc.assert(
      fc.asyncProperty(bytes, marker, async (b, mark) => {
        const before = connectLines().length
        const s = await tunnel(g.gw.port)
        s.end(Buffer.concat([b, Buffer.from(mark)]))
        const line = await nextLine(before)
        expect([400, 499]).toContain(line.status)
        expect(String(line.error)).toMatch(reason)
        expect(JSON.stringify(line)).not.toContain(mark)
        s.destroy()
        runs++
      }),
      { seed: 1907, numRuns: 1000 },
    )
    expect(runs).toBe(1000)
    // No tunnel reported twice, even late.
    expect(connectLines()).toHaveLength(start + runs)
  }, 300_000)
})

describe('with --workers 2', () => {
  const run = h.workers()

  it('the same lines and samples from whichever worker held the tunnel', async () => {
    const { gp } = run
    const admin = await adminUrlOf(gp)
    const token = await bearer()
    await curl(gp.url, ['--proxy-header', `Proxy-Authorization: Bearer ${token}`, `https://${authority()}/x`])
    await curl(gp.url, ['--proxytunnel', `http://${authority()}/x`])
    const lines = (): Record<string, unknown>[] => gp.logEntries().filter((e) => e.msg === 'request' && e.method === 'CONNECT')
    await eventually(() => lines().length === 2, 15_000, 'the two access lines')
    expect(lines().map((e) => e.error).sort()).toEqual([failed('TLS alert unknown_ca from the caller: the caller does not trust the interception CA'), failed('the caller sent plain HTTP into the tunnel, not TLS (ERR_SSL_HTTP_REQUEST)')])
    await eventually(async () => valueOf(await scrape(admin), 'mtls_gateway_requests_total', { endpoint: '_none', method: 'CONNECT', status_class: '4xx' }) === 2, 15_000, 'two 4xx CONNECT samples')
  })
})
