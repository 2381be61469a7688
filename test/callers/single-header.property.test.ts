/**
 * singleHeader (src/callers/header-text.ts) over what Node's own HTTP parser makes of generated
 * header lines: a header sent more than once is refused whatever its name's case, its values
 * (empty, padded with spaces or tabs, holding ", " or "; " themselves) or the way Node merges its
 * repeats (joined with ", ", joined with "; " as Cookie is, or the first kept as for Host and
 * Authorization); sent once, it is its value as Node trimmed it; absent, undefined. The refusal
 * names the header in canonical case (X-Gateway-Tenant), or as the reader names it. A real
 * node:http server on 127.0.0.1 parses raw bytes from a socket: the parser the gateway runs.
 */
import { createServer, type Server } from 'node:http'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { singleHeader } from '../../src/callers/index.js'
import { GatewayError } from '../../src/errors.js'
import { rawRoundTrip } from '../support/raw-client.js'

/** One of each way Node merges a repeat: joined by ", ", by "; " (Cookie), or the first kept. */
const NAMES = ['x-gateway-user', 'x-gateway-tenant', 'x-org-id', 'cookie', 'authorization', 'proxy-authorization', 'user-agent', 'from'] as const
type Name = (typeof NAMES)[number]
/** What the server's reader saw of each name: the value, the refusal's message, or nothing. */
type Reading = Record<Name, { value?: string; refused?: string }>

let server: Server
let port: number

beforeAll(async () => {
  server = createServer({ requireHostHeader: false }, (req, res) => {
    const reading = {} as Reading
    for (const name of NAMES) {
      try {
        const value = singleHeader(req, name, name === 'from' ? 'From (as the reader names it)' : undefined)
        reading[name] = value === undefined ? {} : { value }
      } catch (err) {
        if (!(err instanceof GatewayError) || err.reason !== 'header_repeated') throw err
        reading[name] = { refused: err.message }
      }
    }
    res.setHeader('connection', 'close')
    res.end(JSON.stringify(reading))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  port = (server.address() as { port: number }).port
})

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()))
})

const randomCase = (name: string): fc.Arbitrary<string> =>
  fc.array(fc.boolean(), { minLength: name.length, maxLength: name.length }).map((ups) => [...name].map((c, i) => (ups[i] ? c.toUpperCase() : c)).join(''))
/** A field value as a caller may send it: possibly empty, padded, with the separators of a join inside. */
const value = fc
  .tuple(fc.constantFrom('', ' ', '\t', ' \t'), fc.stringMatching(/^([a-z0-9=]{1,6}(, |; |,|;| )?){0,3}[a-z0-9]?$/), fc.constantFrom('', ' ', '\t'))
  .map(([lead, text, trail]) => ({ sent: `${lead}${text}${trail}`, parsed: text.replace(/[ \t]+$/, '') }))
const line = fc.tuple(fc.constantFrom(...NAMES).chain((n) => fc.tuple(fc.constant(n), randomCase(n))), value).map(([[name, spelled], v]) => ({ name, spelled, ...v }))

const MESSAGE = ' appears more than once in the request: the gateway does not guess which one counts; send it once'
const LABEL: Record<Name, string> = {
  'x-gateway-user': 'X-Gateway-User',
  'x-gateway-tenant': 'X-Gateway-Tenant',
  'x-org-id': 'X-Org-Id',
  cookie: 'Cookie',
  authorization: 'Authorization',
  'proxy-authorization': 'Proxy-Authorization',
  'user-agent': 'User-Agent',
  from: 'From (as the reader names it)',
}

describe('singleHeader over what Node parsed', () => {
  it('the examples: two empty user lines, two Cookie lines, a value holding ", " sent once', async () => {
    const read = async (lines: string[]): Promise<Reading> => JSON.parse((await rawRoundTrip(port, `GET / HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n`)).body.toString('utf8')) as Reading
    expect((await read(['X-Gateway-User:', 'x-gateway-user:']))['x-gateway-user']).toEqual({ refused: `X-Gateway-User${MESSAGE}` })
    expect((await read(['Cookie: a=1', 'cookie: b=2'])).cookie).toEqual({ refused: `Cookie${MESSAGE}` })
    expect((await read(['X-Gateway-Tenant: a', 'X-GATEWAY-TENANT: b']))['x-gateway-tenant']).toEqual({ refused: `X-Gateway-Tenant${MESSAGE}` })
    expect((await read(['Cookie: a=1; b=2', 'X-Gateway-User: a, b']))).toMatchObject({ cookie: { value: 'a=1; b=2' }, 'x-gateway-user': { value: 'a, b' } })
  })

  it('property: refused exactly when sent more than once, else the value Node parsed (seeded)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(line, { maxLength: 8 }), async (lines) => {
        const head = ['GET / HTTP/1.1', ...lines.map((l) => `${l.spelled}:${l.sent}`)].join('\r\n')
        const answer = await rawRoundTrip(port, `${head}\r\n\r\n`)
        expect(answer.status, answer.body.toString()).toBe(200)
        const reading = JSON.parse(answer.body.toString('utf8')) as Reading
        for (const name of NAMES) {
          const sent = lines.filter((l) => l.name === name)
          const expected = sent.length > 1 ? { refused: `${LABEL[name]}${MESSAGE}` } : sent.length === 1 ? { value: sent[0]?.parsed } : {}
          expect(reading[name], `${name} in ${JSON.stringify(lines)}`).toEqual(expected)
        }
      }),
      { seed: 0x51461e, numRuns: 400 },
    )
  }, 300_000)
})
