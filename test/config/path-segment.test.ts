/**
 * The one-segment rule (src/config/path-segment.ts), shared by path authorization fields and
 * profile URL templates: examples per clause, and — as a property — that the two users refuse
 * exactly the same values, so neither can drift from the rule on its own.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { fillUrlTemplate, parseTemplate, parseUrlTemplate, pathSegmentProblem } from '../../src/config/index.js'
import { GatewayError } from '../../src/errors.js'
import { compileDestination, type Endpoint } from '../../src/gateway/index.js'
import type { Admitted } from '../../src/proxy/pipeline.js'
import { applyAuthorization } from '../../src/proxy/steps/apply-authorization.js'
import { buildUpstreamTarget, toOutboundUrl } from '../../src/proxy/upstream-target.js'
import { fieldValueArb } from '../proxy/destination-cases.js'

describe('pathSegmentProblem', () => {
  it('accepts one ordinary segment, reserved characters and inner spaces included', () => {
    for (const v of ['ACC-42', 'a b', 'a+b', 'a;b=c', 'x@y:z', 'v..', '...', '.a', 'é€😀', '%', 'a%zz', '%25zz']) expect(pathSegmentProblem(v), JSON.stringify(v)).toBeUndefined()
  })

  it('refuses, by clause, at every decoding depth and in NFKC form', () => {
    const cases: [string, RegExp][] = [
      ['', /is empty/], ['  ', /is only whitespace/], ['\u2028', /is only whitespace/],
      ['a/b', /contains "\/"/], ['a\\b', /contains "\/"/], ['a?b', /contains "\/"/], ['a#b', /contains "\/"/], ['a%2Fb', /contains "\/"/], ['a%252fb', /contains "\/"/], ['a%25252fb', /contains "\/"/], ['a／b', /contains "\/"/], ['a%EF%BC%8Fb', /contains "\/"/],
      ['.', /dot-segment/], ['..', /dot-segment/], ['..;x', /dot-segment/], ['%2e%2E', /dot-segment/], ['%252e', /dot-segment/], ['．．', /dot-segment/], ['‥', /dot-segment/],
      ['a\u0000b', /control character/], ['a%00', /control character/], ['%250a', /control character/], ['a\u007f', /control character/],
      [' a', /whitespace/], ['a ', /whitespace/], ['\u00a0a', /whitespace/], ['a\u3000', /whitespace/], ['a%20', /whitespace/], ['%2520a', /whitespace/], ['a\u2028', /whitespace/],
      ['a\ud800', /lone UTF-16 surrogate/], ['%c0%ae', /not UTF-8/], ['%ff', /not UTF-8/],
    ]
    for (const [v, why] of cases) expect(pathSegmentProblem(v)?.why, JSON.stringify(v)).toMatch(why)
    expect(pathSegmentProblem('a/b')?.reason).toBe('path_escapes_base')
    expect(pathSegmentProblem('..')?.reason).toBe('path_escapes_base')
    expect(pathSegmentProblem(' a')?.reason).toBe('bad_request')
  })
})

/** Whether a path field refuses `v` (apply_authorization, as the pipeline runs it). */
async function pathFieldRefuses(v: string): Promise<boolean> {
  const url = 'https://api.partner.test/d/{{acct}}/x'
  const endpoint = { name: 'ep', url, config: {}, fields: [{ type: 'path', key: 'acct', template: parseTemplate('{{claims.v}}') }], destination: compileDestination(url, undefined) } as unknown as Endpoint
  const target = buildUpstreamTarget(endpoint, undefined, '/', '', 'append')
  const ctx = { endpoint, target, caller: { appId: 'bot', claims: { v } }, auth: {}, outbound: { method: 'GET', url: toOutboundUrl(target), headers: {} } } as unknown as Admitted
  try {
    await applyAuthorization.run(ctx)
    return false
  } catch (err) {
    if (err instanceof GatewayError) return true
    throw err
  }
}

describe('one rule for both users', () => {
  it('a path field and a profile URL template refuse exactly the same values (5,000 cases)', async () => {
    const template = parseUrlTemplate('https://erp.example.com/d/{{fields.acct}}/x')
    await fc.assert(
      fc.asyncProperty(fieldValueArb, async (v) => {
        const byTemplate = 'refused' in fillUrlTemplate(template, { fields: { acct: v } })
        expect(await pathFieldRefuses(v), JSON.stringify(v)).toBe(byTemplate)
        expect(byTemplate, JSON.stringify(v)).toBe(pathSegmentProblem(v) !== undefined)
      }),
      { seed: 20261805, numRuns: 5000 },
    )
  })
})
