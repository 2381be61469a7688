/**
 * Backends read a bounded number of parameters and drop the rest: PHP registers the first
 * max_input_vars (1000) and warns about the others, Express's qs keeps the first parameterLimit
 * (1000). A field the gateway put after a caller's 1,000 parameters was dropped there: the
 * backend read no `acct` at all. The gateway's query and form fields go first, so the caller's
 * parameters are what a limit cuts. Judged by real PHP (`php -n -S`, test/peers/php_request.php)
 * behind a gateway process, over generated parameter counts (seeded).
 */
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startAcctFieldGateway, type AcctFieldGateway } from '../support/acct-field-gateway.js'
import { send } from '../support/gateway.js'
import { startPhpBackend, type PhpBackend, type PhpReading } from '../support/php-backend.js'

let php: PhpBackend
let g: AcctFieldGateway

beforeAll(async () => {
  php = await startPhpBackend()
  g = await startAcctFieldGateway((req, res) => php.relay(req, res))
})

afterAll(async () => {
  await g?.close()
  await php?.stop()
})

const callerParameters = (n: number): string => Array.from({ length: n }, (_, i) => `p${i}=${i}`).join('&')

describe('a field beside many caller parameters', () => {
  it('is what PHP reads, however many parameters the caller sends (seeded)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 995, max: 1400 }), fc.constantFrom('query', 'payload'), async (n, endpoint) => {
        const headers = { 'proxy-authorization': `Bearer ${await g.bearer()}`, 'content-type': 'application/x-www-form-urlencoded' }
        const path = endpoint === 'query' ? `/proxy/query/x?${callerParameters(n)}&acct=victim` : '/proxy/payload/x'
        const body = endpoint === 'query' ? 'x=1' : `${callerParameters(n)}&acct=victim`
        const r = await send(g.gw.url, path, { method: 'POST', body, headers })
        expect(r.status, r.text).toBe(200)
        const reading = r.json<PhpReading>()
        expect((endpoint === 'query' ? reading.get : reading.post).acct, `${endpoint} with ${n} caller parameters`).toBe('42')
        expect(reading.request.acct).toBe('42')
      }),
      { seed: 20261208, numRuns: 6 },
    )
  }, 120_000)
})
