/**
 * Destination integrity against backends that fold Unicode: over generated paths mixing dots,
 * slashes and their Unicode look-alikes (fullwidth `．` `／` `＼`, small `﹒` `﹨`, the dot leaders
 * `․` `‥`, the division and fraction slashes `∕` `⁄`, fullwidth `％２ｅ`), raw, percent-encoded
 * once or twice, every path buildUpstreamTarget forwards stays under the endpoint's base path and
 * tenant segment however a backend reads it: after up to three percent-decodings, NFKC (and the
 * slash look-alikes as `/`) at any point, `\` as `/`, `;params` dropped from dot-segments, dot-segments
 * resolved. The readings are computed here, independently of src/config/path-readings.ts.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { GatewayError, STATUS } from '../../src/errors.js'
import { compileDestination, type Endpoint } from '../../src/gateway/index.js'
import { buildUpstreamTarget, checkRequestPath, toOutboundUrl } from '../../src/proxy/upstream-target.js'

const endpoint = (url: string, pathPrefix?: string): Endpoint => ({ name: 'ep', url, config: { ...(pathPrefix ? { pathPrefix } : {}) }, destination: compileDestination(url, pathPrefix) }) as unknown as Endpoint
const ROUTE = endpoint('https://api.partner.test:8443/t/{tenant}/v1')
const FORWARD = endpoint('https://api.partner.test:8443', '/base')

/** Characters that fold to ".", "/", "\", "%", digits and letters of "%2e", or ";", and ones that fold to nothing of the kind. */
const UNICODE = ['\uff0e', '\u2024', '\u2025', '\ufe52', '\uff0f', '\uff3c', '\ufe68', '\u2215', '\u2044', '\u29f8', '\u2216', '\uff05', '\uff12', '\uff45', '\uff1b', '\uff1f', 'é', 'ノ']
/** One piece of a path: ASCII, or a Unicode character raw, percent-encoded once, or twice. */
const piece = fc.oneof(
  fc.constantFrom('/', 'a', 'base', 'globex', '.', '..', '%2e', '%2F', '%25', ';x'),
  fc.tuple(fc.constantFrom(...UNICODE), fc.constantFrom(0, 1, 1, 2)).map(([c, times]) => {
    let s = c
    for (let i = 0; i < times; i++) s = encodeURIComponent(s)
    return s
  }),
)
const path = fc.array(piece, { minLength: 1, maxLength: 10 }).map((p) => `/${p.join('')}`)

const LOOKALIKES: Record<string, string> = { '\u2044': '/', '\u2215': '/', '\u29f8': '/', '\u2216': '\\', '\u29f5': '\\', '\u29f9': '\\' }
const fold = (s: string): string => s.normalize('NFKC').replace(/[\u2044\u2215\u29f8\u2216\u29f5\u29f9]/g, (c) => LOOKALIKES[c] as string)

/** Every text a backend may read `sent` as: up to three decodings, folding before or after any of them. */
function readings(sent: string): Set<string> {
  const all = new Set([sent, fold(sent)])
  let level = [...all]
  for (let round = 0; round < 3; round++) {
    const next: string[] = []
    for (const s of level) {
      let d: string
      try {
        d = decodeURIComponent(s)
      } catch {
        continue
      }
      for (const t of [d, fold(d)]) {
        if (all.has(t)) continue
        all.add(t)
        next.push(t)
      }
    }
    level = next
  }
  return all
}

/** The path a backend that resolves dot-segments ends at (`\` a separator, `..;x` a dot-segment, as Tomcat reads it). */
function resolved(p: string): string {
  const out: string[] = []
  for (const seg of p.replace(/\\/g, '/').split('/').slice(1)) {
    const name = seg.split(';')[0]
    if (name === '..') out.pop()
    else if (name !== '.') out.push(seg)
  }
  return `/${out.join('/')}`
}

function outcome(run: () => ReturnType<typeof buildUpstreamTarget>): ReturnType<typeof buildUpstreamTarget> | GatewayError {
  try {
    return run()
  } catch (err) {
    if (err instanceof GatewayError) return err
    throw err
  }
}

describe('paths with Unicode look-alikes of "." and "/"', () => {
  it('every forwarded path, read by a backend that decodes and folds Unicode (NFKC), stays under the base path and tenant segment; the rest are 400 (seeded, 20,000 paths)', () => {
    let forwarded = 0
    fc.assert(
      fc.property(path, fc.boolean(), (p, route) => {
        const base = route ? '/t/acme/v1' : '/base'
        const r = outcome(() => (route ? buildUpstreamTarget(ROUTE, 'acme', p, '', 'append') : buildUpstreamTarget(FORWARD, undefined, `/base${p}`, '', 'as_is')))
        if (r instanceof GatewayError) return void expect(STATUS[r.reason], r.message).toBe(400)
        forwarded++
        const sent = toOutboundUrl(r).pathname
        for (const reading of readings(sent)) {
          const at = resolved(reading)
          expect(at === base || at.startsWith(`${base}/`), `${JSON.stringify(p)} sent as ${sent}, read as ${JSON.stringify(reading)} → ${at}`).toBe(true)
        }
      }),
      { seed: 0xff0e, numRuns: 20_000 },
    )
    // The property is not empty: Unicode that folds to nothing of the kind, and ASCII, still go through.
    expect(forwarded).toBeGreaterThan(1_000)
  })

  it('a path whose folded form adds a "/" or "\\" is refused even where no dot-segment follows; one that folds to other text is not', () => {
    for (const c of ['\uff0f', '\uff3c', '\ufe68', '\u2215', '\u2044', '\u29f8', '\u2216']) {
      for (const spelled of [c, encodeURIComponent(c), encodeURIComponent(encodeURIComponent(c))]) expect(() => checkRequestPath(`/a${spelled}b`), JSON.stringify(spelled)).toThrow(/split the segment there/)
    }
    for (const ok of ['/v%EF%BC%8E2', '/caf%C3%A9', '/%E3%83%8E', '/%EF%BC%9F', '/%EF%BC%85', '/a%E2%80%A4b', '/%E2%92%88']) expect(() => checkRequestPath(ok), ok).not.toThrow()
  })
})
