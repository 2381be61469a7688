/**
 * HTTP-edge answers (review s24 fix-edge), one real gateway and one scripted mTLS backend that
 * writes exactly the bytes a test gives it, seen by a raw caller socket and by curl:
 * - a backend's 204 never reaches the caller with a Content-Length (RFC 9110 §8.6);
 * - an answer undici cannot step over (an unasked-for 100 Continue or 101) is a 502 naming it,
 *   and the request is not sent again as if a stale connection had closed under it;
 * - a backend's 407 is not relayed (a forward-proxy caller would take it for the gateway's own
 *   challenge), and no Proxy-* field of a relayed answer reaches the caller;
 * - OPTIONS with Max-Forwards: 0 is answered by the gateway, a higher count goes on one lower
 *   (RFC 9110 §7.6.2);
 * - a request asking to upgrade is answered as plain HTTP and its connection closes, so nothing
 *   pipelined behind it waits unanswered.
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningGateway } from '../../src/cli/gateway-root.js'
import { writeInterceptionCa } from '../../src/tls/index.js'
import { endpointYaml, startTestGateway } from '../support/gateway.js'
import { createTestPki } from '../support/pki.js'
import { parseRawResponse, rawClient } from '../support/raw-client.js'
import { closeScriptedRig, startScriptedBackend, type ScriptedBackend } from '../support/scripted-backend.js'
import { openTunnel } from '../support/tunnel.js'

const run = promisify(execFile)

let gw: RunningGateway
let backend: ScriptedBackend
let dir: string
let interceptionCa: { caCert: string; caKey: string }
/** What the backend writes for `GET /s/<key>`; any other request gets 200 with its own head as the body. */
const scripts = new Map<string, string>()
/** Request heads the backend read, in order. */
const heads: string[] = []

beforeAll(async () => {
  const pki = await createTestPki()
  backend = await startScriptedBackend(pki, (head) => {
    heads.push(head)
    const path = head.split(' ')[1] ?? '/'
    const script = path.startsWith('/s/') ? scripts.get(path.slice(3)) : undefined
    return script ?? `HTTP/1.1 200 OK\r\nContent-Length: ${Buffer.byteLength(head, 'latin1')}\r\n\r\n${head}`
  })
  const tls = { cert: pki.file('client.crt'), key: pki.file('client.key'), intermediates: pki.file('inter.crt'), roots: pki.file('root.crt') }
  dir = mkdtempSync(join(tmpdir(), 'edge-answers-'))
  interceptionCa = await writeInterceptionCa(join(dir, 'ica'))
  const interception = `interception: { caCert: ${interceptionCa.caCert}, caKey: ${interceptionCa.caKey} }\n`
  gw = await startTestGateway(dir, `admin: { enabled: false }\n${interception}endpoints:\n${endpointYaml('up', backend.port, tls)}`)
  pki.cleanup()
})

afterAll(() => closeScriptedRig({ gw, backend, dir }))

/** Writes `text` on a new caller connection; resolves with what came back once `done` says so, or the gateway closed (10 s at most). */
async function exchange(text: string, done: (received: string) => boolean): Promise<{ received: string; closed: boolean }> {
  const c = await rawClient(gw.port)
  c.socket.write(text)
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 10_000)
    const check = (): void => void ((c.socket.destroyed || done(c.received().toString('latin1'))) && (clearTimeout(timer), resolve()))
    c.socket.on('data', check)
    c.socket.on('close', check)
    check()
  })
  const closed = c.socket.destroyed
  c.socket.destroy()
  return { received: c.received().toString('latin1'), closed }
}

/** True once `received` holds one whole response (its Content-Length's worth of body). */
function oneAnswer(received: string): boolean {
  const end = received.indexOf('\r\n\r\n')
  if (end < 0) return false
  const length = Number(/\r\ncontent-length: *(\d+)/i.exec(received.slice(0, end))?.[1] ?? 0)
  return Buffer.byteLength(received, 'latin1') - end - 4 >= length
}

/** True once the backend's echo of `GET /proxy/up/end-marker` (sent last on the connection) arrived. */
const sawEndMarker = (received: string): boolean => received.includes('GET /end-marker ')

