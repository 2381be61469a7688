/**
 * A drain that ends between one pipelined request's answer and the next one's start. The next
 * request is handed its turn one event-loop turn after the answer before it (undici takes its
 * connection back then: pipelined.ts leave), and in that turn it is neither waiting nor running:
 * the drain's end, which ended the requests running and those waiting behind them, did not reach
 * it, closed its connection, and it was logged `499` `caller_aborted`, as was every one behind it.
 * (So did a drain's end between an answer's 'finish' and its 'close': the request was no longer
 * one to end, and its connection's lane was not ended.) Each is `503` `drain_ended` (never started:
 * not sent upstream) now, as any request a drain's end leaves unserved.
 *
 * Deterministic: the drain begins and a second signal ends it from an answer's own 'finish' or
 * 'close' event (a signal handled in the same poll phase as the socket write that finished that
 * answer does the same). A seeded property over how many requests are pipelined, after which
 * answer and at which of its events the drain ends. In-process gateway, a raw TCP caller, a real
 * mTLS upstream.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { endpointYaml } from '../support/gateway.js'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { rawClient } from '../support/raw-client.js'
import { echo, startMtlsServer, type RunningServer } from '../support/tls-server.js'
import { eventually, startOpsGateway } from './helpers.js'

let pki: TestPki
let upstream: RunningServer
let dir: string

beforeAll(async () => {
  pki = await createTestPki()
  dir = mkdtempSync(join(tmpdir(), 'gw-drain-handover-'))
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt'), handler: echo })
})

afterAll(async () => {
  await upstream?.close()
  pki?.cleanup()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

const get = (id: string): string => `GET /proxy/partner/${id} HTTP/1.1\r\nHost: gw\r\nX-Request-Id: ${id}\r\n\r\n`
const WAITING = 'the gateway is shutting down: a second signal ended its drain while this request waited its turn behind another on its connection (never started: not sent upstream)'

/** Pipelines `count` GETs; the drain begins and ends at the `event` of answer `endAfter`. Returns each request's [status, reason, error] and the exit codes. */
async function drainEndedAt(count: number, endAfter: number, event: 'finish' | 'close'): Promise<{ lines: unknown[][]; exits: number[] }> {
  const exits: number[] = []
  const yaml = `admin: { host: 127.0.0.1, port: 0 }\ndrain: { grace: 10m }\ncallers: { required: false }\nendpoints:\n${endpointYaml('partner', upstream.port, clientTls(pki))}`
  const g = await startOpsGateway(dir, yaml, { exit: (code) => void exits.push(code) })
  try {
    const ids = Array.from({ length: count }, (_, i) => `r${i}`)
    // Registered after the listener's own: on 'close', its listener (which gives the turn away) runs first.
    g.gw.server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      if (req.headers['x-request-id'] === ids[endAfter]) res.on(event, () => void (g.gw.ops?.drain('SIGTERM'), g.gw.ops?.drain('SIGTERM')))
    })
    const c = await rawClient(g.gw.port)
    c.socket.write(ids.map(get).join(''))
    await c.closed(30_000)
    await eventually(() => exits.length > 0, 30_000, 'the cut drain to exit')
    const found = await eventually(() => {
      const mine = g.access().filter((e) => ids.includes(String(e.reqId)))
      return mine.length === count && mine
    }, 30_000, 'an access line for each request')
    return { lines: ids.map((id) => found.find((l) => l.reqId === id)).map((l) => [l?.status, l?.reason, l?.error]), exits }
  } finally {
    await g.gw.close()
  }
}

describe('a drain that ends between one pipelined answer and the next request\'s start', () => {
  it('the requests answered before it are 200; every one after is 503 drain_ended (never started), none caller_aborted (seeded property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 2, max: 5 }).chain((count) => fc.tuple(fc.constant(count), fc.integer({ min: 0, max: count - 2 }), fc.constantFrom('finish' as const, 'close' as const))),
        async ([count, endAfter, event]) => {
          const { lines, exits } = await drainEndedAt(count, endAfter, event)
          expect(exits).toEqual([1])
          const answered = Array.from({ length: endAfter + 1 }, () => [200, undefined, undefined])
          const unserved = Array.from({ length: count - endAfter - 1 }, () => [503, 'drain_ended', WAITING])
          expect(lines).toEqual([...answered, ...unserved])
        },
      ),
      { seed: 0x4a11, numRuns: 8 },
    )
  }, 120_000)
})
