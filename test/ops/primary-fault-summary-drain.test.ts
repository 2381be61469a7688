/**
 * The `--workers` primary's own capped lines (its admin listener: the console's refusals of
 * unauthenticated clients) have their pending summaries written when the instance exits, as a
 * single process and each worker write theirs. Before, the primary exited without them: a
 * flood of cross-origin POSTs or wrong sign-ins left `burst` lines and no record of the rest when
 * the instance exited 1 (a second signal, a worker cut at the end of the grace): the clean exit
 * closed the console, which wrote them.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { endpointYaml, send } from '../support/gateway.js'
import { eventually } from '../support/eventually.js'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { startHungUpstream, type HungUpstream } from '../support/hung-upstream.js'
import { adminRequest } from '../support/admin-request.js'
import { adminUrlOf, exitedOf, spawnGateway } from '../support/process.js'

const BURST = 2
const SENT = 8
let pki: TestPki
let config: string
// An upstream that accepts and never answers: a request to it stays in flight.
let hung: HungUpstream
beforeAll(async () => {
  pki = await createTestPki()
  hung = await startHungUpstream()
  config = join(pki.dir, 'gateway.yaml')
  writeFileSync(config, `listen: { host: 127.0.0.1, port: 0 }\nadmin: { port: 0, token: "console-token-for-the-summary-test" }\nlogging: { callerFaults: { burst: ${BURST}, interval: 10m } }\nendpoints:\n${endpointYaml('partner', hung.port, clientTls(pki))}`)
})
afterAll(async () => {
  await hung?.close()
  pki?.cleanup()
})

describe('the --workers primary at its exit', () => {
  for (const cut of [false, true]) {
    it(`writes the summary of the console refusal lines it held back (${cut ? 'a second SIGTERM with a request in flight, exit 1' : 'a clean drain, exit 0'})`, async () => {
      const gp = await spawnGateway(config, ['--workers', '2'])
      try {
        const admin = await adminUrlOf(gp)
        for (let i = 0; i < SENT; i++) expect((await adminRequest(`${admin}/console/api/reload`, { method: 'POST', origin: 'http://evil.example', body: {} })).status).toBe(403)
        const accepted = hung.held.length
        const slow = cut ? send(gp.url, '/proxy/partner/slow').catch((e: unknown) => e) : undefined
        if (cut) await eventually(() => hung.held.length > accepted, 30_000, 'the upstream to hold the request')
        const exit = exitedOf(gp.child)
        gp.child.kill('SIGTERM')
        if (cut) {
          await eventually(() => gp.output.some((l) => l.includes('"draining every worker"')), 30_000, 'the drain')
          gp.child.kill('SIGTERM')
        }
        expect(await exit).toBe(cut ? 1 : 0)
        await slow
        await gp.ended
        const entries = gp.logEntries()
        const lines = entries.filter((e) => e.audit === 'console' && e.result === 'cross_origin_refused')
        const summaries = entries.filter((e) => e.reason === 'cross_origin_refused' && String(e.msg).startsWith('suppressed '))
        expect(lines.length).toBe(BURST)
        expect(summaries.map((s) => [s.suppressed, s.clients])).toEqual([[SENT - BURST, { '127.0.0.1': SENT - BURST }]])
      } finally {
        await gp.stop('SIGKILL')
      }
    })
  }
})
