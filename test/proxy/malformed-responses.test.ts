/**
 * A hostile or broken backend's response heads, written byte for byte by a raw mTLS server and
 * read by a raw caller socket (route mode, forward proxy):
 * - a head undici's parser refuses is a 502 `upstream_response_malformed` naming the parser's code
 *   and what was wrong, wherever the Content-Length line stands (undici named any fault after one
 *   "body shorter or longer than its Content-Length");
 * - a Content-Length relayed is one canonical decimal (`010` and `10 ` were relayed as written);
 *   `10, 10` and two lines are refused, naming it;
 * - a status outside 100-599 is a 502 naming it (0 to 99 were "upstream request failed
 *   (ERR_ASSERTION)", 600 to 999 were relayed);
 * - connection-only fields, and every field a backend's Connection names, never reach the caller;
 * - neither do `103 Early Hints` (undici hands 1xx heads to the forward step's handler, which waits
 *   for the final answer) nor a chunked body's trailer fields (the caller's body ends with a bare
 *   last chunk): the final answer arrives whole and well-framed.
 */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningGateway } from '../../src/cli/gateway-root.js'
import { endpointYaml, startTestGateway } from '../support/gateway.js'
import { clientTls, createTestPki } from '../support/pki.js'
import { rawClient, rawRoundTrip } from '../support/raw-client.js'
import { closeScriptedRig, startScriptedBackend, type ScriptedBackend } from '../support/scripted-backend.js'

let gw: RunningGateway
let backend: ScriptedBackend
let dir: string
/** What the backend writes for `GET /s/<key>`. */
const scripts = new Map<string, string>()
let n = 0

beforeAll(async () => {
  const pki = await createTestPki()
  backend = await startScriptedBackend(pki, (head) => scripts.get((head.split(' ')[1] ?? '/').slice(3)) ?? 'HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n')
  dir = mkdtempSync(join(tmpdir(), 'malformed-responses-'))
  gw = await startTestGateway(dir, `admin: { enabled: false }\nendpoints:\n${endpointYaml('up', backend.port, clientTls(pki))}`)
  pki.cleanup()
})

afterAll(() => closeScriptedRig({ gw, backend, dir }))

/** The caller's view of the backend writing `answer` (latin1), asked in route mode or through the forward proxy. */
async function relay(answer: string, mode: 'route' | 'forward' = 'route', method = 'GET'): Promise<{ status: number; headers: Record<string, string>; body: string; raw: string }> {
  const key = `k${n++}`
  scripts.set(key, answer)
  const authority = `api.partner.test:${backend.port}`
  const line = mode === 'route' ? `${method} /proxy/up/s/${key} HTTP/1.1\r\nHost: gw` : `${method} http://${authority}/s/${key} HTTP/1.1\r\nHost: ${authority}`
  const r = await rawRoundTrip(gw.port, `${line}\r\nConnection: close\r\n\r\n`)
  const raw = `${r.status} ${JSON.stringify(r.headers)} ${r.body.toString('latin1')}`
  return { status: r.status, headers: r.headers, body: r.body.toString('latin1'), raw }
}

/** The gateway's 502 message for the answer, asserting the JSON shape and its Content-Length. */
async function refusal(answer: string, mode: 'route' | 'forward' = 'route'): Promise<string> {
  const r = await relay(answer, mode)
  expect(r.status, r.raw).toBe(502)
  expect(Number(r.headers['content-length'])).toBe(Buffer.byteLength(r.body))
  const body = JSON.parse(r.body) as { errors: { msg: string; code: number }[] }
  expect(body.errors).toHaveLength(1)
  expect(body.errors[0]?.code).toBe(502)
  return body.errors[0]?.msg as string
}

const M = 'endpoint "up": malformed HTTP response'
const NAME = 'a header line is not `name: value` (a space or a control character in a name, a line without a colon, or a folded continuation line: obs-fold, RFC 9112 section 5.2)'
const VALUE = 'a header value holds a character HTTP forbids (NUL, DEL or another control character)'
const NOT_ONE_NUMBER = 'Content-Length is not one decimal number (a list such as `10, 10`, a sign or a space inside it)'

