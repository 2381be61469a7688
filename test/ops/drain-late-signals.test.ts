/**
 * Signals that reach a drain after its listener closed, while it closes the rest (here a span
 * flush that waits on a collector which answers only once the signal was handled): the process
 * keeps its handlers to the end. Before, closing removed them first, so a SIGHUP then ended a clean drain by the signal's
 * default action (no exit 0, the last log lines lost) and a second SIGTERM killed the process
 * instead of the promised exit 1 with its log written.
 */
import type { ChildProcess } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { createServer, type Server, type ServerResponse } from 'node:http'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { startHoldingUpstream, type HoldingUpstream } from '../support/holding-upstream.js'
import { endpointYaml, send } from '../support/gateway.js'
import { adminUrlOf, spawnGateway, type GatewayProcess } from '../support/process.js'
import { eventually, get } from './helpers.js'

let pki: TestPki
let upstream: HoldingUpstream
let collector: Server
let config: string
/** Whether the collector answers exports; the exports it holds unanswered meanwhile. */
let answering = false
const unanswered: ServerResponse[] = []
const answer = (res: ServerResponse): void => void res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end()
/** The collector hangs (takes every export, answers none) or, from here on, answers them all, the held ones first. */
function collectorAnswers(on: boolean): void {
  answering = on
  if (on) for (const res of unanswered.splice(0)) answer(res)
}

beforeAll(async () => {
  pki = await createTestPki()
  upstream = await startHoldingUpstream(pki)
  // The collector: hung (takes the connection and the request, never answers) until a case has it answer, so the
  // span flush waits until then, not until tracing.otlp.timeout (10 s) has passed.
  collector = createServer((req, res) => {
    req.resume()
    if (answering) answer(res)
    else unanswered.push(res)
  })
  await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve))
  config = join(pki.dir, 'gateway.yaml')
  const otlp = `http://127.0.0.1:${(collector.address() as { port: number }).port}/v1/traces`
  writeFileSync(config, `listen: { host: 127.0.0.1, port: 0 }\nadmin: { port: 0 }\ndrain: { grace: 60s }\ntracing:\n  enabled: true\n  otlp: { endpoint: "${otlp}" }\nendpoints:\n${endpointYaml('partner', upstream.server.port, clientTls(pki))}`)
})

afterAll(async () => {
  collector?.closeAllConnections()
  await new Promise((resolve) => collector?.close(resolve))
  await upstream?.close()
  pki?.cleanup()
})

const exitOf = (child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> =>
  new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))

/** A gateway with spans waiting for the hung collector, drained until its admin listener closed (closing has begun; the span flush waits). */
async function closingAfterDrain(): Promise<{ gp: GatewayProcess; exit: ReturnType<typeof exitOf> }> {
  collectorAnswers(false)
  const gp = await spawnGateway(config, ['--workers', '1'])
  const admin = await adminUrlOf(gp)
  expect((await send(gp.url, '/proxy/partner/traced')).status).toBe(200)
  const exit = exitOf(gp.child)
  gp.child.kill('SIGTERM')
  await eventually(async () => (await get(`${admin}/healthz`).then(() => false, () => true)), 20_000, 'the admin listener to close')
  return { gp, exit }
}

describe('signals while a drain closes what is left after its listener', () => {
  it('SIGHUP does not end the drain: it exits 0 with its last lines', async () => {
    const { gp, exit } = await closingAfterDrain()
    try {
      gp.child.kill('SIGHUP')
      // Handled (its line written) while the flush still waits: only then does the collector answer and the flush end.
      await eventually(() => gp.logEntries().some((e) => e.msg === 'draining: no reload') || gp.child.exitCode !== null || gp.child.signalCode !== null, 20_000, 'the SIGHUP to be handled')
      collectorAnswers(true)
      expect(await exit).toEqual({ code: 0, signal: null })
      await gp.ended
      expect(gp.output.some((l) => l.includes('"drained: exiting"'))).toBe(true)
      expect(gp.logEntries().filter((e) => e.msg === 'draining: no reload')).toMatchObject([{ level: 'info', trigger: 'SIGHUP' }])
      expect(gp.output.some((l) => l.includes('config reloaded'))).toBe(false)
    } finally {
      await gp.stop('SIGKILL')
    }
  })

  it('a second SIGTERM exits at once with code 1, its line written', async () => {
    const { gp, exit } = await closingAfterDrain()
    try {
      gp.child.kill('SIGTERM')
      expect(await exit).toEqual({ code: 1, signal: null })
      await gp.ended
      expect(gp.output.some((l) => l.includes('"second signal while draining: exiting now"'))).toBe(true)
    } finally {
      await gp.stop('SIGKILL')
    }
  })

  it('SIGHUP to a --workers primary while the instance drains reloads nothing, and the held request still finishes: exit 0', async () => {
    // No hung collector here: the drain's span flush is answered, so the exit does not wait out tracing.otlp.timeout.
    collectorAnswers(true)
    const gp = await spawnGateway(config, ['--workers', '2'])
    try {
      const reply = send(gp.url, '/proxy/partner/held')
      await eventually(() => upstream.waiting.length === 1, 20_000, 'the upstream to hold the request')
      const exit = exitOf(gp.child)
      gp.child.kill('SIGTERM')
      await eventually(() => gp.logEntries().filter((e) => e.msg === 'draining: no new connections, waiting for in-flight requests').length === 2, 20_000, 'both workers draining')
      gp.child.kill('SIGHUP')
      await eventually(() => gp.logEntries().some((e) => e.msg === 'draining: no reload'), 20_000, 'the SIGHUP said ignored')
      upstream.release()
      expect((await reply).status).toBe(200)
      expect(await exit).toEqual({ code: 0, signal: null })
      await gp.ended
      // Before, the primary relayed the reload to the draining workers.
      expect(gp.output.some((l) => l.includes('reload: relaying') || l.includes('config reloaded'))).toBe(false)
    } finally {
      await gp.stop('SIGKILL')
    }
  })
})
