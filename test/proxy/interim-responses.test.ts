/**
 * Interim (1xx) upstream answers and the endpoint's response limit (`timeouts.response`: time
 * to the response head). undici restarts its own clock on each interim answer, so a backend that
 * sends `102 Processing` or `103 Early Hints` more often than the limit would otherwise hold the
 * call, and the caller's connection, for ever. Here a raw mTLS backend does exactly that: the
 * caller gets the 504 within the limit of the first interim answer, and the connection the
 * backend held is not reused for the next call. Interim answers followed in time by the final
 * one still pass (their headers are not forwarded).
 */
import { readFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { createServer, type Server, type TLSSocket } from 'node:tls'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningGateway } from '../../src/cli/gateway-root.js'
import { send, startResponseLimitGateway } from '../support/gateway.js'
import { createTestPki, type TestPki } from '../support/pki.js'

// 1 s, and a final answer 150 ms after the request: a loaded machine's lateness stays inside it.
const LIMIT_MS = 1000
// Far past the limit: a call still unanswered then is held for ever (the clock restarted per interim answer).
const FOR_EVER_MS = 30_000

let pki: TestPki
let server: Server
let gw: RunningGateway
/** What the backend does with each request head it reads, by its path. */
const open = new Set<TLSSocket>()

function answer(socket: TLSSocket, path: string): void {
  const m = /^\/interim\/(\d{3})\/(\d+)\/(\d+)$/.exec(path)
  if (!m) return void socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${path.length}\r\n\r\n${path}`)
  const [status, everyMs, count] = [m[1], Number(m[2]), Number(m[3])]
  let sent = 0
  const timer = setInterval(() => {
    if (socket.destroyed) return clearInterval(timer)
    if (count > 0 && sent >= count) {
      clearInterval(timer)
      return void socket.write(`HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfinal`)
    }
    sent++
    socket.write(`HTTP/1.1 ${status} Interim\r\nLink: </style.css>; rel=preload\r\n\r\n`)
  }, everyMs)
}

beforeAll(async () => {
  pki = await createTestPki()
  server = createServer({ cert: readFileSync(pki.file('server-chain.crt')), key: readFileSync(pki.file('server.key')), ca: readFileSync(pki.file('root.crt')), requestCert: true, rejectUnauthorized: true }, (socket) => {
    open.add(socket)
    socket.on('close', () => open.delete(socket))
    socket.on('error', () => {})
    let buffered = ''
    socket.on('data', (d: Buffer) => {
      buffered += d.toString('latin1')
      for (let end = buffered.indexOf('\r\n\r\n'); end !== -1; end = buffered.indexOf('\r\n\r\n')) {
        const head = buffered.slice(0, end)
        buffered = buffered.slice(end + 4)
        answer(socket, head.split(' ')[1] ?? '/')
      }
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  gw = await startResponseLimitGateway(pki, (server.address() as AddressInfo).port, LIMIT_MS)
})

afterAll(async () => {
  await gw?.close()
  for (const s of open) s.destroy()
  await new Promise<void>((r) => server?.close(() => r()))
  pki?.cleanup()
})

/** `p`, or a failure naming the wait when it has not settled in `ms`. */
function withinMs<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms)))
  return Promise.race([p, late]).finally(() => clearTimeout(timer))
}

describe('interim (1xx) upstream answers', () => {
  it('sent for ever, more often than the response limit: a 504 within the limit, and the next call is answered (fixed seed)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('102', '103'), fc.integer({ min: 50, max: Math.floor(LIMIT_MS / 3) }), fc.nat(1000), async (status, everyMs, n) => {
        const started = performance.now()
        const r = await withinMs(send(gw.url, `/proxy/partner/interim/${status}/${everyMs}/0`), FOR_EVER_MS)
        const took = performance.now() - started
        expect(r.status, r.text).toBe(504)
        expect(r.json()).toEqual({ errors: [{ code: 504, msg: 'endpoint "partner": response timeout (no response headers in time)' }] })
        // The limit counts from the first interim answer, which comes everyMs after the request
        // (plus what a loaded machine adds: over 1.5 s in a loaded run).
        expect(took).toBeLessThan(LIMIT_MS + everyMs + 5000)
        const next = await send(gw.url, `/proxy/partner/next-${n}`)
        expect(next.status, next.text).toBe(200)
        expect(next.text).toBe(`/next-${n}`)
      }),
      { seed: 0x102, numRuns: 4 },
    )
  })

  it('followed in time by the final answer: that answer, without the interim headers', async () => {
    const r = await send(gw.url, `/proxy/partner/interim/103/${LIMIT_MS / 20}/2`)
    expect(r.status, r.text).toBe(200)
    expect(r.text).toBe('final')
    expect(r.headers.link).toBeUndefined()
  })
})