describe('a response head the parser refuses', () => {
  const head = (lines: string): string => `HTTP/1.1 200 OK\r\n${lines}\r\n\r\nok`
  const cases: readonly (readonly [string, string])[] = [
    [head('Content-Length: 2\r\nBad Header: x'), `${M} (HPE_INVALID_HEADER_TOKEN): ${NAME}`],
    [head('Bad Header: x\r\nContent-Length: 2'), `${M} (HPE_INVALID_HEADER_TOKEN): ${NAME}`],
    [head('Content-Length: 2\r\nX-A: a\r\n b'), `${M} (HPE_INVALID_HEADER_TOKEN): ${NAME}`],
    [head('Content-Length: 2\r\nnocolon'), `${M} (HPE_INVALID_HEADER_TOKEN): ${NAME}`],
    [head('Content-Length: 2\r\nX-A: a\0b'), `${M} (HPE_INVALID_HEADER_TOKEN): ${VALUE}`],
    [head('Content-Length: 2\r\nX-A: a\x7fb'), `${M} (HPE_INVALID_HEADER_TOKEN): ${VALUE}`],
    [head('Content-Length: 2\r\nX-A: a\rb'), `${M} (HPE_LF_EXPECTED): a header line ends in a bare CR or a bare LF instead of CRLF`],
    [head('Content-Length: 10, 10'), `${M} (HPE_INVALID_CONTENT_LENGTH): ${NOT_ONE_NUMBER}`],
    [head('Content-Length: +2'), `${M} (HPE_INVALID_CONTENT_LENGTH): ${NOT_ONE_NUMBER}`],
    [head('Content-Length: 2\r\nContent-Length: 2'), `${M} (HPE_UNEXPECTED_CONTENT_LENGTH): two Content-Length fields`],
    [head('Content-Length:'), `${M} (HPE_INVALID_CONTENT_LENGTH): an empty Content-Length`],
    [head('Content-Length: 99999999999999999999999'), `${M} (HPE_INVALID_CONTENT_LENGTH): a Content-Length too large to be a length`],
    [head('Content-Length: 2\r\nTransfer-Encoding: chunked'), `${M} (HPE_INVALID_TRANSFER_ENCODING): both Content-Length and Transfer-Encoding (RFC 9112 section 6.3: the framing is ambiguous)`],
    ['HTTP/1.1 1000 X\r\nContent-Length: 2\r\n\r\nok', `${M} (HPE_INVALID_STATUS): the status line is not \`HTTP/1.x NNN reason\`: the status code is not three digits`],
    ['HTTP/1.1 200 OK\nContent-Length: 2\n\nok', `${M} (HPE_CR_EXPECTED): the status line is not \`HTTP/1.x NNN reason\`: it ends in a bare LF`],
    ['HELLO\r\n\r\n', `${M} (HPE_INVALID_CONSTANT): the status line is not \`HTTP/1.x NNN reason\`: it does not start with HTTP/ (the server did not answer HTTP/1)`],
  ]

  it('is a 502 naming the parser code and what was wrong, never a Content-Length mismatch (route mode and forward proxy)', async () => {
    for (const [answer, msg] of cases) {
      expect(await refusal(answer), JSON.stringify(answer)).toBe(msg)
    }
    expect(await refusal(cases[0]?.[0] as string, 'forward')).toBe(cases[0]?.[1])
  })

  it('wherever a Content-Length line stands before or after the fault, and whatever the forbidden byte (fast-check, 40 runs)', async () => {
    const fault = fc.constantFrom('\0', '\x01', '\x7f', '\x1b', ' ', '\r', '(')
    const arb = fc.record({
      others: fc.array(fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,8}$/), { minLength: 1, maxLength: 6 }),
      lengthAt: fc.nat(7),
      badAt: fc.nat(7),
      inName: fc.boolean(),
      byte: fault,
    })
    await fc.assert(
      fc.asyncProperty(arb, async ({ others, lengthAt, badAt, inName, byte }) => {
        const lines = others.map((name, i) => `X-${name}-${i}: v${i}`)
        const bad = badAt % lines.length
        const line = lines[bad] as string
        // A space or a separator is fine in a value; in a name it is not. Controls are refused in both.
        const atName = inName || byte === ' ' || byte === '('
        lines[bad] = atName ? line.replace(':', `${byte}x:`) : `${line}${byte}w`
        lines.splice(lengthAt % (lines.length + 1), 0, 'Content-Length: 2')
        const msg = await refusal(`HTTP/1.1 200 OK\r\n${lines.join('\r\n')}\r\n\r\nok`)
        expect(msg).toMatch(/^endpoint "up": malformed HTTP response \(HPE_[A-Z_]+\): /)
        expect(msg).not.toMatch(/shorter or longer/)
      }),
      { seed: 0x6d616c66, numRuns: 40 },
    )
  }, 120_000)
})

