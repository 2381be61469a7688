/**
 * A request pipelined behind an answer the admin listener sent with Connection: close is never
 * served (RFC 9112 §9.6). Node's parser goes on reading while such an answer's connection
 * lingers (its body unread), and the admin listener ran the next request: a console action
 * written after a refused request was carried out, though its answer was never sent. Now the
 * admin listener takes the proxy listener's turns (pipelined.ts). Real gateway, raw socket.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rawRoundTrip } from '../support/raw-client.js'
import { startProviderlessConsole, type ProviderlessConsole } from './console-support.js'

let c: ProviderlessConsole

beforeAll(async () => {
  c = await startProviderlessConsole('admin-pipelined-')
})
afterAll(async () => {
  await c?.close()
})

const reloadAudits = (): number =>
  c.ops.lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((e) => e.audit === 'console' && e.action === 'reload').length

describe('a request pipelined behind an admin answer that closed the connection', () => {
  it('is never served: the console reload written after a refused request does not run; the refusal is the one answer', async () => {
    const port = Number(new URL(c.ops.adminUrl).port)
    const host = `Host: 127.0.0.1:${port}\r\n`
    const { cookie, csrf, origin } = c.session
    // Each refusal answers with Connection: close and leaves its body unread.
    const refusals: [number, string][] = [
      [405, `POST /metrics HTTP/1.1\r\n${host}Content-Length: 5\r\n\r\nhello`],
      [421, `POST /healthz HTTP/1.1\r\nHost: rebind.attacker.test\r\nContent-Length: 5\r\n\r\nhello`],
      [400, `POST /metrics HTTP/1.0\r\n${host}Transfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n5\r\nhello\r\n0\r\n\r\n`],
    ]
    for (const [status, first] of refusals) {
      const before = reloadAudits()
      const reload = `POST /console/api/reload HTTP/1.1\r\n${host}Cookie: ${cookie}\r\nOrigin: ${origin}\r\nX-CSRF-Token: ${csrf}\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`
      const answer = await rawRoundTrip(port, first + reload)
      expect(answer.status).toBe(status)
      expect(answer.headers.connection).toBe('close')
      // A reload asked for now runs after any the pipelined request started: its answer comes after that one's audit line.
      expect((await c.post('reload', {})).status).toBe(200)
      expect(reloadAudits() - before, 'only the reload sent on its own connection ran').toBe(1)
    }
  })
})
