/**
 * A body that arrived whole with its head is relayed with its last chunk given to end()
 * (end-whole.ts, from upstream-call.ts): one corked write of head and body instead of write()s, an empty
 * final write and an uncork turn. Held here to what write()s then end() send, byte for byte, on a
 * real node:http server read by a raw client: any number of chunks (empty ones too), a
 * Content-Length or chunked framing, HTTP/1.1 and 1.0 callers, GET and HEAD, bodiless statuses.
 */
import { once } from 'node:events'
import { createServer, type Server, type ServerResponse } from 'node:http'
import { connect, type AddressInfo } from 'node:net'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { endWhole } from '../../src/proxy/end-whole.js'

interface Case {
  status: number
  framing: 'length' | 'chunked'
  chunks: Buffer[]
  whole: boolean
}

const cases = new Map<string, Case>()
let server: Server
let port = 0

/** The general path: every chunk through write(), then end(). */
function writeThenEnd(res: ServerResponse, chunks: readonly Buffer[]): void {
  for (const chunk of chunks) res.write(chunk)
  res.end()
}

beforeAll(async () => {
  server = createServer({ keepAlive: true }, (req, res) => {
    const c = cases.get(req.url ?? '') as Case
    res.sendDate = false
    const size = c.chunks.reduce((n, b) => n + b.length, 0)
    res.writeHead(c.status, { 'content-type': 'application/octet-stream', ...(c.framing === 'length' ? { 'content-length': String(size) } : {}) })
    if (c.whole) endWhole(res, c.chunks)
    else writeThenEnd(res, c.chunks)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  port = (server.address() as AddressInfo).port
})

afterAll(async () => {
  server.closeAllConnections()
  await new Promise((r) => server.close(r))
})

/** Every byte the server sends for one request, up to its close (the request asks for it). */
async function answer(path: string, method: string, version: string): Promise<Buffer> {
  const socket = connect(port, '127.0.0.1')
  const got: Buffer[] = []
  socket.on('data', (b: Buffer) => got.push(b))
  socket.write(`${method} ${path} HTTP/${version}\r\nHost: relay.test\r\nConnection: close\r\n\r\n`)
  await once(socket, 'close')
  return Buffer.concat(got)
}

let n = 0
const bytesOf = async (c: Omit<Case, 'whole'>, method: string, version: string, whole: boolean): Promise<Buffer> => {
  const path = `/c${++n}`
  cases.set(path, { ...c, whole })
  try {
    return await answer(path, method, version)
  } finally {
    cases.delete(path)
  }
}

describe('a whole body relayed with its last chunk in end()', () => {
  it('sends the bytes write()s then end() send', async () => {
    const chunk = fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a))
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          status: fc.constantFrom(200, 201, 204, 304, 404, 502),
          framing: fc.constantFrom('length' as const, 'chunked' as const),
          chunks: fc.array(chunk, { minLength: 1, maxLength: 4 }),
        }),
        fc.constantFrom('GET', 'HEAD'),
        fc.constantFrom('1.1', '1.0'),
        async (c, method, version) => {
          const general = await bytesOf(c, method, version, false)
          const fast = await bytesOf(c, method, version, true)
          expect(fast.toString('latin1')).toBe(general.toString('latin1'))
        },
      ),
      { seed: 20261207, numRuns: 1500 },
    )
  }, 300_000)
})