describe("a relayed response's Content-Length", () => {
  it('is one canonical decimal, whatever leading zeros and whitespace the backend wrote; the body is whole (fast-check, 30 runs)', async () => {
    const arb = fc.record({ length: fc.nat(40), zeros: fc.nat(4), before: fc.constantFrom('', ' ', '\t', '  '), after: fc.constantFrom('', ' ', '  '), method: fc.constantFrom('GET', 'HEAD'), mode: fc.constantFrom('route' as const, 'forward' as const) })
    await fc.assert(
      fc.asyncProperty(arb, async ({ length, zeros, before, after, method, mode }) => {
        const body = 'b'.repeat(length)
        const r = await relay(`HTTP/1.1 200 OK\r\nContent-Length:${before}${'0'.repeat(zeros)}${length}${after}\r\n\r\n${method === 'HEAD' ? '' : body}`, mode, method)
        expect(r.status, r.raw).toBe(200)
        expect(r.headers['content-length']).toBe(String(length))
        expect(r.body).toBe(method === 'HEAD' ? '' : body)
      }),
      { seed: 0x010, numRuns: 30 },
    )
  }, 120_000)

  it("a 304's too (`Content-Length: 010` reaches the caller as 10)", async () => {
    const r = await relay('HTTP/1.1 304 Not Modified\r\nETag: "v"\r\nContent-Length: 010\r\n\r\n')
    expect(r.status).toBe(304)
    expect(r.headers['content-length']).toBe('10')
  })
})

describe('a status code outside 100-599', () => {
  it('is a 502 naming it, never relayed nor an assertion failure; the next call is served (fast-check, 12 runs)', async () => {
    const status = fc.oneof(fc.integer({ min: 0, max: 99 }), fc.integer({ min: 600, max: 999 }))
    await fc.assert(
      fc.asyncProperty(status, async (code) => {
        const msg = await refusal(`HTTP/1.1 ${String(code).padStart(3, '0')} Odd\r\nContent-Length: 2\r\n\r\nok`)
        expect(msg).toBe(`${M}: status ${code} is outside 100-599, the only status codes HTTP defines (RFC 9110, section 15)`)
        const next = await relay('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok')
        expect(next.status).toBe(200)
      }),
      { seed: 0x600, numRuns: 12 },
    )
  })

  it('599 and 100-199 interim answers before a final one are not refused', async () => {
    expect((await relay('HTTP/1.1 599 Edge\r\nContent-Length: 2\r\n\r\nok')).status).toBe(599)
    expect((await relay('HTTP/1.1 199 Odd\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok')).body).toBe('ok')
  })
})

describe("a backend's connection-only fields", () => {
  it('never reach the caller: Connection and every name it lists (in any case, over one or two lines), Keep-Alive, Proxy-*, TE, Trailer, Upgrade; every other field is relayed (fast-check, 25 runs)', async () => {
    const name = fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,10}$/).filter((s) => !/^(content-length|transfer-encoding|connection|via|x-request-id|date|keep-alive|te|trailer|upgrade|proxy-)/i.test(s))
    const arb = fc.record({
      listed: fc.uniqueArray(name, { minLength: 1, maxLength: 4, selector: (s) => s.toLowerCase() }),
      kept: fc.uniqueArray(name, { minLength: 1, maxLength: 4, selector: (s) => s.toLowerCase() }),
      twoLines: fc.boolean(),
      mode: fc.constantFrom('route' as const, 'forward' as const),
    })
    await fc.assert(
      fc.asyncProperty(arb.filter((a) => !a.kept.some((k) => a.listed.some((l) => l.toLowerCase() === k.toLowerCase()))), async ({ listed, kept, twoLines, mode }) => {
        const connection = twoLines ? `Connection: keep-alive\r\nConnection: ${listed.map((l) => l.toUpperCase()).join(', ')}` : `Connection: ${listed.join(' ,')}, keep-alive`
        const fixed = 'Keep-Alive: timeout=5\r\nProxy-Authenticate: Basic realm="in"\r\nProxy-Authentication-Info: a\r\nTE: trailers\r\nTrailer: X-T\r\nUpgrade: h2c'
        const lines = [...listed.map((l) => `${l}: secret`), ...kept.map((k) => `${k}: kept`)]
        const r = await relay(`HTTP/1.1 200 OK\r\n${connection}\r\n${fixed}\r\n${lines.join('\r\n')}\r\nContent-Length: 2\r\n\r\nok`, mode)
        expect(r.status, r.raw).toBe(200)
        for (const l of listed) expect(r.headers[l.toLowerCase()], r.raw).toBeUndefined()
        for (const k of kept) expect(r.headers[k.toLowerCase()], r.raw).toBe('kept')
        for (const h of ['keep-alive', 'proxy-authenticate', 'proxy-authentication-info', 'te', 'trailer', 'upgrade']) expect(r.headers[h], r.raw).toBeUndefined()
        expect(r.headers.connection).toBe('close') // the gateway's own, for the caller's Connection: close
        expect(r.body).toBe('ok')
      }),
      { seed: 0xc0, numRuns: 25 },
    )
  }, 120_000)
})

