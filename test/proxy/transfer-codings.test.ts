/**
 * Transfer codings other than chunked (RFC 9112 §6.1, §7). The gateway decodes chunked only, on
 * both sides: Node's parser de-chunks a request whose Transfer-Encoding is `gzip, chunked` and
 * undici a response's, and the gateway then drops Transfer-Encoding as hop-by-hop. Relayed so,
 * the other coding vanished from the message while its bytes stayed: the backend (or the caller)
 * read gzip bytes as the body itself. Now a request naming another coding is refused with 501
 * before anything is sent (nginx does the same), and such a response is a 502, never relayed.
 * A refusal that closes the connection (its body unread) lingers to discard what the caller still
 * sends; Node's parser went on reading there, and a request pipelined behind the refusal went
 * upstream with the endpoint's credentials, its answer never sent: now it is never served.
 * Real peers: a raw caller socket, an mTLS backend that writes exactly the bytes given, curl.
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer, type Server, type TLSSocket } from 'node:tls'
import { promisify } from 'node:util'
import { gzipSync } from 'node:zlib'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningGateway } from '../../src/cli/gateway-root.js'
import { endpointYaml, startTestGateway } from '../support/gateway.js'
import { createTestPki } from '../support/pki.js'
import { parseRawResponse, rawClient } from '../support/raw-client.js'

const run = promisify(execFile)

let gw: RunningGateway
let backend: Server
let backendPort = 0
let dir: string
/** Everything each backend connection received. */
const received: string[][] = []
/** What the backend answers for `/s/<key>`; any other request gets a plain 200 once its body's end marker arrived. */
const scripts = new Map<string, string | Buffer>()
const END = 'END-OF-BODY'

beforeAll(async () => {
  const pki = await createTestPki()
  const tls = { cert: readFileSync(pki.file('server-chain.crt')), key: readFileSync(pki.file('server.key')), ca: readFileSync(pki.file('root.crt')), requestCert: true }
  backend = createServer(tls, (s: TLSSocket) => {
    const seen: string[] = []
    received.push(seen)
    s.on('error', () => undefined)
    s.on('data', (d: Buffer) => {
      seen.push(d.toString('latin1'))
      const all = seen.join('')
      const path = all.split(' ')[1] ?? '/'
      const script = path.startsWith('/s/') ? scripts.get(path.slice(3)) : undefined
      // One request per connection: every answer closes it.
      if (script !== undefined && all.includes('\r\n\r\n')) s.end(script)
      else if (all.includes(END)) s.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok')
    })
  })
  await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r))
  backendPort = (backend.address() as AddressInfo).port
  dir = mkdtempSync(join(tmpdir(), 'transfer-codings-'))
  const client = { cert: pki.file('client.crt'), key: pki.file('client.key'), intermediates: pki.file('inter.crt'), roots: pki.file('root.crt') }
  gw = await startTestGateway(dir, `admin: { enabled: false }\nendpoints:\n${endpointYaml('up', backendPort, client)}`)
  pki.cleanup()
})

afterAll(async () => {
  await gw?.close()
  await new Promise<void>((r) => (backend ? backend.close(() => r()) : r()))
  if (dir) rmSync(dir, { recursive: true, force: true })
})

/** Writes `text` on a new connection and returns what came back once the gateway closed it. */
async function exchange(text: string): Promise<string> {
  const c = await rawClient(Number(new URL(gw.url).port))
  c.socket.write(text)
  await c.closed(15_000)
  return c.received().toString('latin1')
}

function chunked(body: string): string {
  return `${Buffer.byteLength(body).toString(16)}\r\n${body}\r\n0\r\n\r\n`
}

const OTHER_CODINGS = ['gzip', 'GZIP', 'x-gzip', 'deflate', 'compress', 'identity', 'br', 'zstd', 'x-custom']

