/**
 * The forward proxy picks an endpoint by pathPrefix as the backend reads the path: RFC 3986
 * §6.2.2 makes a percent-encoded unreserved character that character (`%6F` is `o`) and the case
 * of a triplet's hex digits meaningless (`%2f` is `%2F`, which stays a `%2F`, never a `/`). Over
 * generated endpoint sets on one host (prefixes spelled in any of those ways, or none) and
 * generated paths, the endpoint chosen for a path is the one chosen for its normal spelling, and
 * the one the rule reads (written again here, independently of src/): the longest normalised
 * prefix holding the normalised path on a segment boundary, config order breaking ties, a
 * prefix-less endpoint taking only what no prefix holds. The prefix was compared with the raw
 * path: `/%6Fnly/x` fell through to a prefix-less endpoint on the same host (its credentials)
 * while the backend read `/only/x`, or was refused when no such endpoint was there.
 */
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseConfig } from '../../src/config/index.js'
import { GatewayError } from '../../src/errors.js'
import { compileGateway, type Gateway } from '../../src/gateway/index.js'
import type { Context } from '../../src/proxy/pipeline.js'
import { matchEndpoint } from '../../src/proxy/steps/match-endpoint.js'
import { clientTlsYaml, createTestPki, type TestPki } from '../support/pki.js'

let pki: TestPki
beforeAll(async () => {
  pki = await createTestPki()
})
afterAll(() => pki?.cleanup())

const UNRESERVED = /^[A-Za-z0-9\-._~]$/
/** RFC 3986 §6.2.2.1-2, written out again: unreserved triplets decoded, the others' hex upper-case. */
function normal(path: string): string {
  return path.replace(/%([0-9A-Fa-f]{2})/g, (t, hex: string) => {
    const c = String.fromCharCode(parseInt(hex, 16))
    return UNRESERVED.test(c) ? c : t.toUpperCase()
  })
}

const hex = (c: string): string => c.charCodeAt(0).toString(16).padStart(2, '0')
/** `text` with each character as itself or percent-encoded, hex in either case. */
const spelled = (text: string): fc.Arbitrary<string> =>
  fc.tuple(...[...text].map((c) => fc.constantFrom(c, `%${hex(c).toUpperCase()}`, `%${hex(c).toLowerCase()}`))).map((cs) => cs.join(''))

const WORDS = ['only', 'a', 'A', '~t', 'v1.2', 'o-k_']
/** A segment: a word in any spelling, or an encoded slash (`%2F` / `%2f`, one segment, not two). */
const segment = fc.oneof(fc.constantFrom(...WORDS).chain(spelled), fc.constantFrom('a%2Fb', 'a%2fb'))
const path = fc.array(segment, { minLength: 1, maxLength: 3 }).map((s) => `/${s.join('/')}`)
/** An endpoint's pathPrefix (one or two segments, any spelling), or none. */
const prefix = fc.option(fc.array(segment, { minLength: 1, maxLength: 2 }).map((s) => `/${s.join('/')}`), { nil: undefined })
const endpointSet = fc.array(prefix, { minLength: 1, maxLength: 4 })

const compiled = new Map<string, Gateway>()
/** The gateway with endpoints e0…en on one host, in order (compiled once per set). */
function gatewayOf(prefixes: readonly (string | undefined)[]): Gateway {
  const key = JSON.stringify(prefixes)
  let gateway = compiled.get(key)
  if (gateway === undefined) {
    const endpoints = prefixes.map((p, i) => `  - name: e${i}\n    url: https://api.partner.test\n${p === undefined ? '' : `    pathPrefix: "${p}"\n`}    tls: ${clientTlsYaml(pki)}\n`)
    gateway = compileGateway(parseConfig('/tmp/prefix-spelling.yaml', `admin: { enabled: false }\nendpoints:\n${endpoints.join('')}`, { env: {} }))
    compiled.set(key, gateway)
  }
  return gateway
}

/** The endpoint the forward proxy picks for `path`, or the reason it picks none. */
function chosen(gateway: Gateway, requestPath: string): string {
  const ctx = {
    id: 'r1', mode: 'forward', gateway,
    inbound: { method: 'GET', target: { host: 'api.partner.test', path: requestPath, query: '' }, headers: {}, rawHeaders: [] },
    outbound: { method: 'GET', headers: {} },
    facts: {},
  } as unknown as Context
  try {
    return matchEndpoint(ctx).endpoint.name
  } catch (e) {
    if (e instanceof GatewayError) return e.reason
    throw e
  }
}

/** The rule: the longest normalised prefix holding the normalised path, first in config order; else a prefix-less endpoint. */
function expected(prefixes: readonly (string | undefined)[], requestPath: string): string {
  const p = normal(requestPath)
  let best: { name: string; length: number } | undefined
  prefixes.forEach((raw, i) => {
    const base = raw === undefined ? '' : normal(raw)
    const holds = base === '' || p === base || p.startsWith(`${base}/`)
    if (holds && (best === undefined || base.length > best.length)) best = { name: `e${i}`, length: base.length }
  })
  return best?.name ?? 'endpoint_not_configured'
}

describe('pathPrefix matching under RFC 3986 normalisation', () => {
  it('a path and its normal spelling pick the same endpoint, the one the rule reads', () => {
    let differentlySpelled = 0
    fc.assert(
      fc.property(endpointSet, fc.array(path, { minLength: 8, maxLength: 8 }), (prefixes, paths) => {
        const gateway = gatewayOf(prefixes)
        for (const requestPath of paths) {
          const got = chosen(gateway, requestPath)
          if (normal(requestPath) !== requestPath) differentlySpelled++
          expect(got, `${requestPath} with prefixes ${JSON.stringify(prefixes)}`).toBe(chosen(gateway, normal(requestPath)))
          expect(got, `${requestPath} with prefixes ${JSON.stringify(prefixes)}`).toBe(expected(prefixes, requestPath))
        }
      }),
      { seed: 0x3986, numRuns: 400 },
    )
    // Not an empty property: most generated paths are spelled otherwise than their normal form.
    expect(differentlySpelled).toBeGreaterThan(1000)
  }, 120_000)

  it('/%6Fnly/x is the /only endpoint\'s, not a prefix-less one\'s on the same host; %2F stays one segment', () => {
    const gateway = gatewayOf([undefined, '/only'])
    expect(chosen(gateway, '/%6Fnly/x')).toBe('e1')
    expect(chosen(gateway, '/%6fnly')).toBe('e1')
    expect(chosen(gateway, '/onl%79x')).toBe('e0')
    const encodedSlash = gatewayOf([undefined, '/a/b'])
    expect(chosen(encodedSlash, '/a%2Fb/x')).toBe('e0')
    expect(chosen(gatewayOf(['/%7Et']), '/~t/x')).toBe('e0')
  })
})
