/**
 * What Node's parser refuses is answered with a message that is true, on every way in of the real
 * gateway process (raw bytes). Before: a request-target too long for the head was the 431 "request
 * headers exceed the 16 KiB limit" (RFC 9112 §3: 414); 1,001 header lines of a 5 KB head were
 * that same byte overflow; a request line ending in a bare LF was blamed on its version, HTTP/1.1.
 * Then the 414 came only where the overflowing read held the request line's start: over TLS (the
 * listener's own, or inside an intercepted CONNECT tunnel) a record holds 16 KiB at most, so a
 * request line past the limit was always the 431, as was one written in pieces or pipelined behind
 * another request. Every way in answers it 414 now, to raw clients (node net and tls) and to curl;
 * also one pipelined right behind a body whose last line holds characters no method does (a form,
 * JSON), in the same read, which stayed the 431 a while longer.
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expectJsonError, startWaysIn, type Way, type WaysIn } from '../support/ways-in.js'

let ways: WaysIn
let P = 0

beforeAll(async () => {
  ways = await startWaysIn()
  P = ways.port
}, 120_000)

afterAll(async () => {
  await ways?.stop()
})

/** A GET to `target` on `way` (the admin listener's host is its address) with `lines` after Host, ending in CRLF CRLF. */
function head(way: Way, target: string, lines = ''): string {
  return `GET ${target} HTTP/1.1\r\nHost: ${way === 'admin' ? '127.0.0.1' : `api.partner.test:${P}`}\r\n${lines}\r\n`
}
const pathOn = (way: Way, tail: string): string => (way === 'admin' ? `/${tail}` : way === 'tunnel' ? `/v1/${tail}` : `/proxy/partner/v1/${tail}`)

const TOO_LONG = /^the request-target is too long: the request line exceeds the 16 KiB limit of a request head; send a shorter URI \(RFC 9112, section 3\)$/
const HEADERS = /^the request head \(request line and headers\) exceeds the 16 KiB limit or 1,000 header lines$/
const BARE_LF = /^malformed HTTP request \(HPE_INVALID_VERSION\): Expected CRLF after version: the request line must end in CRLF right after its version \(RFC 9112, section 3\)$/

