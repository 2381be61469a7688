/**
 * What Node's parser refuses is answered with a message that is true, on every way in of the real
 * gateway process (raw bytes). Before: a request-target too long for the head was the 431 "request
 * headers exceed the 16 KiB limit" (RFC 9112 §3: 414); 1,001 header lines of a 5 KB head were
 * that same byte overflow; a request line ending in a bare LF was blamed on its version, HTTP/1.1.
 */
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

  it.each(['plain', 'admin'] as const)('%s: 1,001 empty header lines (5 KB) and one 20 KB header are the 431, its message true of both', async (way) => {
    expectJsonError(await ways.ask(way, head(way, pathOn(way, 'x'), 'X-E:\r\n'.repeat(1_001))), 431, HEADERS)
    expectJsonError(await ways.ask(way, head(way, pathOn(way, 'x'), `X-Big: ${'b'.repeat(20_000)}\r\n`)), 431, HEADERS)
    // 1,000 lines in all are read.
    expect((await ways.ask(way, head(way, way === 'admin' ? '/healthz' : pathOn(way, 'x'), `${'X-E:\r\n'.repeat(998)}Connection: close\r\n`))).status).toBe(200)
  })

  it.each(['tls', 'tunnel'] as const)('%s: a request-target of 20,000 characters spans TLS records (16 KiB at most): a 414, or the 431 naming the request line', async (way) => {
    const a = await ways.ask(way, head(way, pathOn(way, 'a'.repeat(20_000))))
    expectJsonError(a, a.status === 414 ? 414 : 431, a.status === 414 ? TOO_LONG : HEADERS)
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
