/**
 * A drain whose grace runs out (or that a second signal ends) ends the requests still running
 * the gateway's way: a request with nothing of its answer sent gets the JSON 503 `drain_ended`,
 * one whose answer had begun is cut, and every one of them gets its access line before the
 * process exits 1. Before, the process exited with the callers' sockets reset and no line at
 * all for what it cut (an SRE saw only a count in the warning).
 *
 * Real processes: `serve --workers 1`, a real mTLS upstream holding /hold (no answer) and
 * /stream (headers and a first chunk, then nothing).
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { join } from 'node:path'
import { writeFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { echo, startMtlsServer, type RunningServer } from '../support/tls-server.js'
import { endpointYaml, send, type Reply } from '../support/gateway.js'
import { exitedOf, spawnGateway, type GatewayProcess } from '../support/process.js'
import { eventually } from './helpers.js'

let pki: TestPki
let upstream: RunningServer
let config: string
const held: ServerResponse[] = []

beforeAll(async () => {
  pki = await createTestPki()
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    if (req.url?.includes('hold')) return void held.push(res)
    if (!req.url?.includes('stream')) return echo(req, res)
    res.writeHead(200, { 'content-type': 'text/plain' })
    res.write('first chunk\n')
    held.push(res)
  }
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt'), handler })
  config = join(pki.dir, 'gateway.yaml')
  writeFileSync(config, `listen: { host: 127.0.0.1, port: 0 }\nadmin: { port: 0 }\ndrain: { grace: 2s }\nendpoints:\n${endpointYaml('partner', upstream.port, clientTls(pki))}`)
})
afterAll(async () => {
  held.splice(0).forEach((res) => res.destroy())
  await upstream?.close()
  pki?.cleanup()
})

/** A GET through the gateway whose answer had begun: its status, and how its body ended. */
function streamed(gatewayUrl: string, path: string): Promise<{ status: number; ended: 'complete' | 'cut' }> {
  return new Promise((resolve, reject) => {
    void import('node:http').then(({ request }) => {
      const u = new URL(gatewayUrl)
      request({ host: u.hostname, port: u.port, path, agent: false, headers: { 'x-request-id': 'begun' } }, (res) => {
        res.resume()
        res.once('end', () => resolve({ status: res.statusCode ?? 0, ended: 'complete' }))
        res.once('error', () => resolve({ status: res.statusCode ?? 0, ended: 'cut' }))
        res.once('aborted', () => resolve({ status: res.statusCode ?? 0, ended: 'cut' }))
      }).once('error', reject).end()
    })
  })
}

const endedLines = (gp: GatewayProcess): Record<string, unknown>[] => gp.logEntries().filter((e) => e.msg === 'request' && e.reason === 'drain_ended')

describe.each([
  { how: 'the grace runs out', why: 'drain.grace (2 s) ran out', second: false },
  { how: 'a second SIGTERM comes', why: 'a second signal ended its drain', second: true },
])('a drain ended while requests run ($how)', ({ why, second }) => {
  it('answers the unanswered one 503 drain_ended, cuts the one whose answer began, writes a line for each, exits 1', async () => {
    const gp = await spawnGateway(config, ['--workers', '1'])
    try {
      const unanswered = send(gp.url, '/proxy/partner/hold', { headers: { 'x-request-id': 'unanswered' } })
      const begun = streamed(gp.url, '/proxy/partner/stream')
      await eventually(() => held.length === 2, 20_000, 'the upstream to hold both requests')
      const exit = exitedOf(gp.child)
      gp.child.kill('SIGTERM')
      await eventually(() => gp.output.some((l) => l.includes('draining: no new connections')), 20_000, 'the draining log line')
      if (second) gp.child.kill('SIGTERM')
      const reply: Reply = await unanswered
      expect(reply.status).toBe(503)
      expect(reply.headers['content-length']).toBe(String(reply.body.length))
      expect(reply.headers.connection).toBe('close')
      expect(reply.json()).toEqual({ errors: [{ msg: `the gateway is shutting down: ${why} before this request was answered (its upstream may have received it)`, code: 503 }] })
      expect(await begun).toEqual({ status: 200, ended: 'cut' })
      expect(await exit).toBe(1)
      await gp.ended
      const lines = endedLines(gp)
      expect(lines.map((l) => [l.reqId, l.status, l.endpoint, l.error]).sort()).toEqual([
        ['begun', 200, 'partner', expect.stringContaining(why)],
        ['unanswered', 503, 'partner', expect.stringContaining(why)],
      ])
    } finally {
      held.splice(0).forEach((res) => res.destroy())
      await gp.stop('SIGKILL')
    }
  })
})