describe('a request naming a transfer coding other than chunked', () => {
  it('is refused with the JSON 501 and nothing reaches the backend; chunked alone is served with the body whole (fast-check, 40 runs, forward proxy and route mode)', async () => {
    const codings = fc.array(fc.constantFrom(...OTHER_CODINGS), { maxLength: 3 })
    const chunkedSpelling = fc.constantFrom('chunked', 'Chunked', 'CHUNKED')
    // (Node's parser refuses a tab after the value with its own 400.)
    const ows = fc.constantFrom('', ' ')
    await fc.assert(
      fc.asyncProperty(codings, chunkedSpelling, ows, fc.boolean(), fc.constantFrom('forward', 'route'), async (others, last, space, twoLines, way) => {
        const list = [...others, last]
        // One field, or the codings before chunked on a line of their own (a recipient joins them).
        const te = twoLines && others.length > 0 ? `Transfer-Encoding: ${others.join(`,${space}`)}\r\nTransfer-Encoding:${space}${last}${space}` : `Transfer-Encoding:${space}${list.join(`,${space}`)}${space}`
        const authority = `api.partner.test:${backendPort}`
        const target = way === 'forward' ? `http://${authority}/a` : '/proxy/up/a'
        const body = `payload ${END}`
        const connectionsBefore = received.length
        const answer = await exchange(`POST ${target} HTTP/1.1\r\nHost: ${way === 'forward' ? authority : 'gw'}\r\n${te}\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n${chunked(body)}`)
        const r = parseRawResponse(Buffer.from(answer, 'latin1'))
        if (others.length === 0) {
          expect(r.status, answer).toBe(200)
          const upstream = received.slice(connectionsBefore).map((c) => c.join('')).join('')
          expect(upstream).toContain(body)
          return
        }
        expect(r.status, answer).toBe(501)
        expect(r.headers['content-length']).toBe(String(r.body.length))
        expect(r.headers.connection).toBe('close')
        expect(JSON.parse(r.body.toString())).toEqual({
          errors: [{ msg: expect.stringMatching(/^Transfer-Encoding ".+": the gateway reads only the chunked transfer coding, /), code: 501 }],
        })
        expect(received.length, 'no backend connection').toBe(connectionsBefore)
      }),
      { seed: 0x7e501, numRuns: 40 },
    )
  }, 120_000)
})

describe('an HTTP/1.0 request with Transfer-Encoding', () => {
  it('is refused with the JSON 400 and Connection: close (RFC 9112 §6.1: its framing is faulty); nothing reaches the backend, not the request written after it either (forward proxy and route mode)', async () => {
    const authority = `api.partner.test:${backendPort}`
    for (const target of [`http://${authority}/a`, '/proxy/up/a']) {
      const connectionsBefore = received.length
      // A 1.0 hop before the gateway that reads no chunked body would take the second request as part of the first's body, or the reverse.
      const answer = await exchange(`POST ${target} HTTP/1.0\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\nConnection: keep-alive\r\n\r\n${chunked(`x ${END}`)}GET ${target} HTTP/1.0\r\n\r\n`)
      const r = parseRawResponse(Buffer.from(answer, 'latin1'))
      expect(r.status, answer).toBe(400)
      expect(r.headers.connection).toBe('close')
      expect(answer.match(/HTTP\/1\.1 /g), 'one answer').toHaveLength(1)
      expect(JSON.parse(r.body.toString())).toEqual({ errors: [{ msg: 'an HTTP/1.0 request may not carry Transfer-Encoding: its framing is faulty (RFC 9112, section 6.1); send it as HTTP/1.1, or with Content-Length', code: 400 }] })
      expect(received.length, 'no backend connection').toBe(connectionsBefore)
    }
  })
})

