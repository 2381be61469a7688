/**
 * The console's audit lines an unauthenticated client causes at will are capped by
 * logging.callerFaults like the listeners' caller faults: a flood of cross-origin POSTs, wrong
 * admin tokens, or sign-ins past the throttle writes the first `burst` lines of each kind, then
 * one summary naming the address and how many were held back. Every request is still answered
 * (403, 401, 429) and counted in mtls_gateway_console_refusals_total{reason}. A signed-in operator's actions keep their line each.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { scrape, valueOf } from '../ops/helpers.js'
import { adminRequest, CONSOLE_TOKEN, startProviderlessConsole, type ProviderlessConsole } from './console-support.js'

const BURST = 2
const CROSS = 12
/** Wrong tokens: the throttle's 20 a minute, then throttled ones. */
const WRONG = 30

let c: ProviderlessConsole

beforeAll(async () => {
  c = await startProviderlessConsole('console-refusal-lines-', `logging:\n  callerFaults: { burst: ${BURST}, interval: 10m }\n`)
})

afterAll(async () => {
  await c?.close()
})

describe('console refusal lines under a flood', () => {
  it('cross-origin POSTs, wrong and throttled sign-ins: the first lines of each, then a summary; an operator\'s actions all logged', async () => {
    const url = `${c.ops.adminUrl}/console/api/`
    const statuses: number[] = []
    for (let i = 0; i < CROSS; i++) {
      const name = i === 0 ? 'x'.repeat(5000) : `reload${i}`
      statuses.push((await adminRequest(`${url}${name}`, { method: 'POST', origin: 'http://evil.example', body: {} })).status)
    }
    for (let i = 0; i < WRONG; i++) statuses.push((await adminRequest(`${url}login`, { method: 'POST', origin: c.session.origin, body: { token: `${CONSOLE_TOKEN}-wrong${i}` } })).status)
    for (let i = 0; i < 3; i++) expect((await c.post('draft', { yaml: 'endpoints: []\n' })).status).toBe(200)
    // The throttle lets about 20 wrong tokens a minute through (its sliding estimate may let one more by at a minute's turn).
    const count = (status: number): number => statuses.filter((s) => s === status).length
    expect([count(403), count(401) + count(429)]).toEqual([CROSS, WRONG])
    expect(count(429)).toBeGreaterThan(BURST)
    // The metric counts every one, capped lines or not.
    const m = await scrape(c.ops.adminUrl)
    expect([['cross_origin_refused', CROSS], ['wrong_token', count(401)], ['throttled', count(429)]].map(([reason]) => valueOf(m, 'mtls_gateway_console_refusals_total', { reason: String(reason) }))).toEqual([CROSS, count(401), count(429)])
    await c.ops.gw.close()
    const entries = c.ops.lines.map((l) => JSON.parse(l) as Record<string, unknown>)
    const audits = (result: string): Record<string, unknown>[] => entries.filter((e) => e.audit === 'console' && e.result === result)
    const summary = (reason: string): Record<string, unknown>[] => entries.filter((e) => e.listener === 'console' && e.reason === reason && String(e.msg).startsWith('suppressed '))
    for (const [result, sent] of [['cross_origin_refused', CROSS], ['wrong_token', count(401)], ['throttled', count(429)]] as const) {
      expect(audits(result).length, result).toBe(BURST)
      expect(summary(result).map((s) => [s.suppressed, s.clients]), result).toEqual([[sent - BURST, { '127.0.0.1': sent - BURST }]])
    }
    // The client's route name is cut short in its line.
    expect(Math.max(...audits('cross_origin_refused').map((e) => String(e.action).length))).toBeLessThanOrEqual(65)
    expect(entries.filter((e) => e.audit === 'console' && e.action === 'validate_draft').length).toBe(3)
  })
})
