/**
 * The sign-in throttle is asked before the body is read. The console read a sign-in's body (up
 * to 256 KiB, inviting it with `100 Continue`) and only then asked the throttle, so an address
 * past its wrong tokens still uploaded every attempt. Now its 429 comes at once, with
 * `Connection: close`, no `100 Continue` and no byte of the body read; a body refused or cut
 * short still costs no attempt, as before. Real gateway, raw sockets from loopback aliases.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { inOneWindow, freshLoopback, times } from '../api/throttle-support.js'
import { parseRawResponse, rawClient } from '../support/raw-client.js'
import { eventually } from '../support/eventually.js'
import { adminRequest, CONSOLE_TOKEN, startProviderlessConsole, type ProviderlessConsole } from './console-support.js'

let c: ProviderlessConsole
let port: number
let origin: string

beforeAll(async () => {
  c = await startProviderlessConsole('sign-in-throttle-body-')
  port = Number(new URL(c.ops.adminUrl).port)
  origin = c.ops.adminUrl
})
afterAll(async () => {
  await c?.close()
})

const DEADLINE_MS = 15_000
/** A sign-in body's declared size: within the console's 256 KiB, never sent in full. */
const DECLARED = 200_000

const login = (token: string, localAddress: string, body: unknown = { token }): Promise<number> =>
  adminRequest(`${c.ops.adminUrl}/console/api/login`, { method: 'POST', origin, body, localAddress }).then((r) => r.status)

/**
 * A sign-in head declaring DECLARED bytes, and `sent` of them, from `address`: the first answer head
 * (and what came with it), and whether the gateway then closed the connection (asked when `waitClose`;
 * otherwise the client leaves).
 */
async function partialSignIn(address: string, o: { expect100: boolean; sent: number; waitClose: boolean }): Promise<{ text: string; closed: boolean }> {
  const client = await rawClient(port, address)
  const more = o.expect100 ? 'Expect: 100-continue\r\n' : ''
  client.socket.write(`POST /console/api/login HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nOrigin: ${origin}\r\nContent-Type: application/json\r\nContent-Length: ${DECLARED}\r\n${more}\r\n${'{'.padEnd(o.sent, ' ')}`)
  await eventually(() => client.received().includes('\r\n\r\n'), DEADLINE_MS, 'an answer before the body is complete')
  const closed = o.waitClose && (await client.closed(DEADLINE_MS).then(() => true, () => false))
  client.socket.destroy()
  return { text: client.received().toString('latin1'), closed }
}

describe('a sign-in from a throttled address', () => {
  it('gets its 429 at once, Connection: close, without 100 Continue or reading its body', async () => {
    await inOneWindow(async (address) => {
      const statuses: number[] = []
      for (let i = 0; i < 20; i++) statuses.push(await login(`wrong-token-number-${i}`, address))
      expect(statuses).toEqual(times(20, 401))
      for (const [expect100, sent] of [[true, 0], [false, 1024]] as const) {
        const { text, closed } = await partialSignIn(address, { expect100, sent, waitClose: true })
        expect(text, text).not.toMatch(/^HTTP\/1\.1 100/)
        const answer = parseRawResponse(Buffer.from(text, 'latin1'))
        expect(answer.status, text).toBe(429)
        expect(answer.headers.connection).toBe('close')
        expect(Number(answer.headers['retry-after'])).toBeGreaterThanOrEqual(1)
        expect(JSON.parse(answer.body.toString())).toMatchObject({ errors: [{ code: 429, msg: expect.stringMatching(/^too many wrong admin tokens from this address/) }] })
        expect(closed, 'the gateway closed the connection').toBe(true)
      }
    })
  })
})

describe('a sign-in from an address not throttled', () => {
  it('still gets 100 Continue and its answer, and a body refused or cut short costs no attempt', async () => {
    const address = freshLoopback()
    // 25 bodies refused (not JSON, not an object, another type): more than the 20 wrong tokens allowed, none counted.
    for (let i = 0; i < 25; i++) expect(await login('', address, i % 2 === 0 ? 'not an object' : [CONSOLE_TOKEN])).toBe(400)
    // Invited to send its body, then gone before it is complete.
    for (let i = 0; i < 5; i++) expect((await partialSignIn(address, { expect100: true, sent: 0, waitClose: false })).text).toBe('HTTP/1.1 100 Continue\r\n\r\n')
    expect(await login(CONSOLE_TOKEN, address)).toBe(200)
  })
})
