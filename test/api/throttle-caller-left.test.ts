/**
 * An exchange waiting for a place under the failure throttle (POST /gateway/token, here one
 * failure a minute) whose caller closes the connection stops waiting at once: logged `499`
 * `caller_aborted`, neither refused (no 429, nothing in caller_auth_failures_total) nor counted
 * as a failure, and it takes no place: once the exchange holding the place issues its bearer,
 * the next exchange from that address is admitted and issues one, and a wrong one after it is
 * still the address's first failure (401, then 429). Before, the waiter noticed only at its next
 * poll of `socket.destroyed` and was answered 429 (counted as throttled); or, woken by the settle
 * of the exchange ahead, it took the freed place for nobody, failed reading its body and was
 * counted as a failure, so the next exchange was refused. An exchange already admitted whose
 * caller leaves mid-body is no failed exchange either (nothing was verified): its place is given
 * back and nothing is counted, whether its body read fails as the connection closes or with
 * caller_aborted (499, which a rule of "below 500 counts" counted).
 */
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SignJWT } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { THROTTLE_WINDOW_MS } from '../../src/api/sliding-window.js'
import { countsAsFailedExchange } from '../../src/api/token.js'
import { GatewayError } from '../../src/errors.js'
import { openSqliteStore, type Store } from '../../src/store/index.js'
import { clientTlsYaml, createTestPki, type TestPki } from '../support/pki.js'
import { eventually, scrape, startOpsGateway, valueOf, type OpsGateway } from '../ops/helpers.js'
import { inOneWindow, requestFrom } from './throttle-support.js'

const SECRET = 'caller-left-throttle-hs256-secret-32b'
const AUD = 'https://gateway.test'
let pki: TestPki
let g: OpsGateway
let store: Store
let dir: string

beforeAll(async () => {
  pki = await createTestPki()
  dir = mkdtempSync(join(tmpdir(), 'throttle-caller-left-'))
  const file = join(dir, 'state.db')
  const yaml = `listen: { host: 127.0.0.1, port: 0 }\nadmin: { host: 127.0.0.1, port: 0 }\nstore: { kind: sqlite, file: ${file} }\ncallers:\n  failedExchangesPerMinute: 1\n  apps:\n    - { clientId: bot, hs256Secret: "${SECRET}", audience: "${AUD}", endpoints: ["*"] }\nendpoints:\n  - { name: partner, url: "https://api.partner.test:9", resolve: 127.0.0.1, allowPrivate: true, tls: ${clientTlsYaml(pki)} }\n`
  g = await startOpsGateway(dir, yaml)
  store = openSqliteStore({ file })
})

