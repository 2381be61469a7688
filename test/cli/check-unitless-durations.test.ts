/**
 * A duration written as a small bare number (`connect: 5`, milliseconds as documented) is
 * almost always seconds meant: `check` prints a warning at its file:line:column naming the key
 * and both spellings, without failing; a start and each accepted reload log the same words
 * (logConfigWarnings). A value written with a unit, 0 (off) and 1000 or more never warn.
 */
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestPki, type TestPki } from '../support/pki.js'
import { runCheck } from '../../src/cli/check.js'
import { loadConfig } from '../../src/config/index.js'
import { logConfigWarnings } from '../../src/ops/config-warnings.js'

let pki: TestPki
let tls: string

beforeAll(async () => {
  pki = await createTestPki()
  tls = `{ cert: ${pki.file('client.crt')}, key: ${pki.file('client.key')}, intermediates: ${pki.file('inter.crt')}, roots: ${pki.file('root.crt')} }`
})
afterAll(() => pki?.cleanup())

/** A config whose durations are `drain.grace` (line 2), listen's headers timeout (line 5) and the endpoint's connect timeout (line 11). */
function configWith(grace: string, headers: string, connect: string): string {
  const text = `drain:\n  grace: ${grace}\nlisten:\n  timeouts:\n    headers: ${headers}\n  host: 127.0.0.1\nendpoints:\n  - name: partner\n    url: https://api.partner.test:8443\n    timeouts:\n      connect: ${connect}\n    tls: ${tls}\n`
  return pki.write(`unitless-${Math.random().toString(36).slice(2)}.yaml`, text)
}
const warningsIn = (output: string): string[] => output.split('\n').filter((l) => l.includes('milliseconds (a number without a unit'))

describe('a duration written as a small number of milliseconds', () => {
  it('is a warning at its file:line:column in check, naming the key and both spellings; check still passes', () => {
    const file = configWith('30', '25s', '5')
    const r = runCheck(file)
    expect(r.ok, r.output).toBe(true)
    expect(warningsIn(r.output)).toEqual([
      `${file}:2:10: drain.grace: warning: 30 is 30 milliseconds (a number without a unit is milliseconds): write 30s if seconds were meant, or 30ms to keep 30 milliseconds`,
      `${file}:11:16: endpoints[0].timeouts.connect: warning: 5 is 5 milliseconds (a number without a unit is milliseconds): write 5s if seconds were meant, or 5ms to keep 5 milliseconds`,
    ])
  })

  it('is logged in the same words, at the same place, when a start or an accepted reload adopts the config', () => {
    const warned: { fields: Record<string, unknown>; msg: string }[] = []
    const logger = { warn: (fields: Record<string, unknown>, msg: string) => void warned.push({ fields, msg }) } as unknown as Parameters<typeof logConfigWarnings>[0]
    const file = configWith('25s', '999', '5s')
    logConfigWarnings(logger, loadConfig(file))
    expect(warned).toEqual([
      { fields: { key: 'listen.timeouts.headers', file, line: 5, column: 14 }, msg: '999 is 999 milliseconds (a number without a unit is milliseconds): write 999s if seconds were meant, or 999ms to keep 999 milliseconds' },
    ])
  })

  it('never for a value with a unit, for 0 (off) or for 1000 and more (seeded property)', () => {
    const withUnit = fc.tuple(fc.integer({ min: 0, max: 500 }), fc.constantFrom('ms', 's', 'm', 'h')).map(([n, u]) => `${n}${u}`)
    const quiet = fc.oneof(withUnit, fc.constant('0'), fc.integer({ min: 1000, max: 2_000_000 }).map(String))
    const small = fc.integer({ min: 1, max: 999 }).map(String)
    const value = fc.oneof(quiet, small)
    fc.assert(
      fc.property(value, value, value, (grace, headers, connect) => {
        const r = runCheck(configWith(grace, headers, connect))
        const expected = [
          ['drain.grace', grace],
          ['listen.timeouts.headers', headers],
          ['endpoints[0].timeouts.connect', connect],
        ].filter(([, v]) => /^[0-9]+$/.test(v as string) && Number(v) > 0 && Number(v) < 1000)
        expect(r.ok, r.output).toBe(true)
        expect(warningsIn(r.output).map((l) => l.split(': ')[1])).toEqual(expected.map(([key]) => key))
      }),
      { seed: 0x5eed33, numRuns: 60 },
    )
  })
})