describe('what the parser refuses, told as it is', () => {
  it.each(['plain', 'admin'] as const)('%s: a request-target of 20,000 characters is the JSON 414 uri_too_long, and the connection closes', async (way) => {
    const a = await ways.ask(way, head(way, pathOn(way, 'a'.repeat(20_000))))
    expectJsonError(a, 414, TOO_LONG)
    expect(a.head).toMatch(/\r\nconnection: close/)
  })

  it.each(['plain', 'tls', 'tunnel', 'admin'] as const)('%s: 1,001 empty header lines (5 KB) and one 20 KB header are the 431, its message true of both', async (way) => {
    expectJsonError(await ways.ask(way, head(way, pathOn(way, 'x'), 'X-E:\r\n'.repeat(1_001))), 431, HEADERS)
    expectJsonError(await ways.ask(way, head(way, pathOn(way, 'x'), `X-Big: ${'b'.repeat(20_000)}\r\n`)), 431, HEADERS)
    // 1,000 lines in all are read.
    expect((await ways.ask(way, head(way, way === 'admin' ? '/healthz' : pathOn(way, 'x'), `${'X-E:\r\n'.repeat(998)}Connection: close\r\n`))).status).toBe(200)
  })

  it.each(['tls', 'tunnel'] as const)('%s: a request-target of 20,000 characters spans TLS records (16 KiB at most): the 414 all the same', async (way) => {
    const a = await ways.ask(way, head(way, pathOn(way, 'a'.repeat(20_000))))
    expectJsonError(a, 414, TOO_LONG)
    expect(a.head).toMatch(/\r\nconnection: close/)
  })

  it.each(['plain', 'tls', 'tunnel', 'admin'] as const)('%s: a request-target of 40,000 characters written in three pieces (three reads, records) is the 414; a 20 KB header value written so is the 431', async (way) => {
    const long = head(way, pathOn(way, 'a'.repeat(40_000)))
    expectJsonError(await ways.ask(way, [long.slice(0, 3), long.slice(3, 20_000), long.slice(20_000)]), 414, TOO_LONG)
    // A value with no space in it, cut in the middle: the line ended before it.
    const big = head(way, pathOn(way, 'x'), `X-Token: ${'b'.repeat(20_000)}\r\n`)
    expectJsonError(await ways.ask(way, [big.slice(0, 1_000), big.slice(1_000, 12_000), big.slice(12_000)]), 431, HEADERS)
  })

  it.each(['plain', 'tls', 'tunnel', 'admin'] as const)('%s: a request-target of 20,000 characters pipelined behind a request: that one is answered, then the 414, and the connection closes', async (way) => {
    const s = await ways.open(way)
    const received: Buffer[] = []
    s.on('data', (c: Buffer) => received.push(c))
    const closed = new Promise((resolve) => s.once('close', resolve).once('end', resolve))
    s.write(head(way, way === 'admin' ? '/healthz' : pathOn(way, 'x')) + head(way, pathOn(way, 'a'.repeat(20_000))))
    await closed
    s.destroy()
    const text = Buffer.concat(received).toString('latin1')
    expect([...text.matchAll(/HTTP\/1\.1 (\d{3}) [A-Z]/g)].map((m) => Number(m[1]))).toEqual([200, 414])
    expect(text.slice(text.lastIndexOf('HTTP/1.1 414'))).toMatch(/"msg":"the request-target is too long: /)
  })

  it.each(['plain', 'tls', 'tunnel'] as const)('%s: a request-target of 20,000 characters pipelined right behind a body whose last line holds characters no method does (a form, JSON), in one read: that one is answered, then the 414 a fresh connection gets', async (way) => {
    for (const body of ['a=b', '{"a": [1, 2]}']) {
      const s = await ways.open(way)
      const received: Buffer[] = []
      s.on('data', (c: Buffer) => received.push(c))
      const closed = new Promise((resolve) => s.once('close', resolve).once('end', resolve))
      const post = `POST ${pathOn(way, 'x')} HTTP/1.1\r\nHost: api.partner.test:${P}\r\nContent-Length: ${body.length}\r\n\r\n${body}`
      s.write(post + head(way, pathOn(way, 'a'.repeat(20_000))))
      await closed
      s.destroy()
      const text = Buffer.concat(received).toString('latin1')
      expect([body, [...text.matchAll(/HTTP\/1\.1 (\d{3}) [A-Z]/g)].map((m) => Number(m[1]))]).toEqual([body, [200, 414]])
      expect(text.slice(text.lastIndexOf('HTTP/1.1 414'))).toMatch(/"msg":"the request-target is too long: /)
    }
  })

  it.each(['tls', 'tunnel'] as const)('%s with curl: a request-target of 20,000 characters is the JSON 414', async (way) => {
    const target = pathOn(way, 'a'.repeat(20_000))
    const args = way === 'tls'
      ? ['--cacert', ways.pki.file('root.crt'), `https://localhost:${new URL(ways.secure.url).port}${target}`]
      : ['--proxy', ways.plain.url, '--cacert', ways.interceptionCa, `https://api.partner.test:${P}${target}`]
    const { stdout } = await promisify(execFile)('curl', ['-sS', '--http1.1', '--max-time', '30', '-w', '\n%{http_code}', ...args])
    const [body, code] = [stdout.slice(0, stdout.lastIndexOf('\n')), stdout.slice(stdout.lastIndexOf('\n') + 1)]
    expect(code).toBe('414')
    expect(JSON.parse(body)).toEqual({ errors: [{ msg: expect.stringMatching(TOO_LONG), code: 414 }] })
  })

  it.each(['plain', 'tls', 'tunnel', 'admin'] as const)('%s: a request line ending in a bare LF (or a space) is a 400 naming that, not the version', async (way) => {
    const host = way === 'admin' ? '127.0.0.1' : `api.partner.test:${P}`
    expectJsonError(await ways.ask(way, `GET ${pathOn(way, 'x')} HTTP/1.1\nHost: ${host}\n\n`), 400, BARE_LF)
    expectJsonError(await ways.ask(way, `GET ${pathOn(way, 'x')} HTTP/1.0\nHost: ${host}\n\n`), 400, BARE_LF)
    expectJsonError(await ways.ask(way, `GET ${pathOn(way, 'x')} HTTP/1.1 \r\nHost: ${host}\r\n\r\n`), 400, BARE_LF)
    // A version that is itself wrong is still told so.
    expectJsonError(await ways.ask(way, `GET ${pathOn(way, 'x')} HTTP/1.1x\r\nHost: ${host}\r\n\r\n`), 400, /the version must be HTTP\/1\.1 or HTTP\/1\.0$/)
  })
})