afterAll(async () => {
  await g?.gw.close()
  await store?.close()
  pki?.cleanup()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

async function assertion(valid: boolean): Promise<string> {
  const now = Math.floor(Date.now() / 1000)
  const jwt = await new SignJWT({ iss: 'bot', aud: AUD, sub: 'u1', jti: randomUUID(), iat: now, exp: now + 300 }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(SECRET))
  return valid ? jwt : `${jwt.slice(0, jwt.lastIndexOf('.'))}.${'A'.repeat(43)}`
}

/** An exchange whose request head is sent now and its body only when asked: what it was answered (the whole text). */
function heldExchange(url: string, address: string, id: string, body: string): { socket: Socket; sendBody(): void; answer: Promise<string> } {
  const u = new URL(url)
  const socket = connect({ host: u.hostname, port: Number(u.port), localAddress: address })
  const chunks: Buffer[] = []
  const answer = new Promise<string>((resolve) => {
    socket.on('data', (c: Buffer) => chunks.push(c))
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')))
    socket.on('error', () => undefined)
  })
  socket.write(`POST /gateway/token HTTP/1.1\r\nHost: ${u.host}\r\nX-Request-Id: ${id}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n`)
  return { socket, sendBody: () => socket.write(body), answer }
}

const exchange = async (address: string, valid: boolean): Promise<number> =>
  (await requestFrom(`${g.gw.url}/gateway/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ assertion: await assertion(valid) }), localAddress: address })).status

describe('a caller that leaves while its exchange waits for a place', () => {
  it('is logged 499 caller_aborted, not refused nor counted; the next exchange from its address is admitted, and the address still has its one failure', async () => {
    const throttled = async (): Promise<number> => valueOf(await scrape(g.adminUrl), 'mtls_gateway_caller_auth_failures_total', { reason: 'token_exchange_throttled' }) ?? 0
    const before = await throttled()
    await inOneWindow(async (address) => {
      const tag = randomUUID()
      const inFlight = async (): Promise<number> => valueOf(await scrape(g.adminUrl), 'mtls_gateway_requests_in_flight') ?? 0
      const served = await inFlight()
      const places = `throttle:token-exchange:v4_${address}:${Math.floor(Date.now() / THROTTLE_WINDOW_MS)}`
      // The exchange ahead: admitted, its one place taken, its body held back.
      const ahead = heldExchange(g.gw.url, address, `${tag}-ahead`, JSON.stringify({ assertion: await assertion(true) }))
      await eventually(async () => (await store.get(places)) === '1', 20_000, 'the exchange ahead to take the place')
      // The waiter: its whole request sent, no place free, no failure settled: it waits.
      const waiter = heldExchange(g.gw.url, address, `${tag}-waiter`, JSON.stringify({ assertion: await assertion(true) }))
      waiter.sendBody()
      await eventually(async () => (await inFlight()) === served + 2, 20_000, 'the waiter to be served (waiting) beside the exchange ahead')
      waiter.socket.destroy()
      const line = (id: string): Record<string, unknown> | undefined => g.access().find((l) => l.reqId === id)
      await eventually(() => line(`${tag}-waiter`) !== undefined, 20_000, 'the waiter\'s access line')
      expect(line(`${tag}-waiter`)).toMatchObject({ status: 499, reason: 'caller_aborted' })
      // The exchange ahead issues its bearer and gives its place back.
      ahead.sendBody()
      expect((await ahead.answer).split('\r\n')[0]).toBe('HTTP/1.1 200 OK')
      expect(await exchange(address, true)).toBe(200)
      expect([await exchange(address, false), await exchange(address, false)]).toEqual([401, 429])
    })
    // The 429 above is the only one counted: a caller that left was not refused.
    expect(await throttled()).toBe(before + 1)
  })
})

describe('a caller that leaves mid-body after its exchange was admitted', () => {
  it('is logged 499 caller_aborted and not counted as a failed exchange: its place is given back, and the address still has its one failure', async () => {
    await inOneWindow(async (address) => {
      const tag = randomUUID()
      const window = Math.floor(Date.now() / THROTTLE_WINDOW_MS)
      const places = `throttle:token-exchange:v4_${address}:${window}`
      const body = JSON.stringify({ assertion: await assertion(false) })
      const left = heldExchange(g.gw.url, address, `${tag}-left`, body)
      await eventually(async () => (await store.get(places)) === '1', 20_000, 'the exchange to be admitted')
      // Half its body, then it goes: nothing was verified, nothing is the caller's failure.
      left.socket.write(body.slice(0, body.length >> 1))
      left.socket.destroy()
      const line = (id: string): Record<string, unknown> | undefined => g.access().find((l) => l.reqId === id)
      await eventually(() => line(`${tag}-left`) !== undefined, 20_000, 'the access line of the caller that left')
      expect(line(`${tag}-left`)).toMatchObject({ status: 499, reason: 'caller_aborted' })
      expect(await store.get(places)).toBe('0')
      expect(await store.get(`throttle:token-exchange-failed:v4_${address}:${window}`)).toBeUndefined()
      expect([await exchange(address, false), await exchange(address, false)]).toEqual([401, 429])
    })
  })
})

describe('what an admitted exchange that threw counts as', () => {
  it('a caller that left (caller_aborted, 499, or its body read cut short) is no failed exchange; a refusal of its own (4xx) is; a gateway fault (5xx, a bug) is not', () => {
    expect(countsAsFailedExchange(new GatewayError('caller_aborted', 'the caller closed the connection (test)'))).toBe(false)
    expect(countsAsFailedExchange(new Error('the caller closed the connection during the body'))).toBe(false)
    expect(countsAsFailedExchange(new GatewayError('caller_credentials_missing', 'body must be {"assertion": "<JWT or JWE>"}'))).toBe(true)
    expect(countsAsFailedExchange(new GatewayError('store_unavailable', 'the store did not answer (test)'))).toBe(false)
  })
})
