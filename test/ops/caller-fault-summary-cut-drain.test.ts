/**
 * A drain that ends in exit 1 (a connection still open at the end of drain.grace, as a client
 * holding requests half-sent would cause) still writes the pending logging.callerFaults summaries:
 * they are the record of what unauthenticated clients did, and the lines they replace are gone.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { endpointYaml, send } from '../support/gateway.js'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { startHungUpstream, type HungUpstream } from '../support/hung-upstream.js'
import { eventually } from '../support/eventually.js'
import { exitedOf, spawnGateway } from '../support/process.js'

let pki: TestPki
let config: string
// An upstream that accepts and never answers: a request to it stays in flight past the grace.
let hung: HungUpstream
beforeAll(async () => {
  pki = await createTestPki()
  hung = await startHungUpstream()
  const port = hung.port
  config = join(pki.dir, 'gateway.yaml')
  writeFileSync(config, `listen: { host: 127.0.0.1, port: 0 }\nadmin: { enabled: false }\ndrain: { grace: 1s }\nlogging: { callerFaults: { burst: 2, interval: 5m } }\nendpoints:\n${endpointYaml('partner', port, clientTls(pki))}`)
})
afterAll(async () => {
  await hung.close()
  pki.cleanup()
})

describe('caller-fault summaries at a cut drain', () => {
  it('exit 1 at the end of the grace period still writes the summary of the lines held back (serve, its default workers)', async () => {
    const gp = await spawnGateway(config)
    try {
      for (let i = 0; i < 10; i++) expect((await send(gp.url, `/proxy/nowhere/${i}`)).status).toBeGreaterThanOrEqual(400)
      // A request in flight that cannot finish within the grace period (its upstream never answers).
      const accepted = hung.held.length
      const slow = send(gp.url, '/proxy/partner/slow').catch((e: unknown) => e)
      // In flight once the upstream holds its connection (a fixed pause may end before, on a loaded machine).
      await eventually(() => hung.held.length > accepted, 30_000, 'the upstream to hold the slow request')
      const exit = exitedOf(gp.child)
      gp.child.kill('SIGTERM')
      expect(await exit).toBe(1)
      await slow
      const summaries = gp.output.filter((l) => l.includes('"suppressed"')).map((l) => JSON.parse(l) as { suppressed: number; clients: Record<string, number> })
      const lines = gp.output.filter((l) => l.includes('"reason":"endpoint_not_configured"') && !l.includes('"suppressed"')).length
      // Every worker (the one cut at the grace's end too) said what it held back: lines + summaries = events.
      expect(gp.output.some((l) => l.includes('grace period over: exiting with requests in flight'))).toBe(true)
      expect(lines + summaries.reduce((n, s) => n + s.suppressed, 0)).toBe(10)
      for (const s of summaries) expect(Object.keys(s.clients)).toEqual(['127.0.0.1'])
    } finally {
      await gp.stop('SIGKILL')
    }
  })
})
