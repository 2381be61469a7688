/**
 * The path rules of docs/paths.md, one example per form, through the three ways in of the
 * real gateway. Every refusal is a 400 JSON error naming the problem; what passes arrives
 * at the endpoint's origin with its path as sent (never rewritten); and neither a canary
 * listener nor another endpoint's server ever sees a connection.
 */
import { readFileSync } from 'node:fs'
import { createServer as createTcpServer, type Server as TcpServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { request as httpRequest } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningGateway } from '../../src/cli/gateway-root.js'
import { writeInterceptionCa } from '../../src/tls/index.js'
import { send, startTestGateway, type Reply } from '../support/gateway.js'
import { clientTlsYaml, createTestPki, type TestPki } from '../support/pki.js'
import { startMtlsServer, type EchoReply, type RunningServer } from '../support/tls-server.js'
import { openTunnel, rawExchange, TunnelAgent } from '../support/tunnel.js'
import { rawClient } from '../support/raw-client.js'
import { eventually } from '../ops/helpers.js'

let pki: TestPki
let upstream: RunningServer
let other: RunningServer
let canary: TcpServer
let canaryHits = 0
let gw: RunningGateway
let ca: Buffer
let P = 0 // the partner upstream's port
let C = 0 // the canary's port
let O = 0 // the other endpoint's port

