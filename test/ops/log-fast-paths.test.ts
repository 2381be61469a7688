/**
 * Two shortcuts on every log line, each pinned to the plain computation it replaces over
 * generated inputs: the timestamp formatted once per second (milliseconds appended), and the
 * credential-shape scans skipped when a line lacks the literal each shape needs.
 */
import fc from 'fast-check'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { cachedIsoTime } from '../../src/ops/log.js'
import { createRedactor, REDACTED } from '../../src/ops/redact.js'

afterEach(() => void vi.restoreAllMocks())

describe('log fast paths', () => {
  it('the cached timestamp is pino\'s isoTime for every instant, in any order (5,000 runs)', () => {
    const clock = vi.spyOn(Date, 'now')
    // 1970 to 9999, with runs of nearby instants (same second, same millisecond, next second).
    const instant = fc.integer({ min: 0, max: 253_402_300_799_999 })
    fc.assert(
      fc.property(fc.array(fc.tuple(instant, fc.integer({ min: 0, max: 2_500 })), { minLength: 1, maxLength: 8 }), (steps) => {
        const time = cachedIsoTime()
        for (const [start, span] of steps) {
          for (const t of [start, start, start + 1, start + span, Math.max(0, start - span)]) {
            clock.mockReturnValue(t)
            expect(time()).toBe(`,"time":"${new Date(t).toISOString()}"`)
          }
        }
      }),
      { seed: 0x10c7, numRuns: 5_000 },
    )
  })

  it('a redacted line is the same as with both credential-shape scans always run (20,000 runs)', () => {
    const scheme = /\b(Bearer|Basic|Digest)(\s+)[A-Za-z0-9._~+/=-]{4,}/g
    const param = /\b(oauth_signature|oauth_token|oauth_token_secret|oauth_verifier|access_token|refresh_token|id_token|token|client_secret|password|api_key|apikey|sig|signature)=(\\?"?)[^&\s",\\]+/gi
    const redactor = createRedactor()
    redactor.add(['s3cret-consumer', 'tok=en"quoted'])
    // The known values' pass is its own (test/ops/redaction.test.ts); both scans then always run on what it left.
    const reference = (line: string): string => redactor.known(line).replace(scheme, `$1$2${REDACTED}`).replace(param, `$1=$2${REDACTED}`)
    const piece = fc.oneof(
      fc.string({ maxLength: 12 }),
      fc.constantFrom('Bearer ', 'Basic  ', 'Digest ', 'bearer ', 'token=', 'Token=', 'password=\\"', 'sig=', '=', '&', ' ', '"', 's3cret-consumer', 'tok=en"quoted', 'abcdEFGH1234', 'oauth_signature='),
    )
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 12 }), (pieces) => {
        const line = pieces.join('')
        expect(redactor.redact(line)).toBe(reference(line))
      }),
      { seed: 0x5ec2, numRuns: 20_000 },
    )
  })
})
