/**
 * `Expect` on the admin listener, as on the proxy listener. Node answered it there itself: a bare
 * 417 (chunked, empty, no error envelope) for any expectation but 100-continue, and `100 Continue`
 * at once for that one, inviting the body of a request then refused (405, 403, 401, 413). Now the
 * 417 comes from the one error writer, and 100 only once a console route admitted the request and
 * reads its body. Real gateway process, raw sockets.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rawClient, parseRawResponse, type RawClient } from '../support/raw-client.js'
import { eventually } from '../support/eventually.js'
import { CONSOLE_TOKEN, startProviderlessConsole, type ProviderlessConsole } from './console-support.js'

let c: ProviderlessConsole
let port: number

beforeAll(async () => {
  c = await startProviderlessConsole('admin-expect-')
  port = Number(new URL(c.ops.adminUrl).port)
})
afterAll(async () => {
  await c?.close()
})

const DEADLINE_MS = 15_000
/** Far more than any admin route reads: a body that must never be invited. */
const LARGE = 10 * 1024 * 1024

/** Writes a request head on a new connection and returns everything answered until the gateway closed it. */
async function headOnly(head: string): Promise<string> {
  const client = await rawClient(port)
  client.socket.write(head)
  await client.closed(DEADLINE_MS)
  return client.received().toString('latin1')
}

function consolePost(path: string, more: string, length: number): string {
  const { cookie, csrf, origin } = c.session
  return `POST /console/api/${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nCookie: ${cookie}\r\nOrigin: ${origin}\r\nX-CSRF-Token: ${csrf}\r\n${more}Content-Type: application/json\r\nContent-Length: ${length}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`
}

describe('an Expect other than 100-continue on the admin listener', () => {
  it.each(['/metrics', '/healthz', '/console/api/session'])('GET %s: the JSON 417 with Content-Length', async (path) => {
    const text = await headOnly(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: foo\r\nConnection: close\r\n\r\n`)
    const answer = parseRawResponse(Buffer.from(text, 'latin1'))
    expect(answer.status, text).toBe(417)
    expect(answer.headers['transfer-encoding'], text).toBeUndefined()
    expect(answer.headers['content-length'], text).toBe(String(answer.body.length))
    expect(JSON.parse(answer.body.toString())).toEqual({ errors: [{ msg: 'the Expect header supports only 100-continue', code: 417 }] })
  })
})

describe('Expect: 100-continue on the admin listener', () => {
  const refused: [string, number, () => string][] = [
    ['POST /metrics', 405, () => `POST /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${LARGE}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`],
    ['a console POST from another origin', 403, () => consolePost('draft', '', LARGE).replace(/Origin: [^\r]*/, 'Origin: http://attacker.test')],
    ['a console POST without a session', 401, () => consolePost('draft', '', LARGE).replace(/Cookie: [^\r]*\r\n/, '')],
    ['a console action declaring more than it reads', 413, () => consolePost('draft', '', LARGE)],
    ['a sign-in declaring more than it reads', 413, () => consolePost('login', '', LARGE)],
  ]
  it.each(refused)('%s: refused (%i) without a 100 Continue before the answer', async (_what, status, head) => {
    const text = await headOnly(head())
    expect(text, text).not.toMatch(/^HTTP\/1\.1 100/m)
    expect(text.startsWith(`HTTP/1.1 ${status} `), text).toBe(true)
    expect(JSON.parse(parseRawResponse(Buffer.from(text, 'latin1')).body.toString())).toMatchObject({ errors: [{ code: status }] })
  })

  /** Sends the head, waits for the 100, then the body; resolves with the answer after the 100. */
  async function admitted(head: string, body: string): Promise<{ continued: string; answer: ReturnType<typeof parseRawResponse> }> {
    const client: RawClient = await rawClient(port)
    client.socket.write(head)
    await eventually(() => client.received().toString('latin1').includes('\r\n\r\n'), DEADLINE_MS, 'an interim answer')
    const continued = client.received().toString('latin1')
    client.socket.write(body)
    await client.closed(DEADLINE_MS)
    return { continued, answer: parseRawResponse(client.received()) }
  }

  it('an admitted console action gets 100 Continue, then its answer', async () => {
    const body = JSON.stringify({ yaml: 'listen: {}\n' })
    const { continued, answer } = await admitted(consolePost('draft', '', Buffer.byteLength(body)), body)
    expect(continued).toBe('HTTP/1.1 100 Continue\r\n\r\n')
    expect(answer.status, answer.body.toString()).toBe(200)
    expect(JSON.parse(answer.body.toString())).toHaveProperty('problems')
  })

  it('a sign-in gets 100 Continue, then its session', async () => {
    const body = JSON.stringify({ token: CONSOLE_TOKEN })
    const { continued, answer } = await admitted(consolePost('login', '', Buffer.byteLength(body)).replace(/Cookie: [^\r]*\r\n/, ''), body)
    expect(continued).toBe('HTTP/1.1 100 Continue\r\n\r\n')
    expect(answer.status, answer.body.toString()).toBe(200)
    expect(answer.headers['set-cookie']).toBeDefined()
  })
})