beforeAll(async () => {
  pki = await createTestPki('p256', ['api.partner.test', 'other.partner.test', 'scoped.partner.test'])
  const serverFiles = { cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt') }
  upstream = await startMtlsServer(serverFiles)
  other = await startMtlsServer(serverFiles)
  canary = createTcpServer((s) => {
    canaryHits++
    s.destroy()
  })
  await new Promise<void>((r) => canary.listen(0, '127.0.0.1', r))
  ;[P, C, O] = [upstream.port, (canary.address() as AddressInfo).port, other.port]
  const ica = await writeInterceptionCa(join(pki.dir, 'ica'))
  ca = readFileSync(ica.caCert)
  const tls = `    tls: ${clientTlsYaml(pki)}\n`
  const ep = (name: string, url: string, extra = ''): string => `  - name: ${name}\n    url: ${url}\n    resolve: 127.0.0.1\n    allowPrivate: true\n${extra}${tls}`
  gw = await startTestGateway(pki.dir, `admin: { enabled: false }
interception: { caCert: ${ica.caCert}, caKey: ${ica.caKey} }
endpoints:
${ep('partner', `https://api.partner.test:${P}/base`)}${ep('tenanted', `https://api.partner.test:${P}/t/{tenant}/v1`)}${ep('scoped', `https://scoped.partner.test:${P}`, '    pathPrefix: /only\n')}${ep('other', `https://other.partner.test:${O}`)}`)
})

afterAll(async () => {
  await gw?.close()
  await upstream?.close()
  await other?.close()
  await new Promise((r) => canary?.close(r))
  pki?.cleanup()
})

function expectRefused(r: Reply, status: number, msg: RegExp): void {
  expect(r.status, r.text).toBe(status)
  expect(r.headers['content-type']).toMatch(/^application\/json/)
  expect(Number(r.headers['content-length'])).toBe(Buffer.byteLength(r.text))
  expect(r.json()).toEqual({ errors: [{ msg: expect.stringMatching(msg), code: status }] })
}

function arrivedAs(r: Reply): string {
  expect(r.status, r.text).toBe(200)
  return r.json<EchoReply>().url
}

const forward = (target: string): Promise<Reply> => send(gw.url, target)
const port = (): number => Number(new URL(gw.url).port)

describe('absolute-form (forward proxy)', () => {
  it('a path starting with // is refused, and the authority it names is never dialled', async () => {
    expectRefused(await forward(`http://api.partner.test:${P}//127.0.0.1:${C}/x`), 400, /empty path segment/)
    // …nor does it move the call to another configured endpoint's host.
    expectRefused(await forward(`http://api.partner.test:${P}//other.partner.test:${O}/x`), 400, /empty path segment/)
  })

  it('dot-segments in every encoding and case are refused with path_escapes_base, never normalised', async () => {
    for (const p of ['/a/../x', '/a/./x', '/%2e%2e/x', '/%2E%2e/x', '/.%2E/x', '/..;/x', '/a/..%2fx', '/a/..%5Cx', '/%252e%252e/x', '/a/..']) {
      expectRefused(await forward(`http://api.partner.test:${P}${p}`), 400, /dot-segment/)
    }
  })

  it('%2F and %5C travel unchanged; a raw backslash, %00, a fragment, bad percent-encoding are refused', async () => {
    expect(arrivedAs(await forward(`http://api.partner.test:${P}/a%2Fb/c%5Cd?q=%2F`))).toBe('/a%2Fb/c%5Cd?q=%2F')
    expectRefused(await forward(`http://api.partner.test:${P}/a\\b`), 400, /backslash/)
    expectRefused(await forward(`http://api.partner.test:${P}/a%00b`), 400, /control character/)
    expectRefused(await forward(`http://api.partner.test:${P}/a#frag`), 400, /fragment/)
    expectRefused(await forward(`http://api.partner.test:${P}/a%zz`), 400, /percent-encoding/)
  })

  // RFC 3986 has no place for these characters in a URI: the URL the request is built from spells
  // them percent-encoded (their only valid form), and everything else of path and query is kept.
  it('"<>{}`^ in the path and "<>\' in the query arrive percent-encoded; everything else as sent', async () => {
    expect(arrivedAs(await forward(`http://api.partner.test:${P}/a"b<c>d{e}f\`g^h|i[j]k;l=m@n:o!p$q&r\'s(t)u*v+w,x~y%7Bz?q="<>\'{}\`^|[]%22`))).toBe(
      '/a%22b%3Cc%3Ed%7Be%7Df%60g%5Eh|i[j]k;l=m@n:o!p$q&r\'s(t)u*v+w,x~y%7Bz?q=%22%3C%3E%27{}`^|[]%22',
    )
    expect(arrivedAs(await send(gw.url, '/proxy/partner/x{y}?a={b}'))).toBe('/base/x%7By%7D?a={b}')
  })

  it('userinfo is refused (RFC 9110 §4.2.4), also when it names another host', async () => {
    expectRefused(await forward(`http://user:pw@api.partner.test:${P}/x`), 400, /userinfo/)
    expectRefused(await forward(`http://api.partner.test:${P}@127.0.0.1:${C}/x`), 400, /userinfo/)
  })

  it('targets that do not parse are 400 naming the problem, never 500', async () => {
    expectRefused(await forward('http://[::1/x'), 400, /not host\[:port\]/)
    expectRefused(await forward('http://api.partner.test:99999/x'), 400, /port "99999"/)
    expectRefused(await forward('http:///x'), 400, /not host\[:port\]/)
    expectRefused(await forward('http://a_b..c/x'), 400, /not a valid host name/)
  })

  it('no path means "/"; the path is the path on the origin (the endpoint URL path is for route mode)', async () => {
    expect(arrivedAs(await forward(`http://api.partner.test:${P}`))).toBe('/')
    expect(arrivedAs(await forward(`http://api.partner.test:${P}/v1/x?a=1`))).toBe('/v1/x?a=1')
  })

  it('pathPrefix is matched on segment boundaries of the raw path', async () => {
    expect(arrivedAs(await forward(`http://scoped.partner.test:${P}/only/x`))).toBe('/only/x')
    expectRefused(await forward(`http://scoped.partner.test:${P}/onlyx`), 403, /not configured/)
    expectRefused(await forward(`http://scoped.partner.test:${P}/only/../x`), 400, /dot-segment/)
  })
})

describe('route mode', () => {
  it('the path stays under the base path and the tenant segment', async () => {
    expect(arrivedAs(await send(gw.url, '/proxy/partner/x?y=1'))).toBe('/base/x?y=1')
    expect(arrivedAs(await send(gw.url, '/proxy/tenanted@acme/x'))).toBe('/t/acme/v1/x')
    expectRefused(await send(gw.url, '/proxy/partner/../x'), 400, /dot-segment/)
    expectRefused(await send(gw.url, '/proxy/tenanted@acme/../globex/x'), 400, /dot-segment/)
    expectRefused(await send(gw.url, '/proxy/tenanted@acme/..%2F..%2Fglobex/x'), 400, /dot-segment/)
    // Decoded, ".." then "?", "#" or a trailing space: a backend that parses the decoded path again ends it after the "..".
    for (const after of ['%3Fx', '%23x', '%20', '%253F']) expectRefused(await send(gw.url, `/proxy/tenanted@acme/..${after}`), 400, /dot-segment/)
    expectRefused(await send(gw.url, '/proxy/tenanted@acme%2F../x'), 400, /DNS label/)
    expectRefused(await send(gw.url, '/proxy/partner..'), 400, /must start with "\/"/)
    expectRefused(await send(gw.url, '/proxy/partner//127.0.0.1/x'), 400, /empty path segment/)
  })

  it('characters a Unicode-normalising backend (NFKC) reads as "." or "/" are refused naming the code point; other Unicode arrives as sent', async () => {
    const FOLDS = /which a backend that normalises Unicode \(NFKC, and slash look-alikes such as U\+2215\) reads as/
    // Fullwidth and small full stops, one and two dot leaders: NFKC makes them ".", "..".
    for (const [dots, cp] of [['%EF%BC%8E%EF%BC%8E', 'FF0E'], ['%E2%80%A4%E2%80%A4', '2024'], ['%E2%80%A5', '2025'], ['%EF%B9%92.', 'FE52'], ['%25EF%25BC%258E%25EF%25BC%258E', 'FF0E']] as const) {
      for (const target of [`/proxy/tenanted@acme/${dots}/globex/x`, `/proxy/partner/a/${dots}`]) {
        const r = await send(gw.url, target)
        expectRefused(r, 400, new RegExp(`^the request path holds U\\+${cp} \\(in some encoding\\), ${FOLDS.source} its ASCII look-alike: it would see a dot-segment`))
      }
    }
    // Fullwidth and small solidi, the division slash (a look-alike NFKC keeps): a separator nobody wrote as one.
    for (const [slash, cp] of [['%EF%BC%8F', 'FF0F'], ['%EF%BC%BC', 'FF3C'], ['%EF%B9%A8', 'FE68'], ['%E2%88%95', '2215'], ['%E2%81%84', '2044']] as const) {
      expectRefused(await send(gw.url, `/proxy/partner/a${slash}b`), 400, new RegExp(`^the request path holds U\\+${cp} .*${FOLDS.source} "/" or "\\\\": it would split the segment there`))
    }
    // Both at once, and a fullwidth "%2e" (NFKC "%2e", "." one decoding later): the dot-segment is what is named.
    expectRefused(await send(gw.url, '/proxy/partner/%EF%BC%8E%EF%BC%8E%E2%88%95x'), 400, /dot-segment/)
    expectRefused(await send(gw.url, '/proxy/partner/%EF%BC%85%EF%BC%92%EF%BD%85%EF%BC%85%EF%BC%92%EF%BD%85/x'), 400, /dot-segment/)
    // A fullwidth "?" after ".." (NFKC "..?": a backend that parses the folded path again ends it there, after a dot-segment).
    expectRefused(await send(gw.url, '/proxy/partner/..%EF%BC%9Fx'), 400, /^the request path holds U\+FF1F .* it would see a dot-segment/)
    // Inside a segment, among other text, they stay text; so do letters, and "？" where no dot-segment ends before it.
    expect(arrivedAs(await send(gw.url, '/proxy/partner/v%EF%BC%8E2/caf%C3%A9/%E3%83%8E/%EF%BC%9F'))).toBe('/base/v%EF%BC%8E2/caf%C3%A9/%E3%83%8E/%EF%BC%9F')
    // Vulgar fractions and units: NFKC writes "½" as "1⁄2" (U+2044) and "㎧" as "m∕s" (U+2215), a slash look-alike the
    // path never held; they arrive as sent (they were refused as "/").
    for (const text of ['pipe-%C2%BD-inch', '%C2%BC%C2%BE', '%E2%85%93-%E2%85%9F', 'speed-%E3%8E%A7', '%25C2%25BD']) expect(arrivedAs(await send(gw.url, `/proxy/partner/${text}`)), text).toBe(`/base/${text}`)
    // A character NFKC writes as text with a real "/" in it ("℅" is "c/o"): refused, in words that fit it (no "%2F" to send for it).
    for (const [symbol, cp, reading] of [['%E2%84%80', '2100', 'a/c'], ['%E2%84%81', '2101', 'a/s'], ['%E2%84%85', '2105', 'c/o'], ['%25E2%2584%2586', '2106', 'c/u']] as const) {
      const spelled = encodeURIComponent(reading)
      expectRefused(await send(gw.url, `/proxy/partner/x${symbol}y`), 400, new RegExp(`^the request path holds U\\+${cp} .*${FOLDS.source} "${reading}", whose "/" would split the segment there: every spelling of U\\+${cp} is refused \\(write out what it stands for instead: "${spelled}"\\)$`))
    }
    // The forward proxy holds to the same rules.
    expectRefused(await forward(`http://api.partner.test:${P}/a/%EF%BC%8E%EF%BC%8E/x`), 400, /U\+FF0E/)
  })
})

describe('inside a CONNECT tunnel', () => {
  const tunnel = { gatewayPort: 0, authority: '', ca: Buffer.alloc(0) }
  beforeAll(() => Object.assign(tunnel, { gatewayPort: port(), authority: `api.partner.test:${P}`, ca }))

  function inner(path: string): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const req = httpRequest({ agent: new TunnelAgent(tunnel, { keepAlive: false }), host: 'api.partner.test', port: P, path, headers: { host: `api.partner.test:${P}` } }, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => {
          const body = Buffer.concat(chunks)
          const text = body.toString('utf8')
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body, json: <T>() => JSON.parse(text) as T })
        })
      })
      req.on('error', reject)
      req.end()
    })
  }

  it('the same rules: // refused, dot-segments refused, origin-form kept', async () => {
    expectRefused(await inner(`//127.0.0.1:${C}/x`), 400, /empty path segment/)
    expectRefused(await inner('/a/%2e%2e/x'), 400, /dot-segment/)
    expect(arrivedAs(await inner('/v1/x?a=1'))).toBe('/v1/x?a=1')
  })

  it('absolute-form keeps its path, and must name the tunnel\'s own authority (else the 421: RFC 9110 §7.4)', async () => {
    expect(arrivedAs(await inner(`https://api.partner.test:${P}/keep/this/path?q=1`))).toBe('/keep/this/path?q=1')
    expectRefused(await inner(`https://other.partner.test:${O}/x`), 421, /this tunnel is for/)
    expectRefused(await inner(`https://127.0.0.1:${C}/x`), 421, /this tunnel is for/)
  })

  it('a request Node cannot parse gets the JSON 400 with a correct Content-Length, not a bare 400', async () => {
    const socket = await openTunnel(tunnel)
    const r = await rawExchange(socket, 'GET /a\x01b HTTP/1.1\r\nHost: x\r\n\r\n')
    expect(r.status).toBe(400)
    expect(r.headers).toMatch(/content-type: application\/json/)
    expect(Number(/content-length: (\d+)/.exec(r.headers)?.[1])).toBe(Buffer.byteLength(r.body))
    expect(JSON.parse(r.body)).toEqual({ errors: [{ msg: expect.stringMatching(/^malformed HTTP request/), code: 400 }] })
  })
})

