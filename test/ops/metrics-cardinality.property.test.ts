/**
 * Metrics cardinality as an attack surface: whatever a caller (no credentials) puts in a request's
 * method, target host, CONNECT authority, Host, path, query or Proxy-Authorization, on every way in
 * (plain and TLS listener, an intercepted tunnel's inner requests, the gateway API, the admin listener
 * and its console), /metrics gains no label value from it and at most a fixed number of series.
 * The same with --workers 2, whose primary serves the workers' series summed. Seeded property: every generated token carries a marker no label of the gateway's own holds.
 */
import { METHODS } from 'node:http'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { adminUrlOf } from '../support/process.js'
import { startWaysIn, type Way, type WaysIn } from '../support/ways-in.js'
import { scrape, type Sample } from './helpers.js'

let ways: WaysIn
let P = 0

const MARK = 'zq'
const LABELLED_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'CONNECT', 'TRACE', 'other']
/** A hostile token: the marker and 1..12 characters a token, host label and path segment all allow. */
const token = fc.stringMatching(/^[a-z0-9]{1,12}$/).map((s) => `${MARK}${s}`)

type Kind = 'method' | 'host' | 'connect' | 'route' | 'api' | 'bearer' | 'admin' | 'console'
interface Hostile { way: Way; kind: Kind; t: string; upper: boolean; method: string }

/** The head of one hostile request (`t` its token) on `way`. */
function headOf(h: Hostile): string {
  const t = h.upper ? h.t.toUpperCase() : h.t
  const partner = `api.partner.test:${P}`
  const inTunnel = h.way === 'tunnel'
  const target = (path: string): string => (inTunnel ? path : `http://${partner}${path}`)
  switch (h.kind) {
    case 'method': return `${h.method} ${target(`/${t}`)} HTTP/1.1\r\nHost: ${partner}\r\n\r\n`
    case 'host': return inTunnel ? `GET / HTTP/1.1\r\nHost: ${t}.invalid\r\n\r\n` : `GET http://${t}.invalid:${P}/${t}?${t}=${t} HTTP/1.1\r\nHost: ${t}.invalid:${P}\r\n\r\n`
    case 'connect': return `CONNECT ${t}.invalid:${P} HTTP/1.1\r\nHost: ${t}.invalid:${P}\r\n\r\n`
    case 'route': return `GET /${t}?${t}=1 HTTP/1.1\r\nHost: ${t}.test\r\n\r\n`
    case 'api': return `POST /gateway/oauth1/${t}/tokens/${t} HTTP/1.1\r\nHost: ${inTunnel ? partner : 'localhost'}\r\nContent-Length: 0\r\n\r\n`
    case 'bearer': return `GET ${target(`/${t}`)} HTTP/1.1\r\nHost: ${partner}\r\nProxy-Authorization: Bearer ${t}\r\nAuthorization: Bearer ${t}\r\n\r\n`
    case 'admin': return `${h.method} /${t} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`
    case 'console': return `POST /console/${t} HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: http://${t}.invalid\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${t.length + 6}\r\n\r\ntoken=${t}`
  }
}

const hostile: fc.Arbitrary<Hostile> = fc.record({
  way: fc.constantFrom<Way>('plain', 'tls', 'tunnel', 'admin'),
  kind: fc.constantFrom<Kind>('method', 'host', 'connect', 'route', 'api', 'bearer', 'admin', 'console'),
  t: token,
  upper: fc.boolean(),
  // Every method Node's parser takes (it answers any other token 400 itself), and tokens it refuses.
  // (HEAD's answer has a Content-Length and no body: the raw reader would wait for the body.)
  method: fc.oneof(fc.constantFrom(...METHODS.filter((m) => m !== 'HEAD')), token),
}).filter((h) => (h.way === 'admin') === (h.kind === 'admin' || h.kind === 'console') && !(h.way === 'tunnel' && h.kind === 'connect'))

/** A series: its family (histogram parts as one) and its labels but `le`. */
function seriesOf(all: Sample[]): Set<string> {
  const out = new Set<string>()
  for (const s of all) {
    const { le: _le, ...labels } = s.labels
    out.add(`${s.name.replace(/_(bucket|sum|count)$/, '')}${JSON.stringify(labels)}`)
  }
  return out
}

/** Sends `h`; a refusal may close before its answer, but a request left unanswered fails the test. */
async function answered(h: Hostile): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`no answer in 10 s on ${h.way}: ${JSON.stringify(headOf(h))}`)), 10_000) })
  await Promise.race([ways.ask(h.way, headOf(h)).catch(() => undefined), late]).finally(() => clearTimeout(timer))
}

async function scrapeBoth(): Promise<Sample[]> {
  return [...await scrape(await adminUrlOf(ways.plain)), ...await scrape(await adminUrlOf(ways.secure))]
}

describe.each([['one process', []], ['--workers 2 (the primary sums the workers\' series)', ['--workers', '2']]])('/metrics under hostile requests on every way in, %s', (_, args: string[]) => {
  beforeAll(async () => {
    ways = await startWaysIn(args)
    P = ways.port
  }, 120_000)
  afterAll(async () => {
    await ways?.stop()
  })

  it('gains no label value from a request and at most a fixed number of series, however many requests come', async () => {
    const before = seriesOf(await scrapeBoth())
    let after = before
    await fc.assert(
      fc.asyncProperty(fc.array(hostile, { minLength: 30, maxLength: 30 }), async (batch) => {
        for (const h of batch) await answered(h)
        const all = await scrapeBoth()
        for (const s of all) for (const v of Object.values(s.labels)) expect(v.toLowerCase(), `${s.name} ${JSON.stringify(s.labels)}`).not.toContain(MARK)
        // A method label is one of the usual few or `other`, never one of the dozens Node parses.
        for (const s of all) if (s.labels.method !== undefined && s.name.startsWith('mtls_gateway_requests')) expect(LABELLED_METHODS).toContain(s.labels.method)
        after = seriesOf(all)
      }),
      { seed: 3232, numRuns: 4 },
    )
    const added = [...after].filter((s) => !before.has(s))
    // Each family × way in × closed reason/method/status class: a fixed bound, not a function of the requests.
    expect(added.length, added.join('\n')).toBeLessThanOrEqual(60)
  }, 120_000)
})