describe('a backend 204 with a Content-Length', () => {
  it('reaches the caller without it, whatever its value and spelling, and the connection serves on (fast-check, 10 runs)', async () => {
    let n = 0
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('Content-Length', 'content-length', 'CONTENT-LENGTH'), fc.integer({ min: 0, max: 1_000_000 }), async (name, length) => {
        const key = `no-content-${n++}`
        scripts.set(key, `HTTP/1.1 204 No Content\r\n${name}: ${length}\r\nX-Kept: yes\r\n\r\n`)
        const { received } = await exchange(`DELETE /proxy/up/s/${key} HTTP/1.1\r\nHost: gw\r\n\r\nGET /proxy/up/end-marker HTTP/1.1\r\nHost: gw\r\n\r\n`, sawEndMarker)
        const first = received.slice(0, received.indexOf('\r\n\r\n') + 4)
        expect(first, received).toMatch(/^HTTP\/1\.1 204 /)
        expect(first).toMatch(/\r\nx-kept: yes\r\n/i)
        expect(first).not.toMatch(/\r\ncontent-length:/i)
        expect(first).not.toMatch(/\r\ntransfer-encoding:/i)
        expect(received.slice(first.length)).toMatch(/^HTTP\/1\.1 200 /)
      }),
      { seed: 0x204, numRuns: 10 },
    )
  })

  it('a 304 keeps the Content-Length its representation has (RFC 9110 §8.6 allows it); curl reads both answers', async () => {
    scripts.set('not-modified', 'HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\nContent-Length: 42\r\n\r\n')
    scripts.set('no-content', 'HTTP/1.1 204 No Content\r\nContent-Length: 42\r\n\r\n')
    const { received } = await exchange(`GET /proxy/up/s/not-modified HTTP/1.1\r\nHost: gw\r\nIf-None-Match: "v1"\r\n\r\n`, (r) => r.includes('\r\n\r\n'))
    const r = parseRawResponse(Buffer.from(received, 'latin1'))
    expect(r.status).toBe(304)
    expect(r.headers['content-length']).toBe('42')
    const { stdout } = await run('curl', ['-sS', '-D', '-', '-o', '/dev/null', `${gw.url}/proxy/up/s/no-content`, '-o', '/dev/null', `${gw.url}/proxy/up/s/no-content`])
    expect(stdout.match(/^HTTP\/1\.1 204 /gm)).toHaveLength(2)
    expect(stdout).not.toMatch(/content-length/i)
  })
})

