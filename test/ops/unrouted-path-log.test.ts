/**
 * A request the listener cannot route (origin-form outside /proxy/ and /gateway/: a caller that
 * forgot its proxy setting sends the backend's path) is told its path in the 404, but its access
 * line carries no path, as no access line does: such paths hold account numbers and tokens.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { send } from '../support/gateway.js'
import { eventually, startOpsGateway, type OpsGateway } from './helpers.js'

let dir: string
let g: OpsGateway

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'unrouted-path-'))
  // Every 404's own line is asserted, 30 in a few seconds: the cap on such lines
  // (logging.callerFaults, test/ops/caller-fault-lines.test.ts) is off here.
  g = await startOpsGateway(dir, 'admin: { host: 127.0.0.1, port: 0 }\nlogging: { callerFaults: { interval: 0 } }\nendpoints: []\n')
})

afterAll(async () => {
  await g?.gw.close()
  rmSync(dir, { recursive: true, force: true })
})

describe('unrouted requests', () => {
  it('the 404 names the path; the log line does not (30 runs)', async () => {
    const segment = fc.stringMatching(/^[A-Za-z0-9_-]{10,24}$/)
    await fc.assert(
      fc.asyncProperty(segment, async (secret) => {
        const path = `/v1/accounts/${secret}/balance`
        const r = await send(g.gw.url, `${path}?pin=1`)
        expect(r.status).toBe(404)
        expect(r.text).toContain(path)
        await eventually(() => g.lines.some((l) => l.includes(r.headers['x-request-id'] as string) && l.includes('"msg":"request"')) || undefined, 10_000, 'the access line')
        for (const line of g.lines) expect(line.includes(secret), line).toBe(false)
      }),
      { seed: 0x404, numRuns: 30 },
    )
  })
})
