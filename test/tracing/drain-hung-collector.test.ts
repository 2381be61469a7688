/**
 * A drain (SIGTERM) while the OTLP collector hangs (accepts TCP, never answers) or is
 * unreachable (its SYNs dropped): the requests finished, so the process exits 0 within drain.grace, having waited
 * for the span flush no longer than its bound and said how many spans it dropped. Before, the
 * flush outlived the grace period and the drain ended as a failure (exit 1) on every rollout.
 */
import { writeFileSync } from 'node:fs'
import { createServer, type Server, type Socket } from 'node:net'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { startMtlsServer, type RunningServer } from '../support/tls-server.js'
import { endpointYaml, send } from '../support/gateway.js'
import { exitedOf, spawnGateway } from '../support/process.js'
import { startSilentListener } from '../support/c-silent-listener.js'

let pki: TestPki
let upstream: RunningServer
let collector: Server
const held: Socket[] = []

beforeAll(async () => {
  pki = await createTestPki()
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt') })
  // The hung collector: takes the connection and the request, never answers.
  collector = createServer((s) => {
    held.push(s)
    s.resume()
  })
  await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve))
})

afterAll(async () => {
  for (const s of held) s.destroy()
  await new Promise((resolve) => collector?.close(resolve))
  await upstream?.close()
  pki?.cleanup()
})

const GRACE_S = 4
/** tracing.otlp.timeout's default: how long one export (and an unbounded flush) may wait. */
const EXPORT_TIMEOUT_MS = 10_000

function configFor(name: string, endpoint: string): string {
  const file = join(pki.dir, `${name}.yaml`)
  const yaml = `listen: { host: 127.0.0.1, port: 0 }\nadmin: { enabled: false }\ndrain: { grace: ${GRACE_S}s }\ntracing:\n  enabled: true\n  otlp: { endpoint: "${endpoint}" }\nendpoints:\n${endpointYaml('partner', upstream.port, clientTls(pki))}`
  writeFileSync(file, yaml)
  return file
}

async function drainsCleanly(config: string, workers: number): Promise<void> {
  const gp = await spawnGateway(config, ['--workers', String(workers)])
  try {
    for (let i = 0; i < 5; i++) expect((await send(gp.url, `/proxy/partner/x${i}`)).status).toBe(200)
    const exit = exitedOf(gp.child)
    gp.child.kill('SIGTERM')
    expect(await exit, gp.output.join('\n')).toBe(0)
    // The flush gave up at its bound (grace less 1 s), not at the exporter's 10 s timeout: each line
    // names the bound it waited, and the drain ended within its grace by its own clock (no 'grace
    // period over' line, below). A wall-clock bound here also timed a loaded machine's process exits.
    const dropped = gp.logEntries().filter((e) => e.msg === 'tracing: spans not exported at shutdown')
    expect(dropped.length).toBeGreaterThan(0)
    for (const d of dropped) expect(d).toMatchObject({ level: 'warn', spans: expect.any(Number) as number, waitedMs: expect.any(Number) as number })
    for (const d of dropped) expect(d.waitedMs as number).toBeLessThan(EXPORT_TIMEOUT_MS)
    for (const d of dropped) expect(d.waitedMs as number).toBeLessThanOrEqual(GRACE_S * 1000 - 1000)
    // Five requests, a server and a client span each: none reached the collector.
    expect(dropped.reduce((n, d) => n + Number(d.spans), 0)).toBeGreaterThanOrEqual(10)
    expect(gp.output.some((l) => l.includes('grace period over'))).toBe(false)
  } finally {
    await gp.stop('SIGKILL')
  }
}

describe('drain with a collector that does not answer', () => {
  it('hung collector (accepts, never answers): exit 0 within drain.grace, dropped spans logged', async () => {
    const port = (collector.address() as { port: number }).port
    await drainsCleanly(configFor('hung', `http://127.0.0.1:${port}/v1/traces`), 1)
  }, 120_000)

  it('unreachable collector (its SYNs dropped, as a black-holed address): the same', async () => {
    const silent = await startSilentListener()
    try {
      await drainsCleanly(configFor('unreachable', `http://127.0.0.1:${silent.port}/v1/traces`), 1)
    } finally {
      await silent.close()
    }
  }, 120_000)

  it('the same with --workers 2', async () => {
    const port = (collector.address() as { port: number }).port
    await drainsCleanly(configFor('hung-workers', `http://127.0.0.1:${port}/v1/traces`), 2)
  }, 120_000)
})