describe('HTTP/1.1 without Host', () => {
  const expectEnvelope = (r: { status: number; headers: string; body: string }): void => {
    expect(r.status).toBe(400)
    expect(r.headers).toMatch(/content-type: application\/json/)
    expect(Number(/content-length: (\d+)/i.exec(r.headers)?.[1])).toBe(Buffer.byteLength(r.body))
    expect(JSON.parse(r.body)).toEqual({ errors: [{ msg: expect.stringMatching(/must carry a Host header/), code: 400 }] })
  }
  it('is the JSON 400 with a correct Content-Length (Node\'s own was bare and chunked), on the listener and in a tunnel', async () => {
    const c = await rawClient(gw.port)
    c.socket.write('GET /proxy/partner/v1/x HTTP/1.1\r\n\r\n')
    await eventually(async () => c.received().includes('\r\n\r\n{'), 10_000, 'the answer')
    const text = c.received().toString()
    c.socket.destroy()
    const [headers = '', body = ''] = text.split('\r\n\r\n')
    expectEnvelope({ status: Number(headers.split(' ')[1]), headers: headers.toLowerCase(), body })
    expectEnvelope(await rawExchange(await openTunnel({ gatewayPort: gw.port, authority: `api.partner.test:${P}`, ca }), 'GET /v1/x HTTP/1.1\r\n\r\n'))
  })
})

describe('after all of it', () => {
  it('the canary and the other endpoint never saw a connection', () => {
    expect(canaryHits).toBe(0)
    expect(other.stats.handshakes).toBe(0)
  })
})
