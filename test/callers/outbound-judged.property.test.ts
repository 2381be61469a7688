/**
 * judgeOutboundUrl judges an outbound URL that is its origin and the already-judged request target,
 * unchanged, by its origin alone (the forward step, after strip_gateway_credentials judged the
 * target's path and query): for generated origins, paths, queries and own credentials (pieces of the
 * credentials and of gateway bearers split across the "/" after the origin and the "?" before the
 * query, percent-encoded once or twice, `%`, `%25`, hex digits around the joins), whenever the path
 * and the query each hold none, the answer is the whole URL's: skipped ⇒ the full scan finds
 * nothing either. A credential holding "/" or "?" (one that could span a join) is judged whole.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { newBearerToken } from '../../src/callers/bearer-shape.js'
import { credentialsToLookFor, judgeOutboundUrl, urlCarriesCredential } from '../../src/callers/index.js'
import { originAloneToJudge } from '../../src/callers/credential-text.js'
import { GatewayError } from '../../src/errors.js'

const BEARERS = Array.from({ length: 3 }, () => newBearerToken())
const ORIGINS = ['https://api.partner.test:8443', 'https://acme.idp.test', 'http://127.0.0.1:20001']

const credential = fc.array(fc.oneof(fc.constantFrom('/', '?', '%', '%25', '25', '4', '1', 'a', '.', 'test', ':8443'), fc.stringMatching(/^[!-~]$/)), { minLength: 8, maxLength: 30 })
  .map((p) => p.join('').slice(0, 40))
  .filter((t) => t.length >= 16)
const encoded = (s: string, times: number): string => {
  let out = s
  for (let k = 0; k < times; k++) out = [...out].map((c) => (/[A-Za-z0-9._~-]/.test(c) ? c : `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`)).join('')
  return out
}
const filler = fc.constantFrom('', 'x', '%', '%2', '%25', '%252', '4', '1F', '-', '_', '.', 'v1', '%3F', '%2F')

function judged(url: { origin: string; href: string }, own: ReturnType<typeof credentialsToLookFor>, target?: { path: string; query: string }): 'clean' | 'refused' {
  try {
    judgeOutboundUrl(url, url.origin, own, 'the URL', target)
    return 'clean'
  } catch (err) {
    if (!(err instanceof GatewayError) || err.reason !== 'credential_in_target') throw err
    return 'refused'
  }
}

describe('an outbound URL that is its origin and the judged target, unchanged', () => {
  it('is judged by its origin alone only when the whole URL would be judged the same (20,000 runs)', () => {
    const seen = { skipped: 0, wholeRefusedPartsClean: 0 }
    fc.assert(
      fc.property(
        fc.constantFrom(...ORIGINS), fc.array(credential, { maxLength: 2 }), fc.nat(2), fc.nat(40), fc.nat(2), fc.nat(2), fc.boolean(), filler, filler, filler, fc.nat(BEARERS.length - 1), fc.boolean(),
        (origin, creds, which, cut, timesBefore, timesAfter, withQuery, f1, f2, f3, b, useBearer) => {
          // A credential (or a bearer) cut in two, the halves on either side of a join, each encoded on its own.
          const whole = useBearer || creds.length === 0 ? (BEARERS[b] as string) : (creds[which % creds.length] as string)
          const at = cut % (whole.length + 1)
          const [head, tail] = [encoded(whole.slice(0, at), timesBefore), encoded(whole.slice(at), timesAfter)]
          const path = withQuery ? `/${f1}${head}` : `/${f1}${head}/${tail}${f2}`
          const query = withQuery ? `?${tail}${f2}&q=${f3}` : ''
          const own = credentialsToLookFor(creds)
          fc.pre(!urlCarriesCredential(path, own) && !urlCarriesCredential(query, own))
          const url = { origin, href: origin + path + query }
          const full = judged(url, own)
          if (full === 'refused') seen.wholeRefusedPartsClean++
          if (originAloneToJudge(url, { path, query }, own)) seen.skipped++
          expect(judged(url, own, { path, query }), `${url.href} with ${JSON.stringify(creds)}`).toBe(full)
        },
      ),
      { seed: 0x0a11, numRuns: 20_000 },
    )
    // Not vacuous: many URLs were judged by their origin alone, and some whole URLs are refused though both parts are clean.
    expect(seen.skipped).toBeGreaterThan(5_000)
    expect(seen.wholeRefusedPartsClean).toBeGreaterThan(0)
  })

  it('a changed path or query, or one not judged, is judged whole (5,000 runs)', () => {
    fc.assert(
      fc.property(fc.constantFrom(...ORIGINS), fc.nat(BEARERS.length - 1), filler, (origin, b, f) => {
        const bearer = BEARERS[b] as string
        const path = `/v1/${f}`
        const url = { origin, href: `${origin}${path}/${bearer}` }
        expect(judged(url, credentialsToLookFor([]), { path, query: '' })).toBe('refused')
        expect(judged(url, credentialsToLookFor([]))).toBe('refused')
      }),
      { seed: 0x0a12, numRuns: 5_000 },
    )
  })
})
