/**
 * `check`'s DAYS LEFT column: whole days left while a client certificate is valid, and for one
 * already expired a plain "expired N days ago" (never a negative count, which read as "-2" for a
 * certificate that expired a day earlier). Checked on a real bundle through runCheck, and as a
 * seeded property over the remaining (or elapsed) time.
 */
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestPki, type TestPki } from '../support/pki.js'
import { daysLeftCell, runCheck } from '../../src/cli/check.js'

const DAY = 86_400_000
let pki: TestPki
let config: string
let notAfter: Date

beforeAll(async () => {
  pki = await createTestPki()
  // Whole seconds: X.509 dates carry no milliseconds.
  notAfter = new Date(Math.floor((Date.now() - 25 * 3_600_000) / 1000) * 1000)
  const client = await pki.issue({ subject: 'CN=expired-yesterday', issuer: pki.inter, usages: ['clientAuth'], notBefore: new Date(notAfter.getTime() - 30 * DAY), notAfter })
  const files = pki.writePair('expired', client)
  config = pki.write('gateway.yaml', `endpoints:\n  - name: partner\n    url: https://api.partner.test:8443\n    tls: { cert: ${files.cert}, key: ${files.key}, intermediates: ${join(pki.dir, 'inter.crt')}, roots: ${join(pki.dir, 'root.crt')} }\n`)
})
afterAll(() => pki?.cleanup())

/** The DAYS LEFT cell of the one endpoint row. */
function cellAt(now: Date): string {
  const [head, row] = runCheck(config, now).output.split('\n') as [string, string]
  return row.slice(head.indexOf('DAYS LEFT')).trim()
}

describe('check: DAYS LEFT', () => {
  it('a certificate that expired 25 hours ago reads "expired 1 day ago", and check fails naming it', () => {
    const now = new Date(notAfter.getTime() + 25 * 3_600_000)
    expect(cellAt(now)).toBe('expired 1 day ago')
    const r = runCheck(config, now)
    expect(r.ok).toBe(false)
    expect(r.output).toMatch(/endpoint "partner": client certificate expired/)
  })

  it('whole days while valid; under a day, and past the date, say so', () => {
    expect(cellAt(new Date(notAfter.getTime() - 3 * DAY - 1))).toBe('3')
    expect(cellAt(new Date(notAfter.getTime() - 1))).toBe('0')
    // X.509 notAfter is inclusive: the certificate is valid at that very second.
    expect(cellAt(notAfter)).toBe('0')
    expect(cellAt(new Date(notAfter.getTime() + 1000))).toBe('expired <1 day ago')
    expect(cellAt(new Date(notAfter.getTime() + 3 * DAY))).toBe('expired 3 days ago')
  })

  it('never shows a negative count, and the count is the whole days left or gone (seeded property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: -4000 * DAY, max: 4000 * DAY }), (offset) => {
        const now = new Date(notAfter.getTime() + offset)
        const cell = daysLeftCell(notAfter, now)
        expect(cell).not.toContain('-')
        if (offset <= 0) {
          expect(cell).toMatch(/^\d+$/)
          const n = Number(cell)
          expect(n * DAY).toBeLessThanOrEqual(-offset)
          expect(-offset).toBeLessThan((n + 1) * DAY)
          return
        }
        if (offset < DAY) return void expect(cell).toBe('expired <1 day ago')
        const m = /^expired (\d+) (day|days) ago$/.exec(cell)
        expect(m, cell).not.toBeNull()
        const n = Number(m?.[1])
        expect(m?.[2]).toBe(n === 1 ? 'day' : 'days')
        expect(n * DAY).toBeLessThanOrEqual(offset)
        expect(offset).toBeLessThan((n + 1) * DAY)
      }),
      { seed: 20261218, numRuns: 5000 },
    )
  })
})
