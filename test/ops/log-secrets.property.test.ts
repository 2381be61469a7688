/**
 * Log lines under requests carrying secrets in every place a caller can put one (a seeded property,
 * real gateway processes with tracing on): the query (OAuth and bearer fields among others), the
 * path, Authorization (Bearer, Basic, OAuth parameters), Proxy-Authorization, cookies, a custom
 * header and the body, on every way in (plain and TLS listener, an intercepted tunnel, refused
 * CONNECTs, unknown hosts, the gateway API, the admin listener). No line holds a secret, every
 * access line carries the trace id and span id of its server span, and no exported span holds one;
 * the same with --workers 2.
 */
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startOtlpReceiver, type OtlpReceiver } from '../support/otlp-receiver.js'
import { startWaysIn, type Way, type WaysIn } from '../support/ways-in.js'

let ways: WaysIn
let receiver: OtlpReceiver
let P = 0


const MARK = 'S3cr3T'
const secret = fc.stringMatching(/^[A-Za-z0-9]{4,16}$/).map((s) => `${MARK}${s}`)

type Place = 'query' | 'path' | 'bearer' | 'basic' | 'oauth' | 'proxyBearer' | 'proxyBasic' | 'cookie' | 'header' | 'body'
type Target = 'partner' | 'unknown' | 'connect' | 'api' | 'admin'
interface Carrier { way: Way; target: Target; places: Place[]; s: string }

/** The head (and body) of a request carrying `c.s` in each of its places. */
function requestOf(c: Carrier): string {
  const s = c.s
  const has = (p: Place): boolean => c.places.includes(p)
  const host = c.target === 'unknown' ? 'nowhere.invalid' : c.target === 'admin' ? '127.0.0.1' : `api.partner.test:${P}`
  const path = c.target === 'api' ? `/gateway/oauth1/p/tokens/${has('path') ? s : 'u'}` : `/items/${has('path') ? s : 'x'}`
  const query = has('query') ? `?access_token=${s}&oauth_token=${s}&oauth_verifier=${s}&code=${s}&x=${s}` : ''
  const target = c.way === 'tunnel' || c.target === 'api' || c.target === 'admin' ? `${path}${query}` : `http://${host}${path}${query}`
  const body = has('body') ? `token=${s}&client_secret=${s}` : ''
  const lines = [
    c.target === 'connect' ? `CONNECT nowhere.invalid:${P} HTTP/1.1` : `${body ? 'POST' : 'GET'} ${target} HTTP/1.1`,
    `Host: ${c.target === 'connect' ? `nowhere.invalid:${P}` : host}`,
    ...(has('bearer') ? [`Authorization: Bearer ${s}`] : []),
    ...(has('basic') ? [`Authorization: Basic ${Buffer.from(`bot:${s}`).toString('base64')}`] : []),
    ...(has('oauth') ? [`Authorization: OAuth oauth_consumer_key="${s}", oauth_token="${s}", oauth_signature="${s}"`] : []),
    ...(has('proxyBearer') ? [`Proxy-Authorization: Bearer ${s}`] : []),
    ...(has('proxyBasic') ? [`Proxy-Authorization: Basic ${Buffer.from(`bot:${s}`).toString('base64')}`] : []),
    ...(has('cookie') ? [`Cookie: mtlsgw_session=${s}; oauth_token_secret=${s}`] : []),
    ...(has('header') ? [`X-Api-Key: ${s}`] : []),
    ...(body ? ['Content-Type: application/x-www-form-urlencoded', `Content-Length: ${body.length}`] : []),
    'Connection: close',
  ]
  return `${lines.join('\r\n')}\r\n\r\n${body}`
}

const carrier: fc.Arbitrary<Carrier> = fc.record({
  way: fc.constantFrom<Way>('plain', 'tls', 'tunnel', 'admin'),
  target: fc.constantFrom<Target>('partner', 'unknown', 'connect', 'api', 'admin'),
  places: fc.uniqueArray(fc.constantFrom<Place>('query', 'path', 'bearer', 'basic', 'oauth', 'proxyBearer', 'proxyBasic', 'cookie', 'header', 'body'), { minLength: 1 }),
  s: secret,
}).filter((c) => (c.way === 'admin') === (c.target === 'admin') && !(c.way === 'tunnel' && c.target === 'unknown'))

/** Sends `c`; a refusal may close before its answer, but a request left unanswered fails the test. */
async function answered(c: Carrier): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`no answer in 10 s on ${c.way}: ${JSON.stringify(requestOf(c))}`)), 10_000) })
  await Promise.race([ways.ask(c.way, requestOf(c)).catch(() => undefined), late]).finally(() => clearTimeout(timer))
}

describe.each([['one process', []], ['--workers 2', ['--workers', '2']]])('log lines under requests carrying secrets everywhere (tracing on), %s', (_, args: string[]) => {
  beforeAll(async () => {
    receiver = await startOtlpReceiver()
    ways = await startWaysIn(args, `tracing: { enabled: true, sampler: { ratio: 1 }, otlp: { endpoint: ${receiver.url} } }\n`)
    P = ways.port
  }, 120_000)
  afterAll(async () => {
    await ways?.stop()
    await receiver?.close()
  })

  it('hold no secret, and every access line its trace_id and span_id, whose exported span holds none either', async () => {
    const spanIds = new Set<string>()
    const secrets: string[] = []
    await fc.assert(
      fc.asyncProperty(fc.array(carrier, { minLength: 20, maxLength: 20 }), async (batch) => {
        const from = [ways.plain.output.length, ways.secure.output.length]
        for (const c of batch) await answered(c)
        // Access lines are written when a response ends: wait for this batch's to be there.
        const lines = (): string[] => [...ways.plain.output.slice(from[0]), ...ways.secure.output.slice(from[1])]
        const access = (): Record<string, unknown>[] => lines().map((l) => JSON.parse(l) as Record<string, unknown>).filter((e) => e.msg === 'request')
        const deadline = Date.now() + 30_000
        const expected = batch.filter((c) => c.way !== 'admin').length
        while (access().length < expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
        expect(access().length).toBeGreaterThanOrEqual(expected)
        const encoded = batch.map((c) => Buffer.from(`bot:${c.s}`).toString('base64'))
        for (const line of lines()) {
          expect(line.toLowerCase(), line).not.toContain(MARK.toLowerCase())
          for (const b of encoded) expect(line).not.toContain(b)
        }
        for (const e of access()) expect([typeof e.trace_id, typeof e.span_id], JSON.stringify(e)).toEqual(['string', 'string'])
        for (const e of access()) spanIds.add(String(e.span_id))
        for (const c of batch) secrets.push(c.s, Buffer.from(`bot:${c.s}`).toString('base64'))
      }),
      { seed: 3233, numRuns: 5, endOnFailure: true },
    )
    // Every access line's span is exported (sampler ratio 1), and no exported byte holds a secret, whatever the span's kind.
    await receiver.waitFor((got) => [...spanIds].every((id) => got.some((x) => x.spanId === id)), 30_000)
    const exported = Buffer.concat(receiver.bodies).toString('latin1')
    for (const secret of secrets) expect(exported).not.toContain(secret)
    expect(exported.toLowerCase()).not.toContain(MARK.toLowerCase())
  }, 120_000)
})
