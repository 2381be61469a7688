/**
 * The malformed-head message (a fault after a Content-Length line named for what it is, not as a
 * length mismatch) and the canonical Content-Length hold in both workers of the real gateway
 * (--workers 2, dist build), and after a hot reload that rebuilds every upstream pool, as after a
 * fresh start: undici's parser is corrected once per process, at its first connection. So do the
 * rule that a framing, hop-by-hop or gateway-set header in another spelling (`Transfer_Encoding`,
 * `X_Request_Id`, `Keep_Alive`) is never relayed, and the
 * 502 for a body that failed in the head's own read (a malformed chunk), never a 200 head and a cut,
 * and the cut of a body read to the close that a reset broke off (never a whole answer).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { eventually } from '../support/eventually.js'
import { endpointYaml } from '../support/gateway.js'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { spawnGateway, type GatewayProcess } from '../support/process.js'
import { rawRoundTrip } from '../support/raw-client.js'
import { startScriptedBackend, writeThenReset, type ScriptedBackend } from '../support/scripted-backend.js'

let pki: TestPki
let backend: ScriptedBackend
let dir: string
let config: string
let gp: GatewayProcess

const NUL_AFTER_LENGTH = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-A: a\0b\r\n\r\nok'
const MSG = 'endpoint "up": malformed HTTP response (HPE_INVALID_HEADER_TOKEN): a header value holds a character HTTP forbids (NUL, DEL or another control character)'
const BAD_CHUNK = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\nzz\r\n'
const CHUNK_MSG = 'endpoint "up": malformed response body, found before status 200 was relayed (HPE_INVALID_CHUNK_SIZE): the chunked body is malformed: a chunk size that is not hexadecimal'
// With framing headers in other spellings, which a caller folding `_` and `.` to `-` would frame by, and
// other spellings of the gateway's X-Request-Id and of hop-by-hop headers, which it would read as those: never relayed.
const SHADOWS = ['transfer_encoding', 'content.length', 'x_request_id', 'x.request.id', 'proxy_authenticate', 'keep_alive', 'set_cookie']
const GOOD = 'HTTP/1.1 200 OK\r\nContent-Length: 002\r\nTransfer_Encoding: chunked\r\ncontent.length: 9\r\nX_Request_Id: backend-id\r\nX.Request.Id: backend-id\r\nProxy_Authenticate: Basic\r\nKeep_Alive: timeout=999\r\nSet_Cookie: s=1\r\n\r\nok'
// A body read to the close, broken off by a TCP reset: a cut, never a whole answer (undici took it for one).
const READ_TO_CLOSE = 'HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n' + 'x'.repeat(1000)
const yaml = (response: string): string => `listen: { host: 127.0.0.1, port: 0 }\nadmin: { enabled: false }\nendpoints:\n${endpointYaml('up', backend.port, clientTls(pki), `    timeouts: { response: ${response} }\n`)}`

beforeAll(async () => {
  pki = await createTestPki()
  backend = await startScriptedBackend(pki, (head, socket) => {
    if (head.startsWith('GET /reset')) return void writeThenReset(socket, READ_TO_CLOSE)
    return head.startsWith('GET /chunk') ? BAD_CHUNK : (head.startsWith('GET /bad') ? NUL_AFTER_LENGTH : GOOD)
  })
  dir = mkdtempSync(join(tmpdir(), 'malformed-responses-workers-'))
  config = join(dir, 'gateway.yaml')
  writeFileSync(config, yaml('10s'))
  gp = await spawnGateway(config, ['--workers', '2'])
}, 120_000)

afterAll(async () => {
  await gp?.stop()
  await backend?.close()
  pki?.cleanup()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

/** Rounds of a malformed call and two good ones, each on a new connection; both workers must have answered a malformed one. */
async function checkBothWorkers(): Promise<void> {
  const from = gp.output.length
  const port = Number(new URL(gp.url).port)
  for (let round = 0; round < 4; round++) {
    const bad = await rawRoundTrip(port, 'GET /proxy/up/bad HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n')
    expect([bad.status, bad.body.toString()]).toEqual([502, JSON.stringify({ errors: [{ msg: MSG, code: 502 }] })])
    const chunk = await rawRoundTrip(port, 'GET /proxy/up/chunk HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n')
    expect([chunk.status, chunk.body.toString()]).toEqual([502, JSON.stringify({ errors: [{ msg: CHUNK_MSG, code: 502 }] })])
    const reset = await rawRoundTrip(port, 'GET /proxy/up/reset HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n')
    expect(reset.status === 502 || (reset.headers['transfer-encoding'] === 'chunked' && !reset.body.toString('latin1').endsWith('0\r\n\r\n')), `${reset.status}, ending ${JSON.stringify(reset.body.toString('latin1').slice(-12))}`).toBe(true)
    // Four good calls a round (seven connections): with connections dealt in turn, each kind of malformed one reaches both workers.
    for (let i = 0; i < 4; i++) {
      const good = await rawRoundTrip(port, 'GET /proxy/up/good HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n')
      expect([good.status, good.headers['content-length'], SHADOWS.filter((n) => n in good.headers), good.headers['x-request-id'] === 'backend-id', good.body.toString()]).toEqual([200, '2', [], false, 'ok'])
    }
  }
  const pids = await eventually(() => {
    const lines = gp.logEntries(from).filter((e) => e.msg === 'request' && e.reason === 'upstream_response_malformed')
    const cut = gp.logEntries(from).filter((e) => e.msg === 'request' && e.reason === 'upstream_response_truncated')
    return lines.length === 8 && cut.length === 4 && [new Set(lines.filter((e) => e.error === MSG).map((e) => e.pid)), new Set(lines.filter((e) => e.error === CHUNK_MSG).map((e) => e.pid)), new Set(cut.map((e) => e.pid))]
  }, 15_000, 'the twelve access lines of the malformed and cut answers')
  expect(pids.map((p) => p.size)).toEqual([2, 2, 2])
}

describe('a malformed upstream head with --workers 2', () => {
  it('is named for what it is by both workers; a Content-Length of 002 reaches the caller as 2, Transfer_Encoding, X_Request_Id, Keep_Alive… not at all; a reset body is cut', async () => {
    await checkBothWorkers()
  }, 120_000)

  it('and after a reload that rebuilds the upstream pools', async () => {
    const from = gp.output.length
    writeFileSync(config, yaml('9s'))
    gp.child.kill('SIGHUP')
    await eventually(() => new Set(gp.logEntries(from).filter((e) => e.msg === 'config reloaded').map((e) => e.pid)).size === 2, 30_000, 'both workers to reload')
    await checkBothWorkers()
  }, 120_000)
})
