/**
 * Every TLS the gateway terminates refuses a client's renegotiation (TLS 1.2): the proxy
 * listener, the admin listener and an intercepted CONNECT's inner TLS. A renegotiation would let
 * a caller present another certificate on a connection whose requireClientCert verdict and
 * caller identity were judged on the first handshake (rev-reqcert: Node lets a client
 * renegotiate, and the connection went on serving). Real gateway process, real TLS clients
 * (Node's TLSSocket.renegotiate(), and openssl s_client's `R` command).
 */
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls'
import { describe, expect, it } from 'vitest'
import { exchange } from '../support/exchange.js'
import { eventually, replaceFile } from '../ops/helpers.js'
import { closesWithin, gatewayFixture, spawnOn } from './reload-client-cert-support.js'

const f = gatewayFixture([], 90_000)

const host = (): string => `api.partner.test:${f.s.upstream.port}`
const routed = (path: string): string => `GET /proxy/partner${path} HTTP/1.1\r\nHost: gateway\r\n\r\n`
const inner = (path: string): string => `GET ${path} HTTP/1.1\r\nHost: ${host()}\r\n\r\n`
const scrape = `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`

/** TLS 1.2 (the version with renegotiation) with the old CA's caller certificate, to a listener or inside a tunnel. */
function tls12(o: ConnectionOptions): Promise<TLSSocket> {
  return new Promise<TLSSocket>((resolve, reject) => {
    const c = tlsConnect({ maxVersion: 'TLSv1.2', ...o }, () => resolve(c))
    c.once('error', reject)
  })
}

function toListener(port: number): Promise<TLSSocket> {
  return tls12({ host: '127.0.0.1', port, servername: 'localhost', ca: readFileSync(f.s.old.file('root.crt')), cert: readFileSync(f.s.oldCaller.cert), key: readFileSync(f.s.oldCaller.key) })
}

/** The client asks for a new handshake: 'renegotiated', or the error that ended it. */
function renegotiate(c: TLSSocket): Promise<string> {
  return new Promise((resolve) => {
    c.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message))
    c.once('close', () => resolve('closed'))
    const asked = c.renegotiate({ rejectUnauthorized: true }, (e) => resolve(e ? ((e as NodeJS.ErrnoException).code ?? e.message) : 'renegotiated'))
    if (!asked) resolve('not asked')
  })
}

/** Served once on TLS 1.2; the renegotiation fails, and the connection serves nothing more: it is closed, without a byte. */
async function expectRenegotiationRefused(c: TLSSocket, request: string): Promise<void> {
  expect(c.getProtocol()).toBe('TLSv1.2')
  expect((await exchange(c, request)).status).toBe(200)
  expect(await renegotiate(c)).toBe('ERR_SSL_NO_RENEGOTIATION')
  // Written after the refusal: never answered.
  if (c.writable) c.write(request)
  expect(await closesWithin(c, 10_000)).toEqual({ closed: true, bytes: 0 })
}

describe('client-initiated TLS renegotiation', () => {
  it('is refused on the proxy listener; the connection closes and a new one is served', async () => {
    await expectRenegotiationRefused(await toListener(f.port), routed('/first'))
    const fresh = await toListener(f.port)
    expect((await exchange(fresh, routed('/after'))).status).toBe(200)
    fresh.destroy()
  })

  it('is refused on the admin listener', async () => {
    await expectRenegotiationRefused(await toListener(f.adminPort), scrape)
  })

  it("is refused on an intercepted CONNECT's inner TLS", async () => {
    const outer = await toListener(f.port)
    const connect = await exchange(outer, `CONNECT ${host()} HTTP/1.1\r\nHost: ${host()}\r\n\r\n`)
    expect(connect.status, connect.body).toBe(200)
    const tunnel = await tls12({ socket: outer, servername: 'api.partner.test', ca: readFileSync(f.s.ica.caCert) })
    await expectRenegotiationRefused(tunnel, inner('/in-tunnel'))
    outer.destroy()
  })

  it('is refused the same with --workers 2 (each worker, the primary\'s admin listener) and after a reload that installed new listener contexts', async () => {
    const { gp, port, adminPort } = await spawnOn(f.s, true, ['--workers', '2'])
    try {
      // A client CA bundle trusting both CAs: a new caller trust, so every listener gets a new secure context (setSecureContext).
      const from = gp.output.length
      replaceFile(f.s.clientCa, readFileSync(f.s.old.file('root.crt'), 'utf8') + readFileSync(f.s.next.file('root.crt'), 'utf8'))
      gp.child.kill('SIGHUP')
      await eventually(() => gp.logEntries(from).some((e) => e.msg === 'reload accepted by every worker'), 60_000, 'the reload')
      // Several connections, so both workers take some.
      for (let i = 0; i < 4; i++) await expectRenegotiationRefused(await toListener(port), routed(`/workers-${i}`))
      await expectRenegotiationRefused(await toListener(adminPort), scrape)
    } finally {
      await gp.stop('SIGKILL')
      replaceFile(f.s.clientCa, readFileSync(f.s.old.file('root.crt'), 'utf8'))
    }
  }, 180_000)

  it("is refused to openssl s_client's R command (TLS 1.2, client certificate)", async () => {
    const args = ['s_client', '-tls1_2', '-connect', `127.0.0.1:${f.port}`, '-servername', 'localhost', '-CAfile', f.s.old.file('root.crt'), '-cert', f.s.oldCaller.cert, '-cert_chain', f.s.oldCaller.cert, '-key', f.s.oldCaller.key, '-crlf']
    const child = spawn('openssl', args, { stdio: ['pipe', 'pipe', 'pipe'] })
    child.stdin.on('error', () => {})
    let out = ''
    child.stdout.on('data', (b: Buffer) => void (out += b.toString()))
    child.stderr.on('data', (b: Buffer) => void (out += b.toString()))
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
    const waitFor = async (text: string, from: number): Promise<void> => {
      for (let i = 0; i < 400 && !out.includes(text, from); i++) await new Promise((r) => setTimeout(r, 50))
      expect(out.slice(from), `s_client output: ${out.slice(-1500)}`).toContain(text)
    }
    child.stdin.write('GET /proxy/partner/one HTTP/1.1\nHost: gateway\n\n')
    await waitFor('HTTP/1.1 200', 0)
    const before = out.length
    child.stdin.write('R\n')
    await waitFor('RENEGOTIATING', before)
    child.stdin.write('GET /proxy/partner/two HTTP/1.1\nHost: gateway\n\n')
    // Refused: s_client fails and exits. Renegotiated (before the fix): it stays connected and gets the second answer.
    const ended = await Promise.race([exited, new Promise<'still connected'>((r) => setTimeout(() => r('still connected'), 15_000))])
    if (ended === 'still connected') child.kill()
    expect(ended, out.slice(before)).not.toBe('still connected')
    expect(ended).not.toBe(0)
    expect(out.slice(before)).toMatch(/no renegotiation/i)
    expect(out.slice(before)).not.toContain('HTTP/1.1 200')
  })
})
