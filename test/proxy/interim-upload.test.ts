/**
 * `timeouts.response` is the time the upstream takes to answer, not the time the caller takes to
 * send its body: undici's clock restarts on every body write and runs from the end of the body.
 * A backend that sends `103 Early Hints` as soon as it has the request head (Node's
 * writeEarlyHints, CDNs) and answers once the body is in must not cut an upload that lasts longer
 * than the limit. Before, the gateway's own interim clock (started at the first 1xx) ignored the
 * body still on its way: the call was aborted with 504 mid-upload though the backend was waiting
 * for the bytes. The same upload without the early hint passes in both builds.
 */
import { request, type IncomingMessage, type ServerResponse } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningGateway } from '../../src/cli/gateway-root.js'
import { startResponseLimitGateway } from '../support/gateway.js'
import { createTestPki, type TestPki } from '../support/pki.js'
import { startMtlsServer, type RunningServer } from '../support/tls-server.js'

// 1 s: a loaded machine may hold a chunk of the upload (one every 100 ms) back for most of it.
const LIMIT_MS = 1000
const CHUNKS = 20

let pki: TestPki
let server: RunningServer
let gw: RunningGateway

/** Answers once the body is in, after an early hint on `/early`; `/stalling` never answers. */
function backend(req: IncomingMessage, res: ServerResponse): void {
  if (req.url?.endsWith('/early')) res.writeEarlyHints({ link: '</style.css>; rel=preload' })
  let n = 0
  req.on('data', (d: Buffer) => (n += d.length))
  if (req.url?.endsWith('/stalling')) {
    // Early hints, then `102 Processing` every 100 ms once the body is in, and never an answer.
    res.writeEarlyHints({ link: '</style.css>; rel=preload' })
    req.on('data', () => {})
    const timer = setInterval(() => (res.destroyed ? clearInterval(timer) : req.complete && res.writeProcessing()), 100)
    return
  }
  req.on('end', () => res.end(`got ${n}`))
}

beforeAll(async () => {
  pki = await createTestPki()
  server = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt'), handler: backend })
  gw = await startResponseLimitGateway(pki, server.port, LIMIT_MS)
})

afterAll(async () => {
  await gw?.close()
  await server?.close()
  pki?.cleanup()
})

/**
 * POSTs CHUNKS chunks of 100 bytes, one every 100 ms (2 s in all, twice the limit); `afterEndMs`:
 * from the body's end to the answer's (undefined when the answer came before the body's end).
 */
function slowUpload(path: string): Promise<{ status: number; body: string; afterEndMs: number | undefined }> {
  return new Promise((resolve, reject) => {
    let endedAt: number | undefined
    const req = request(`${gw.url}/proxy/partner${path}`, { method: 'POST', headers: { 'content-type': 'application/octet-stream', 'content-length': String(CHUNKS * 100) } }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => (body += c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, afterEndMs: endedAt === undefined ? undefined : performance.now() - endedAt }))
    })
    req.on('error', reject)
    let sent = 0
    const timer = setInterval(() => {
      req.write(Buffer.alloc(100, 0x61))
      if (++sent === CHUNKS) {
        clearInterval(timer)
        req.end()
        endedAt = performance.now()
      }
    }, 100)
  })
}

describe('an upload slower than timeouts.response', () => {
  it('passes when the backend answers after the body (no interim answer)', async () => {
    expect(await slowUpload('/plain')).toMatchObject({ status: 200, body: `got ${CHUNKS * 100}` })
  })

  it('passes when the backend sent 103 Early Hints before the body was in', async () => {
    expect(await slowUpload('/early')).toMatchObject({ status: 200, body: `got ${CHUNKS * 100}` })
  })

  it('the limit still holds after the body is in: interim answers sent for ever end in 504', async () => {
    const r = await slowUpload('/stalling')
    expect(r.status).toBe(504)
    // The final head was due within the limit after the body's end: the 504 came after that end,
    // within the limit (and the lateness a loaded machine adds) of it.
    expect(r.afterEndMs).toBeDefined()
    expect(r.afterEndMs).toBeLessThan(LIMIT_MS + 3000)
  })
})
