/**
 * A drain that ends (its grace runs out, or a second signal) ends the requests pipelined behind
 * the one it ends too: they wait on the same connection, already sent and parsed, never started,
 * and its closing leaves them unserved. Each has its access line, `503 drain_ended` saying it never
 * started, before the process exits 1. Before, they were `499 caller_aborted` (the caller had
 * left nothing), and the last of them, let go only when its connection closed, had no line at all.
 *
 * Real processes: `serve --workers 1` from dist, a raw TCP caller pipelining three GETs, a real
 * mTLS upstream holding the first.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { join } from 'node:path'
import { writeFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { echo, startMtlsServer, type RunningServer } from '../support/tls-server.js'
import { endpointYaml } from '../support/gateway.js'
import { parseRawResponse, rawClient } from '../support/raw-client.js'
import { exitedOf, spawnGateway } from '../support/process.js'
import { eventually } from './helpers.js'

let pki: TestPki
let upstream: RunningServer
let config: string
const held: ServerResponse[] = []

beforeAll(async () => {
  pki = await createTestPki()
  const handler = (req: IncomingMessage, res: ServerResponse): void => void (req.url?.includes('hold') ? held.push(res) : echo(req, res))
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt'), handler })
  config = join(pki.dir, 'gateway.yaml')
  writeFileSync(config, `listen: { host: 127.0.0.1, port: 0 }\nadmin: { port: 0 }\ndrain: { grace: 2s }\nendpoints:\n${endpointYaml('partner', upstream.port, clientTls(pki))}`)
})
afterAll(async () => {
  held.splice(0).forEach((res) => res.destroy())
  await upstream?.close()
  pki?.cleanup()
})

const get = (path: string, id: string): string => `GET /proxy/partner/${path} HTTP/1.1\r\nHost: gw\r\nX-Request-Id: ${id}\r\n\r\n`

describe.each([
  { how: 'the grace runs out', why: 'drain.grace (2 s) ran out', second: false },
  { how: 'a second SIGTERM comes', why: 'a second signal ended its drain', second: true },
])('a drain ended while requests wait pipelined behind the one running ($how)', ({ why, second }) => {
  it('answers the running one 503 drain_ended, and logs each waiting one 503 drain_ended (never started), none caller_aborted', async () => {
    const gp = await spawnGateway(config, ['--workers', '1'])
    try {
      const c = await rawClient(Number(new URL(gp.url).port))
      c.socket.write(get('hold', 'running') + get('a', 'waiting-1') + get('b', 'waiting-2'))
      await eventually(() => held.length === 1, 20_000, 'the upstream to hold the first request')
      const exit = exitedOf(gp.child)
      gp.child.kill('SIGTERM')
      await eventually(() => gp.output.some((l) => l.includes('draining: no new connections')), 20_000, 'the draining log line')
      if (second) gp.child.kill('SIGTERM')
      expect(await exit).toBe(1)
      await gp.ended
      await c.closed(20_000)
      // One answer on the connection: the running request's 503, which closes it.
      const received = c.received().toString('latin1')
      expect(received.match(/HTTP\/1\.1 /g)).toHaveLength(1)
      const reply = parseRawResponse(c.received())
      expect([reply.status, reply.headers.connection]).toEqual([503, 'close'])
      const lines = gp.logEntries().filter((e) => e.msg === 'request')
      expect(lines.map((l) => [l.reqId, l.status, l.reason, l.error]).sort()).toEqual([
        ['running', 503, 'drain_ended', `the gateway is shutting down: ${why} before this request was answered (its upstream may have received it)`],
        ['waiting-1', 503, 'drain_ended', `the gateway is shutting down: ${why} while this request waited its turn behind another on its connection (never started: not sent upstream)`],
        ['waiting-2', 503, 'drain_ended', `the gateway is shutting down: ${why} while this request waited its turn behind another on its connection (never started: not sent upstream)`],
      ])
    } finally {
      held.splice(0).forEach((res) => res.destroy())
      await gp.stop('SIGKILL')
    }
  })
})
