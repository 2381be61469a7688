/**
 * A lingering close (lingering-close.ts) reads what the caller still sends, on every connection the
 * gateway ends after its last answer (its bound of bytes: closing-answer-flush.test.ts,
 * lingering-close.property.test.ts). Here a caller that sends its whole upload before it reads (a
 * plain HTTP client does) after a request that said `Connection: close` (the bytes after it were
 * Node's HTTP parser's HPE_CLOSED_CONNECTION, and the socket was paused for good), or after a CONNECT
 * refused on the raw socket (Node's server hands that socket over, and nothing read it): before,
 * nothing more was read, the upload stalled in full buffers, and the connection was closed 2 s later
 * with bytes unread, a reset the caller got instead of its answer. On the proxy listener and on the
 * admin one. 8 MiB: more than the kernel buffers hold of a connection nobody reads (the caller's send
 * buffer grows to 4 MiB, the receive buffer of a socket never read stays small), less than 16 MiB.
 * In-process gateway, a real mTLS upstream, raw TCP callers.
 */
import { mkdirSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parseRawResponse } from '../support/raw-client.js'
import { useDrainEndRig } from './drain-end-rig.js'
import { startOpsGateway, type OpsGateway } from './helpers.js'

const rig = useDrainEndRig('lingering-upload')
const MiB = 1024 * 1024

/** A gateway from the rig's YAML in its own directory, for `use`; closed after. */
async function withGateway<T>(dir: string, use: (g: OpsGateway) => Promise<T>): Promise<T> {
  mkdirSync(join(rig.dir, dir))
  const g = await startOpsGateway(join(rig.dir, dir), rig.yaml(''), { exit: () => undefined })
  try {
    return await use(g)
  } finally {
    rig.upstream.waiting.splice(0).forEach((w) => w.res.destroy())
    await g.gw.close()
  }
}

/**
 * A caller that writes `head`, then `upload` bytes, reading nothing until all of it is written (handed
 * to its kernel): then what it reads until the connection closes, and the error it met, if any.
 */
function uploadThenRead(port: number, head: string, upload: number): Promise<{ received: Buffer; error: string | null }> {
  return new Promise((resolve) => {
    const caller = connect({ port, host: '127.0.0.1', allowHalfOpen: true })
    caller.pause()
    const received: Buffer[] = []
    let error: string | null = null
    caller.on('error', (e: NodeJS.ErrnoException) => void (error ??= e.code ?? e.message))
    caller.on('close', () => resolve({ received: Buffer.concat(received), error }))
    caller.write(head)
    const chunk = Buffer.alloc(64 * 1024, 'u')
    const read = (): void => void (caller.on('data', (b: Buffer) => void received.push(b)), caller.resume(), caller.end())
    let left = upload
    const more = (): void => {
      while (left > 0) {
        left -= chunk.length
        if (left <= 0) return void caller.write(chunk, read)
        if (!caller.write(chunk)) return void caller.once('drain', more)
      }
    }
    more()
  })
}

describe('a lingering close reads what the caller still sends', () => {
  const cases = [
    { name: 'a request that said Connection: close, answered 400 (proxy listener)', admin: false, head: 'GET /proxy/partner/a%zz HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n', status: 400 },
    { name: 'a request that said Connection: close, answered 404 (admin listener)', admin: true, head: 'GET /nowhere HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n', status: 404 },
    { name: 'a CONNECT refused on the raw socket, 400 (proxy listener)', admin: false, head: 'CONNECT api.partner.test:443 HTTP/1.1\r\n\r\n', status: 400 },
    { name: 'a CONNECT refused on the raw socket, 405 (admin listener)', admin: true, head: 'CONNECT api.partner.test:443 HTTP/1.1\r\nHost: api.partner.test:443\r\n\r\n', status: 405 },
  ]
  for (const c of cases) {
    it(`${c.name}, its caller uploading 8 MiB more before it reads: it reads the whole answer, then the end`, async () => {
      const { received, error } = await withGateway(`upload-${cases.indexOf(c)}`, (g) => uploadThenRead(c.admin ? Number(new URL(g.adminUrl).port) : g.gw.port, c.head, 8 * MiB))
      expect({ error, length: received.length > 0 }).toEqual({ error: null, length: true })
      const answer = parseRawResponse(received)
      expect([answer.status, answer.headers.connection, answer.headers['content-length']]).toEqual([c.status, 'close', String(answer.body.length)])
      expect(JSON.parse(answer.body.toString('utf8'))).toMatchObject({ errors: [{ code: c.status }] })
    }, 120_000)
  }
})