describe('a request pipelined behind a refusal that closes the connection', () => {
  it('is never sent upstream, whatever the refusal and the way in; the refusal is the one answer (fast-check, 24 runs)', async () => {
    const authority = `api.partner.test:${backendPort}`
    const body = `hello ${END}`
    const cl = `Content-Length: ${body.length}\r\n\r\n${body}`
    const refusals: Record<string, [number, string]> = {
      coding: [501, `POST /proxy/up/a HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: gzip, chunked\r\n\r\n${chunked(body)}`],
      http10: [400, `POST /proxy/up/a HTTP/1.0\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n${chunked(body)}`],
      host: [400, `POST /proxy/up/a HTTP/1.1\r\nHost: a b\r\n${cl}`],
      unrouted: [404, `POST /elsewhere HTTP/1.1\r\nHost: gw\r\n${cl}`],
      unconfigured: [403, `POST http://other.partner.test/a HTTP/1.1\r\nHost: other.partner.test\r\n${cl}`],
      expectation: [417, `POST /proxy/up/a HTTP/1.1\r\nHost: gw\r\nExpect: something\r\n${cl}`],
    }
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...Object.keys(refusals)), fc.constantFrom('forward', 'route'), fc.constantFrom('GET', 'DELETE'), async (kind, way, method) => {
        const [status, first] = refusals[kind] as [number, string]
        const marker = `/behind-${Math.random().toString(36).slice(2)}`
        const behind = way === 'forward' ? `${method} http://${authority}${marker} HTTP/1.1\r\nHost: ${authority}\r\n\r\n` : `${method} /proxy/up${marker} HTTP/1.1\r\nHost: gw\r\n\r\n`
        const answer = await exchange(first + behind)
        expect(answer.match(/HTTP\/1\.1 \d{3} /g), answer).toEqual([`HTTP/1.1 ${status} `])
        // A request after the connection closed, on a new one: answered once the backend read it.
        expect(parseRawResponse(Buffer.from(await exchange(`POST /proxy/up/sentinel HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n${cl}`), 'latin1')).status).toBe(200)
        expect(received.flat().join('')).not.toContain(marker)
      }),
      { seed: 0x7e503, numRuns: 24 },
    )
  }, 120_000)
})

describe('a response whose Transfer-Encoding names a coding other than chunked', () => {
  it('is a 502 naming it, never relayed without its coding; chunked alone and a HEAD answer are relayed (fast-check, 30 runs)', async () => {
    const codings = fc.array(fc.constantFrom(...OTHER_CODINGS), { maxLength: 2 })
    await fc.assert(
      fc.asyncProperty(codings, fc.boolean(), fc.constantFrom('GET', 'HEAD'), async (others, closeDelimited, method) => {
        const key = `r${Math.random().toString(36).slice(2)}`
        // `gzip` alone is read until the connection closes; with chunked last, chunk by chunk.
        const list = closeDelimited && others.length > 0 ? others : [...others, 'chunked']
        const body = list.at(-1) === 'chunked' ? chunked('hello') : 'hello'
        scripts.set(key, `HTTP/1.1 200 OK\r\nTransfer-Encoding: ${list.join(', ')}\r\nConnection: close\r\n\r\n${method === 'HEAD' ? '' : body}`)
        const answer = await exchange(`${method} /proxy/up/s/${key} HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n`)
        const r = parseRawResponse(Buffer.from(answer, 'latin1'))
        if (others.length === 0 || method === 'HEAD') {
          expect(r.status, answer).toBe(200)
          if (method === 'GET') expect(r.body.toString('latin1')).toBe(chunked('hello'))
          return
        }
        expect(r.status, answer).toBe(502)
        expect(JSON.parse(r.body.toString())).toEqual({
          errors: [{ msg: `endpoint "up": malformed HTTP response (Transfer-Encoding "${list.join(', ')}"): the gateway decodes only the chunked transfer coding, and relayed without the others the caller would read their bytes as the body (RFC 9112, section 6.1)`, code: 502 }],
        })
      }),
      { seed: 0x7e502, numRuns: 30 },
    )
  }, 120_000)

  it('curl through the forward proxy gets the 502, not the gzip bytes as the body', async () => {
    const gz = gzipSync('hello from the backend')
    scripts.set('gzip', Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nConnection: close\r\n\r\n${gz.length.toString(16)}\r\n`), gz, Buffer.from('\r\n0\r\n\r\n')]))
    const curl = await run('curl', ['-sS', '-x', gw.url, '-w', '\n%{http_code}', `http://api.partner.test:${backendPort}/s/gzip`], { encoding: 'latin1' })
    expect(curl.stdout).toMatch(/"code":502\}\]\}\n502$/)
    expect(curl.stdout).toContain('Transfer-Encoding \\"gzip, chunked\\"')
  })
})