/** Every byte the caller reads for the backend writing `answer`, route mode or forward proxy. */
async function rawAnswer(answer: string, mode: 'route' | 'forward'): Promise<string> {
  const key = `k${n++}`
  scripts.set(key, answer)
  const authority = `api.partner.test:${backend.port}`
  const line = mode === 'route' ? `GET /proxy/up/s/${key} HTTP/1.1\r\nHost: gw` : `GET http://${authority}/s/${key} HTTP/1.1\r\nHost: ${authority}`
  const c = await rawClient(gw.port)
  c.socket.write(`${line}\r\nConnection: close\r\n\r\n`)
  await c.closed(5000)
  return c.received().toString('latin1')
}

const mode = fc.constantFrom('route' as const, 'forward' as const)
const body = fc.stringMatching(/^[a-z]{1,20}$/)

describe('103 Early Hints from a backend', () => {
  it('never reach the caller; the final answer after them does, whole (fast-check, 10 runs: chunked or Content-Length, one or two 103s)', async () => {
    await fc.assert(
      fc.asyncProperty(mode, body, fc.boolean(), fc.integer({ min: 1, max: 2 }), async (m, text, chunked, hints) => {
        const early = 'HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload; as=style\r\n\r\n'.repeat(hints)
        const framing = chunked ? `Transfer-Encoding: chunked\r\n\r\n${text.length.toString(16)}\r\n${text}\r\n0\r\n\r\n` : `Content-Length: ${text.length}\r\n\r\n${text}`
        const raw = await rawAnswer(`${early}HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n${framing}`, m)
        expect(raw, raw).toMatch(/^HTTP\/1\.1 200 OK\r\n/)
        expect(raw).not.toMatch(/HTTP\/1\.1 103|style\.css/)
        expect(raw.endsWith(chunked ? `${text.length.toString(16)}\r\n${text}\r\n0\r\n\r\n` : `\r\n\r\n${text}`), raw).toBe(true)
      }),
      { seed: 0x103, numRuns: 10 },
    )
  })
})

describe("a chunked body's trailer fields", () => {
  it('are dropped: the body arrives whole, ended by a bare last chunk, no trailer line relayed (fast-check, 10 runs)', async () => {
    await fc.assert(
      fc.asyncProperty(mode, body, fc.boolean(), async (m, text, announced) => {
        const trailerHead = announced ? 'Trailer: X-Checksum\r\n' : ''
        const raw = await rawAnswer(`HTTP/1.1 200 OK\r\n${trailerHead}Transfer-Encoding: chunked\r\n\r\n${text.length.toString(16)}\r\n${text}\r\n0\r\nX-Checksum: sha-${text}\r\nX-Other: 1\r\n\r\n`, m)
        expect(raw, raw).toMatch(/^HTTP\/1\.1 200 OK\r\n/)
        expect(raw).not.toMatch(/x-checksum|x-other|^trailer:/im)
        expect(raw.endsWith(`\r\n\r\n${text.length.toString(16)}\r\n${text}\r\n0\r\n\r\n`), raw).toBe(true)
      }),
      { seed: 0x7a11, numRuns: 10 },
    )
  })
})