describe('interim answers the gateway never asked for', () => {
  it('a 100 Continue or a 101 without an upgrade: a 502 naming it, after another request on the connection too (curl and raw socket)', async () => {
    scripts.set('continue', 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok')
    scripts.set('switch', 'HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n')
    const cases = [
      ['continue', 'endpoint "up": the backend sent an unexpected 100 Continue (the gateway sends no Expect upstream, and its HTTP client cannot skip an unasked-for 100)'],
      ['switch', 'endpoint "up": the backend switched protocols (101) although the gateway asked for no upgrade'],
    ] as const
    for (const [key, msg] of cases) {
      const { received } = await exchange(`GET /proxy/up/warm HTTP/1.1\r\nHost: gw\r\n\r\nGET /proxy/up/s/${key} HTTP/1.1\r\nHost: gw\r\n\r\n`, (r) => r.includes('"code":502}]}'))
      const second = received.slice(received.indexOf('HTTP/1.1 ', 1))
      const r = parseRawResponse(Buffer.from(second, 'latin1'))
      expect(r.status, received).toBe(502)
      expect(JSON.parse(r.body.toString())).toEqual({ errors: [{ msg, code: 502 }] })
      const curl = await run('curl', ['-sS', '-w', '\n%{http_code}', `${gw.url}/proxy/up/s/${key}`])
      expect(curl.stdout).toBe(`${JSON.stringify({ errors: [{ msg, code: 502 }] })}\n502`)
    }
  })
})

describe("a backend's proxy challenge", () => {
  const proxyAuthMsg = 'endpoint "up": the backend answered 407 Proxy Authentication Required, a challenge to the gateway, which holds no credentials for a proxy there (a caller\'s are never sent upstream)'

  it('a 407 is a 502 naming it on every way in, never a 407 the caller would answer with its bearer (raw forward proxy, route mode, curl -x)', async () => {
    scripts.set('proxy-auth', 'HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="inner"\r\nContent-Length: 6\r\n\r\ndenied')
    const authority = `api.partner.test:${backend.port}`
    const { received } = await exchange(`GET http://${authority}/s/proxy-auth HTTP/1.1\r\nHost: ${authority}\r\n\r\nGET /proxy/up/s/proxy-auth HTTP/1.1\r\nHost: gw\r\n\r\n`, (r) => r.split('"code":502}]}').length > 2)
    const answers = received.split(/(?=HTTP\/1\.1 )/)
    expect(answers, received).toHaveLength(2)
    for (const a of answers) {
      const r = parseRawResponse(Buffer.from(a, 'latin1'))
      expect(r.status, a).toBe(502)
      expect(r.headers['proxy-authenticate']).toBeUndefined()
      expect(JSON.parse(r.body.toString())).toEqual({ errors: [{ msg: proxyAuthMsg, code: 502 }] })
    }
    const curl = await run('curl', ['-sS', '-x', gw.url, '-D', '-', `http://${authority}/s/proxy-auth`])
    expect(curl.stdout).toMatch(/^HTTP\/1\.1 502 /)
    expect(curl.stdout).not.toMatch(/proxy-authenticate|denied/i)
  })

  it("a relayed answer loses every Proxy-* field and keeps the backend's own WWW-Authenticate", async () => {
    scripts.set('both-challenges', 'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm="api"\r\nProxy-Authenticate: Basic realm="inner"\r\nProxy-Authentication-Info: x\r\nContent-Length: 2\r\n\r\nno')
    const { received } = await exchange(`GET /proxy/up/s/both-challenges HTTP/1.1\r\nHost: gw\r\n\r\n`, (r) => r.endsWith('no'))
    const r = parseRawResponse(Buffer.from(received, 'latin1'))
    expect(r.status).toBe(401)
    expect(r.headers['www-authenticate']).toBe('Bearer realm="api"')
    expect(Object.keys(r.headers).filter((h) => h.startsWith('proxy-'))).toEqual([])
  })
})

describe('OPTIONS with Max-Forwards', () => {
  const allow = 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS'
  let n = 0
  /** One OPTIONS (or `method`) request through the raw socket, route mode or forward proxy; the answer and what the backend read for it, if anything. */
  async function options(field: string, mode: 'route' | 'forward', method = 'OPTIONS'): Promise<{ status: number; headers: Record<string, string>; body: string; upstream: string | undefined }> {
    const path = `/mf/${n++}`
    const authority = `api.partner.test:${backend.port}`
    const line = mode === 'route' ? `${method} /proxy/up${path} HTTP/1.1\r\nHost: gw` : `${method} http://${authority}${path} HTTP/1.1\r\nHost: ${authority}`
    const { received } = await exchange(`${line}\r\n${field}\r\n\r\n`, oneAnswer)
    const r = parseRawResponse(Buffer.from(received, 'latin1'))
    return { status: r.status, headers: r.headers, body: r.body.toString('latin1'), upstream: heads.find((h) => h.startsWith(`${method} ${path} `)) }
  }

  it('0 is answered by the gateway (200, Allow, no body, nothing sent upstream); n goes upstream as n - 1, once, however spelled (fast-check, 25 runs)', async () => {
    const spelling = fc.record({
      name: fc.constantFrom('Max-Forwards', 'max-forwards', 'MAX-FORWARDS', 'mAx-fOrWaRdS'),
      count: fc.oneof(fc.constant(0n), fc.bigInt({ min: 0n, max: 5n }), fc.bigInt({ min: 0n, max: 10n ** 30n })),
      zeros: fc.nat(3),
      ows: fc.constantFrom('', ' ', '\t', ' \t '),
      mode: fc.constantFrom('route' as const, 'forward' as const),
    })
    await fc.assert(
      fc.asyncProperty(spelling, async ({ name, count, zeros, ows, mode }) => {
        const r = await options(`${name}:${ows}${'0'.repeat(zeros)}${count}${ows}`, mode)
        expect(r.status, r.body).toBe(200)
        if (count === 0n) {
          expect(r.upstream).toBeUndefined()
          expect(r.headers.allow).toBe(allow)
          expect(r.headers['content-length']).toBe('0')
          expect(r.body).toBe('')
        } else {
          expect(r.upstream?.match(/^max-forwards:.*$/gim), r.upstream).toEqual([`max-forwards: ${count - 1n}`])
        }
      }),
      { seed: 0x7602, numRuns: 25 },
    )
  })

  it('a value that is not a count is refused with 400 and not sent; other methods carry the field untouched', async () => {
    for (const value of ['-1', '1.5', 'abc', '0x1', '+1', '1, 2', '']) {
      const r = await options(`Max-Forwards: ${value}`, 'route')
      expect(r.status, value).toBe(400)
      expect(JSON.parse(r.body)).toEqual({ errors: [{ msg: 'Max-Forwards must be a number of hops (RFC 9110, section 7.6.2)', code: 400 }] })
      expect(r.upstream).toBeUndefined()
    }
    const get = await options('Max-Forwards: 0', 'route', 'GET')
    expect(get.upstream).toMatch(/\r\nmax-forwards: 0(\r\n|$)/i)
  })

  it('curl: OPTIONS with Max-Forwards: 0 through the forward proxy gets the Allow list; TRACE stays refused (405)', async () => {
    const authority = `api.partner.test:${backend.port}`
    const own = await run('curl', ['-sS', '-x', gw.url, '-X', 'OPTIONS', '-H', 'Max-Forwards: 0', '-D', '-', `http://${authority}/mf/curl`])
    expect(own.stdout).toMatch(/^HTTP\/1\.1 200 /)
    expect(own.stdout).toMatch(new RegExp(`\r\nallow: ${allow}\r\n`, 'i'))
    const trace = await run('curl', ['-sS', '-x', gw.url, '-X', 'TRACE', '-H', 'Max-Forwards: 0', '-o', '/dev/null', '-w', '%{http_code}', `http://${authority}/mf/curl`])
    expect(trace.stdout).toBe('405')
    expect(heads.some((h) => h.includes('/mf/curl'))).toBe(false)
  })
})

describe('a request asking to upgrade (WebSocket, h2c), requests pipelined behind it', () => {
  const upgrades = {
    websocket: 'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13',
    h2c: 'Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__',
    'upgrade without Connection': 'Upgrade: websocket',
  }

  it('the upgrade is declined (plain HTTP upstream, no Upgrade), answered with Connection: close, and the connection closes at once (raw socket, route and forward proxy)', async () => {
    const authority = `api.partner.test:${backend.port}`
    for (const [kind, fields] of Object.entries(upgrades)) {
      for (const mode of ['route', 'forward'] as const) {
        const first = mode === 'route' ? `GET /proxy/up/up-${kind.length}-${mode} HTTP/1.1\r\nHost: gw` : `GET http://${authority}/up-${kind.length}-${mode} HTTP/1.1\r\nHost: ${authority}`
        const { received, closed } = await exchange(`${first}\r\n${fields}\r\n\r\nGET /proxy/up/end-marker HTTP/1.1\r\nHost: gw\r\n\r\n`, () => false)
        const r = parseRawResponse(Buffer.from(received, 'latin1'))
        expect(r.status, `${kind} ${mode}: ${received}`).toBe(200)
        expect(r.headers.connection).toBe('close')
        expect(r.body.toString('latin1')).not.toMatch(/^upgrade:/im)
        // Closed by the gateway (exchange gives up after 10 s; the keep-alive limit is 75 s).
        expect(closed, `${kind} ${mode}`).toBe(true)
        // What followed was either answered or never read; here, never read.
        expect(received.split('HTTP/1.1 200 ').length - 1).toBeLessThanOrEqual(2)
      }
    }
  })

  it('inside an intercepted CONNECT tunnel: answered with Connection: close, and the tunnel closes', async () => {
    const authority = `api.partner.test:${backend.port}`
    const tunnel = await openTunnel({ gatewayPort: gw.port, authority, ca: readFileSync(interceptionCa.caCert) })
    let received = ''
    tunnel.on('data', (d: Buffer) => void (received += d.toString('latin1')))
    const closed = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 10_000)
      tunnel.once('close', () => resolve(true)).once('close', () => clearTimeout(timer))
    })
    tunnel.write(`GET /up-tunnel HTTP/1.1\r\nHost: ${authority}\r\n${upgrades.websocket}\r\n\r\nGET /end-marker HTTP/1.1\r\nHost: ${authority}\r\n\r\n`)
    expect(await closed, received).toBe(true)
    tunnel.destroy()
    const r = parseRawResponse(Buffer.from(received, 'latin1'))
    expect(r.status, received).toBe(200)
    expect(r.headers.connection).toBe('close')
  })

  it('curl, asking for a WebSocket then a second URL, gets both answers (the second on a new connection)', async () => {
    const { stdout } = await run('curl', ['-sS', '-H', 'Connection: Upgrade', '-H', 'Upgrade: websocket', '-o', '/dev/null', '-w', '%{http_code} %{num_connects}\n', `${gw.url}/proxy/up/ws-curl`, '-o', '/dev/null', `${gw.url}/proxy/up/ws-curl-2`])
    expect(stdout).toBe('200 1\n200 1\n')
  })
})

describe('an unasked-for 100 Continue on a reused upstream connection', () => {
  it('is not taken for a closed stale connection: the request goes upstream once (idempotent GET and POST with Idempotency-Key, curl)', async () => {
    const msg = 'endpoint "up": the backend sent an unexpected 100 Continue (the gateway sends no Expect upstream, and its HTTP client cannot skip an unasked-for 100)'
    for (const [i, method] of ['GET', 'GET', 'POST', 'DELETE'].entries()) {
      const key = `continue-reused-${i}`
      scripts.set(key, 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok')
      // A call answered just before leaves an idle pooled connection: the next call reuses it.
      await exchange('GET /proxy/up/warm HTTP/1.1\r\nHost: gw\r\n\r\n', (r) => r.includes('GET /warm '))
      const curl = await run('curl', ['-sS', '-X', method, '-H', 'Idempotency-Key: k1', '-w', '\n%{http_code}', `${gw.url}/proxy/up/s/${key}`])
      expect(curl.stdout).toBe(`${JSON.stringify({ errors: [{ msg, code: 502 }] })}\n502`)
      expect(heads.filter((h) => h.startsWith(`${method} /s/${key} `)), method).toHaveLength(1)
    }
  })
})
