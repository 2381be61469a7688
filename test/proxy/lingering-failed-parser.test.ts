/**
 * A connection closing lingering after a request its parser refused (a malformed request, answered
 * 400) or after one that asked to close (bytes behind it: `HPE_CLOSED_CONNECTION`) reads on and
 * discards what the caller still sends (lingering-close.ts). Node's server fed each of those reads to
 * the parser that had failed, which failed again: a 'clientError' (an Error with its stack, the read
 * attached) at every read, up to 16 MiB of them, each ignored by the gateway's handler. Now a parser
 * that failed is fed no more once the connection lingers: one 'clientError' a connection.
 *
 * A raw TCP caller, on a real gateway: the request, then, once it has read the answer and the FIN,
 * chunks written one at a time, each after the gateway has read the one before (its socket's
 * bytesRead), then its own FIN. Counted: the gateway server's 'clientError' events.
 */
import type { Socket } from 'node:net'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningGateway } from '../../src/cli/gateway-root.js'
import { startTestGateway } from '../support/gateway.js'
import { rawClient } from '../support/raw-client.js'
import { eventually } from '../support/eventually.js'

let gw: RunningGateway
let dir: string
/** The gateway's side of each connection, by the caller's port. */
const accepted = new Map<number, Socket>()
/** 'clientError' events by the caller's port. */
const clientErrors = new Map<number, string[]>()

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gw-linger-parser-'))
  gw = await startTestGateway(dir, 'admin: { enabled: false }\ncallers: { required: false }\nendpoints: []\n')
  gw.server.on('connection', (s: Socket) => void accepted.set(s.remotePort as number, s))
  gw.server.on('clientError', (e: NodeJS.ErrnoException, s: Socket) => {
    const port = s.remotePort as number
    clientErrors.set(port, [...(clientErrors.get(port) ?? []), String(e.code)])
  })
})

afterAll(async () => {
  await gw?.close()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

const CHUNKS = 4
const CHUNK = Buffer.alloc(4096, 'x')

describe.each([
  { what: 'a malformed request (400)', request: 'GET / HTTP/1.1\r\nHost: gw\r\nno colon here\r\n\r\n', status: 400, code: 'HPE_INVALID_HEADER_TOKEN' },
  { what: 'bytes behind a request that asked to close', request: 'GET /nowhere HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\nGET /after HTTP/1.1\r\n', status: 404, code: 'HPE_CLOSED_CONNECTION' },
  // Nothing behind it at first: the parser fails at the first read while the connection lingers.
  { what: 'a request that asked to close, bytes sent after its answer', request: 'GET /nowhere HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n', status: 404, code: 'HPE_CLOSED_CONNECTION' },
])('lingering after $what', ({ request, status, code }) => {
  it("each read the caller sends then is discarded without the failed parser: one 'clientError' for the connection", async () => {
    const c = await rawClient(gw.port, '127.0.0.1', { allowHalfOpen: true })
    const port = c.socket.localPort as number
    const fin = new Promise<void>((resolve) => c.socket.once('end', resolve))
    c.socket.write(request)
    await fin
    expect(c.received().toString('latin1')).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `))
    const server = await eventually(() => accepted.get(port), 30_000, "the gateway's side of the connection")
    // Each chunk read on its own: written once the one before is read (the connection may close at LINGER_LIMITS' 2 s).
    let lingeringReads = 0
    for (let i = 0; i < CHUNKS && !server.destroyed; i++) {
      const before = server.bytesRead
      c.socket.write(CHUNK)
      const read = await eventually(() => server.bytesRead > before || server.destroyed, 30_000, 'the gateway to read the chunk')
      if (read && server.bytesRead > before) lingeringReads++
    }
    c.socket.end()
    await c.closed(30_000)
    // At least one read while it lingered, or there was nothing to count.
    expect(lingeringReads).toBeGreaterThan(0)
    expect(clientErrors.get(port)).toEqual([code])
  })
})
